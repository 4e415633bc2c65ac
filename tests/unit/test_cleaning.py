"""Tests of triage.domain.cleaning: what the classifier gets to see, in time linear in what it is given."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.domain.cleaning import MAX_CHARS, MAX_FRAMES, clean_body, issue_text, learn_boilerplate, lexical_text
from triage.domain.stack_traces import is_frame_line, strip_location, trim_stack_traces


def frame_count(text: str) -> int:
    """Number of ``at Name(`` stack frames left in ``text``."""
    return len(re.findall(r"\bat [\w.`<>\[\],]+\(", text))


# --- HTML comments and code fences ---------------------------------------------------


def test_html_comments_are_removed_including_multiline() -> None:
    body = "Before <!-- Please describe\nthe problem here --> after\n<!-- one more -->kept"
    out = clean_body(body)
    assert "describe" not in out and "problem here" not in out and "one more" not in out
    assert "Before" in out and "after" in out and "kept" in out
    assert "<!--" not in out and "-->" not in out


def test_unterminated_html_comment_removes_the_rest() -> None:
    assert clean_body("Visible text <!-- template instructions never closed") == "Visible text"


@pytest.mark.parametrize("fence", ["```", "~~~"])
def test_fenced_code_block_is_replaced_by_code_marker(fence: str) -> None:
    body = f"Repro:\n{fence}csharp\nvar client = new SecretWidget();\nclient.Frobnicate();\n{fence}\nThen it crashes."
    out = clean_body(body)
    assert "[code]" in out
    assert "SecretWidget" not in out and "Frobnicate" not in out and "csharp" not in out
    assert out.startswith("Repro:") and out.endswith("Then it crashes.")


def test_flattened_fences_on_one_line_are_replaced_each() -> None:
    body = "First ```var a = Alpha();``` middle ~~~Beta.Gamma()~~~ end"
    out = clean_body(body)
    assert out == "First [code] middle [code] end"


def test_several_fences_do_not_swallow_the_prose_between_them() -> None:
    body = "one\n```\ncodeA\n```\nimportant prose\n```\ncodeB\n```\ntwo"
    out = clean_body(body)
    assert "important prose" in out
    assert out.count("[code]") == 2
    assert "codeA" not in out and "codeB" not in out


# --- stack traces --------------------------------------------------------------------

DOTNET_TRACE = """Unhandled exception. System.NullReferenceException: Object reference not set
   at System.Net.Http.HttpClient.SendAsync(HttpRequestMessage request) in C:\\src\\corefx\\HttpClient.cs:line 42
   at Contoso.Orders.Load(Int32 id) in /home/dev/src/Orders.cs:line 10
   at Contoso.Orders.Refresh() in /home/dev/src/Orders.cs:line 11
   at Contoso.Orders.FourthFrame() in /home/dev/src/Orders.cs:line 12
   at Contoso.Program.Main(String[] args) in /home/dev/src/Program.cs:line 5
After the trace."""


def test_multiline_dotnet_trace_keeps_three_frames_without_locations() -> None:
    out = clean_body(DOTNET_TRACE)
    assert frame_count(out) == MAX_FRAMES == 3
    assert "at System.Net.Http.HttpClient.SendAsync(HttpRequestMessage request)" in out
    assert "at Contoso.Orders.Load(Int32 id)" in out
    assert "at Contoso.Orders.Refresh()" in out
    assert "FourthFrame" not in out and "Program.Main" not in out
    assert ":line" not in out and "Orders.cs" not in out and "C:\\src" not in out and "/home/dev" not in out
    assert "Object reference not set" in out and out.endswith("After the trace.")


def test_python_frames_without_source_lines_are_trimmed_and_locations_removed() -> None:
    body = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/main.py", line 3, in <module>\n'
        '  File "/srv/app/main.py", line 7, in run_job\n'
        '  File "/srv/app/steps.py", line 9, in step_one\n'
        '  File "/srv/app/steps.py", line 11, in step_two\n'
        "ValueError: bad value"
    )
    out = clean_body(body)
    assert "in run_job" in out and "in step_one" in out
    assert "step_two" not in out
    assert "main.py" not in out and "steps.py" not in out and "line 3" not in out and "/srv/app" not in out
    assert "ValueError: bad value" in out


def test_python_traceback_with_source_lines_is_trimmed_to_three_frames() -> None:
    """A real Python traceback prints each frame's source line under it; it is still one trace.
    """
    body = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/main.py", line 10, in <module>\n'
        "    run_job()\n"
        '  File "/srv/app/main.py", line 6, in run_job\n'
        "    step_one()\n"
        '  File "/srv/app/steps.py", line 3, in step_one\n'
        "    step_two()\n"
        '  File "/srv/app/steps.py", line 9, in step_two\n'
        "    deep_helper()\n"
        '  File "/srv/app/helpers.py", line 2, in deep_helper\n'
        '    raise ValueError("boom")\n'
        "ValueError: boom"
    )
    out = clean_body(body)
    assert "steps.py" not in out and "line 10" not in out
    assert "in step_one" in out
    assert "in step_two" not in out and "in deep_helper" not in out


def test_javascript_frames_are_trimmed() -> None:
    body = "TypeError: x is undefined\n    at foo (/app/a.js:1:2)\n    at bar (/app/b.js:3:4)\n" \
           "    at baz (/app/c.js:5:6)\n    at qux (/app/d.js:7:8)\nend"
    out = clean_body(body)
    assert "at foo" in out and "at baz" in out and "qux" not in out
    assert ".js" not in out


def test_flattened_dotnet_trace_on_one_line_is_trimmed() -> None:
    frames = " ".join(f"at Contoso.Svc.Step{i}(Int32 x) in /src/svc/Step{i}.cs:line {i}" for i in range(1, 7))
    body = f"Exception: boom {frames} and then the story goes on"
    out = clean_body(body)
    assert frame_count(out) == 3
    assert "Step1(Int32 x)" in out and "Step3(Int32 x)" in out
    assert "Step4" not in out and "Step6" not in out
    assert ":line" not in out and "/src/svc" not in out
    assert out.startswith("Exception: boom") and out.endswith("and then the story goes on")


def test_flattened_trace_with_multi_argument_generic_frame_is_trimmed() -> None:
    """Frames such as ``TaskFactory`1.FromAsyncTrim[TInstance,TArgs](...)`` (corefx issue 28206).
    """
    body = (
        "IOException: broken pipe"
        " at System.Net.Sockets.NetworkStream.BeginWrite(Byte[] buffer, Int32 offset)"
        " at System.IO.Stream.<>c.<BeginEndWriteAsync>b__53_0(Stream stream)"
        " at System.Threading.Tasks.TaskFactory`1.FromAsyncTrim[TInstance,TArgs](TInstance thisRef, TArgs args)"
        " at System.IO.Stream.BeginEndWriteAsync(Byte[] buffer, Int32 offset, Int32 count)"
        " at System.IO.Stream.WriteAsync(Byte[] buffer, Int32 offset, Int32 count)"
        " at Contoso.Uploader.PushFifthFrame(Stream s)"
        " after"
    )
    out = clean_body(body)
    assert "NetworkStream.BeginWrite" in out
    assert frame_count(out) == 3
    assert "PushFifthFrame" not in out


