-- The journal: every event of every run, in order. Nothing else about a run is truth.
-- A row holds the events that one commit appended to one run: `seq` is the first one's
-- sequence number, `count` how many; `body` is the event's JSON, or a JSON array of them.
CREATE TABLE journal (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    body    BLOB    NOT NULL,
    UNIQUE (run_id, seq)
);

-- A run's rows follow each other with neither gap nor overlap: a row starts where the
-- run's last row ends. The store checks that before it appends (`kflow.store.sequence`);
-- between processes the unique index refuses a second row that starts at the same end.

-- One row per event, as the journal used to be stored: for people and tools that read
-- it with SQL (`SELECT seq, kind, at FROM events WHERE run_id = ?`). kflow reads `journal`.
CREATE VIEW events AS
SELECT
    j.run_id AS run_id,
    j.seq + e.key AS seq,
    json_extract(e.value, '$.type') AS kind,
    json_extract(e.value, '$.at') AS at,
    e.value AS body
FROM journal AS j, json_each(
    CASE j.count
        WHEN 1 THEN json_array(json(CAST(j.body AS TEXT)))
        ELSE CAST(j.body AS TEXT)
    END
) AS e;

-- Workflow definitions, once per digest: a run's `RunCreated` event names its definition
-- by digest. (Runs created before this table existed hold a copy in that event.)
CREATE TABLE definitions (
    digest  TEXT PRIMARY KEY,
    body    BLOB NOT NULL
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
