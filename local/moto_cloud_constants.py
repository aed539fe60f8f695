"""Where the local AWS lives: moto's default account, and the region the local cloud deploys to."""

ACCOUNT = "123456789012"
REGION = "eu-west-2"