def test_three_frames_or_fewer_are_left_alone_apart_from_locations() -> None:
    body = "Oops\n   at A.B.C() in /x/y.cs:line 1\n   at A.B.D() in /x/z.cs:line 2\nDone"
    assert clean_body(body) == "Oops\n at A.B.C()\n at A.B.D()\nDone"


# --- checkboxes, boilerplate ---------------------------------------------------------


def test_checkbox_lines_are_removed() -> None:
    body = "Intro line\n- [ ] I searched existing issues\n- [x] I agree to the code of conduct\n* [X] Done\nReal text"
    assert clean_body(body) == "Intro line\nReal text"


def template_bodies(n: int, with_heading: int) -> list[str]:
    """``n`` bodies with a unique line each; the first ``with_heading`` also carry the template heading."""
    return [("### Steps to reproduce\n" if i < with_heading else "") + f"Unique detail {i} about sockets" for i in range(n)]


def test_learned_boilerplate_line_is_removed_by_clean_body() -> None:
    boilerplate = learn_boilerplate(template_bodies(20, 20), min_share=0.2, min_issues=20)
    assert boilerplate == frozenset({"### steps to reproduce"})
    out = clean_body("### Steps to Reproduce\nOpen the socket twice", boilerplate)
    assert out == "Open the socket twice"


