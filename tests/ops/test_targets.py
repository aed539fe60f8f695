"""Which warehouse, source and schema a command uses: explicit options first, then the target's."""

from __future__ import annotations

import pytest

from lambdas.shared.database import DatabaseCredentials
from local.state import CloudState
from ops.targets import NoLocalCloud, Selection

SOURCE = "postgresql://onyx@127.0.0.1:5001/totesys?sslmode=disable"
WAREHOUSE = "postgresql://onyx@127.0.0.1:5001/warehouse?sslmode=disable"
OTHER = DatabaseCredentials.from_url("postgresql://analyst@db.example.com:5432/dwh?sslmode=require")


@pytest.fixture
def local_cloud(tmp_path, monkeypatch):
    """The state file a running local cloud leaves (nothing needs to run to read it)."""
    monkeypatch.setenv("ONYX_LOCAL_DIR", str(tmp_path))
    CloudState(pid=1, endpoint_url="http://127.0.0.1:5002", region="eu-west-2",
               state_machine_arn="arn:aws:states:eu-west-2:123456789012:stateMachine:onyx",
               stack_name="Onyx-dev", source_url=SOURCE, warehouse_url=WAREHOUSE, warehouse_schema="onyx_dw",
               schedule_expression=None).save(tmp_path)
    return tmp_path


def test_the_local_cloud_gives_warehouse_schema_source_and_state_machine(local_cloud):
    selection = Selection()

    assert selection.warehouse() == (DatabaseCredentials.from_url(WAREHOUSE), "onyx_dw")
    assert selection.source() == DatabaseCredentials.from_url(SOURCE)
    assert selection.target().state_machine_arn() == "arn:aws:states:eu-west-2:123456789012:stateMachine:onyx"
    assert selection.target().description == f"local cloud ({local_cloud})"


def test_explicit_urls_and_schema_override_the_local_cloud(local_cloud):
    assert Selection(warehouse_url=OTHER).warehouse() == (OTHER, "onyx_dw")  # the schema still the cloud's
    assert Selection(warehouse_url=OTHER, schema="sales").warehouse() == (OTHER, "sales")
    assert Selection(warehouse_url=OTHER).source() == DatabaseCredentials.from_url(SOURCE)
    assert Selection(source_url=OTHER).source() == OTHER


def test_without_a_local_cloud_a_warehouse_url_alone_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("ONYX_LOCAL_DIR", str(tmp_path))

    assert Selection(warehouse_url=OTHER).warehouse() == (OTHER, "public")
    assert Selection(warehouse_url=OTHER).source() is None
    with pytest.raises(NoLocalCloud, match=r"start one with `python -m local up`, or give --stack Onyx-<env> "
                                           r"or --warehouse-url$"):
        Selection(alternatives=["--stack Onyx-<env>"]).warehouse()
