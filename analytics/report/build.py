"""The analytics report: the named queries' results as charts and tables, in one self-contained HTML file.

Plotly draws the charts; its JavaScript is inlined once, so the file opens with no network at all.
Money is never added across currencies (Totesys holds no exchange rates): revenue is shown per currency,
and rankings use units sold, which do add up.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from analytics.report.queries import Record, run_all
from lambdas.shared.database import DatabaseCredentials

DEFAULT_TITLE: Final = "Terrific Totes: sales, purchasing and payments"
TOP: Final = 15  # bars shown in a ranking
CURRENCY_COLOURS: Final = {"GBP": "#1f77b4", "USD": "#2ca02c", "EUR": "#ff7f0e"}
# Categories other than the three usual currencies (departments, further currencies): plotly's D3 palette.
OTHER_COLOURS: Final = tuple(qualitative.D3)
CHART_HEIGHT: Final = 440


@dataclass(frozen=True)
class Chart:
    name: str  # the named query behind it
    title: str
    figure: go.Figure
    note: str = ""


ReportData = dict[str, list[Record]]


def collect(warehouse: DatabaseCredentials, schema: str = "public") -> ReportData:
    """The results of every named query: what the report shows, and what tests compare with the source."""
    conn = warehouse.connect(application_name="onyx-report")
    try:
        return run_all(conn, schema)
    finally:
        conn.close()


# ---- figures -----------------------------------------------------------------------------------
def _number(value: Any) -> float:
    return float(value) if isinstance(value, Decimal) else float(value or 0)


def _colour(currency: str, index: int) -> str:
    return str(CURRENCY_COLOURS.get(currency, OTHER_COLOURS[index % len(OTHER_COLOURS)]))


def _layout(figure: go.Figure, x_title: str, y_title: str, **more: Any) -> go.Figure:
    figure.update_layout(template="plotly_white", height=CHART_HEIGHT, margin={"l": 70, "r": 20, "t": 40, "b": 60},
                         legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                         font={"family": "Segoe UI, Helvetica, Arial"}, **more)
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title)
    return figure


def _no_data(figure: go.Figure, what: str) -> go.Figure:
    figure.add_annotation(text=f"No {what} in the warehouse yet", showarrow=False, x=0.5, y=0.5,
                          xref="paper", yref="paper", font={"size": 16, "color": "#666"})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def _currencies(rows: Sequence[Record]) -> list[str]:
    return sorted({str(row["currency_code"]) for row in rows})


def _months(rows: Sequence[Record]) -> list[date]:
    """Every month from the first to the last in `rows`: a month without orders is drawn as 0, not skipped."""
    if not rows:
        return []
    first, last = min(row["month"] for row in rows), max(row["month"] for row in rows)
    months = []
    while first <= last:
        months.append(first)
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return months


def _by_month(rows: Sequence[Record], months: list[date], currency: str) -> list[Record]:
    """`rows` of one currency, one per month of `months` (zeros where there were none)."""
    found = {row["month"]: row for row in rows if row["currency_code"] == currency}
    zero = dict.fromkeys(rows[0], 0) if rows else {}
    return [found.get(month, zero | {"month": month, "currency_code": currency}) for month in months]


def revenue_by_month(rows: Sequence[Record]) -> go.Figure:
    figure = go.Figure()
    months = _months(rows)
    for i, currency in enumerate(_currencies(rows)):
        mine = _by_month(rows, months, currency)
        figure.add_trace(go.Scatter(
            x=[row["month"] for row in mine], y=[_number(row["revenue"]) for row in mine], name=currency,
            mode="lines+markers", line={"color": _colour(currency, i)}, marker={"size": 5},
            customdata=[[row["orders"], row["units_sold"]] for row in mine],
            hovertemplate=f"%{{x|%b %Y}}<br>%{{y:,.2f}} {currency}<br>%{{customdata[0]}} orders, "
                          "%{customdata[1]:,} units<extra></extra>"))
    _layout(figure, "Month the order was placed", "Revenue (in each order's currency)")
    figure.update_xaxes(dtick="M3", tickformat="%b %Y")
    return figure if rows else _no_data(figure, "sales orders")


def _ranking(labels: list[str], values: list[float], x_title: str, hover: list[str],
             colours: list[str] | str = "#1f77b4") -> go.Figure:
    """Horizontal bars, biggest on top."""
    figure = go.Figure(go.Bar(x=values[::-1], y=labels[::-1], orientation="h", marker={"color": colours
                              if isinstance(colours, str) else colours[::-1]},
                              hovertext=hover[::-1], hovertemplate="%{hovertext}<extra></extra>"))
    _layout(figure, x_title, "", showlegend=False)
    figure.update_yaxes(automargin=True)
    figure.update_xaxes(separatethousands=True)
    return figure


def _units_sold(labels: list[str], rows: Sequence[Record]) -> go.Figure:
    """A ranking of units sold, one bar per row under its label (rows with units_sold and orders)."""
    figure = _ranking(labels, [_number(row["units_sold"]) for row in rows], "Units sold (items)",
                      [f"{label}: {row['units_sold']:,} units in {row['orders']} orders"
                       for label, row in zip(labels, rows, strict=True)])
    return figure if rows else _no_data(figure, "sales orders")


def top_designs(rows: Sequence[Record]) -> go.Figure:
    return _units_sold([f"{row['design_name']} #{row['design_id']}" for row in rows], rows)


def sales_by_country(rows: Sequence[Record]) -> go.Figure:
    shown = rows[:TOP]
    return _units_sold([str(row["country"]) for row in shown], shown)


def sales_by_city(rows: Sequence[Record]) -> go.Figure:
    shown = rows[:TOP]
    return _units_sold([f"{row['city']} ({row['country']})" for row in shown], shown)


def sales_by_staff(rows: Sequence[Record]) -> go.Figure:
    departments = sorted({str(row["department_name"]) for row in rows})
    palette = {d: OTHER_COLOURS[i % len(OTHER_COLOURS)] for i, d in enumerate(departments)}
    figure = go.Figure()
    for department in departments:  # one trace per department: the legend explains the colours
        mine = [row for row in rows if row["department_name"] == department]
        figure.add_trace(go.Bar(
            x=[str(row["staff_name"]) for row in mine], y=[_number(row["units_sold"]) for row in mine],
            name=department, marker={"color": palette[department]},
            customdata=[[row["orders"]] for row in mine],
            hovertemplate="%{x}<br>%{y:,} units in %{customdata[0]} orders<extra>" + department + "</extra>"))
    _layout(figure, "Staff member (colour: department)", "Units sold (items)")
    figure.update_xaxes(categoryorder="total descending", tickangle=-40)
    figure.update_yaxes(separatethousands=True)
    return figure if rows else _no_data(figure, "sales orders")


def sales_by_department(rows: Sequence[Record]) -> go.Figure:
    figure = go.Figure(go.Bar(
        x=[str(row["department_name"]) for row in rows], y=[_number(row["units_sold"]) for row in rows],
        marker={"color": "#17becf"}, customdata=[[row["orders"], row["staff"]] for row in rows],
        hovertemplate="%{x}<br>%{y:,} units in %{customdata[0]} orders by %{customdata[1]} staff<extra></extra>"))
    _layout(figure, "Department of the sales staff", "Units sold (items)", showlegend=False)
    figure.update_yaxes(separatethousands=True)
    return figure if rows else _no_data(figure, "sales orders")


def purchases_vs_sales(rows: Sequence[Record]) -> go.Figure:
    currencies = _currencies(rows) or ["-"]
    months = _months(rows)
    figure = make_subplots(rows=len(currencies), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[f"{c}" for c in currencies])
    for i, currency in enumerate(currencies, start=1):
        mine = _by_month(rows, months, currency)
        for column, label, colour in (("sales_value", "Sales", "#2ca02c"), ("purchase_value", "Purchases", "#d62728")):
            figure.add_trace(go.Scatter(
                x=months, y=[_number(row[column]) for row in mine], name=label, legendgroup=label,
                showlegend=i == 1, mode="lines", line={"color": colour},
                hovertemplate=f"%{{x|%b %Y}}<br>{label}: %{{y:,.2f}} {currency}<extra></extra>"), row=i, col=1)
        figure.update_yaxes(title_text=f"Value ({currency})", row=i, col=1)
    _layout(figure, "", "")
    figure.update_layout(height=max(CHART_HEIGHT, 230 * len(currencies)), legend={"y": 1.06})
    for i, currency in enumerate(currencies, start=1):
        figure.update_yaxes(title_text=f"Value ({currency})", row=i, col=1)
    figure.update_xaxes(title_text="Month the order was placed", row=len(currencies), col=1)
    return figure if rows else _no_data(figure, "orders")


DIRECTIONS: Final = {"SALE": ("Owed to us (sales)", "#2ca02c"), "PURCHASE": ("Owed by us (purchases)", "#d62728")}


def payments_outstanding(rows: Sequence[Record]) -> go.Figure:
    figure = go.Figure()
    currencies = _currencies(rows)
    for kind, (label, colour) in DIRECTIONS.items():
        by_currency = {row["currency_code"]: row for row in rows if row["transaction_type"] == kind}
        mine = [by_currency.get(c) for c in currencies]
        figure.add_trace(go.Bar(
            x=currencies, y=[_number(row["amount"]) if row else 0 for row in mine], name=label,
            marker={"color": colour},
            customdata=[[row["payments"], _number(row["overdue_amount"]), row["overdue_payments"]] if row
                        else [0, 0, 0] for row in mine],
            hovertemplate="%{y:,.2f} %{x} in %{customdata[0]} payments<br>overdue: %{customdata[1]:,.2f} %{x} "
                          "in %{customdata[2]} payments<extra>" + label + "</extra>"))
    _layout(figure, "Currency", "Amount outstanding (in that currency)", barmode="group")
    figure.update_yaxes(separatethousands=True)
    return figure if rows else _no_data(figure, "unpaid payments")


def order_amendments(rows: Sequence[Record]) -> go.Figure:
    figure = go.Figure()
    for kind, colour in (("sales order", "#1f77b4"), ("purchase order", "#9467bd")):
        mine = [row for row in rows if row["order_kind"] == kind]
        total = sum(int(row["orders"] or 0) for row in mine) or 1
        figure.add_trace(go.Bar(
            x=[str(row["versions"]) for row in mine], y=[int(row["orders"] or 0) for row in mine],
            name=f"{kind}s", marker={"color": colour}, texttemplate="%{y:,}", textposition="outside",
            customdata=[[100 * int(row["orders"] or 0) / total] for row in mine],
            hovertemplate="%{y:,} " + kind + "s with %{x} version(s) (%{customdata[0]:.1f}%)<extra></extra>"))
    _layout(figure, "Versions of the order in the history (1 = never amended)", "Orders (count)",
            barmode="group")
    figure.update_xaxes(type="category")
    figure.update_yaxes(separatethousands=True)
    return figure if rows else _no_data(figure, "orders")


CHARTS: Final[tuple[tuple[str, str, Callable[[Sequence[Record]], go.Figure], str], ...]] = (
    ("revenue_by_month", "Revenue by month and currency", revenue_by_month,
     "Current version of each sales order, by the month it was placed; amounts in the order's own currency."),
    ("purchases_vs_sales", "Purchases vs sales by month", purchases_vs_sales,
     "Value of sales orders and purchase orders placed each month, one panel per currency."),
    ("top_designs", "Top 10 designs by units sold", top_designs, "Units add up across currencies; revenue does not."),
    ("sales_by_country", f"Sales by counterparty country (top {TOP})", sales_by_country,
     "Country of the counterparty's legal address."),
    ("sales_by_city", f"Sales by counterparty city (top {TOP})", sales_by_city,
     "City of the counterparty's legal address."),
    ("sales_by_staff", "Sales by staff member", sales_by_staff, "Colour: the staff member's current department."),
    ("sales_by_department", "Sales by department", sales_by_department, ""),
    ("payments_outstanding", "Payments outstanding", payments_outstanding,
     "Payments not yet marked paid; hover for the overdue part (payment date before today)."),
    ("order_amendments", "How often orders are amended", order_amendments,
     "Each amendment adds a version to the fact history; counted per order since the warehouse first saw it."),
)


def charts(data: ReportData) -> list[Chart]:
    return [Chart(name, title, build(data[name]), note) for name, title, build, note in CHARTS]


# ---- the page ------------------------------------------------------------------------------------
def _money(value: Any) -> str:
    return f"{Decimal(value or 0):,.2f}"


def key_figures(data: ReportData) -> list[tuple[str, str]]:
    """(label, value) rows of the key-figures table."""
    figures = data["key_figures"][0]
    orders = int(figures["sales_orders"] or 0)
    amended = int(figures["sales_orders_amended"] or 0)
    share = f" ({100 * amended / orders:.1f}%)" if orders else ""
    rows = [("Sales orders", f"{orders:,}"), ("Units sold", f"{int(figures['units_sold'] or 0):,}"),
            ("Customers (counterparties with orders)", f"{int(figures['customers'] or 0):,}")]
    rows += [(f"Revenue in {row['currency_code']} ({row['currency_name']})", f"{_money(row['revenue'])} "
              f"{row['currency_code']}") for row in data["revenue_by_currency"]]
    rows += [("Purchase orders", f"{int(figures['purchase_orders'] or 0):,}"),
             ("Sales orders amended at least once", f"{amended:,}{share}"),
             ("Payments outstanding (of which overdue)",
              f"{int(figures['payments_outstanding'] or 0):,} ({int(figures['payments_overdue'] or 0):,})")]
    cover = data["coverage"][0]
    rows += [("Orders placed", f"{_when(cover['first_order_date'])} to {_when(cover['last_order_date'])}"),
             ("Newest change in the data", _when(cover["newest_change"])),
             ("Last load into the warehouse", _when(cover["last_load"]))]
    return rows


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return str(value.strftime("%d %b %Y %H:%M UTC"))
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return "none yet"


def coverage_text(data: ReportData, generated_at: datetime) -> str:
    cover = data["coverage"][0]
    return (f"Orders placed {_when(cover['first_order_date'])} to {_when(cover['last_order_date'])}. "
            f"Data as of the newest change in the warehouse, {_when(cover['newest_change'])}; "
            f"last load {_when(cover['last_load'])} ({int(cover['runs'] or 0):,} runs loaded). "
            f"Report generated {_when(generated_at)}.")


STYLE: Final = """
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; background: #f4f6f8; color: #222; }
header { background: #17324d; color: #fff; padding: 24px 40px; }
header h1 { margin: 0 0 6px; font-size: 26px; }
header p { margin: 0; color: #d3dde8; font-size: 14px; }
main { padding: 24px 40px; max-width: 1500px; margin: 0 auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(620px, 1fr)); gap: 20px; }
section { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 16px 20px; }
section h2 { font-size: 18px; margin: 0 0 4px; }
section p.note { color: #666; font-size: 13px; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 15px; }
td { padding: 6px 18px 6px 0; border-bottom: 1px solid #e5e8eb; }
td.value { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
footer { color: #666; font-size: 12px; padding: 0 40px 30px; max-width: 1500px; margin: 0 auto; }
"""


def render(data: ReportData, *, title: str = DEFAULT_TITLE, generated_at: datetime | None = None,
           schema: str = "public") -> str:
    """The report as one HTML document, plotly.js inlined."""
    generated_at = generated_at or datetime.now(UTC)
    table = "\n".join(f'<tr><td>{html.escape(label)}</td><td class="value">{html.escape(value)}</td></tr>'
                      for label, value in key_figures(data))
    sections = []
    for chart in charts(data):
        div = chart.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.name}",
                                   default_height=f"{chart.figure.layout.height or CHART_HEIGHT}px",
                                   config={"displayModeBar": False, "responsive": True})
        note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
        sections.append(f'<section class="chart" data-query="{chart.name}"><h2>{html.escape(chart.title)}</h2>'
                        f"{note}{div}</section>")
    queries = ", ".join(sorted({chart.name for chart in charts(data)} | set(data)))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p id="coverage">{html.escape(coverage_text(data, generated_at))}</p>
</header>
<main>
<div class="grid">
<section id="key-figures"><h2>Key figures</h2>
<p class="note">Current version of every order and payment. Money per currency, never converted.</p>
<table>{table}</table></section>
{chr(10).join(sections)}
</div>
</main>
<footer>Built from the warehouse views (schema {html.escape(schema)}) by the named queries in
analytics/report/queries/: {html.escape(queries)}. Power BI and Jupyter users running the same queries see the same
numbers.</footer>
</body>
</html>
"""


def write_report(warehouse: DatabaseCredentials, schema: str, out: Path, *, title: str = DEFAULT_TITLE) -> Path:
    """Query the warehouse and write the report to `out` (its folder is created); returns `out`."""
    document = render(collect(warehouse, schema), title=title, schema=schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    return out
