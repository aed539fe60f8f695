"""Where the local AWS lives: moto's default account, the region the local cloud deploys to, and the
operator's credentials (the deployer's on AWS: the command line's and the tests' own clients; the local
cloud does not check their calls, and gives every function and the state machine a role's of its own)."""

ACCOUNT = "123456789012"
REGION = "eu-west-2"
OPERATOR_ACCESS_KEY = "local"
OPERATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": OPERATOR_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "local"}
