-- The run ledger: a run is recorded in the same transaction as its data, so a run id found here
-- has been loaded completely, and loading it again is a no-op.

CREATE TABLE onyx_run (
    run_id     text PRIMARY KEY,
    started_at timestamptz NOT NULL,                -- when the run's extract started
    loaded_at  timestamptz NOT NULL DEFAULT now(),  -- when its load committed
    rows       jsonb NOT NULL                       -- {star_table: {"inserted": n, "updated": n}}
);
