-- The writes a re-sync of a PostgreSQL model must make, in plain SQL, the fastest way known: the
-- reference that `scripts/bench-sync --warehouse postgres --resync-reference
-- scripts/bench-resync-writes.sql` times right before each 1% re-sync, against the same changed
-- model and the same baseline. Variables (psql -v): model (the model query), key (its primary
-- key column), columns (the image columns, in the sync's mapping order, so that a row that did
-- not change has the fingerprint the baseline holds), baseline (the sync's baseline table),
-- set (`column = excluded.column` for each image column). Nothing is sent anywhere, and
-- everything is rolled back at the end: the sync that follows finds the state as it was.
--
-- 1. The snapshot: the model read once with a 64-bit fingerprint of each row, into an unlogged
--    table (the run's own copy of the model, kept for audit: docs/design/sync.md).
-- 2. The duplicate check, the cheapest known: a unique index on the snapshot's key (its build
--    fails on a key that is on two rows).
-- 3. The diff: one full join of the snapshot and the baseline by key, the changed rows numbered
--    in sending order into an unlogged delta, indexed by number.
-- 4. Per batch of 5,000 changed records: the batch's log rows (docs/design/interface.md's
--    columns) and its baseline moves (an upsert of the changed rows, a delete of the gone).
-- It prints the delta's size: the sync's own re-sync must find the same number of changes.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET synchronous_commit = off;
BEGIN;
CREATE SCHEMA audience_resync_reference;

CREATE UNLOGGED TABLE audience_resync_reference.snapshot AS
    SELECT m.:"key" AS k, :columns,
           hashtextextended(encode(record_send(ROW(:columns)), 'hex') COLLATE "C", 0) AS fp
    FROM (:model) AS m;
CREATE UNIQUE INDEX ON audience_resync_reference.snapshot (k);

CREATE UNLOGGED TABLE audience_resync_reference.delta AS
    SELECT row_number() OVER (ORDER BY s.k IS NULL DESC, coalesce(s.k, b."_audience_key")) AS seq,
           s.k IS NULL AS gone, coalesce(s.k, b."_audience_key") AS key, s.*
    FROM audience_resync_reference.snapshot AS s
    FULL JOIN :baseline AS b ON b."_audience_key" = s.k
    WHERE s.k IS NULL OR b."_audience_key" IS NULL OR s.fp <> b."_audience_fp";
CREATE UNIQUE INDEX ON audience_resync_reference.delta (seq);

CREATE TABLE audience_resync_reference.logs (
    sync_name text NOT NULL, run_id bigint NOT NULL, primary_key text, operation text NOT NULL,
    status text NOT NULL, error_reason text, http_status integer, sync_started_at timestamptz NOT NULL,
    sync_finished_at timestamptz NOT NULL);

SELECT format(
    'INSERT INTO audience_resync_reference.logs SELECT ''bench'', 1, d.key::text, '
    'CASE WHEN d.gone THEN ''delete'' ELSE ''update'' END, ''succeeded'', NULL, NULL, now(), now() '
    'FROM audience_resync_reference.delta AS d WHERE d.seq BETWEEN %1$s AND %2$s; '
    'DELETE FROM %3$s AS b USING audience_resync_reference.delta AS d '
    'WHERE d.seq BETWEEN %1$s AND %2$s AND d.gone AND b."_audience_key" = d.key; '
    'INSERT INTO %3$s ("_audience_key", %4$s, "_audience_fp", "_audience_config") '
    'SELECT k, %4$s, fp, 1 FROM audience_resync_reference.delta '
    'WHERE seq BETWEEN %1$s AND %2$s AND NOT gone '
    'ON CONFLICT ("_audience_key") DO UPDATE SET %5$s, "_audience_fp" = excluded."_audience_fp"',
    lo, lo + 4999, :'baseline', :'columns', :'set')
FROM generate_series(1, (SELECT count(*) FROM audience_resync_reference.delta), 5000) AS lo
\gexec

SELECT count(*) AS changes FROM audience_resync_reference.delta;
ROLLBACK;
