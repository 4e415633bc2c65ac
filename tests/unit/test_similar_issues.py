"""Similar past issues: the stored file, the search, and how outside titles are shown (comment, dashboard, CLI)."""

from __future__ import annotations

import html.parser
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from triage.app.markdown import code_span, issue_url
from triage.app.writers import comment_body
from triage.cli.output import decision_record
from triage.domain.policy import Decision, Policy
from triage.ml.neighbours import TITLE_CHARS, Neighbours, pack
from triage.web.why import why_cell

LABELS = ["area-Net", "area-IO", "area-Xml"]
ADVERSARIAL = ["](https://evil.example) [x", "<script>alert(1)</script>", "`code` ``two`` ```", "@octocat please look",
               "line one\nline two\r\n- list", "#123 and GH-4 and owner/repo#5", "<img src=x onerror=alert(1)>",
               "\\` escaped \\", "**bold** _it_ ~~s~~ | table |", "\u202eevil\u202c", "` leading backtick", "   ",
               "&amp; &lt;b&gt; \" '", "[link][ref]\n[ref]: https://evil.example", "<!-- comment -->", "\x00\x1b[31m"]


def one_line(text: str) -> str:
    """A title as shown: control characters and line breaks as spaces, runs of white space as one, 100 characters."""
    return " ".join(re.sub("[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", text).split())[:100]


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def stored(n: int = 40, seed: int = 0) -> tuple[Neighbours, np.ndarray, list[list[str]]]:
    rng = np.random.default_rng(seed)
    vectors = unit(rng.normal(size=(n, 16)))
    row_labels = [[LABELS[i % 3]] + ([LABELS[(i + 1) % 3]] if i % 5 == 0 else []) for i in range(n)]
    data = pack(vectors, [100 + i for i in range(n)], row_labels, LABELS, [f"issue {i}" for i in range(n)])
    return Neighbours(data, LABELS), vectors, row_labels


def test_the_nearest_issues_of_a_label_are_the_most_similar_ones_carrying_it() -> None:
    index, vectors, row_labels = stored()
    rng = np.random.default_rng(1)
    for _ in range(20):
        query = unit(rng.normal(size=(1, 16)))[0]
        label = LABELS[int(rng.integers(3))]
        carrying = [i for i, names in enumerate(row_labels) if label in names]
        # float16 storage: rank against the stored precision, as the index does
        similarity = vectors.astype(np.float16).astype(np.float32) @ query
        expected = sorted(carrying, key=lambda i: -similarity[i])[:3]
        assert index.nearest(query, label) == [(100 + i, f"issue {i}") for i in expected]


def test_the_issue_itself_is_never_its_own_neighbour() -> None:
    index, vectors, row_labels = stored()
    found = index.nearest(vectors[7], row_labels[7][0], k=3)
    assert found[0][0] == 107  # identical vector: most similar
    assert 107 not in [n for n, _ in index.nearest(vectors[7], row_labels[7][0], k=3, exclude=107)]
    assert len(index.nearest(vectors[7], row_labels[7][0], k=3, exclude=107)) == 3


def test_unknown_or_empty_labels_have_no_neighbours_and_k_caps_the_answer() -> None:
    index, vectors, _ = stored(4)
    assert index.nearest(vectors[0], "area-Unknown") == []
    assert len(index.nearest(vectors[0], "area-Net", k=10)) == len(index.rows("area-Net")) == 2
    assert len(index) == 4


