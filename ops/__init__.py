"""The operator's command line, against the local cloud or a deployed environment alike: `python -m ops`."""
