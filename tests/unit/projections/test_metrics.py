import pytest

from projections.metrics import countback_dso, metrics_rows
from projections.state import ProjectionState


def test_countback_walks_back_until_ar_is_exhausted():
    # AR 250 against sales 100 (31 days), 100 (30 days), 200 (31 days): 31 + 30 + 50/200 * 31
    assert countback_dso(250, [(100, 31), (100, 30), (200, 31)]) == pytest.approx(68.75)
    assert countback_dso(0, [(100, 31)]) == 0.0
    assert countback_dso(50, [(0, 31), (100, 30)]) == pytest.approx(31 + 15)
    assert countback_dso(500, [(100, 31)]) == 31.0  # beyond the history: the whole history


def test_null_where_a_denominator_is_zero_and_empty_months_are_filled():
    state = ProjectionState()
    jan = state.daily_row("X", "2026-01-31")
    jan.update(ar_total_minor=0, ar_current_minor=0)
    state.daily_row("X", "2026-03-02")
    rows = metrics_rows(state, "X", "2026-01-01")
    assert [r[1] for r in rows] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    # Jan: no sales, AR 0: DSO null, count-back 0, CEI 0/0 null; nothing else decided
    assert rows[0][2:11] == (None, 0.0, None, None, None, None, None, None, None)
    assert rows[1][2:6] == (None, None, None, None)  # no closed day in Feb: no ending AR
    assert metrics_rows(state, "X", "2026-03-01")[0][1] == "2026-03-01"
    assert metrics_rows(state, "nobody", "2026-01-01") == []
