"""The AdvanceWatermark stage: once a run is in the warehouse, the next extract starts after it."""
