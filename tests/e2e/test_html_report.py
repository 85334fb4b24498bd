"""`casefile report html` on the IBM sample, opened in headless Chromium over the DevTools protocol:
the pages load offline without script errors, every chart is drawn with data, the figures the
charts plot are the ones embedded in the page, and those equal `casefile report ... --format json`.

Chromium is Debian's `chromium` package. Missing, the tests skip locally and FAIL under CI=true.
Screenshots land in test-artifacts/html-report/ (git-ignored).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kafka
ARTIFACTS = ROOT / "test-artifacts" / "html-report"
CHARTS = {"aging_history", "top_overdue", "recovery", "funnel"}
BUCKETS = {"current": "current_minor", "1-30": "d1_30_minor", "31-60": "d31_60_minor",
           "61-90": "d61_90_minor", "91-120": "d91_120_minor", "over-120": "over_120_minor"}


def casefile(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "casefile", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"casefile {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def report_json(db: Path, *args: str) -> list[dict]:
    return json.loads(casefile("report", *args, "--db", str(db), "--format", "json").stdout)


@pytest.fixture(scope="module")
def busiest_day(ibm_db: Path) -> str:
    """The closed business day with the most overdue accounts (the IBM sample is all paid by its end)."""
    con = duckdb.connect(str(ibm_db), read_only=True)
    day, n = con.execute("""SELECT as_of, count(*) AS n FROM aging_history WHERE total_open_minor > current_minor
                             GROUP BY as_of ORDER BY n DESC, as_of LIMIT 1""").fetchone()
    con.close()
    assert n > 1
    return day.isoformat()


def render(db: Path, out: Path, *extra: str) -> Path:
    proc = casefile("report", "html", "--out", str(out), "--db", str(db), *extra)
    index = Path(proc.stdout.strip().splitlines()[-1])  # the last line is the index page's path
    assert index == (out / "index.html").resolve() and index.is_file()
    return index


@pytest.fixture(scope="module")
def report_now(ibm_db: Path, tmp_path_factory) -> Path:
    return render(ibm_db, tmp_path_factory.mktemp("report-now"))


@pytest.fixture(scope="module")
def report_as_of(ibm_db: Path, busiest_day: str, tmp_path_factory) -> Path:
    return render(ibm_db, tmp_path_factory.mktemp("report-as-of"), "--as-of", busiest_day)


# ---------------------------------------------------------------- headless Chromium over CDP

def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium is needed (Debian: apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


class Page:
    """One Chromium tab driven over the Chrome DevTools Protocol (websocket-client)."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise AssertionError(f"no {method} within {timeout}s")

    def open(self, path: Path) -> None:
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Script errors, console errors and any request that left the file system since `open`."""
        out = []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description') or p}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:")):
                out.append(f"network request: {p['request']['url']}")
            elif m == "Network.loadingFailed":
                out.append(f"failed to load: {p.get('errorText')} ({p.get('type')})")
        return out

    def screenshot(self, name: str) -> Path:
        height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        self.call("Emulation.setDeviceMetricsOverride", width=1500, height=min(int(height), 12000),
                  deviceScaleFactor=1, mobile=False)
        self.evaluate("new Promise(r => setTimeout(r, 300))")  # let responsive charts re-lay out
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    binary = chromium_binary()
    profile = Path(tempfile.mkdtemp(prefix="casefile-chromium-"))
    proc = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--window-size=1500,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, f"chromium exited {proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        tab = next(t for t in targets if t["type"] == "page")
        p = Page(tab["webSocketDebuggerUrl"])
        yield p
        p.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


# Waits until Plotly drew every graph div, then returns what each one plots.
CHARTS_JS = """
(async () => {
  const graphs = () => Array.from(document.querySelectorAll('.plotly-graph-div'));
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (window.Plotly && graphs().length && graphs().every(g => g._fullLayout && g.querySelector('svg.main-svg')))
      break;
    await new Promise(r => setTimeout(r, 100));
  }
  const arr = v => (v == null ? [] : Array.from(v));
  return {
    plotly: !!window.Plotly,
    charts: graphs().map(g => {
      const card = g.closest('[data-chart]');
      return {
        id: g.id, chart: card && card.dataset.chart, company: card && card.dataset.company,
        drawn: !!g._fullLayout, drawnTraces: g.querySelectorAll('g.trace').length,
        annotations: ((g.layout && g.layout.annotations) || []).map(a => a.text),
        traces: (g.data || []).map(t => ({name: t.name, type: t.type, x: arr(t.x), y: arr(t.y)})),
      };
    }),
    data: JSON.parse(document.getElementById('casefile-report-data').textContent),
    links: Array.from(document.querySelectorAll('table a')).map(a => a.getAttribute('href')),
    rows: Array.from(document.querySelectorAll('table tbody tr')).length,
  };
})()
"""


def load(page: Page, path: Path) -> dict:
    page.open(path)
    result = page.evaluate(CHARTS_JS)
    assert page.problems() == []
    assert result["plotly"], "Plotly did not load from plotly.min.js"
    return result


def trace(chart: dict, name: str) -> dict:
    return next(t for t in chart["traces"] if t["name"] == name)


def by_chart(result: dict) -> dict[str, dict]:
    charts = {c["chart"]: c for c in result["charts"] if c["company"] == "IBM"}
    assert set(charts) == CHARTS
    for c in charts.values():
        assert c["drawn"], c["id"]
    return charts


def has_points(chart: dict) -> bool:
    """Plotly drew traces (SVG) for it, and its data has x/y points."""
    return chart["drawnTraces"] >= 1 and any(t["x"] and t["y"] and len(t["x"]) == len(t["y"])
               and any(v is not None for v in t["x"] + t["y"]) for t in chart["traces"])


# --------------------------------------------------------------------------------------- tests

def test_as_of_report_draws_every_chart_with_the_embedded_figures(page: Page, report_as_of: Path,
                                                                  busiest_day: str) -> None:
    result = load(page, report_as_of)
    charts = by_chart(result)
    for name, chart in charts.items():
        assert has_points(chart), f"{name} has no data points"
    shot = page.screenshot("index-as-of.png")
    assert shot.stat().st_size > 20_000
    data = result["data"]["companies"]["IBM"]

    # each chart plots exactly the rows embedded in the page (minor units ÷ 100 for money)
    aging = charts["aging_history"]
    assert trace(aging, "current")["x"] == [r["business_date"] for r in data["aging_history"]]
    for label, col in BUCKETS.items():
        assert trace(aging, label)["y"] == pytest.approx([r[col] / 100 for r in data["aging_history"]])
    assert data["aging_history"][-1]["business_date"] == busiest_day

    top = charts["top_overdue"]
    assert top["traces"][0]["y"] == [r["customer_account"] for r in data["top_overdue"]]
    for label, col in list(BUCKETS.items())[1:]:
        assert trace(top, label)["x"] == pytest.approx([r[col] / 100 for r in data["top_overdue"]])
    assert all(r["as_of"] == busiest_day and r["overdue_minor"] > 0 for r in data["top_overdue"])

    recovery = charts["recovery"]
    assert trace(recovery, "collected on cases")["x"] == [r["month"] for r in data["recovery"]]
    assert data["recovery"][-1]["month"] == busiest_day[:8] + "01"
    for name, col in (("DSO (days)", "dso_standard"), ("CEI (%)", "cei")):
        assert trace(recovery, name)["y"] == pytest.approx([r[col] for r in data["recovery"]], nan_ok=True)

    funnel = charts["funnel"]
    assert [t["name"] for t in funnel["traces"]] == [r["outcome"] for r in data["funnel"]]
    for t, r in zip(funnel["traces"], data["funnel"]):
        assert t["x"] == [r["opened"], r["with_promise"], r["closed"]]


def test_embedded_figures_equal_the_report_commands_json(ibm_db: Path, page: Page, report_as_of: Path,
                                                         busiest_day: str) -> None:
    data = load(page, report_as_of)["data"]["companies"]["IBM"]

    # aging over time: every business day's sums are `report aging --as-of DAY`
    history = {r["business_date"]: r for r in data["aging_history"]}
    days = sorted(history)
    for day in {days[0], days[len(days) // 3], days[2 * len(days) // 3], busiest_day}:
        [want] = report_json(ibm_db, "aging", "--company", "IBM", "--as-of", day)
        got = history[day]
        for col in [*BUCKETS.values(), "total_open_minor", "unapplied_credit_minor", "accounts"]:
            assert got[col] == want[col], (day, col)

    # largest overdue accounts: fewer than the chart's limit are overdue that day, so the chart holds
    # them all and its buckets add up to `report aging --as-of DAY`
    [want] = report_json(ibm_db, "aging", "--company", "IBM", "--as-of", busiest_day)
    top = data["top_overdue"]
    assert 1 < len(top) < 20
    for col in list(BUCKETS.values())[1:]:
        assert sum(r[col] for r in top) == want[col], col

    # recovery trend: `report recovery`, month by month up to the as-of month
    recovery = {r["month"]: r for r in report_json(ibm_db, "recovery", "--company", "IBM")}
    assert data["recovery"] and all(r["month"] <= busiest_day for r in data["recovery"])
    for got in data["recovery"]:
        want = recovery[got["month"]]
        assert got["collected_minor"] == want["collected_minor"]
        for col in ("dso_standard", "dso_countback", "cei", "promise_kept_rate"):
            assert got[col] == pytest.approx(want[col]), (got["month"], col)

    # case funnel: `report cases` (current state, whatever --as-of says)
    cases = report_json(ibm_db, "cases", "--company", "IBM")
    funnel = {r["outcome"]: r for r in data["funnel"]}
    assert sum(r["opened"] for r in data["funnel"]) == sum(r["cases"] for r in cases) > 0
    assert sum(r["closed"] for r in data["funnel"]) == sum(r["cases"] for r in cases if r["status"] == "Closed")
    for outcome in ("paid", "credited", "written_off", "mixed", "manual"):
        assert funnel.get(outcome, {}).get("closed", 0) == sum(r[f"closed_{outcome}"] for r in cases), outcome
    with_promise = json.loads(casefile("query", "SELECT count(*) AS n FROM cases WHERE promised_minor > 0",
                                       "--db", str(ibm_db), "--format", "json").stdout)[0]["n"]
    assert sum(r["with_promise"] for r in data["funnel"]) == with_promise


def test_current_report_and_case_pages(ibm_db: Path, page: Page, report_now: Path) -> None:
    result = load(page, report_now)
    charts = by_chart(result)
    for name in CHARTS - {"top_overdue"}:
        assert has_points(charts[name]), f"{name} has no data points"
    # the IBM sample ends fully paid: the current aging has nothing overdue, and the chart says so
    assert result["data"]["companies"]["IBM"]["top_overdue"] == []
    assert any("No account has an overdue balance" in a for a in charts["top_overdue"]["annotations"])
    page.screenshot("index-now.png")

    # the index links one page per case
    cases = result["data"]["companies"]["IBM"]["cases"]
    n_cases = json.loads(casefile("query", "SELECT count(*) AS n FROM cases", "--db", str(ibm_db),
                                  "--format", "json").stdout)[0]["n"]
    assert len(cases) == n_cases == len(result["links"]) == len(set(result["links"])) > 0
    assert sorted(result["links"]) == sorted(c["page"] for c in cases)
    assert all((report_now.parent / link).is_file() for link in result["links"])

    # the busiest case's page: its timeline is its log records, with their coordinates
    case = max(cases, key=lambda c: (c["version"], c["case_id"]))
    case_page = load(page, report_now.parent / case["page"])
    [timeline] = case_page["charts"]
    assert timeline["chart"] == "timeline" and timeline["drawn"] and has_points(timeline)
    events = case_page["data"]["events"]
    want = json.loads(casefile(
        "query", "SELECT stream_version, occurred_at, event_type, amount_minor, source_event_id, source_topic, "
        "source_partition, source_offset, log_topic, log_partition, log_offset FROM casefile_events "
        f"WHERE case_id = '{case['case_id']}' ORDER BY stream_version", "--db", str(ibm_db),
        "--format", "json").stdout)
    assert len(want) == len(events) == case_page["rows"] == len(timeline["traces"][0]["x"]) == case["version"]
    assert [{k: e[k] for k in want[0]} for e in events] == want
    assert timeline["traces"][0]["x"] == [e["occurred_at"] for e in events]
    assert timeline["traces"][0]["y"] == [e["event_type"] for e in events]
    assert {"CaseOpened", "CaseClosed"} <= {e["event_type"] for e in events}
    page.screenshot("case.png")
