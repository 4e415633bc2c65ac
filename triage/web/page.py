"""The dashboard's HTML: plain functions over :func:`triage.dashboard.dashboard_view`'s data.

No template engine, no JavaScript, no CDN: one stylesheet allowed by a CSP nonce, images as
``data:`` URIs, the live-precision chart as inline SVG. Every value goes through :func:`e`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from triage.web.markup import e, num, pct, when
from triage.web.markup import table as _table
from triage.web.routing_page import assign_cell, routing_section
from triage.web.why import why_cell

ALL = "__all__"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
MAX_SERIES = 8

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;background:#f4f6f9}
header{background:#1d2733;color:#fff;padding:.8em 1.5em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
header h1{font-size:1.15em;margin:0}header .who{margin-left:auto;opacity:.8}
header a{color:#cfe3ff}nav a{margin-right:.8em}
main{padding:1em 1.5em;display:grid;gap:1em;grid-template-columns:repeat(auto-fit,minmax(520px,1fr))}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:.6em 1em 1em}
section.wide{grid-column:1/-1}h2{font-size:1.05em;margin:.4em 0 .6em}
table{border-collapse:collapse;width:100%;font-size:.93em}
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #eef1f4;vertical-align:top}
th{color:#5a6877;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dt{color:#5a6877}dd{margin:0}
.tag{display:inline-block;border-radius:4px;padding:0 .4em;margin:0 .2em .2em 0;background:#eef1f4}
.applied{background:#d9f2e3}.dry{background:#fff1c9}.abstained{background:#eef1f4}.pending{color:#8a96a3}
.confirmed{background:#d9f2e3}.corrected{background:#fbdcdc}.missed{background:#fde7cf}
.paused{background:#fbdcdc}.auto-tuned{background:#fff1c9}.pinned{background:#dfe8fb}
.cards{display:flex;gap:1em;flex-wrap:wrap}.cards figure{margin:0;flex:1 1 320px}.cards img{max-width:100%;height:auto}
figcaption,.muted{color:#5a6877;font-size:.9em}footer{padding:0 1.5em 1.5em}
form.review{display:inline}
button{font:inherit;border:1px solid #aab4bf;border-radius:4px;background:#fff;padding:.1em .7em;cursor:pointer}
button.confirm{border-color:#2e8b57;color:#1e6b41}button.reject{border-color:#c0392b;color:#9b2c20}
button.apply{border-color:#1f5fbf;color:#174a94}.notice{background:#e6f0fd;border-radius:4px;padding:.3em .6em}
.big{font-size:1.6em;font-weight:600}.kpis{display:flex;gap:2em;flex-wrap:wrap;margin-bottom:.6em}
svg text{font:11px system-ui,sans-serif;fill:#3a4654}
"""


def _document(title: str, body: str, nonce: str) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width,initial-scale=1\"><title>{e(title)}</title>"
            f"<style nonce=\"{e(nonce)}\">{CSS}</style></head><body>{body}</body></html>")


def render_error(status: int, message: str, nonce: str, *, hint: str = "", link: tuple[str, str] | None = None) -> str:
    """A small page for a refused or failed request, with an optional hint and link (href, text)."""
    extra = f"<p>{e(hint)}</p>" if hint else ""
    if link:
        extra += f"<p><a id=\"sign-in\" href=\"{e(link[0])}\">{e(link[1])}</a></p>"
    return _document(f"{status} · issue labeler dashboard",
                     f"<header><h1>Issue labeler dashboard</h1></header><main><section class=\"wide\">"
                     f"<h2>{status}</h2><p id=\"error\">{e(message)}</p>{extra}</section></main>", nonce)


def render_dashboard(view: Mapping[str, Any] | None, repos: Sequence[str], *, identity: str, csrf: str, nonce: str,
                     base: str = "/api/dashboard", notice: str | None = None) -> str:
    """The whole dashboard page for one repository (``view``), with a picker over ``repos``; ``notice``: the
    outcome of the last review action, shown above the review queue."""
    picker = ""
    if len(repos) > 1:
        options = "".join(f"<option value=\"{e(r)}\"{' selected' if view and r == view['repo'] else ''}>{e(r)}</option>"
                          for r in repos)
        picker = (f"<form method=\"get\" action=\"{e(base)}\"><label>repository <select name=\"repo\">{options}"
                  f"</select></label> <button>Show</button></form>")
    nav = "".join(f"<a href=\"#{k}\">{e(v)}</a>" for k, v in (
        ("model", "model"), ("live", "live precision"), ("review", "review"), ("decisions", "decisions"), ("routing", "routing"),
        ("runs", "training"), ("tuning", "tuning")))
    header = (f"<header><h1>Issue labeler · {e(view['repo']) if view else 'no repository'}</h1>{picker}"
              f"<nav>{nav}</nav><span class=\"who\">signed in as {e(identity)}</span></header>")
    if view is None:
        content = ("<section class=\"wide\"><h2>No repository yet</h2><p>Set TRIAGE_REPOSITORIES or promote a model "
                   "(<code>triage train</code>, <code>triage promote</code>).</p></section>")
    else:
        content = "".join((
            _config_error_section(view), _model_section(view), _card_section(view), _live_section(view), _labels_section(view),
            _review_section(view, csrf, base, notice), _decisions_section(view), routing_section(view), _runs_section(view),
            _tuning_section(view)))
    footer = f"generated {when(view['generated_at'])}" if view else ""
    return _document(f"Issue labeler · {view['repo'] if view else 'dashboard'}",
                     f"{header}<main>{content}</main><footer class=\"muted\">{footer}</footer>", nonce)


