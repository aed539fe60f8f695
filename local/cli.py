"""`python -m local ...`: the local cloud's command line (DESIGN.md section 5)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lambdas.shared.database import DatabaseCredentials
from local.seed.load import SeedError, seed_from_jsonl, seed_generated


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _url(text: str) -> DatabaseCredentials:
    try:
        return DatabaseCredentials.from_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    seed = commands.add_parser("seed", help="fill a Totesys source database (generated data or a JSON Lines dump)")
    seed.add_argument("--url", type=_url, required=True, help="postgresql://user:password@host:port/dbname")
    source = seed.add_mutually_exclusive_group()
    source.add_argument("--scale", type=_positive, default=10_000, help="sales orders to generate (default 10000)")
    source.add_argument("--from-jsonl", type=Path, metavar="DIR", help="load <table>.jsonl dumps from DIR instead")
    seed.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    seed.add_argument("--reset", action="store_true", help="drop and recreate the Totesys tables first")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "seed":
            if args.from_jsonl is not None:
                seed_from_jsonl(args.url, args.from_jsonl, reset=args.reset, progress=_progress)
            else:
                seed_generated(args.url, args.scale, args.seed, reset=args.reset, progress=_progress)
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
