"""The Extract stage: every change in Totesys since the last watermark -> the ingestion bucket as JSON Lines."""
