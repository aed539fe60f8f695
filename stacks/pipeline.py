"""The pipeline: four Lambda functions, the state machine that runs them, and the schedule that starts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.extract.watermarks import PREFIX as WATERMARK_PREFIX
from lambdas.shared.constants import METRICS_NAMESPACE, SERVICE_NAME, Env
from lambdas.shared.layout import extract_manifest_key
from lambdas.shared.rebuild import rebuild_prefix
from stacks.bundling import lambda_code
from stacks.config import LOG_RETENTION_DAYS, OnyxConfig
from stacks.data_lake import DataLake
from stacks.network import FunctionNetwork
from stacks.workflow import PipelineWorkflow, RebuildWorkflow

RUNTIME: Final = lambda_.Runtime.PYTHON_3_12

# What each function may do to a bucket. Nothing deletes: the ingestion bucket is immutable and
# reruns overwrite processed files under the same keys.
S3_READ: Final = ("s3:GetObject",)
S3_WRITE: Final = ("s3:PutObject", "s3:AbortMultipartUpload")
S3_LIST: Final = ("s3:ListBucket",)
SECRET_READ: Final = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
# Reading a secret encrypted with a customer managed key: Secrets Manager decrypts it with the caller's permission.
SECRET_KEY_USE: Final = ("kms:Decrypt",)


# AdvanceWatermark reads one manifest and writes one small object: the smallest size that imports boto3 and
# Powertools quickly, and a minute where it takes a second.
WATERMARK_MEMORY_MB: Final = 256
WATERMARK_TIMEOUT_SECONDS: Final = 60
# The only ingestion keys AdvanceWatermark touches: each run's extract manifest, and the watermark objects.
WATERMARK_READS: Final = extract_manifest_key("*")
WATERMARK_WRITES: Final = f"{WATERMARK_PREFIX}*"
# The rebuild's Plan lists the watermark objects and reads each committed run's extract manifest (35,000 small GETs
# for a year of runs, 16 at a time): a minute or two at most, and little memory.
REBUILD_MEMORY_MB: Final = 512
REBUILD_TIMEOUT_SECONDS: Final = 900
# What a rebuild keeps in the processed bucket: its plan, transform state, Parquet and manifests (`rebuilds/<id>/`).
REBUILD_KEYS: Final = f"{rebuild_prefix('*')}*"
LIST_EXECUTIONS: Final = ("states:ListExecutions",)


@dataclass(frozen=True)
class FunctionSpec:
    stage: str  # the package under `lambdas/` whose `handler.handler` the function runs
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str]


def _grant_objects(role: iam.Role, sid: str, bucket: s3.IBucket, actions: tuple[str, ...], keys: str = "*") -> None:
    role.add_to_policy(iam.PolicyStatement(sid=sid, actions=list(actions), resources=[bucket.arn_for_objects(keys)]))


def _grant_list(role: iam.Role, sid: str, bucket: s3.IBucket) -> None:
    # ListBucket makes a missing key a 404 (NoSuchKey) instead of a 403, e.g. on the first run's watermark.
    role.add_to_policy(iam.PolicyStatement(sid=sid, actions=list(S3_LIST), resources=[bucket.bucket_arn]))


def _grant_secret(role: iam.Role, sid: str, secret: secretsmanager.ISecret) -> None:
    # A secret's ARN ends in 6 random characters; a secret referenced by name only matches with `-??????`.
    arn = secret.secret_full_arn or f"{secret.secret_arn}-??????"
    role.add_to_policy(iam.PolicyStatement(sid=sid, actions=list(SECRET_READ), resources=[arn]))


def _grant_secret_key(role: iam.Role, sid: str, key_arn: str | None) -> None:
    """kms:Decrypt on the customer managed key a secret is encrypted with (none for AWS's own key), and only when
    Secrets Manager in this region asks on the role's behalf (GetSecretValue), never a direct call."""
    if key_arn is None:
        return
    via = f"secretsmanager.{Stack.of(role).region}.amazonaws.com"
    role.add_to_policy(iam.PolicyStatement(sid=sid, actions=list(SECRET_KEY_USE), resources=[key_arn],
                                           conditions={"StringEquals": {"kms:ViaService": via}}))


def _database_environment(settings: dict[str, str | int | None]) -> dict[str, str]:
    """The database settings a function is given (stacks/config.py): those set, as text."""
    return {name: str(value) for name, value in settings.items() if value is not None}


class StageFunction(Construct):
    """One stage's Lambda function with its own role, log group and the shared code asset."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: FunctionSpec, code: lambda_.Code, config: OnyxConfig
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Our own role instead of AWSLambdaBasicExecutionRole: logs go to this function's group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Onyx {config.env_name} {spec.stage} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"Onyx {spec.stage}",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=code,
            handler=f"lambdas.{spec.stage}.handler.handler",
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                # Every custom metric names its environment (lambdas.shared.observability): dev and prod in one
                # account stay apart on their dashboards.
                Env.ENV_NAME: config.env_name,
                **spec.environment,
            },
        )


def state_machine_arn(scope: Construct, name: str) -> str:
    return Stack.of(scope).format_arn(service="states", resource="stateMachine", resource_name=name,
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)


def _state_machine(scope: Construct, prefix: str, *, config: OnyxConfig, name: str, comment: str,
                   definition: sfn.IChainable, timeout: Duration) -> tuple[logs.LogGroup, sfn.StateMachine]:
    """A Standard state machine named `name`, traced, logging every event with its data to a log group of its own
    (`<prefix>StateMachineLogs`, `<prefix>StateMachine`: the pipeline's keep their first ids)."""
    log_group = logs.LogGroup(
        scope,
        f"{prefix}StateMachineLogs",
        # Step Functions needs a /aws/vendedlogs/ name to avoid the resource-policy size limit.
        log_group_name=f"/aws/vendedlogs/states/{name}",
        retention=retention(config.log_retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )
    machine = sfn.StateMachine(
        scope,
        f"{prefix}StateMachine",
        state_machine_name=name,
        comment=comment,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
    )
    return log_group, machine


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member of this many days (the config only admits CloudWatch's own periods)."""
    periods = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(sorted(LOG_RETENTION_DAYS), periods, strict=True))[days]


class Pipeline(Construct):
    """Extract, Transform, Load and AdvanceWatermark functions (least privilege each), the state machine and its
    schedule."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: OnyxConfig, data_lake: DataLake,
        network: FunctionNetwork | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        source_secret = secretsmanager.Secret.from_secret_name_v2(self, "SourceSecret", config.source_secret_name)
        warehouse_secret = secretsmanager.Secret.from_secret_name_v2(
            self, "WarehouseSecret", config.warehouse_secret_name
        )
        ingestion, processed = data_lake.ingestion, data_lake.processed
        # One asset for every function of the stack (the notifier's too).
        # The CA bundle verify-ca / verify-full trust travels in the code, at the same path from its root.
        self.code = code = lambda_code(extra_files=(config.ssl_root_cert,) if config.ssl_root_cert else ())

        # No reserved concurrency: overlapping runs are safe by design (keyed immutable files, the load's run
        # ledger and unique versions; tests/hardening/test_overlap.py), and a reservation of 1 made a run that
        # starts while another is running fail with Lambda.TooManyRequestsException once its retries ran out
        # (a failure, an alert and an alarm for what is normal). New accounts, whose concurrency limit is 10,
        # also refuse any reservation that leaves less than 10 unreserved (docs/design.md, "Overlapping runs").
        self.extract = StageFunction(
            self,
            "Extract",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="extract",
                memory_mb=config.extract_memory_mb,
                timeout_seconds=config.extract_timeout_seconds,
                environment={
                    Env.INGESTION_BUCKET: ingestion.bucket_name,
                    Env.SOURCE_SECRET_NAME: config.source_secret_name,
                    Env.SAFETY_LAG_SECONDS: str(config.safety_lag_seconds),
                    **_database_environment({
                        Env.SOURCE_HOST: config.source_host, Env.SOURCE_PORT: config.source_port,
                        Env.SOURCE_DATABASE: config.source_database, Env.SOURCE_SSL_MODE: config.source_ssl_mode,
                        Env.SSL_ROOT_CERT: config.ssl_root_cert,
                    }),
                },
            ),
        )
        self.transform = StageFunction(
            self,
            "Transform",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="transform",
                memory_mb=config.transform_memory_mb,
                timeout_seconds=config.transform_timeout_seconds,
                environment={Env.INGESTION_BUCKET: ingestion.bucket_name, Env.PROCESSED_BUCKET: processed.bucket_name},
            ),
        )
        self.load = StageFunction(
            self,
            "Load",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="load",
                memory_mb=config.load_memory_mb,
                timeout_seconds=config.load_timeout_seconds,
                environment={
                    Env.PROCESSED_BUCKET: processed.bucket_name,
                    Env.WAREHOUSE_SECRET_NAME: config.warehouse_secret_name,
                    Env.WAREHOUSE_SCHEMA: config.warehouse_schema,
                    **_database_environment({
                        Env.WAREHOUSE_HOST: config.warehouse_host, Env.WAREHOUSE_PORT: config.warehouse_port,
                        Env.WAREHOUSE_DATABASE: config.warehouse_database,
                        Env.WAREHOUSE_SSL_MODE: config.warehouse_ssl_mode, Env.SSL_ROOT_CERT: config.ssl_root_cert,
                    }),
                },
            ),
        )
        # Its own function, not the extract's with a flag: moving the watermarks needs no secret and no database.
        self.advance_watermark = StageFunction(
            self,
            "AdvanceWatermark",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="watermark",
                memory_mb=WATERMARK_MEMORY_MB,
                timeout_seconds=WATERMARK_TIMEOUT_SECONDS,
                environment={Env.INGESTION_BUCKET: ingestion.bucket_name},
            ),
        )
        # Every function of the pipeline, in the order the state machine runs them (the rebuild's own is added below).
        self.stages: tuple[StageFunction, ...] = (self.extract, self.transform, self.load, self.advance_watermark)
        # With a VPC (vpcId): the functions that move the tables' data run in its subnets. Extract and load must, to
        # reach the databases; transform reaches none, but it reads and writes every row the others move, so its S3
        # traffic takes their path and controls (the S3 gateway endpoint, whose use a bucket policy can require), and
        # it shares their network interfaces (Lambda makes one per subnet and security group, whatever the number of
        # functions). AdvanceWatermark and Notify stay outside: they touch no table data (a manifest and a small
        # watermark object; an execution's history and the alert topic), and Notify must reach Step Functions and SNS
        # precisely when the VPC's path is what failed the run (a missing endpoint, a NAT down); inside, it would need
        # endpoints of its own for both and would fail with the pipeline it reports on.
        self.network = network
        self.in_vpc: tuple[StageFunction, ...] = ()
        if network is not None:
            self.in_vpc = (self.extract, self.transform, self.load)
            for stage in self.in_vpc:
                network.place(stage.function, stage.role)

        # Least privilege: extract reads its secret and its own watermark, writes the ingestion bucket.
        _grant_secret(self.extract.role, "ReadSourceSecret", source_secret)
        _grant_secret_key(self.extract.role, "DecryptSourceSecret", config.source_secret_key_arn)
        _grant_objects(self.extract.role, "ReadWriteIngestionObjects", ingestion, S3_READ + S3_WRITE)
        _grant_list(self.extract.role, "ListIngestion", ingestion)
        # Transform reads the ingestion bucket and reads/writes the processed bucket.
        _grant_objects(self.transform.role, "ReadIngestionObjects", ingestion, S3_READ)
        _grant_list(self.transform.role, "ListIngestion", ingestion)
        _grant_objects(self.transform.role, "ReadWriteProcessedObjects", processed, S3_READ + S3_WRITE)
        _grant_list(self.transform.role, "ListProcessed", processed)
        # Load reads the processed bucket and its secret.
        _grant_objects(self.load.role, "ReadProcessedObjects", processed, S3_READ)
        _grant_list(self.load.role, "ListProcessed", processed)
        _grant_secret(self.load.role, "ReadWarehouseSecret", warehouse_secret)
        _grant_secret_key(self.load.role, "DecryptWarehouseSecret", config.warehouse_secret_key_arn)
        # AdvanceWatermark reads the run's extract manifest (its highs) and adds one watermark object: nothing else.
        _grant_objects(self.advance_watermark.role, "ReadExtractManifests", ingestion, S3_READ,
                       keys=WATERMARK_READS)
        _grant_objects(self.advance_watermark.role, "WriteWatermarks", ingestion, ("s3:PutObject",),
                       keys=WATERMARK_WRITES)
        _grant_list(self.advance_watermark.role, "ListIngestion", ingestion)

        # The rebuild's first step: it must see the running executions of both state machines, and the state machines
        # refer to it: their ARNs are made from their names, which the stack sets, rather than taken from them.
        self.rebuild = StageFunction(
            self,
            "Rebuild",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="rebuild",
                memory_mb=REBUILD_MEMORY_MB,
                timeout_seconds=REBUILD_TIMEOUT_SECONDS,
                environment={
                    Env.INGESTION_BUCKET: ingestion.bucket_name, Env.PROCESSED_BUCKET: processed.bucket_name,
                    Env.PIPELINE_STATE_MACHINE_ARN: state_machine_arn(self, config.pipeline_state_machine_name),
                    Env.REBUILD_STATE_MACHINE_ARN: state_machine_arn(self, config.rebuild_state_machine_name),
                },
            ),
        )
        self.rebuild.role.add_to_policy(iam.PolicyStatement(
            sid="ListRunningExecutions", actions=list(LIST_EXECUTIONS),
            resources=[state_machine_arn(self, name)
                       for name in (config.pipeline_state_machine_name, config.rebuild_state_machine_name)]))
        # The committed runs: the watermark objects (listed) and each one's extract manifest. Nothing else is read.
        _grant_objects(self.rebuild.role, "ReadExtractManifests", ingestion, S3_READ, keys=WATERMARK_READS)
        _grant_list(self.rebuild.role, "ListIngestion", ingestion)
        _grant_objects(self.rebuild.role, "WriteRebuildPlans", processed, ("s3:PutObject",), keys=REBUILD_KEYS)

        # Every function of the stack but the notifier: the pipeline's stages and the rebuild's own.
        self.functions: tuple[StageFunction, ...] = (*self.stages, self.rebuild)

        self.rebuild_workflow = RebuildWorkflow(self, "RebuildWorkflow", rebuild=self.rebuild.function,
                                                transform=self.transform.function, load=self.load.function)
        self.rebuild_state_machine_logs, self.rebuild_state_machine = _state_machine(
            self, "Rebuild", config=config, name=config.rebuild_state_machine_name,
            comment=f"Onyx {config.env_name}: the warehouse recomputed from every committed run of the lake, swapped "
                    "in at the end (start it through the pipeline: {\"mode\": \"rebuild\"})",
            definition=self.rebuild_workflow.definition, timeout=Duration.hours(config.rebuild_timeout_hours))

        self.workflow = PipelineWorkflow(
            self,
            "Workflow",
            extract=self.extract.function,
            transform=self.transform.function,
            load=self.load.function,
            advance_watermark=self.advance_watermark.function,
            rebuild_state_machine=self.rebuild_state_machine,
        )
        self.state_machine_logs, self.state_machine = _state_machine(
            self, "", config=config, name=config.pipeline_state_machine_name,
            comment=f"Onyx {config.env_name}: Totesys -> ingestion (JSON Lines) -> processed (Parquet) -> warehouse",
            definition=self.workflow.definition, timeout=Duration.minutes(config.execution_timeout_minutes))

        # Each execution's generated name is the run id (Extract receives it as run_id).
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Starts an Onyx {config.env_name} run every {config.schedule_minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(config.schedule_minutes)),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_object({"trigger": "schedule"}),
                    retry_attempts=3,
                    max_event_age=Duration.minutes(config.schedule_minutes),
                )
            ],
        )
