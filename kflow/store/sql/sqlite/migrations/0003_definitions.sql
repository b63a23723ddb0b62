-- Workflow definitions, once per digest. A run's `RunCreated` event names its definition
-- by digest; it used to hold a copy, so 1,000 runs of a 10,000-step workflow stored its
-- 1.4 MB spec 1,000 times, and reading a run read its copy. Runs created before keep
-- their copies, and kflow reads both.
CREATE TABLE definitions (
    digest  TEXT PRIMARY KEY,
    body    BLOB NOT NULL
);
