"""What a running local cloud leaves in `.local-cloud/state.json` for the other commands (and `python -m ops`):
read without importing the local cloud itself (moto, the CDK), so a command that only reads it starts quickly."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

from local.moto_cloud_constants import OPERATOR_CREDENTIALS, signed_with

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO / ".local-cloud"


def state_dir() -> Path:
    return Path(os.environ.get("ONYX_LOCAL_DIR", DEFAULT_STATE_DIR))


@dataclass
class CloudState:
    """What a running local cloud tells the other commands. Holds database URLs: written 0600."""

    pid: int
    endpoint_url: str
    region: str
    state_machine_arn: str
    stack_name: str
    source_url: str
    warehouse_url: str
    warehouse_schema: str
    schedule_expression: str | None
    postgres_pid: int | None = None
    postgres_dir: str | None = None

    def save(self, directory: Path) -> None:
        path = directory / "state.json"
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> CloudState:
        path = directory / "state.json"
        if not path.exists():
            raise FileNotFoundError("no local cloud is running here: start one with `python -m local up`")
        return cls(**json.loads(path.read_text()))

    def client(self, service: str, config: Any = None) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region, config=config,
                            **signed_with(OPERATOR_CREDENTIALS))
