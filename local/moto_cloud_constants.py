"""Where the local AWS lives: moto's default account, the region the local cloud deploys to, and the
operator's credentials (the deployer's on AWS: the command line's and the tests' own clients; the local
cloud does not check their calls, and gives every function and the state machine a role's of its own)."""

from typing import TypedDict

ACCOUNT = "123456789012"
REGION = "eu-west-2"
OPERATOR_ACCESS_KEY = "local"
OPERATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": OPERATOR_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "local"}


class SignedWith(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str | None


def signed_with(credentials: dict[str, str]) -> SignedWith:
    """boto3.client's keyword arguments for a set of AWS_* credential variables (as Lambda sets them)."""
    return {"aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": credentials.get("AWS_SESSION_TOKEN")}