def test_a_file_written_for_other_labels_is_refused() -> None:
    data = pack(unit(np.ones((2, 4))), [1, 2], [["a"], ["b"]], ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="do not match the model"):
        Neighbours(data, ["a", "c"])
    with pytest.raises(ValueError, match="same issues"):
        pack(np.ones((2, 4)), [1], [["a"], ["b"]], ["a", "b"], ["x", "y"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_any_title_round_trips_cut_to_one_line(titles: list[str]) -> None:
    data = pack(np.ones((len(titles), 2)) / np.sqrt(2), list(range(len(titles))), [["a"]] * len(titles), ["a", "b"],
                titles)
    assert Neighbours(data, ["a", "b"]).titles == [" ".join(t.split())[:TITLE_CHARS] for t in titles]


def test_the_file_is_small_per_issue() -> None:
    n, hidden = 1000, 384
    data = pack(unit(np.random.default_rng(0).normal(size=(n, hidden))), list(range(n)), [["a"]] * n, ["a", "b"],
                ["HttpClient throws on redirect to https in .NET Core"] * n)
    assert len(data) / n < 2 * hidden + 120  # float16 vector, number, packed labels, title, offset


# --- outside titles in the comment, the dashboard and the CLI -----------------------------------------------------


class Links(html.parser.HTMLParser):
    """The anchors, code spans and text outside code of rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.titles: list[str] = []
        self.code: list[str] = []
        self.outside: list[str] = []
        self.tags: list[str] = []
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
            self.titles.append(values.get("title") or "")
        self._in_code += tag == "code"

    def handle_endtag(self, tag: str) -> None:
        self._in_code -= tag == "code"

    def handle_data(self, data: str) -> None:
        (self.code if self._in_code else self.outside).append(data)


def decision(titles: list[str], repo: str = "octo/widgets") -> Decision:
    similar = tuple(("area-Net", 10 + i, title) for i, title in enumerate(titles))
    reasons = ("area-Net: like " + ", ".join(f"#{10 + i}" for i in range(len(titles))),)
    return Decision(repo, 99, (("area-Net", 0.97),), reasons, (("area-Net", 0.97),), "v1", similar)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ADVERSARIAL) | st.text(max_size=120), min_size=1, max_size=3))
def test_any_title_in_the_comment_stays_inert_text_next_to_its_link(titles: list[str]) -> None:
    body = comment_body(decision(titles))
    rendered = MarkdownIt("commonmark").render(body)
    page = Links()
    page.feed(rendered)
    assert page.hrefs == [issue_url("octo/widgets", 10 + i) for i in range(len(titles))]
    assert set(page.tags) <= {"p", "strong", "ul", "li", "code", "a"}, page.tags  # no HTML, image or heading
    for title in titles:
        shown = one_line(title)
        if shown:
            assert shown in page.code, (title, page.code)
    outside = "".join(page.outside)
    assert "@" not in outside  # a mention would notify someone: titles stay in code spans
    assert body.count("\n") == len(body.splitlines()) - 1 and all(
        line.startswith(("<!--", "**", "- ", "  - ", "Applied")) or not line for line in body.splitlines())


def test_the_comment_shows_each_similar_issue_as_a_link_with_its_title() -> None:
    body = comment_body(decision(["HttpClient hangs", "Socket `timeout`"]))
    assert "- `area-Net` like:" in body
    assert "  - [#10](https://github.com/octo/widgets/issues/10) ` HttpClient hangs `" in body
    assert "  - [#11](https://github.com/octo/widgets/issues/11) `` Socket `timeout` ``" in body
    assert "like:" not in comment_body(Decision("o/r", 1, (("area-Net", 0.9),), (), (), "v1"))


@given(st.sampled_from(ADVERSARIAL) | st.text(max_size=200))
def test_a_code_span_is_one_line_holding_exactly_the_text(text: str) -> None:
    span = code_span(text)
    clean = one_line(text)
    assert "\n" not in span and "\r" not in span
    page = Links()
    page.feed(MarkdownIt("commonmark").renderInline(f"x {span} y"))
    assert page.code == ([clean] if clean else []), (text, span)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ADVERSARIAL) | st.text(max_size=120), min_size=1, max_size=3),
       st.sampled_from(["octo/widgets", "o-1/r.2"]))
def test_any_title_on_the_dashboard_is_only_an_attribute_of_its_link(titles: list[str], repo: str) -> None:
    d = decision(titles, repo)
    cell = why_cell(d.reasons, d.to_dict()["similar"], repo)
    page = Links()
    page.feed(cell)
    page.close()
    assert page.tags == ["a"] * len(titles)
    assert page.hrefs == [f"https://github.com/{repo}/issues/{10 + i}" for i in range(len(titles))]
    assert page.titles == titles
    assert "".join(page.outside) == "area-Net: like " + ", ".join(f"#{10 + i}" for i in range(len(titles)))


def test_other_reasons_are_escaped_as_before() -> None:
    assert why_cell([], [], "o/r") == "—"
    assert why_cell(["<b>x</b>", "area-Net: like #1"], [], "o/r") == "&lt;b&gt;x&lt;/b&gt;; area-Net: like #1"


def test_triage_label_records_carry_the_similar_issues_with_links() -> None:
    record = decision_record(decision(["HttpClient hangs"]), Policy(thresholds={"area-Net": 0.5}), [])
    assert record["similar"] == [{"label": "area-Net", "number": 10, "title": "HttpClient hangs",
                                  "url": "https://github.com/octo/widgets/issues/10"}]
    assert "area-Net: like #10" in record["reasons"]
