-- The journal in batches: a row holds the events that one commit appended to one run.
-- A busy run appends dozens of events per commit, and a row (with its index entry) for
-- each one was most of SQLite's cost per step. `seq` is the first event's sequence
-- number, `count` how many the row holds; `body` is the event's JSON when it holds one,
-- else a JSON array of them. (run_id, seq) is unique: two writers that both extend a
-- run from the point they read start their rows at the same `seq`, so only one commits
-- (every writer appends after the events it has read or written, which end a row).
CREATE TABLE journal (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    body    BLOB    NOT NULL,
    UNIQUE (run_id, seq)
);

INSERT INTO journal (id, run_id, seq, count, body)
SELECT id, run_id, seq, 1, body FROM events;

DROP TABLE events;

-- One row per event, as the journal used to be stored: for people and tools that read
-- it with SQL (`SELECT seq, kind, at FROM events WHERE run_id = ?`). kflow reads `journal`.
CREATE VIEW events AS
SELECT
    j.run_id AS run_id,
    j.seq + e.key AS seq,
    e.value ->> '$.type' AS kind,
    e.value ->> '$.at' AS at,
    e.value AS body
FROM journal AS j, json_each(
    CASE j.count
        WHEN 1 THEN json_array(json(CAST(j.body AS TEXT)))
        ELSE CAST(j.body AS TEXT)
    END
) AS e;
