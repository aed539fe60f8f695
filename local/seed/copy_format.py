"""Rows -> PostgreSQL COPY text format, in chunks big enough to keep the wire busy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_field(value: object) -> str:
    """One value in COPY text format (NULL as \\N; backslash, tab and newlines escaped)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).translate(_ESCAPES)


def copy_line(row: Sequence[object]) -> str:
    """One row as a COPY text line (no trailing newline)."""
    return "\t".join(map(copy_field, row))


def chunk_lines(lines: Iterable[str], lines_per_chunk: int = 20_000) -> Iterator[str]:
    """Group ready-made COPY lines (no trailing newline) into chunks."""
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= lines_per_chunk:
            yield "\n".join(buffer) + "\n"
            buffer.clear()
    if buffer:
        yield "\n".join(buffer) + "\n"
