"""Filling a Totesys source: generated data at any scale, or a dump of JSON Lines files."""
