-- The journal in batches: a row holds the events that one commit appended to one run.
-- A busy run appends dozens of events per commit, and a row (with its index entry) for
-- each one was most of SQLite's cost per step. `seq` is the first event's sequence
-- number, `count` how many the row holds; `body` is the event's JSON when it holds one,
-- else a JSON array of them. Of two writers that extend a run from the point they read,
-- only one commits: the other's row no longer starts where the run ends (the trigger
-- below; (run_id, seq) is unique as well).
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

-- A run's rows follow each other with neither gap nor overlap: a row starts where the
-- run's last row ends. (A writer whose view of the run is stale starts too early; the
-- unique index alone would not see that when its first event falls inside another row.)
CREATE TRIGGER journal_in_sequence BEFORE INSERT ON journal
WHEN NEW.seq != coalesce(
    (SELECT seq + count FROM journal WHERE run_id = NEW.run_id ORDER BY seq DESC LIMIT 1), 0
)
BEGIN
    SELECT RAISE(ABORT, 'events appended out of sequence');
END;

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
