"""End to end over TLS with the database secrets as RDS manages them: username and password only, the deployment's
sourceHost/sourcePort/sourceDatabase/sourceSslMode (and warehouse...) settings saying where the databases are.

The databases refuse connections without TLS (local/postgres.py, as RDS does with rds.force_ssl), so a run that
succeeds connected with TLS. The other shape, every field in the secret, is what every other end-to-end test runs on
the same server. One local cloud of its own: its app is synthesized with the databases' settings (about ten seconds
of CPU), which hold this session's port, so no other test can share it."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pg8000.native
import pytest

from lambdas.shared.constants import Env
from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud, UpOptions, location_overrides
from local.deploy import NO_SAFETY_LAG, synthesize
from local.postgres import create_database, drop_database
from tests.fixtures.local_cloud import Console, function_environments
from tests.fixtures.postgres import SEEDED_SCALE, TEMPLATE_SEEDED
from tests.local_cloud.helpers import deployed_function

# Its own cloud, for the module's tests on one worker; a synth of its own (the settings hold this session's port).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cloud-tests.local_cloud.test_rds_secrets")]


@pytest.fixture(scope="module")
def rds_cloud(pg_server: DatabaseCredentials, _source_templates: None,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    tag = uuid.uuid4().hex[:8]
    source = create_database(pg_server, f"onyx_rds_src_{tag}", TEMPLATE_SEEDED)
    warehouse = create_database(pg_server, f"onyx_rds_wh_{tag}")
    directory = tmp_path_factory.mktemp("rds-cloud")
    cloud = LocalCloud(directory=directory / "cloud", progress=Console())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("ONYX_SYNTH_CACHE", "off")  # never the same settings twice (the port): nothing to keep
            synthesized = synthesize(directory / "cdk.out", {**NO_SAFETY_LAG, **location_overrides(source, warehouse)})
        cloud.up(UpOptions(source_url=source.to_url(), warehouse_url=warehouse.to_url(), synthesized=synthesized,
                           rds_secrets=True))
        yield cloud
    finally:
        cloud.down()
        for database in (source, warehouse):
            drop_database(pg_server, database.dbname)


def _secrets(cloud: LocalCloud) -> dict[str, str]:
    """The source and the warehouse secret's names, as the functions are given them."""
    environments = function_environments(cloud).values()
    return {"source": next(env[Env.SOURCE_SECRET_NAME] for env in environments if Env.SOURCE_SECRET_NAME in env),
            "warehouse": next(env[Env.WAREHOUSE_SECRET_NAME] for env in environments
                              if Env.WAREHOUSE_SECRET_NAME in env)}


def test_a_run_succeeds_over_tls_with_secrets_as_rds_manages_them(rds_cloud):
    assert rds_cloud.state is not None
    source = DatabaseCredentials.from_url(rds_cloud.state.source_url)
    if "ONYX_TEST_DATABASE_URL" not in os.environ:  # the suite's own server: TLS only
        with pytest.raises(pg8000.native.DatabaseError, match="no encryption"):
            replace(source, sslmode="disable").connect()
    manager, names = rds_cloud.client("secretsmanager"), _secrets(rds_cloud)
    for name in names.values():
        assert set(json.loads(manager.get_secret_value(SecretId=name)["SecretString"])) == {"username", "password"}
    extract = next(env for env in function_environments(rds_cloud).values() if Env.SOURCE_SECRET_NAME in env)
    assert {name: extract[name] for name in (Env.SOURCE_HOST, Env.SOURCE_PORT, Env.SOURCE_DATABASE,
                                             Env.SOURCE_SSL_MODE)} == {
        Env.SOURCE_HOST: "127.0.0.1", Env.SOURCE_PORT: str(source.port), Env.SOURCE_DATABASE: source.dbname,
        Env.SOURCE_SSL_MODE: "require"}

    full = rds_cloud.execute()

    assert full.succeeded, full.error
    assert (full.extracted["sales_order"], full.loaded["fact_sales_order"]) == (SEEDED_SCALE, SEEDED_SCALE)


def test_the_smoke_probes_read_the_same_secrets_with_the_same_settings(rds_cloud):
    # The probes take the functions' own way to their databases: a login-only secret completed by the settings.
    for part, kind in (("Load", "warehouse"), ("Extract", "source")):
        answer = rds_cloud.client("lambda").invoke(FunctionName=deployed_function(rds_cloud, part)["FunctionName"],
                                                   Payload=json.dumps({"probe": kind}).encode())
        assert "FunctionError" not in answer, answer["Payload"].read()
        assert json.loads(answer["Payload"].read())["probe"] == kind