def _config_error_section(view: Mapping[str, Any]) -> str:
    problem = view.get("config_error")
    if not problem:
        return ""
    return (f"<section class=\"wide\" id=\"config-error\"><h2>The repository config is invalid</h2><p>Nothing is "
            f"labeled until it is fixed (since {e(when(problem.get('at')))}):</p><pre>{e(problem['error'])}</pre>"
            "</section>")


def _model_section(view: Mapping[str, Any]) -> str:
    model = view["model"]
    if model is None:
        return "<section id=\"model\"><h2>Current model</h2><p>No model has been promoted yet.</p></section>"
    gate = model.get("gate_scores") or {}
    gate_text = "; ".join(f"{e(name)}: accuracy {num(s.get('accuracy'))}, macro-F1 {num(s.get('macro_f1'))}"
                          for name, s in gate.items() if s) or "—"
    items = [("version", e(model["version"])), ("promoted", when(model["promoted_at"])),
             ("trained", when(model["created_at"])), ("training issues", e(model["train_size"])),
             ("dataset", e(model["dataset_version"])),
             ("test accuracy", num(model["accuracy"])), ("test macro-F1", num(model["macro_f1"])),
             ("coverage at thresholds", pct(model["coverage"])), ("precision at thresholds", pct(model["precision"])),
             ("promotion", f"<span class=\"tag\">{e(model['status'])}</span> {e(model['reason'])}"),
             ("gate scores", gate_text)]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return f"<section id=\"model\"><h2>Current model</h2><dl>{rows}</dl></section>"


def _card_section(view: Mapping[str, Any]) -> str:
    card = view["card"]
    if not any(card.values()):
        return ("<section id=\"card\"><h2>Model card</h2><p class=\"muted\">no model card for this model</p>"
                "</section>")
    figures = []
    for name, caption in (("precision_coverage", "Precision vs coverage on the frozen test set"),
                          ("confusion_matrix", "Confusion matrix on the frozen test set")):
        if card.get(name):
            figures.append(f"<figure><img alt=\"{e(caption)}\" src=\"data:image/png;base64,{card[name]}\">"
                           f"<figcaption>{e(caption)}</figcaption></figure>")
    return f"<section id=\"card\"><h2>Model card</h2><div class=\"cards\">{''.join(figures)}</div></section>"


def _live_section(view: Mapping[str, Any]) -> str:
    live = view["live"]
    kpis = (f"<div class=\"kpis\"><div><div class=\"big\" id=\"live-precision\">{pct(live['precision'])}</div>"
            f"<div class=\"muted\">live precision ({e(live['judged'])} judged)</div></div>"
            f"<div><div class=\"big\">{pct(live['coverage'])}</div><div class=\"muted\">coverage "
            f"({e(live['labeled'])} of {e(live['decisions'])} decisions labeled)</div></div>"
            f"<div><div class=\"big\">{pct(view['target'])}</div><div class=\"muted\">target precision</div></div></div>")
    return (f"<section id=\"live\" class=\"wide\"><h2>Live precision per label (trailing 7 days, last "
            f"{e(live['window_days'])} days)</h2>{kpis}{precision_chart(live['series'], view['target'])}</section>")


