"""Start the Azure emulators the adapter tests run against, from the pinned npm packages here.

* Azurite (Blob, Queue, Table) — ``azurite`` from npm, plain HTTP, telemetry off;
* a Cosmos DB SQL API emulator — ``@vercel/cosmosdb-server``, started with ``--no-ssl`` (its
  HTTPS mode uses a bundled certificate that is self-signed, for ``CN=cosmosdb`` and expired
  since 2021, so nothing could verify it; plain HTTP on loopback needs no TLS workaround).

Both listen on 127.0.0.1 only, on ports the OS picks (``port 0``); the real port is read back
from the emulator's log line, then checked to accept connections. Each runs in its own process
group, which ``stop`` terminates.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
AZURITE_JS = NODE_MODULES / "azurite" / "dist" / "src" / "azurite.js"
COSMOS_JS = NODE_MODULES / "@vercel" / "cosmosdb-server" / "lib" / "cli.js"
HOST = "127.0.0.1"
START_TIMEOUT = 30.0

# Azurite's well-known development account (public, documented; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# The Cosmos DB emulator's well-known key (public); cosmosdb-server does not check it, but the
# SDK signs requests with it, so it has to be valid base64.
COSMOS_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

# GitHub's own descriptions, for the tests that check against them: the REST API (OpenAPI), real webhook
# payloads, and the signing code of GitHub's SDK.
OCTOKIT = NODE_MODULES / "@octokit"
OPENAPI_JSON = OCTOKIT / "openapi" / "generated" / "api.github.com.json"
WEBHOOK_EXAMPLES = OCTOKIT / "webhooks-examples" / "api.github.com" / "index.json"
WEBHOOK_METHODS = OCTOKIT / "webhooks-methods" / "package.json"
OCTOKIT_FILES = (OPENAPI_JSON, WEBHOOK_EXAMPLES, WEBHOOK_METHODS)

Stop = Callable[[], None]


def ensure_installed() -> None:
    """Install the pinned emulators with ``npm ci`` unless ``node_modules`` is already complete."""
    if _installed():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the Azure adapter tests need Node.js 20+ and npm on PATH to run the emulators"
                           f" (Azurite, cosmosdb-server); install them, or run `npm ci` in {HERE}")
    with open(HERE / "package.json") as lock:  # two test sessions at once: one installs, one waits
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0 or not _installed():
                raise RuntimeError(f"`npm ci` in {HERE} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")


def _installed() -> bool:
    # npm writes node_modules/.package-lock.json last, so its presence means a finished install.
    return all(p.is_file() for p in (NODE_MODULES / ".package-lock.json", AZURITE_JS, COSMOS_JS, *OCTOKIT_FILES))


def start_azurite(tmpdir: str | os.PathLike[str]) -> tuple[str, Stop]:
    """Start Azurite with its data under ``tmpdir``; return its connection string and a stop function.

    The connection string names the blob, queue and table endpoints explicitly.
    """
    ensure_installed()
    location = Path(tmpdir)
    location.mkdir(parents=True, exist_ok=True)
    args = [str(AZURITE_JS), "--location", str(location), "--skipApiVersionCheck", "--loose", "--silent",
            "--disableTelemetry"]
    for service in ("blob", "queue", "table"):
        args += [f"--{service}Host", HOST, f"--{service}Port", "0"]
    pattern = r"Azurite {} service is successfully listening at http://127\.0\.0\.1:(\d+)"
    process, log, stop = _spawn(args, location / "azurite.log")
    try:
        ports = {s: _wait_for_port(process, log, pattern.format(s.capitalize())) for s in ("blob", "queue", "table")}
    except BaseException:
        stop()
        raise
    endpoints = {s: f"http://{HOST}:{port}/{AZURITE_ACCOUNT}" for s, port in ports.items()}
    conn = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoints['blob']};QueueEndpoint={endpoints['queue']};"
            f"TableEndpoint={endpoints['table']};")
    return conn, stop


def start_cosmos(tmpdir: str | os.PathLike[str] | None = None) -> tuple[str, str, Stop]:
    """Start cosmosdb-server (in-memory, plain HTTP); return its endpoint, key and a stop function.

    Clients must pass ``enable_endpoint_discovery=False``: the server advertises ``https://``
    locations even in ``--no-ssl`` mode.
    """
    ensure_installed()
    log_path = Path(tmpdir) / "cosmos.log" if tmpdir is not None else None
    process, log, stop = _spawn([str(COSMOS_JS), "--host", HOST, "--port", "0", "--no-ssl"], log_path)
    try:
        port = _wait_for_port(process, log, r"Ready to accept HTTP connections at 127\.0\.0\.1:(\d+)")
    except BaseException:
        stop()
        raise
    return f"http://{HOST}:{port}/", COSMOS_KEY, stop


def _spawn(args: list[str], log_path: Path | None) -> tuple[subprocess.Popen[bytes], Path, Stop]:
    """Run ``node args`` in a new process group with its output in a log file (a temporary one,
    removed by ``stop``, when ``log_path`` is None)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the Azure adapter tests need Node.js 20+")
    temporary = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="emulator-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log: TextIO = open(log_path, "w")  # noqa: SIM115 (open while the emulator runs; stop closes it)
    process = subprocess.Popen([node, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)

    def stop() -> None:
        _stop(process)
        log.close()
        if temporary:
            log_path.unlink(missing_ok=True)

    return process, log_path, stop


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the process group, then kill it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait(timeout=5.0)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path, pattern: str) -> int:
    """The port the emulator's log announces, once it accepts connections."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found and _accepts(int(found.group(1))):
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"emulator {process.args[1]} did not start within {START_TIMEOUT:.0f}s"
                       f" (exit {process.returncode}); its log {log}:\n{log.read_text(errors='replace')[-4000:]}")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False