def test_learn_boilerplate_respects_min_share() -> None:
    assert learn_boilerplate(template_bodies(20, 4), min_share=0.2, min_issues=20) == {"### steps to reproduce"}
    assert learn_boilerplate(template_bodies(20, 3), min_share=0.2, min_issues=20) == frozenset()


def test_learn_boilerplate_is_empty_below_min_issues() -> None:
    assert learn_boilerplate(template_bodies(19, 19), min_share=0.2, min_issues=20) == frozenset()
    assert learn_boilerplate(template_bodies(5, 5), min_share=0.5, min_issues=5) == {"### steps to reproduce"}


def test_learn_boilerplate_ignores_very_short_lines_and_counts_once_per_body() -> None:
    bodies = ["ok\nrepeat me\nrepeat me\nrepeat me"] + [f"body {i}" for i in range(19)]
    learned = learn_boilerplate(bodies, min_share=0.1, min_issues=20)
    assert "ok" not in learned
    assert "repeat me" not in learned  # 1 of 20 bodies, however often it repeats inside it


# --- images, links, URLs, noise ------------------------------------------------------


def test_images_removed_links_keep_text_bare_urls_removed() -> None:
    body = (
        "Screenshot ![the screen](https://i.imgur.com/abc.png) shows it. "
        "See [the HttpClient docs](https://docs.microsoft.com/dotnet/api) and [guide](/docs/guide.md). "
        "Also https://github.com/dotnet/corefx/issues/123 and www.example.com/page end"
    )
    out = clean_body(body)
    assert "the screen" not in out and "imgur" not in out and "![" not in out
    assert "See the HttpClient docs and guide." in out
    assert "http" not in out and "www." not in out and "github.com" not in out
    assert out.endswith("and end")


@pytest.mark.parametrize(
    "noise",
    ["0x7FFE12AB", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
     "deadbeefcafe1234", "1234567"],
)
def test_noise_tokens_are_removed(noise: str) -> None:
    assert clean_body(f"crash at {noise} again") == "crash at again"


def test_short_numbers_and_versions_are_kept() -> None:
    out = clean_body("Broken since 4.5.0 on port 8080 in 2018")
    assert out == "Broken since 4.5.0 on port 8080 in 2018"


def test_meaningful_words_survive_cleaning() -> None:
    body = (
        "HttpClient throws when HttpClientHandler reuses the SslStream at random times.\n"
        "It fails at startup when I call HttpClient.GetAsync() in my app."
    )
    out = clean_body(body)
    for word in ("HttpClient", "HttpClientHandler", "SslStream", "GetAsync", "startup", "random times"):
        assert word in out
    assert out == body  # nothing in plain prose is noise


# --- issue_text ----------------------------------------------------------------------


def test_issue_text_puts_title_first_separated_by_blank_line() -> None:
    text = issue_text("HttpClient hangs", "Body <!-- c --> text")
    assert text == "HttpClient hangs\n\nBody text"


def test_issue_text_removes_urls_from_title_and_collapses_spaces() -> None:
    assert issue_text("Broken   link https://example.com/x   here", "") == "Broken link here"


def test_issue_text_respects_max_chars_and_keeps_title() -> None:
    body = "word " * 2000
    text = issue_text("Important title", body, max_chars=100)
    assert len(text) == 100
    assert text.startswith("Important title\n\n")
    assert len(issue_text("t", body)) == 4000


def test_issue_text_of_empty_issue_is_empty() -> None:
    assert issue_text("", "") == ""
    assert issue_text("Only a title", "") == "Only a title"


def test_a_bare_checkbox_line_does_not_take_the_next_line_with_it() -> None:
    """A checkbox is one line: an empty ``- [ ]`` used to remove the line under it as its label."""
    body = "Steps\n- [ ]\nThe socket closes twice\n-\n[x] unrelated bracket"
    assert clean_body(body) == "Steps\nThe socket closes twice\n-\n[x] unrelated bracket"
    assert clean_body("- [ ]") == "" and clean_body("* [X]\t") == "" and clean_body("  - [] done") == ""


