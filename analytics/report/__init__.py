"""The analytics report from the warehouse, and the named SQL behind it (reusable from Jupyter or Power BI)."""

from analytics.report.build import DEFAULT_TITLE, collect, render, write_report
from analytics.report.queries import QUERIES_DIR, query_names, query_sql, run_query

__all__ = ["DEFAULT_TITLE", "QUERIES_DIR", "collect", "query_names", "query_sql", "render", "run_query",
           "write_report"]
