"""The rebuild's own steps: admission (nothing else running) and the plan (every committed run, in order)."""
