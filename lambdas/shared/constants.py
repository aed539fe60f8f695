"""One source of truth shared by the stacks, the Lambdas, the local cloud and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SERVICE_NAME: Final = "onyx"
METRICS_NAMESPACE: Final = "Onyx"


class RowMetrics:
    """The metrics each stage emits once per table, with the one dimension TABLE_DIMENSION (the dashboard's)."""

    EXTRACTED: Final = "RowsExtracted"
    TRANSFORMED: Final = "RowsTransformed"
    LOADED: Final = "RowsLoaded"


class RebuildMetrics:
    """What a rebuild's steps emit (dimensions: the service and the environment): its plan's size, its progress."""

    PLANNED: Final = "RebuildRunsPlanned"
    TRANSFORMED: Final = "RebuildRunsTransformed"
    LOADED: Final = "RebuildRunsLoaded"
    REMAINING: Final = "RebuildRunsRemaining"
    SWAPPED_IN: Final = "RebuildsSwappedIn"


# The notifier's count of run alerts it published (dimensions: the service and the environment).
RUN_ALERTS_SENT: Final = "RunAlertsSent"

TABLE_DIMENSION: Final = "Table"
# Powertools names every metric's service (POWERTOOLS_SERVICE_NAME, SERVICE_NAME here) in this dimension.
SERVICE_DIMENSION: Final = "service"
# Every custom metric also names the environment that emitted it (`Env.ENV_NAME`, the cdk.json environment), so
# that dev and prod deployed in one account keep apart on the dashboard. A dimension rather than a namespace per
# environment: one namespace is what Powertools and CloudWatch expect (an environment is a way to slice the same
# metrics, `set_default_dimensions(environment=...)` is Powertools' own example), a dashboard can still put the
# environments side by side with one search, and the values are bounded: the environments of cdk.json.
ENVIRONMENT_DIMENSION: Final = "environment"
# The dimensions of every rows-per-table metric: all of them, since a CloudWatch search by schema matches the
# metrics with exactly these dimensions.
ROWS_PER_TABLE_DIMENSIONS: Final = (SERVICE_DIMENSION, ENVIRONMENT_DIMENSION, TABLE_DIMENSION)


class Env:
    """Environment variable names the Lambda functions read (set by the stack, validated by each handler)."""

    INGESTION_BUCKET: Final = "ONYX_INGESTION_BUCKET"
    PROCESSED_BUCKET: Final = "ONYX_PROCESSED_BUCKET"
    SOURCE_SECRET_NAME: Final = "ONYX_SOURCE_SECRET_NAME"  # noqa: S105 - a variable name, not a secret
    WAREHOUSE_SECRET_NAME: Final = "ONYX_WAREHOUSE_SECRET_NAME"  # noqa: S105 - a variable name
    WAREHOUSE_SCHEMA: Final = "ONYX_WAREHOUSE_SCHEMA"
    # Where each database is and how its connection is protected, for what its secret does not say (the secret RDS
    # manages holds only the login): the sourceHost/... and warehouseHost/... settings, on the function that reads
    # that database's secret. The secret's own field wins.
    SOURCE_HOST: Final = "ONYX_SOURCE_HOST"
    SOURCE_PORT: Final = "ONYX_SOURCE_PORT"
    SOURCE_DATABASE: Final = "ONYX_SOURCE_DATABASE"
    SOURCE_SSL_MODE: Final = "ONYX_SOURCE_SSL_MODE"
    WAREHOUSE_HOST: Final = "ONYX_WAREHOUSE_HOST"
    WAREHOUSE_PORT: Final = "ONYX_WAREHOUSE_PORT"
    WAREHOUSE_DATABASE: Final = "ONYX_WAREHOUSE_DATABASE"
    WAREHOUSE_SSL_MODE: Final = "ONYX_WAREHOUSE_SSL_MODE"
    # The CA bundle verify-ca / verify-full trust (sslRootCert): a path relative to the function's code root.
    SSL_ROOT_CERT: Final = "ONYX_SSL_ROOT_CERT"
    SAFETY_LAG_SECONDS: Final = "ONYX_SAFETY_LAG_SECONDS"
    # The environment (cdk.json's name: dev, prod): every function's metrics carry it, the notifier's e-mail names it.
    ENV_NAME: Final = "ONYX_ENV_NAME"
    # The notifier: where the e-mail goes, and each task state's function log group.
    ALERT_TOPIC_ARN: Final = "ONYX_ALERT_TOPIC_ARN"
    STATE_LOG_GROUPS: Final = "ONYX_STATE_LOG_GROUPS"
    # The rebuild's first step: the state machines whose running executions it must not run beside.
    PIPELINE_STATE_MACHINE_ARN: Final = "ONYX_PIPELINE_STATE_MACHINE_ARN"
    REBUILD_STATE_MACHINE_ARN: Final = "ONYX_REBUILD_STATE_MACHINE_ARN"
    # The local cloud sets this so boto3 talks to moto instead of AWS; unset on AWS.
    AWS_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL"


class States:
    """State names of the state machine, as the console's graph shows them."""

    EXTRACT: Final = "Extract"
    HAS_CHANGES: Final = "HasChanges"
    TRANSFORM: Final = "Transform"
    LOAD: Final = "Load"
    # After Load: the run is in the warehouse, so the extract's watermarks may move past it.
    ADVANCE_WATERMARK: Final = "AdvanceWatermark"
    DONE: Final = "Done"
    # Before a run: what the execution was asked for (`{"mode": ...}`), and whether a rebuild is running.
    MODE: Final = "Mode"
    INVALID_INPUT: Final = "InvalidInput"
    FIND_REBUILD: Final = "FindRunningRebuild"
    REBUILD_RUNNING: Final = "RebuildRunning"
    SKIPPED: Final = "SkippedForRebuild"
    BUSY: Final = "Busy"
    # A replay: one extracted run through Transform, Load and AdvanceWatermark again.
    REPLAY: Final = "Replay"
    # A rebuild: the pipeline starts the rebuild's own state machine and ends.
    START_REBUILD: Final = "StartRebuild"
    REBUILD_STARTED: Final = "RebuildStarted"


# The rebuild's state machine is `<stack>-rebuild` (stacks/config.py), the pipeline's `<stack>-pipeline`.
REBUILD_MACHINE_SUFFIX: Final = "-rebuild"
PIPELINE_MACHINE_SUFFIX: Final = "-pipeline"


class RebuildStates:
    """State names of the rebuild's own state machine."""

    PLAN: Final = "Plan"
    PREPARE_SCHEMA: Final = "PrepareSchema"
    TRANSFORM_RUNS: Final = "TransformRuns"
    LOAD_RUNS: Final = "LoadRuns"
    MORE_RUNS: Final = "MoreRuns"
    SWAP_IN: Final = "SwapIn"
    DONE: Final = "Rebuilt"


class Modes:
    """What an execution of the pipeline may be asked to do (its input's `mode`; none: a pipeline run)."""

    REBUILD: Final = "rebuild"
    REPLAY: Final = "replay"


class Errors:
    """Error names the Lambdas raise (the exception class name is the Step Functions error name)."""

    SOURCE_UNAVAILABLE: Final = "SourceUnavailable"
    WAREHOUSE_UNAVAILABLE: Final = "WarehouseUnavailable"
    SOURCE_SCHEMA_CHANGED: Final = "SourceSchemaChanged"
    INVALID_DATA: Final = "InvalidData"
    # Configuration problems: failed at once, never retried (docs/design.md, "Connections and TLS").
    DATABASE_TLS: Final = "DatabaseTlsError"
    TLS_REFUSED: Final = "TlsRefused"
    CERTIFICATE_REJECTED: Final = "CertificateRejected"
    INVALID_SECRET: Final = "InvalidSecret"  # noqa: S105 - an error name
    # Operations (docs/operations.md): never retried, a person must act. Busy: another execution is going; a rebuild
    # refused (nothing to rebuild from, a warehouse it may not swap) or incomplete (a rebuilt ledger short of runs).
    BUSY: Final = "Busy"
    REBUILD_REFUSED: Final = "RebuildRefused"
    REBUILD_INCOMPLETE: Final = "RebuildIncomplete"
    INVALID_INPUT: Final = "InvalidInput"
    # What the Lambda service itself throws for transient trouble.
    LAMBDA_TRANSIENT: Final = (
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    )


# The Step Functions event that starts the notifier, and the ends it reports (each exactly once).
EXECUTION_STATUS_CHANGE: Final = "Step Functions Execution Status Change"
UNSUCCESSFUL_ENDS: Final = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries transient errors: exponential backoff with full jitter."""

    errors: tuple[str, ...]
    interval_seconds: int
    backoff_rate: float
    max_attempts: int
    max_delay_seconds: int
    jitter: str = "FULL"


TRANSIENT_RETRY: Final = RetryPolicy(
    errors=(*Errors.LAMBDA_TRANSIENT, Errors.SOURCE_UNAVAILABLE, Errors.WAREHOUSE_UNAVAILABLE),
    interval_seconds=5,
    backoff_rate=2.0,
    max_attempts=4,
    max_delay_seconds=120,
)

DEFAULT_SCHEDULE_MINUTES: Final = 15
DEFAULT_SAFETY_LAG_SECONDS: Final = 60
