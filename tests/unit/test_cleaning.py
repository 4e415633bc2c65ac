"""Tests of triage.cleaning: what the classifier gets to see."""

from __future__ import annotations

import re

import pytest

from triage.domain.cleaning import MAX_FRAMES, clean_body, issue_text, learn_boilerplate


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
