"""`casefile report html`: a static, offline HTML report of the read models (Plotly charts, one page per case)."""
from casefile.html_report.render import build

__all__ = ["build"]
