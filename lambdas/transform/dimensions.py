"""The dimension tables: one pure function each (source rows to emit in, one star table out).

Each builder gets the rows to emit (their current state) plus the current state of the tables it
joins; `build_dimensions` decides which rows a run emits, dependents included.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import (
    DIM_COUNTERPARTY,
    DIM_CURRENCY,
    DIM_DESIGN,
    DIM_LOCATION,
    DIM_PAYMENT_TYPE,
    DIM_STAFF,
    DIM_TRANSACTION,
    StarTable,
)
from lambdas.transform.checks import conform, first_true

ADDRESS_COLUMNS = ("address_line_1", "address_line_2", "district", "city", "postal_code", "country", "phone")


def _star(star: StarTable, table: pa.Table, renames: Mapping[str, str] | None = None) -> pa.Table:
    """Rename source columns to the star's names, keep the star's columns, sort by key, exact types."""
    renames = renames or {}
    table = table.rename_columns([renames.get(name, name) for name in table.column_names])
    return conform(star, table.select(list(star.columns)).sort_by(star.key[0]))


def _join(star: StarTable, left: pa.Table, right: pa.Table, *, key: str, right_key: str, right_name: str) -> pa.Table:
    """Left rows with the columns of their `right` row; a left row without one -> InvalidData."""
    joined = left.join(right, keys=key, right_keys=right_key, join_type="left outer", use_threads=False,
                       coalesce_keys=True)
    missing = first_true(pc.is_null(joined[f"__{right_name}_present"]))
    if missing is not None:
        source_key = left.column_names[0]
        raise InvalidData(star.name, f"{source_key}={joined[source_key][missing].as_py()}",
                          f"{key} {joined[key][missing].as_py()} not in {right_name}")
    return joined.drop_columns([f"__{right_name}_present"])


def _present(table: pa.Table, name: str) -> pa.Table:
    return table.append_column(f"__{name}_present", pa.repeat(True, table.num_rows))


def build_dim_location(address: pa.Table) -> pa.Table:
    """dim_location: one row per address."""
    return _star(DIM_LOCATION, address, {"address_id": "location_id"})


def build_dim_design(design: pa.Table) -> pa.Table:
    """dim_design: one row per design."""
    return _star(DIM_DESIGN, design)


def build_dim_payment_type(payment_type: pa.Table) -> pa.Table:
    """dim_payment_type: one row per payment type (the run's names are checked as the run is read)."""
    return _star(DIM_PAYMENT_TYPE, payment_type)


def build_dim_transaction(transaction: pa.Table) -> pa.Table:
    """dim_transaction: one row per transaction."""
    return _star(DIM_TRANSACTION, transaction)


def build_dim_currency(currency: pa.Table) -> pa.Table:
    """dim_currency: one row per currency, named by ISO 4217 (pycountry); an unknown code -> InvalidData."""
    names = []
    for currency_id, code in zip(currency["currency_id"].to_pylist(), currency["currency_code"].to_pylist(),
                                 strict=True):
        found = pycountry.currencies.get(alpha_3=code) if code else None
        if found is None:
            raise InvalidData("currency", f"currency_id={currency_id}",
                              f"currency_code {code!r} is not an ISO 4217 code")
        names.append(found.name)
    return _star(DIM_CURRENCY, currency.append_column("currency_name", pa.array(names, pa.string())))


def build_dim_counterparty(counterparty: pa.Table, address: pa.Table) -> pa.Table:
    """dim_counterparty: one row per counterparty, with its legal address joined in."""
    legal = address.select(["address_id", *ADDRESS_COLUMNS]).rename_columns(
        ["address_id", *(f"counterparty_legal_{c}" for c in ADDRESS_COLUMNS[:-1]), "counterparty_legal_phone_number"])
    left = counterparty.select(["counterparty_id", "counterparty_legal_name", "legal_address_id"])
    joined = _join(DIM_COUNTERPARTY, left, _present(legal, "address"),
                   key="legal_address_id", right_key="address_id", right_name="address")
    return _star(DIM_COUNTERPARTY, joined)


def build_dim_staff(staff: pa.Table, department: pa.Table) -> pa.Table:
    """dim_staff: one row per staff member, with their department's name and location."""
    left = staff.select(["staff_id", "first_name", "last_name", "department_id", "email_address"])
    right = _present(department.select(["department_id", "department_name", "location"]), "department")
    joined = _join(DIM_STAFF, left, right, key="department_id", right_key="department_id", right_name="department")
    return _star(DIM_STAFF, joined)


def latest_per_id(rows: pa.Table, id_column: str) -> pa.Table:
    """Each id's row with the greatest last_updated (ties: the first given), ordered by id."""
    if rows.num_rows == 0:
        return rows
    ordered = rows.sort_by([(id_column, "ascending"), ("last_updated", "descending")])
    ids = ordered[id_column].combine_chunks()
    first = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    return ordered.filter(pa.concat_arrays([pa.array([True]), first]))


def _values(ids: pa.ChunkedArray) -> pa.Array:
    return ids.combine_chunks() if ids.num_chunks else pa.array([], ids.type)


def _with_ids(table: pa.Table, column: str, ids: pa.ChunkedArray) -> pa.Table:
    return table.filter(pc.is_in(table[column], value_set=_values(ids)))


def build_dimensions(run: Mapping[str, pa.Table], state: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """Every dimension but dim_date for a run: its changed rows plus dependents, from the merged current state.

    `run` holds the run's source rows, `state` the current state (the run already merged in), per source table.
    """
    changed_address = run["address"]["address_id"]
    changed_department = run["department"]["department_id"]
    counterparty = state["counterparty"]
    staff = state["staff"]
    emitted_counterparty = counterparty.filter(pc.or_(
        pc.is_in(counterparty["counterparty_id"], value_set=_values(run["counterparty"]["counterparty_id"])),
        pc.is_in(counterparty["legal_address_id"], value_set=_values(changed_address))))
    emitted_staff = staff.filter(pc.or_(
        pc.is_in(staff["staff_id"], value_set=_values(run["staff"]["staff_id"])),
        pc.is_in(staff["department_id"], value_set=_values(changed_department))))
    return {
        DIM_STAFF.name: build_dim_staff(emitted_staff, state["department"]),
        DIM_LOCATION.name: build_dim_location(_with_ids(state["address"], "address_id", changed_address)),
        DIM_DESIGN.name: build_dim_design(_with_ids(state["design"], "design_id", run["design"]["design_id"])),
        DIM_CURRENCY.name: build_dim_currency(
            _with_ids(state["currency"], "currency_id", run["currency"]["currency_id"])),
        DIM_COUNTERPARTY.name: build_dim_counterparty(emitted_counterparty, state["address"]),
        DIM_PAYMENT_TYPE.name: build_dim_payment_type(
            _with_ids(state["payment_type"], "payment_type_id", run["payment_type"]["payment_type_id"])),
        # The state keeps only transaction ids: a transaction's row comes from the run itself.
        DIM_TRANSACTION.name: build_dim_transaction(latest_per_id(run["transaction"], "transaction_id")),
    }