# --- hostile bodies: every step linear in the input -----------------------------------------------------
#
# A body is untrusted text of up to 65,536 characters. The costs below are ratios measured in the same
# test, never seconds: a step linear in its input costs 8 times as much on a body 8 times as long, one
# quadratic 64 times. RATIO leaves room for caches and timer noise and still fails anything growing
# faster than about n^1.33. Costs are CPU time of this thread, the least of a few runs, so that waiting
# for a core on a busy machine does not count; a ratio over the bound is measured again (twice), so
# that one disturbed measurement does not fail the test while a super-linear step fails every time.

RATIO = 16
SMALL, LARGE = 8_192, 65_536
MIN_RUN = max(0.001, 100 * time.get_clock_info("thread_time").resolution)


def _timed(clean: Callable[[str], object], body: str, number: int) -> float:
    started = time.thread_time()
    for _ in range(number):
        clean(body)
    return time.thread_time() - started


def cost(clean: Callable[[str], object], body: str, repeats: int = 3) -> float:
    """CPU seconds one call takes: the least over ``repeats`` runs, each run at least MIN_RUN long."""
    number = 1
    elapsed = _timed(clean, body, number)
    while elapsed < MIN_RUN:
        number *= 4
        elapsed = _timed(clean, body, number)
    return min([elapsed] + [_timed(clean, body, number) for _ in range(repeats - 1)]) / number


def growth(clean: Callable[[str], object], small: str, large: str) -> float:
    """How many times more ``large`` costs than ``small``, the least of three measurements if over RATIO."""
    ratios: list[float] = []
    while len(ratios) < 3 and min(ratios, default=RATIO + 1) > RATIO:
        ratios.append(cost(clean, large) / cost(clean, small))
    return min(ratios)


TEMPLATE = frozenset({"### steps to reproduce", "- [ ] i searched existing issues"})


def clean_all(body: str) -> None:
    """Every cleaning entry point on ``body``: what a dataset build and a labeling request run."""
    learn_boilerplate([body, "Other body"], min_share=0.5, min_issues=2)
    issue_text("Title", body, TEMPLATE)
    lexical_text("Title", body)


