"""The ``triage`` command line: every step of the pipeline on one machine, with embedded stores."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from triage import __version__
from triage.app.settings import Config, usable_folder
from triage.cli.commands import (
    cmd_dashboard,
    cmd_dataset,
    cmd_demo,
    cmd_evaluate,
    cmd_ingest,
    cmd_label,
    cmd_predict,
    cmd_promote,
    cmd_scrape,
    cmd_train,
    embedded,
    read_inputs,
)
from triage.cli.output import label_output
from triage.data.sources import FORMATS
from triage.domain.errors import ConfigError, InputError, TriageError
from triage.domain.issues import check_repo
from triage.domain.prior_repos import prior_repo, prior_repos
from triage.domain.repo_config import CONFIG_PATH, MAX_BYTES, parse_repo_config


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``error: …``, exit code 2 (argparse prints a usage block)."""

    def error(self, message: str) -> NoReturn:
        """Report a bad argument on one line and exit with 2."""
        self.exit(2, f"error: {self.prog}: {one_line(message)}; see `{self.prog} --help`\n")


def one_line(text: str) -> str:
    """``text`` with line breaks written as ``\\n``, so that an error is always one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _repo_arg(text: str) -> str:
    try:
        return check_repo(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _prior_arg(text: str) -> str:
    try:
        return prior_repo(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_prior(args: argparse.Namespace) -> None:
    """``--prior`` as a whole (each value is checked by its type): at most five, none twice, not ``--repo``."""
    prior: list[str] | None = getattr(args, "prior", None)
    if prior:
        prior_repos(prior, "--prior")
        if args.repo in prior:
            raise InputError(f"--prior names {args.repo}, the repository itself; name other repositories (its own "
                             "labeled issues are always used)")


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a whole number in ASCII digits from ``low`` to ``high``."""
    def parse(text: str) -> int:
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit() and len(stripped) <= 9 and low <= int(stripped) <= high):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number from {low} to {high}")
        return int(stripped)
    return parse


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a file or folder")
    return Path(text)


def _folder(text: str) -> Path:
    path = _path(text)
    if not usable_folder(path):
        raise argparse.ArgumentTypeError(f"{text[:200]!r} is a file (or inside one); name a folder")
    return path


def read_label_config(args: argparse.Namespace) -> None:
    """Read and check ``--config`` (a repository config file) before any store is opened; the parsed config goes to
    ``args.repo_config``. An error names the file and what to fix."""
    path: Path | None = getattr(args, "config", None)
    args.repo_config = None
    if path is None:
        return
    if not path.is_file():
        raise InputError(f"--config {str(path)[:200]!r} is not a file; name a repository config file such as "
                         f"{CONFIG_PATH}")
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: the file is larger than {MAX_BYTES // 1024} KB; keep only the settings")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    args.repo_config = parse_repo_config(text, source=str(path))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = Parser(prog="triage", description="A GitHub issue labeler that learns from the repository's own history.")
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    parser.add_argument("--home", type=_folder, help="folder of the embedded stores (default: $TRIAGE_HOME or .triage)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_: str, repo_required: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        p.add_argument("--repo", type=_repo_arg, required=repo_required, help="owner/name")
        return p

    p = add("ingest", cmd_ingest, "read an issue export (GitHub JSONL, bundled JSONL or NLBSE CSV) into the issue store", False)
    p.add_argument("--source", required=True, type=_path, help="the export file")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p = add("scrape", cmd_scrape, "copy a repository's issues from GitHub (GITHUB_TOKEN or GITHUB_APP_*; GITHUB_API_URL)")
    p.add_argument("--full", action="store_true", help="re-read every issue instead of only those updated since the last run")
    p.add_argument("--pull-requests", action="store_true", help="keep pull requests too")
    p = add("dataset", cmd_dataset, "build a versioned dataset from the stored issues (human labels, cleaned, time split)")
    p.add_argument("--prior", action="append", type=_prior_arg, metavar="OWNER/NAME",
                   help="learn a cold-start model from this repository's labeled issues too (already scraped); "
                        "repeatable; default: the repository config's training.prior")
    p = add("train", cmd_train, "fine-tune a transformer classifier on a dataset (local process)")
    p.add_argument("--dataset", help="dataset version (default: the latest)")
    p = add("evaluate", cmd_evaluate, "evaluate a model on its frozen test split and write the report")
    p.add_argument("--model", help="model version (default: the current one)")
    p.add_argument("--out", type=_folder, default=Path("out"), help="report folder (default: out)")
    p = add("promote", cmd_promote, "make a model current if it is not worse than the current one")
    p.add_argument("--model", required=True, help="model version")
    p = add("predict", cmd_predict, "label probabilities for one issue", False)
    p.add_argument("title")
    p.add_argument("body", nargs="?", default="")
    p.add_argument("--model", help="model version (default: the current one)")
    p.add_argument("--model-dir", type=_path, help="a model folder instead of a stored model")
    p.add_argument("--top", type=_whole(1, 1000), default=5, help="how many labels to show (default 5)")
    p = add("label", cmd_label, "decide labels for the issues in a file with the current model (dry run): per issue "
                                "the decision, its confidence, its reasons and why it abstained")
    p.add_argument("--source", required=True, type=_path, help="the issues to decide for (an export file)")
    p.add_argument("--source-format", dest="format", choices=FORMATS, default="auto", help="the export's format")
    p.add_argument("--config", type=_path, help="a repository config file, read as .github/issue-triage.yml is "
                                                "(default: the app's settings)")
    p.add_argument("--format", dest="output", choices=("json", "table"), default="json",
                   help="json: one JSON object per issue and a summary, one per line (default); table: for people")
    p.add_argument("--dry-run", action="store_true", default=True,
                   help="print the GitHub calls instead of making them (the only mode of this command)")
    p.set_defaults(show=lambda result, args: label_output(result, args.output))
    p = sub.add_parser("dashboard", help="serve the maintainer dashboard on this machine (prints the login URL)",
                       description="serve the maintainer dashboard on this machine (prints the login URL)")
    p.set_defaults(func=cmd_dashboard)
    p.add_argument("--port", type=_whole(0, 65535), default=8765, help="TCP port (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    demo = "run the whole pipeline on the bundled corefx issues"
    p = sub.add_parser("demo", help=demo, description=demo)
    p.set_defaults(func=cmd_demo)
    p.add_argument("--out", type=_folder, default=Path("out"))
    p.add_argument("--held-back", type=_whole(0, 100_000), default=100,
                   help="newest issues kept back as 'new' issues to label")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``triage`` console script.

    Bad input (arguments, settings, files) is one line ``error: …`` on stderr and exit code 2 (3 for a missing
    stored object), and nothing is written: files are read and checked before any store is opened.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = Config.from_env(home=args.home)
        if args.command == "predict" and not (args.repo or args.model_dir):
            raise InputError("predict needs --repo owner/name (its current model) or --model-dir FOLDER")
        read_label_config(args)
        check_prior(args)
        read_inputs(args)
        services = embedded(config)
        if args.func is cmd_demo:
            return int(cmd_demo(services, args))
        result = args.func(services, args)
        show = getattr(args, "show", None)
        print(show(result, args) if show else json.dumps(result, indent=2))
        return 0
    except TriageError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a path that cannot be read or written: a folder given for a file, no permission, …
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {one_line(where + (exc.strerror or str(exc)))}; check the path and its permissions",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
