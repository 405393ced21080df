-- The writes a first sync of a PostgreSQL model must make, in plain SQL, the fastest way known:
-- the reference that `scripts/bench-sync --warehouse postgres --reference scripts/bench-sync-writes.sql`
-- times beside each first sync. Variables (psql -v): model (the model query), key (its primary
-- key column). Nothing is sent anywhere: this is the floor of a first sync's warehouse work.
--
-- 1. The snapshot: the model read once with a 64-bit fingerprint of each row, into an unlogged
--    table (a run's own state: rebuilt by the next run if lost).
-- 2. The diff of a first run: every row an insert, numbered in key order, unlogged, indexed by
--    its number (the delta is read and recorded by ranges of it).
-- 3. Per batch of 5,000 records, one transaction, committed without waiting for the disk: the
--    batch's log rows (docs/design/interface.md's columns) and its baseline rows (logged: what
--    the API accepted must survive a crash). The statements are the set-based ones a sync runs.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS audience_reference CASCADE;
CREATE SCHEMA audience_reference;
SET synchronous_commit = off;

CREATE UNLOGGED TABLE audience_reference.snapshot AS
    SELECT m.*, hashtextextended(m::text, 0) AS fp FROM (:model) AS m;
CREATE UNLOGGED TABLE audience_reference.delta AS
    SELECT row_number() OVER (ORDER BY s.:"key") AS seq, s.* FROM audience_reference.snapshot AS s;
CREATE UNIQUE INDEX ON audience_reference.delta (seq);

CREATE TABLE audience_reference.logs (
    sync_name text NOT NULL, run_id bigint NOT NULL, primary_key text, operation text NOT NULL,
    status text NOT NULL, error_reason text, http_status integer, sync_started_at timestamptz NOT NULL,
    sync_finished_at timestamptz NOT NULL);
CREATE INDEX ON audience_reference.logs (sync_name, run_id);
CREATE TABLE audience_reference.baseline AS
    SELECT d.*, 1::bigint AS config FROM audience_reference.delta AS d WITH NO DATA;
CREATE UNIQUE INDEX ON audience_reference.baseline (:"key");

SELECT format(
    'BEGIN; '
    'INSERT INTO audience_reference.logs SELECT ''bench'', 1, d.%1$I::text, ''insert'', ''succeeded'', NULL, NULL, '
    'now(), now() FROM audience_reference.delta AS d WHERE d.seq BETWEEN %2$s AND %3$s; '
    'INSERT INTO audience_reference.baseline SELECT d.*, 1 FROM audience_reference.delta AS d '
    'WHERE d.seq BETWEEN %2$s AND %3$s; '
    'COMMIT',
    :'key', lo, lo + 4999)
FROM generate_series(1, (SELECT count(*) FROM audience_reference.delta), 5000) AS lo
\gexec

DROP SCHEMA audience_reference CASCADE;
