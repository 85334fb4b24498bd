"""`casefile report html`: static pages that open offline.

DIR/index.html       the charts per company and the table of cases
DIR/cases/*.html     one page per case: its timeline from the case-file log
DIR/plotly.min.js    Plotly's JavaScript (from the `plotly` package), shared by every page

Every chart plots the rows of one query of `queries.py` as they come; the same rows are embedded
in each page as JSON (`<script type="application/json" id="casefile-report-data">`) so a reader
or a test can check them against `casefile report ... --format json`.
"""
from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb

from casefile.errors import CasefileError
from casefile.output import plain
from casefile.html_report import queries

PLOTLY_JS = "plotly.min.js"
CASES_DIR = "cases"
DATA_ELEMENT_ID = "casefile-report-data"
CONFIG = {"displaylogo": False, "responsive": True}
BUCKET_COLOURS = ("#9ecae1", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000")
OUTCOME_COLOURS = {"paid": "#31a354", "credited": "#3182bd", "written_off": "#de2d26",
                   "mixed": "#756bb1", "manual": "#636363", "not closed": "#fdae6b"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2933;
       background: #f5f7fa; }
header { background: #243b53; color: #fff; padding: 16px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #d9e2ec; font-size: 13px; }
header a { color: #bcccdc; }
main { padding: 16px 28px 40px; }
h2 { font-size: 19px; margin: 24px 0 8px; }
/* fixed tracks: a chart is drawn while the page is still parsing, at the width its card has then */
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1100px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.card { min-width: 0; overflow: hidden; background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 10px 12px; }
.card h3 { margin: 4px 4px 2px; font-size: 15px; }
.card p.note { margin: 0 4px 6px; font-size: 12px; color: #52606d; }
table { border-collapse: collapse; font-size: 12px; background: #fff; width: 100%; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 8px; text-align: left; white-space: nowrap; }
th { background: #f0f4f8; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { max-height: 520px; overflow: auto; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
code { font-size: 11px; }
"""


# ---------------------------------------------------------------------------------------- helpers

def plain_rows(rows: Iterable[dict]) -> list[dict]:
    return [{k: plain(v) for k, v in r.items()} for r in rows]


def column(rows: Sequence[dict], name: str) -> list[Any]:
    return [plain(r[name]) for r in rows]


def _json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def case_file_name(case_id: str, taken: set[str]) -> str:
    """A file name for a case page: the id with anything but [A-Za-z0-9._-] as `_`, made unique."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", case_id) or "case"
    name, n = f"{base}.html", 1
    while name in taken:
        n += 1
        name = f"{base}~{n}.html"
    taken.add(name)
    return name


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(plain(value)))


def _chart(fig: Any, chart: str, company: str, div_id: str, title: str, note: str = "") -> str:
    import plotly.io as pio

    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=30, b=50),
                      legend=dict(orientation="h", y=-0.15))
    body = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)
    return (f'<section class="card" data-chart="{_e(chart)}" data-company="{_e(company)}">'
            f"<h3>{_e(title)}</h3>" + (f'<p class="note">{note}</p>' if note else "") + body + "</section>")


def _empty(fig: Any, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=15, color="#52606d"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def _page(title: str, subtitle: str, body: str, data: dict, plotly_src: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
<script src="{plotly_src}"></script>
</head>
<body>
<header><h1>{_e(title)}</h1><p>{subtitle}</p></header>
<main>
{body}
</main>
<script type="application/json" id="{DATA_ELEMENT_ID}">{_json_for_script(data)}</script>
</body>
</html>
"""


# ----------------------------------------------------------------------------------------- charts

def aging_history_chart(rows: list[dict], company: str, n: int) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    x = column(rows, "business_date")
    for (col, label), colour in zip(queries.BUCKETS, BUCKET_COLOURS):
        fig.add_trace(go.Scatter(x=x, y=column(rows, queries.major(col)), name=label, mode="lines",
                                 stackgroup="aging", line=dict(width=0.5, color=colour)))
    if not rows:
        _empty(fig, "No closed business day with an open balance")
    fig.update_layout(height=400, hovermode="x unified", yaxis_title="open amount")
    return _chart(fig, "aging_history", company, f"aging-history-{n}",
                  "Aging by bucket over time",
                  "Open receivables per aging bucket on every closed business day "
                  "(<code>aging_history</code> summed over accounts).")


def top_overdue_chart(rows: list[dict], company: str, as_of: str | None, n: int) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    y = column(rows, "customer_account")
    for (col, label), colour in zip(queries.OVERDUE_BUCKETS, BUCKET_COLOURS[1:]):
        fig.add_trace(go.Bar(y=y, x=column(rows, queries.major(col)), name=label, orientation="h",
                             marker_color=colour))
    when = f"on {as_of}" if as_of else "now"
    source = f"<code>aging_history</code> at {_e(as_of)}" if as_of else "<code>aging</code>"
    if not rows:
        _empty(fig, f"No account has an overdue balance {when}"
                    + (" (or it is not a closed business day)" if as_of else ""))
    fig.update_layout(height=max(400, 60 + 24 * len(rows)), barmode="stack", xaxis_title="overdue amount",
                      yaxis=dict(autorange="reversed", type="category"))
    return _chart(fig, "top_overdue", company, f"top-overdue-{n}",
                  f"Largest overdue accounts ({when})",
                  f"Up to {queries.TOP_OVERDUE_LIMIT} accounts with the most past due, by bucket ({source}).")


def recovery_chart(rows: list[dict], company: str, n: int) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55],
                        specs=[[{}], [{"secondary_y": True}]])
    x = column(rows, "month")
    fig.add_trace(go.Bar(x=x, y=column(rows, "collected"), name="collected on cases", marker_color="#3182bd"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=column(rows, "dso_standard"), name="DSO (days)", mode="lines+markers",
                             line=dict(color="#e6550d")), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=column(rows, "cei"), name="CEI (%)", mode="lines+markers",
                             line=dict(color="#31a354")), row=2, col=1, secondary_y=True)
    fig.add_trace(go.Scatter(x=x, y=column(rows, "promise_kept_pct"), name="promise kept rate (%)",
                             mode="lines+markers", line=dict(color="#756bb1", dash="dot")),
                  row=2, col=1, secondary_y=True)
    if not rows:
        _empty(fig, "No month with activity")
    fig.update_layout(height=460, hovermode="x unified")
    fig.update_yaxes(title_text="collected", row=1, col=1)
    fig.update_yaxes(title_text="days", row=2, col=1, secondary_y=False)
    fig.update_yaxes(title_text="%", row=2, col=1, secondary_y=True, rangemode="tozero", tickmode="auto",
                     showgrid=False)
    return _chart(fig, "recovery", company, f"recovery-{n}", "Recovery trend by month",
                  "Collected on cases (<code>recovery_daily</code>), DSO, CEI and promise kept rate "
                  "(<code>recovery_metrics</code>) per month; a gap is a month without the figure's denominator.")


def funnel_chart(rows: list[dict], company: str, n: int) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    stages = ["opened", "with a promise", "closed"]
    for r in rows:
        fig.add_trace(go.Funnel(y=stages, x=[r["opened"], r["with_promise"], r["closed"]], name=r["outcome"],
                                marker_color=OUTCOME_COLOURS.get(r["outcome"]), textinfo="value"))
    if not rows:
        _empty(fig, "No case has been opened")
    fig.update_layout(height=400, funnelmode="stack")
    return _chart(fig, "funnel", company, f"funnel-{n}", "Case funnel",
                  "Cases opened, with a promise to pay, and closed, coloured by outcome "
                  "(<code>cases</code>).")


def timeline_chart(events: list[dict], company: str) -> str:
    import plotly.graph_objects as go

    hover = [f"{e['event_type']}<br>{e['occurred_at']}"
             + (f"<br>amount {plain(e['amount'])}" if e["amount"] is not None else "")
             + (f"<br>invoice {e['invoice_id']}" if e["invoice_id"] else "")
             + f"<br>log p{e['log_partition']}@{e['log_offset']}" for e in events]
    fig = go.Figure(go.Scatter(x=column(events, "occurred_at"), y=column(events, "event_type"), mode="markers",
                               marker=dict(size=11, color="#243b53"), text=hover, hoverinfo="text",
                               name="events"))
    fig.update_layout(height=max(260, 90 + 26 * len({e["event_type"] for e in events})), showlegend=False,
                      xaxis_title="business time (occurred_at)", yaxis=dict(type="category"))
    return _chart(fig, "timeline", company, "timeline", "Timeline",
                  "Every log record of the case (<code>casefile_events</code>) at its business time.")


# ------------------------------------------------------------------------------------------ pages

def _table(rows: Sequence[dict], columns: Sequence[tuple[str, str]], link: dict[str, str] | None = None,
           table_id: str = "") -> str:
    head = "".join(f"<th>{_e(label)}</th>" for _, label in columns)
    body = []
    for r in rows:
        cells = []
        for key, _ in columns:
            v = r.get(key)
            text = _e(v)
            if link and key == "case_id" and v in link:
                text = f'<a href="{_e(CASES_DIR + "/" + link[v])}">{text}</a>'
            cls = ' class="num"' if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


CASE_COLUMNS = (("case_id", "case"), ("customer_account", "account"), ("status", "status"),
                ("trigger_rule", "trigger"), ("owner", "owner"), ("opened_on", "opened"), ("closed_on", "closed"),
                ("outcome", "outcome"), ("overdue_at_open", "overdue at open"), ("open", "open now"),
                ("collected", "collected"), ("promises_kept", "promises kept"),
                ("promises_broken", "promises broken"), ("letters_sent", "letters"), ("version", "records"))

EVENT_COLUMNS = (("stream_version", "#"), ("occurred_at", "business time"), ("recorded_at", "recorded"),
                 ("event_type", "event"), ("amount", "amount"), ("currency", "ccy"), ("invoice_id", "invoice"),
                 ("document_id", "document"), ("status", "status"), ("outcome", "outcome"),
                 ("reason", "reason"), ("source_event_id", "source event"),
                 ("source_record", "source record (topic partition@offset)"),
                 ("log_record", "log record (topic partition@offset)"))


def build(con: duckdb.DuckDBPyConnection, out: Path, company: str | None = None, as_of: str | None = None,
          source: str = "") -> Path:
    """Write the report into `out`; returns the index page's path."""
    import plotly.offline

    if as_of is not None:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise CasefileError(f"report html: --as-of {as_of!r} is not a date YYYY-MM-DD") from None
    names = queries.companies(con, company)
    if not names:
        raise CasefileError(f"report html: no data for company {company}" if company
                            else "report html: the read models are empty (run `casefile project` first)")
    out.mkdir(parents=True, exist_ok=True)
    (out / CASES_DIR).mkdir(exist_ok=True)
    (out / PLOTLY_JS).write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")

    sections, data, taken = [], {"as_of": as_of, "companies": {}}, set()  # type: ignore[var-annotated]
    for n, name in enumerate(names):
        aging_rows = queries.aging_over_time(con, name, as_of)
        top_rows = queries.top_overdue(con, name, as_of)
        recovery_rows = queries.recovery_trend(con, name, as_of)
        funnel_rows = queries.case_funnel(con, name)
        case_rows = queries.case_list(con, name)
        files = {r["case_id"]: case_file_name(r["case_id"], taken) for r in case_rows}
        written = _case_pages(con, out, name, files, source)
        data["companies"][name] = {
            "aging_history": plain_rows(aging_rows), "top_overdue": plain_rows(top_rows),
            "recovery": plain_rows(recovery_rows), "funnel": plain_rows(funnel_rows),
            "cases": [{**plain_rows([r])[0], "page": f"{CASES_DIR}/{files[r['case_id']]}"} for r in case_rows
                      if r["case_id"] in written],
        }
        sections.append(
            f'<h2>{_e(name)}</h2><div class="grid">'
            + aging_history_chart(aging_rows, name, n) + top_overdue_chart(top_rows, name, as_of, n)
            + recovery_chart(recovery_rows, name, n) + funnel_chart(funnel_rows, name, n) + "</div>"
            + f"<h2>{_e(name)}: cases ({len(case_rows)})</h2>"
            + (_table(case_rows, CASE_COLUMNS, link={c: f for c, f in files.items() if c in written},
                      table_id=f"cases-{n}") if case_rows else "<p>No case has been opened.</p>"))
    subtitle = (f"Read models: {_e(source)} · aging {'as of ' + _e(as_of) if as_of else 'now'} · "
                "amounts in major units (minor units ÷ 100)")
    index = out / "index.html"
    index.write_text(_page("casefile collections report", subtitle, "\n".join(sections), data, PLOTLY_JS),
                     encoding="utf-8")
    return index


def _case_pages(con: duckdb.DuckDBPyConnection, out: Path, company: str, files: dict[str, str],
                source: str) -> set[str]:
    """One page per case with log records; returns the case ids written."""
    written = set()
    for case_id, events in queries.case_timelines(con, company):
        name = files.get(case_id)
        if name is None:  # a record names a case the `cases` table does not have: still show it
            name = files[case_id] = case_file_name(case_id, set(files.values()))
        body = (timeline_chart(events, company)
                + f"<h2>Log records ({len(events)})</h2>" + _table(events, EVENT_COLUMNS, table_id="events"))
        subtitle = (f'<a href="../index.html">← report index</a> · stream {_e(events[0]["stream_id"])} · '
                    f"read models: {_e(source)}")
        page = _page(f"Case {case_id}", subtitle, body, {"case_id": case_id, "events": plain_rows(events)},
                     f"../{PLOTLY_JS}")
        (out / CASES_DIR / name).write_text(page, encoding="utf-8")
        written.add(case_id)
    return written
