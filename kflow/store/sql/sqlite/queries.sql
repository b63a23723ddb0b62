-- name: append_batch
-- Append a run's events from one commit; a row must start where the run's last row ends
-- (the store checks, `kflow.store.sequence`), so two writers cannot both extend a run.
-- For several rows in one statement the store repeats the last line's tuple.
INSERT INTO journal (run_id, seq, count, body) VALUES (?, ?, ?, ?)

-- name: run_ends
-- Where each run's journal ends (its next sequence number); ids as one JSON array.
SELECT run_id, max(seq + count) FROM journal
WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id

-- name: insert_definition
-- The same digest is the same workflow: the first copy stored is kept.
INSERT OR IGNORE INTO definitions (digest, body) VALUES (?, ?)

-- name: definition
SELECT body FROM definitions WHERE digest = ?

-- name: insert_run
INSERT INTO runs (run_id, workflow_id, status, created_at, updated_at) VALUES (?, ?, 'running', ?, ?)

-- name: set_run_status
UPDATE runs SET status = ?, updated_at = ?, error = ? WHERE run_id = ?

-- name: run_events
SELECT count, body FROM journal WHERE run_id = ? ORDER BY seq

-- name: runs_events
-- The events of many runs at once; their ids come as one JSON array.
SELECT run_id, count, body FROM journal
WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, seq

-- name: run_exists
SELECT 1 FROM runs WHERE run_id = ?

-- name: existing_runs
SELECT run_id FROM runs WHERE run_id IN (SELECT value FROM json_each(?))

-- name: find_run_ids
-- Run ids starting with a prefix, so users can type a short id.
SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT 2

-- name: list_runs
SELECT run_id, workflow_id, status, created_at, updated_at, error FROM runs
ORDER BY created_at DESC, run_id DESC LIMIT ?

-- name: list_runs_by_status
SELECT run_id, workflow_id, status, created_at, updated_at, error FROM runs
WHERE status = ? ORDER BY created_at DESC, run_id DESC LIMIT ?

-- name: unfinished_runs
SELECT run_id FROM runs WHERE status IN ('running', 'paused') ORDER BY created_at

-- name: insert_request
INSERT INTO control (run_id, action, reason, at) VALUES (?, ?, ?, ?)

-- name: pending_requests
SELECT id, run_id, action, reason, at FROM control WHERE handled_at IS NULL ORDER BY id

-- name: mark_request_handled
UPDATE control SET handled_at = ? WHERE id = ?

-- name: request_handled
SELECT handled_at FROM control WHERE id = ?

-- name: get_lease
SELECT run_id, owner, host, pid, heartbeat_at FROM leases WHERE run_id = ?

-- name: get_leases
SELECT run_id, owner, host, pid, heartbeat_at FROM leases
WHERE run_id IN (SELECT value FROM json_each(?))

-- name: insert_lease
-- The lease of a run stored in the same transaction: nobody can hold it yet.
INSERT INTO leases (run_id, owner, host, pid, heartbeat_at) VALUES (?, ?, ?, ?, ?)

-- name: take_lease
-- Take a run's lease only from the holder the caller saw (none: a NULL `seen`), so two
-- workers that both saw it free cannot both take it: the second changes no row.
INSERT INTO leases (run_id, owner, host, pid, heartbeat_at) VALUES (:run_id, :owner, :host, :pid, :at)
ON CONFLICT (run_id) DO UPDATE SET
    owner = excluded.owner, host = excluded.host, pid = excluded.pid,
    heartbeat_at = excluded.heartbeat_at
WHERE leases.owner = :seen OR leases.owner = excluded.owner

-- name: take_leases
-- The same for many runs in one statement. `?` is a JSON array of [run_id, owner, host,
-- pid, heartbeat_at, seen]; `get_leases` then tells which were taken. (The transaction
-- holds the write lock, so no other writer changes a lease between check and write.)
INSERT INTO leases (run_id, owner, host, pid, heartbeat_at)
SELECT
    json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'),
    json_extract(w.value, '$[2]'), json_extract(w.value, '$[3]'),
    json_extract(w.value, '$[4]')
FROM json_each(?) AS w LEFT JOIN leases AS held ON held.run_id = json_extract(w.value, '$[0]')
WHERE held.run_id IS NULL
    OR held.owner = json_extract(w.value, '$[5]')
    OR held.owner = json_extract(w.value, '$[1]')
ON CONFLICT (run_id) DO UPDATE SET
    owner = excluded.owner, host = excluded.host, pid = excluded.pid,
    heartbeat_at = excluded.heartbeat_at

-- name: heartbeat
UPDATE leases SET heartbeat_at = ? WHERE owner = ?

-- name: release_lease
DELETE FROM leases WHERE run_id = ? AND owner = ?