def precision_chart(series: Mapping[str, Sequence[Mapping[str, Any]]], target: float,
                    width: int = 760, height: int = 260) -> str:
    """An inline SVG line chart of precision over days, one line per label plus all labels, with the target."""
    points = {k: v for k, v in series.items() if v}
    if not points:
        return "<p class=\"muted\" id=\"chart-empty\">No judged decisions in the window yet.</p>"
    labels = sorted((k for k in points if k != ALL), key=lambda k: -sum(p.get("judged", 0) for p in points[k]))
    shown = ([ALL] if ALL in points else []) + sorted(labels[:MAX_SERIES])
    days = [date.fromisoformat(p["day"]) for k in shown for p in points[k]]
    first, last = min(days), max(days)
    if first == last:
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    left, right, top, bottom = 44, 190, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(day: str) -> float:
        return left + plot_w * (date.fromisoformat(day) - first).days / (last - first).days

    def y(value: float) -> float:
        return top + plot_h * (1 - value)

    parts = [(f"<svg id=\"precision-chart\" role=\"img\" aria-label=\"live precision per label over time\" "
              f"viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" "
              "xmlns=\"http://www.w3.org/2000/svg\">")]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f"<line x1=\"{left}\" x2=\"{left + plot_w}\" y1=\"{y(tick):.1f}\" y2=\"{y(tick):.1f}\" "
                     f"stroke=\"#e3e8ee\"/><text x=\"{left - 6}\" y=\"{y(tick) + 4:.1f}\" text-anchor=\"end\">"
                     f"{tick:.0%}</text>")
    parts.append(f"<text x=\"{left}\" y=\"{height - 8}\">{e(first.isoformat())}</text>"
                 f"<text x=\"{left + plot_w}\" y=\"{height - 8}\" text-anchor=\"end\">{e(last.isoformat())}</text>")
    parts.append(f"<line class=\"target\" x1=\"{left}\" x2=\"{left + plot_w}\" y1=\"{y(target):.1f}\" "
                 f"y2=\"{y(target):.1f}\" stroke=\"#888\" stroke-dasharray=\"5 4\"/>"
                 f"<text x=\"{left + plot_w - 4}\" y=\"{y(target) - 4:.1f}\" text-anchor=\"end\">target {target:.0%}</text>")
    for i, key in enumerate(shown):
        color = "#1d2733" if key == ALL else PALETTE[i % len(PALETTE)]
        width_px = 3 if key == ALL else 1.8
        name = "all labels" if key == ALL else key
        coords = [(x(p["day"]), y(float(p["precision"])), p) for p in points[key]]
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
        parts.append(f"<g class=\"series\" data-label=\"{e(key)}\"><polyline fill=\"none\" stroke=\"{color}\" "
                     f"stroke-width=\"{width_px}\" points=\"{path}\"/>")
        parts.extend(f"<circle cx=\"{cx:.1f}\" cy=\"{cy:.1f}\" r=\"3\" fill=\"{color}\"><title>{e(name)} "
                     f"{e(p['day'])}: {pct(p['precision'])} of {e(p.get('judged'))} judged</title></circle>"
                     for cx, cy, p in coords)
        ly = top + 14 * i + 6
        parts.append(f"<line x1=\"{width - right + 12}\" x2=\"{width - right + 30}\" y1=\"{ly}\" y2=\"{ly}\" "
                     f"stroke=\"{color}\" stroke-width=\"{width_px}\"/><text x=\"{width - right + 36}\" y=\"{ly + 4}\">"
                     f"{e(name[:26])}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _labels_section(view: Mapping[str, Any]) -> str:
    rows = [[e(r["label"]), e(r["applied"]), e(r["confirmed"]), e(r["corrected"]), e(r["missed"]), pct(r["precision"]),
             pct(r["coverage"]), "never" if r["threshold"] is not None and float(r["threshold"]) > 1 else num(r["threshold"], 2),
             f"<span class=\"tag {e(r['state'])}\" title=\"{e(r['reason'])}\">{e(r['state'])}</span>"]
            for r in view["labels"]]
    table = _table(["label", "applied", "confirmed", "corrected", "missed", "live precision", "coverage", "threshold",
                    "threshold source"], rows, frozenset({1, 2, 3, 4, 5, 6, 7})) if rows else "<p>No labels yet.</p>"
    return f"<section id=\"labels\" class=\"wide\"><h2>Labels</h2>{table}</section>"


def _review_buttons(dry_run: bool) -> str:
    """Confirm and Reject; a dry-run prediction also gets Apply on GitHub (the label was never written)."""
    apply = ("<button class=\"apply\" name=\"verdict\" value=\"apply\" title=\"Write this label to the issue now, "
             "although the labeler is in dry run\">Apply on GitHub</button> ") if dry_run else ""
    reject_title = "Count as wrong" if dry_run else "Count as wrong and remove the bot's label from the issue"
    return ("<button class=\"confirm\" name=\"verdict\" value=\"confirm\" title=\"Count as right\">Confirm</button> "
            f"{apply}<button class=\"reject\" name=\"verdict\" value=\"reject\" title=\"{reject_title}\">Reject"
            "</button>")


def _review_section(view: Mapping[str, Any], csrf: str, base: str, notice: str | None = None) -> str:
    items = view["review"]
    if not items:
        body = "<p class=\"muted\">Nothing awaits review.</p>"
    else:
        hidden = f"<input type=\"hidden\" name=\"csrf\" value=\"{e(csrf)}\"><input type=\"hidden\" name=\"repo\" " \
                 f"value=\"{e(view['repo'])}\">"
        rows = [[f"#{e(r['number'])}", f"<span class=\"tag\">{e(r['label'])}</span>", num(r["score"]),
                 "dry run" if r["dry_run"] else "applied", when(r["decided_at"]),
                 (f"<form class=\"review\" method=\"post\" action=\"{e(base)}/review\">{hidden}"
                  f"<input type=\"hidden\" name=\"number\" value=\"{e(r['number'])}\">"
                  f"<input type=\"hidden\" name=\"label\" value=\"{e(r['label'])}\">"
                  f"{_review_buttons(bool(r['dry_run']))}</form>")]
                for r in items]
        body = _table(["issue", "predicted", "confidence", "mode", "decided", "verdict"], rows, frozenset({2}))
    shown = f"<p class=\"notice\" id=\"review-notice\" role=\"status\">{e(notice)}</p>" if notice else ""
    return (f"<section id=\"review\" class=\"wide\"><h2>Review queue ({len(items)})</h2>{shown}<p class=\"muted\">"
            "Predicted labels no maintainer has judged yet. A verdict counts as feedback exactly like a label change "
            "on GitHub. Reject also removes a label the bot wrote; Apply on GitHub writes a dry-run prediction. "
            f"Neither undoes a human's change on GitHub.</p>{body}</section>")


def _scores(items: Sequence[Mapping[str, Any]]) -> str:
    return " ".join(f"<span class=\"tag\">{e(a['label'])} {num(a['score'], 2)}</span>" for a in items) or "—"


def _decisions_section(view: Mapping[str, Any]) -> str:
    rows = []
    for d in view["decisions"]:
        status_class = {"applied": "applied", "abstained": "abstained"}.get(d["status"], "dry")
        predicted = _scores(d["add"]) if d["add"] else f"<span class=\"muted\">top:</span> {_scores(d['top'])}"
        outcome = " ".join(f"<span class=\"tag {e(o['verdict'])}\">{e(o['verdict'])} {e(o['label'])}</span>"
                           for o in d["outcomes"]) or "<span class=\"pending\">pending</span>"
        rows.append([f"#{e(d['number'])}", predicted, f"<span class=\"tag {status_class}\">{e(d['status'])}</span>",
                     why_cell(d["reasons"], d.get("similar", []), view["repo"]), outcome, assign_cell(d.get("assign")),
                     when(d["decided_at"])])
    table = _table(["issue", "predicted (confidence)", "decision", "why", "human outcome", "assignee", "decided"], rows) \
        if rows else "<p>No decisions yet.</p>"
    return f"<section id=\"decisions\" class=\"wide\"><h2>Latest decisions</h2>{table}</section>"


def _runs_section(view: Mapping[str, Any]) -> str:
    queue = view["queue"]
    rows = [[e(r["id"]), e(r["state"]), e(r["dataset_version"]), when(r["started_at"]), when(r["ended_at"]),
             e((r.get("detail") or "")[:200])] for r in view["runs"]]
    runs = _table(["run", "state", "dataset", "started", "ended", "detail"], rows) if rows else "<p>No training runs yet.</p>"
    poison = "".join(f"<li>{when(p['at'])}: <code>{e(p['message'])}</code></li>" for p in queue["poison_latest"])
    return (f"<section id=\"runs\"><h2>Training runs and queues</h2>{runs}<dl>"
            f"<dt>label-requests queue</dt><dd id=\"queue-depth\">{e(queue['depth'])}</dd>"
            f"<dt>poison queue</dt><dd>{e(queue['poison_depth'])}</dd>"
            f"<dt>poison messages kept</dt><dd>{e(queue['poison_messages'])}</dd></dl>"
            f"{f'<ul>{poison}</ul>' if poison else ''}</section>")


def _tuning_section(view: Mapping[str, Any]) -> str:
    rows = [[when(t["at"]), e(t["label"]), num(t["old"], 2), "paused" if t["paused"] else num(t["new"], 2),
             e(t["reason"]), e(t["model_version"])] for t in view["tuning"]]
    table = _table(["when", "label", "old", "new", "why", "model"], rows) if rows else \
        "<p class=\"muted\">No automatic threshold changes.</p>"
    return f"<section id=\"tuning\"><h2>Auto-tuning history</h2>{table}</section>"