def assert_linear(make: Callable[[int], str]) -> None:
    small, large = make(SMALL), make(LARGE)
    assert len(large) > 7 * len(small) and len(issue_text("Title", large)) <= MAX_CHARS
    assert growth(clean_all, small, large) <= RATIO, f"super-linear on {large[:80]!r}..."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "[" * n, id="link-opened-never-closed"),
        pytest.param(lambda n: "![" * (n // 2), id="image-opened-never-closed"),
        pytest.param(lambda n: "[a](http://" * (n // 11), id="link-target-never-closed"),
        pytest.param(lambda n: "at a(" + "a" * n + ")", id="frame-location-long-path"),
        pytest.param(lambda n: "\n" * n + "x", id="checkbox-many-blank-lines"),
        pytest.param(lambda n: " at a(" * (n // 6), id="inline-frames-never-closed"),
        pytest.param(lambda n: "x at a(" + " " * n + ")", id="inline-frame-spaces-inside"),
        pytest.param(lambda n: " at a(" + " " * n + ") at b() at c() at d()", id="inline-frames-split-on-spaces"),
    ],
)
def test_issue_reproductions_at_65536_characters_cost_linear_time(make: Callable[[int], str]) -> None:
    """Issue #13: each of these took 6-30 s at 65,536 characters (quadratic); the checkbox one never ended."""
    assert_linear(make)


def test_frame_line_with_a_run_of_spaces_is_not_cubic() -> None:
    """Issue #13: ``issue_text("t", "at a" + " " * 2000 + "!")`` took 12 s (cubic backtracking)."""
    small = "at a" + " " * 250 + "!"
    large = "at a" + " " * 2000 + "!"
    assert growth(lambda body: issue_text("t", body), small, large) <= RATIO
    assert issue_text("t", large) == "t\n\nat a !"  # a line of name characters and spaces, not a frame


# Tokens the patterns care about, and a few odd characters: bodies are a head, a motif repeated up to
# the size, and a tail, possibly several times over (long lines, or very many short ones).
ATTACK_TOKENS = [
    " ", "\t", "\n", "\r\n", "  ", "at ", " at ", "at", "a", "Foo.Bar", "(", ")", "()", "[", "]", "!", ":", "1",
    "42", "in ", " in ", ":line ", 'File "', '"', ", line ", "- [ ] ", "- [", "* ", "`", "```", "~~~", "<!--",
    "-->", "http://", "https://", "www.", "0x", "deadbeef", "abcdef0123", "0", "9999999", "-", "/", "\\", ".",
    ",", "<", ">", "![", "](", "](/", "_", "$", "@", "~", "x.js", ".cs", "\u00a0", "\u200f", "\u0301", "\x00",
]
tokens = st.lists(st.one_of(st.sampled_from(ATTACK_TOKENS), st.characters()), min_size=1, max_size=6).map("".join)


@dataclass(frozen=True)
class Hostile:
    """Bodies built one way at any size: units of ``head``, ``motif`` repeated, ``tail``.

    ``repeat`` motifs make a unit and units are repeated up to the size (very many short lines, or
    stretches), or, with ``repeat`` 0, the motif is repeated up to the size in a single unit.
    """

    head: str
    motif: str
    tail: str
    repeat: int

    def __call__(self, n: int) -> str:
        if self.repeat == 0:
            return self.head + self.motif * max(1, (n - len(self.head) - len(self.tail)) // len(self.motif)) + self.tail
        unit = self.head + self.motif * self.repeat + self.tail
        return unit * max(1, n // len(unit))


hostile_bodies = st.builds(Hostile, st.lists(tokens, max_size=3).map("".join), tokens,
                           st.lists(tokens, max_size=3).map("".join), st.sampled_from([0, 0, 1, 3, 20]))


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bodies)
def test_cleaning_64k_of_any_hostile_body_costs_at_most_about_8_times_8k(make: Hostile) -> None:
    assert_linear(make)


# --- any text at all -------------------------------------------------------------------------------------

ODD = ["\x00", "\u200f", "\u202e", "\u2066", "\u0301", "\u200d", "\ufeff", "\u2028", "\x85", "\x1c", "\U0001f600",
       "\ud800", "\udfff", "\ud83d", "\u0663\u0664\u0665\u0666\u0667\u0668", "\uff10" * 7, "İ", "ß", "\ufffd"]
any_text = st.lists(st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD), st.sampled_from(ATTACK_TOKENS)),
                    max_size=80).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(any_text, any_text, st.integers(min_value=0, max_value=60))
def test_any_text_cleans_to_valid_text_within_bounds_with_the_title_first(title: str, body: str, cut: int) -> None:
    text = issue_text(title, body)
    assert len(text) <= MAX_CHARS and text.startswith(issue_text(title, ""))
    assert len(issue_text(title, body, max_chars=cut)) <= cut
    assert issue_text(title, body, max_chars=cut).startswith(issue_text(title, "", max_chars=cut))
    lexical = lexical_text(title, body, max_chars=cut + 100)
    assert len(lexical) <= cut + 100
    for out in (text, lexical, clean_body(body, learn_boilerplate([body] * 20))):
        out.encode("utf-8")  # what the tokenizer and every store need


def test_lone_surrogates_from_json_are_dropped_so_the_tokenizer_can_take_the_text() -> None:
    """JSON can carry ``"\\ud800"``; the tokenizer raises on such a string, so labeling would fail on it."""
    issue = json.loads('{"title": "Crash \\ud83d in \\udfffparser", "body": "at a(\\ud800) \\u0000 \\u200f ok"}')
    text = issue_text(issue["title"], issue["body"])
    assert text.startswith("Crash in parser\n\n") and "ok" in text
    text.encode("utf-8")
    lexical_text(issue["title"], issue["body"]).encode("utf-8")


def test_huge_numbers_and_deep_brackets_are_cleaned() -> None:
    assert clean_body("id " + "9" * 65_536 + " end") == "id end"
    nested = "[" * 5000 + "text](https://x.example/" + ")" * 5000
    assert clean_body(nested) == "[" * 4999 + "text" + ")" * 4999
    assert clean_body("see " + "![" * 3000 + "end") == "see " + "![" * 3000 + "end"
    assert lexical_text("t", "![a](" + "z" * 70_000) == "t\n![a](" + "z" * 19_993


# --- the same results as the plain patterns ----------------------------------------------------------------
#
# The patterns of triage.domain.stack_traces and the image and link patterns were rewritten to run in
# linear time. These are the plain patterns they replace, with the same meaning and backtracking time:
# on short inputs both must give the same answers.

PLAIN_FRAME_LINE = re.compile(
    r"^\s*(at\s+[\w$.<>`\[\],:/\\@ -]+(\(.*\))?\s*(in\s+\S+)?(:line\s+\d+)?|File \".*\", line \d+.*)\s*$")
PLAIN_INLINE_FRAMES = re.compile(r"(\s+at\s+[\w$.<>`\[\],]+\([^)]*\)(\s+in\s+\S+?:line\s+\d+)?){4,}")
PLAIN_FRAME_LOCATION = re.compile(r"\s+in\s+\S+?:line\s+\d+|\s*\(?[\w./\\-]+:\d+(:\d+)?\)?$|File \"[^\"]*\", line \d+,?")
PLAIN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
PLAIN_LINK = re.compile(r"\[([^\]]*)\]\((?:https?://|/)[^)]*\)")


def plain_trim(text: str) -> str:
    """The stack-trace trimmer on the plain patterns."""
    kept, run, python_frame = [], 0, False
    for line in text.splitlines():
        if PLAIN_FRAME_LINE.match(line):
            run, python_frame = run + 1, line.lstrip().startswith("File ")
            if run <= MAX_FRAMES:
                kept.append(PLAIN_FRAME_LOCATION.sub("", line).rstrip())
        elif python_frame and line.startswith((" ", "\t")) and line.strip():
            python_frame = False
            if run <= MAX_FRAMES:
                kept.append(line)
        else:
            run, python_frame = 0, False
            kept.append(line)
    frames = lambda m: [PLAIN_FRAME_LOCATION.sub("", "at " + p).strip() for p in re.split(r"\s+at\s+", m) if p.strip()]  # noqa: E731
    return PLAIN_INLINE_FRAMES.sub(lambda m: " " + " ".join(frames(m.group(0))[:MAX_FRAMES]), "\n".join(kept))


FRAME_TOKENS = ["at", " ", "  ", "\t", "\u3000", "Foo.Bar", "a", "(", ")", "()", "(x.js:1:2)", "[", "]", "<>", "`1", ",",
                ":", "1", "42", "in", " in ", ":line", "/", "\\", ".", "-", "~", "@", "$", "é", "_", 'File "', '"',
                ", line ", "Int32 x", "C:\\src\\a.cs", "\u200f"]
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
short_lines = st.lists(st.one_of(st.sampled_from(FRAME_TOKENS), st.characters(exclude_characters=LINE_BREAKS)),
                       max_size=16).map("".join)
short_texts = st.lists(st.one_of(st.sampled_from(FRAME_TOKENS + ["\n", "\r\n", " at "]), st.characters()),
                       max_size=30).map("".join)
SAME = settings(max_examples=400, deadline=None, database=None)


@SAME
@given(short_lines)
def test_frame_lines_are_those_of_the_plain_pattern(line: str) -> None:
    assert is_frame_line(line) == bool(PLAIN_FRAME_LINE.match(line))


@SAME
@given(short_lines)
def test_locations_are_stripped_as_by_the_plain_pattern(frame: str) -> None:
    assert strip_location(frame) == PLAIN_FRAME_LOCATION.sub("", frame)


@SAME
@given(short_texts)
def test_stack_traces_are_trimmed_as_by_the_plain_patterns(text: str) -> None:
    assert trim_stack_traces(text) == plain_trim(text)


@SAME
@given(short_texts.map(lambda t: t.replace("(", "](http://", 1)))
def test_images_and_links_are_cleaned_as_by_the_plain_patterns(text: str) -> None:
    assert lexical_text("", text) == lexical_text("", PLAIN_IMAGE.sub(" ", text))
    assert clean_body(text) == clean_body(PLAIN_LINK.sub(r"\1", PLAIN_IMAGE.sub(" ", text)))


@pytest.mark.parametrize("line", ["at Foo in\tC:\\x.cs", "at Foo in C:\\a~b.cs:line 5", "at  in a~b", "at F in a~b :line 5",
                                  "at a(b) in x~y:line 3", "at x in y~ in a~b", "  File \"a.py\", line 3, in f", "at   "])
def test_odd_frame_lines_are_judged_as_by_the_plain_pattern(line: str) -> None:
    assert is_frame_line(line) == bool(PLAIN_FRAME_LINE.match(line))
