-- The journal: every event of every run, in order. Nothing else about a run is truth.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    at      REAL    NOT NULL,
    body    BLOB    NOT NULL,
    UNIQUE (run_id, seq)
);

-- A projection of the journal for listing runs quickly; written in the same
-- transaction as the events it summarises.
CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    error       TEXT
);
CREATE INDEX runs_by_status ON runs (status, created_at);

-- Requests from other processes (pause, resume, cancel) to the worker that owns a run.
CREATE TABLE control (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    at          REAL NOT NULL,
    handled_at  REAL
);
CREATE INDEX control_pending ON control (run_id) WHERE handled_at IS NULL;

-- Which worker executes which run; a lease is live while its heartbeat is fresh
-- and (on the same host) its process exists.
CREATE TABLE leases (
    run_id       TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    heartbeat_at REAL NOT NULL
);
CREATE INDEX leases_by_owner ON leases (owner);
