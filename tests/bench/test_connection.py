"""`python -m bench.connection` prints what one connection costs in each sslmode the local server accepts."""

from __future__ import annotations

import re

from bench.connection import MODES, main


def test_prints_one_figure_per_sslmode(capsys):
    assert main(["--count", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(MODES)
    for line in lines:
        assert re.fullmatch(r"\S+ +\d+\.\d ms per connection \(3 connections\)", line)
