--
-- fetch_scan: the streaming scan (Custom Scan "TopicFetch") that runs
-- topics.fetch in FROM.  Where the planner uses it and where it keeps the
-- function scan; that it returns exactly the rows the function returns;
-- rescans, cursors, errors and the EXECUTE privilege.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\set state '\\echo SQLSTATE :SQLSTATE'

-- A partition with every kind of record: keys or none, null values,
-- headers or none, one record too big for a batch row, batches of many
-- records, and offsets left by a rolled-back savepoint and an aborted
-- transaction.
SELECT topics.create_topic('fs.mixed', 2);
BEGIN;
SELECT count(*) FROM (
    SELECT topics.produce('fs.mixed', CASE WHEN i % 7 = 0 THEN NULL ELSE ('value ' || i)::bytea END,
                          key => CASE WHEN i % 2 = 0 THEN ('key ' || i)::bytea END,
                          headers => CASE WHEN i % 3 = 0 THEN jsonb_build_object('i', i) END,
                          partition => 0)
    FROM generate_series(1, 300) AS i) AS s;
SAVEPOINT s;
SELECT count(*) FROM (SELECT topics.produce('fs.mixed', 'rolled back'::bytea, partition => 0)
                      FROM generate_series(1, 5)) AS s;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM topics.produce('fs.mixed', convert_to(repeat('large ', 3000), 'UTF8'), partition => 0);
COMMIT;
BEGIN;
SELECT count(*) FROM topics.produce('fs.mixed', 'aborted'::bytea, partition => 0);
ROLLBACK;
SELECT count(*) FROM (SELECT topics.produce('fs.mixed', ('after ' || i)::bytea, partition => 0)
                      FROM generate_series(1, 20) AS i) AS s;

-- Where the scan is used: a fetch in FROM, also under an aggregate, in a
-- CTE, in the branches of UNION ALL, in INSERT ... SELECT, and with
-- arguments from other FROM items (LATERAL).
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs.mixed', 0, 0);
EXPLAIN (COSTS OFF) SELECT count(*) FROM topics.fetch('fs.mixed', 0, 0) WHERE key IS NOT NULL;
EXPLAIN (COSTS OFF, VERBOSE) SELECT "offset", value FROM topics.fetch('fs.mixed', 0, 0, 10);
CREATE TEMP TABLE copied (o bigint, v bytea);
EXPLAIN (COSTS OFF) INSERT INTO copied SELECT "offset", value FROM topics.fetch('fs.mixed', 0, 0);
EXPLAIN (COSTS OFF)
    WITH r AS (SELECT * FROM topics.fetch('fs.mixed', 0, 0)) SELECT count(*) FROM r;
EXPLAIN (COSTS OFF)
    SELECT "offset" FROM topics.fetch('fs.mixed', 0, 0)
    UNION ALL SELECT "offset" FROM topics.fetch('fs.mixed', 1, 0);

EXPLAIN (COSTS OFF, VERBOSE)
    SELECT p, f."offset" FROM generate_series(0, 1) AS p, topics.fetch('fs.mixed', p, 0) AS f;

-- Where it is not: turned off; the whole row read; WITH ORDINALITY;
-- statements that may recheck rows (UPDATE, DELETE, FOR UPDATE), also from
-- a subquery.
SET pg_topics.enable_fetch_scan = off;
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs.mixed', 0, 0);
RESET pg_topics.enable_fetch_scan;
EXPLAIN (COSTS OFF) SELECT f FROM topics.fetch('fs.mixed', 0, 0) AS f;
EXPLAIN (COSTS OFF) SELECT row_to_json(f) FROM topics.fetch('fs.mixed', 0, 0) AS f;
EXPLAIN (COSTS OFF)
    SELECT f."offset" FROM topics.fetch('fs.mixed', 0, 0) WITH ORDINALITY AS f;
EXPLAIN (COSTS OFF)
    UPDATE copied SET v = f.value FROM topics.fetch('fs.mixed', 0, 0) AS f WHERE o = f."offset";
EXPLAIN (COSTS OFF)
    DELETE FROM copied WHERE o IN (SELECT "offset" FROM topics.fetch('fs.mixed', 0, 0));
EXPLAIN (COSTS OFF)
    SELECT * FROM copied, topics.fetch('fs.mixed', 0, 0) AS f WHERE o = f."offset" FOR UPDATE OF copied;

-- The same rows as the function, column for column, for reads that end at
-- max_records, at max_bytes, at the end of the log, start inside a batch,
-- start on the large record, or start past the aborted offsets.  Each read
-- is planned afresh (EXECUTE) with the scan on and off.
CREATE FUNCTION pg_temp.read(from_offset bigint, max_records integer,
                             max_bytes integer, scan boolean)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    rows text[];
BEGIN
    PERFORM set_config('pg_topics.enable_fetch_scan', scan::text, true);
    EXECUTE format($q$SELECT array_agg(concat_ws('|', topic, partition, "offset", ts, key, value, headers)
                                      ORDER BY "offset")
                      FROM topics.fetch('fs.mixed', 0, %s, %s, %s)$q$,
                   from_offset, max_records, max_bytes)
        INTO rows;
    RETURN rows;
END $$;
SELECT from_offset, max_records, max_bytes,
       cardinality(pg_temp.read(from_offset, max_records, max_bytes, true)) AS records,
       pg_temp.read(from_offset, max_records, max_bytes, true)
           IS NOT DISTINCT FROM pg_temp.read(from_offset, max_records, max_bytes, false) AS same_rows
FROM (VALUES (0, 500, 1048576), (0, 1, 1048576), (0, 1000000, 1048576), (17, 40, 1048576),
             (0, 1000, 1000), (0, 1000, 1), (299, 10, 1), (300, 10, 1048576),
             (301, 500, 1048576), (306, 500, 1048576), (325, 500, 1048576))
     AS t(from_offset, max_records, max_bytes);

-- Only the columns the query reads are filled; what it reads is right.
SELECT count(*) AS records, count(key) AS keys, count(value) AS "values",
       count(headers) AS headers, sum(length(value)) AS value_bytes,
       sum((headers->>'i')::integer) AS header_sum
FROM topics.fetch('fs.mixed', 0, 0, 1000);
SELECT count(*) FROM topics.fetch('fs.mixed', 0, 0, 1000) WHERE headers ? 'i';
SELECT "offset", convert_from(key, 'UTF8') AS key FROM topics.fetch('fs.mixed', 0, 0, 4);
INSERT INTO copied SELECT "offset", value FROM topics.fetch('fs.mixed', 0, 0, 1000);
SELECT count(*), count(v), min(o), max(o) FROM copied;

-- A rescan with the same arguments replays the same read, even when
-- records were committed in between (the nested loop below commits one
-- through dblink for every outer row, then rescans the fetch), as the
-- function scan replays its stored rows.
SELECT dblink_connect('other',
    format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
           split_part(current_setting('unix_socket_directories'), ',', 1)));
CREATE FUNCTION pg_temp.produce_elsewhere(i integer) RETURNS integer LANGUAGE sql AS $$
    SELECT i FROM dblink('other', format($q$SELECT * FROM topics.produce('fs.mixed', 'elsewhere %s', partition => 1)$q$, i))
        AS t(p integer, o bigint)
$$;
SET enable_material = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT o.g, count(f."offset")
FROM (SELECT g, pg_temp.produce_elsewhere(g) FROM generate_series(1, 3) AS g OFFSET 0) AS o
     CROSS JOIN topics.fetch('fs.mixed', 1, 0) AS f
GROUP BY o.g ORDER BY o.g;
SELECT o.g, count(f."offset"), max(f."offset")
FROM (SELECT g, pg_temp.produce_elsewhere(g) FROM generate_series(1, 3) AS g OFFSET 0) AS o
     CROSS JOIN topics.fetch('fs.mixed', 1, 0) AS f
GROUP BY o.g ORDER BY o.g;
SET pg_topics.enable_fetch_scan = off;
SELECT o.g, count(f."offset"), max(f."offset")
FROM (SELECT g, pg_temp.produce_elsewhere(g) FROM generate_series(4, 6) AS g OFFSET 0) AS o
     CROSS JOIN topics.fetch('fs.mixed', 1, 0) AS f
GROUP BY o.g ORDER BY o.g;
RESET pg_topics.enable_fetch_scan;
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- Only new arguments start a new read: a correlated subquery whose
-- arguments stay the same and whose filter changes replays the read too.
SELECT o.g,
       (SELECT count(*) FROM topics.fetch('fs.mixed', 1, 0) AS f WHERE f."offset" >= 0 * o.g)
FROM (SELECT g, pg_temp.produce_elsewhere(g) FROM generate_series(11, 13) AS g OFFSET 0) AS o
ORDER BY o.g;

-- A computed target list is projected by the scan itself.
EXPLAIN (COSTS OFF, VERBOSE)
    SELECT length(value) + 1 FROM topics.fetch('fs.mixed', 0, 0);

-- Arguments from another FROM item: every outer row reads afresh, with its
-- own arguments, and gets what the function scan gets.
CREATE FUNCTION pg_temp.lateral_reads(scan boolean) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    rows text[];
BEGIN
    PERFORM set_config('pg_topics.enable_fetch_scan', scan::text, true);
    EXECUTE $q$SELECT array_agg(concat_ws('|', s.part, s.from_offset, s.max_records,
                                          f."offset", f.key, f.value, f.headers)
                                ORDER BY s.part, s.from_offset, s.max_records, f."offset")
               FROM (VALUES (0, 0, 3), (1, 0, 2), (0, 299, 3), (0, 320, 500), (1, 5, 500))
                    AS s(part, from_offset, max_records)
               LEFT JOIN LATERAL topics.fetch('fs.mixed', s.part, s.from_offset, s.max_records) AS f
                    ON f.value IS NOT NULL$q$
        INTO rows;
    RETURN rows;
END $$;
SELECT cardinality(pg_temp.lateral_reads(true)) AS rows,
       pg_temp.lateral_reads(true) = pg_temp.lateral_reads(false) AS same_rows;

-- A rescan with new arguments (a correlated subquery) reads afresh.
EXPLAIN (COSTS OFF)
SELECT p, (SELECT count(*) FROM topics.fetch('fs.mixed', p, 0, 1000)) FROM generate_series(0, 1) AS p;
SELECT p, (SELECT count(*) FROM topics.fetch('fs.mixed', p, 0, 1000)) FROM generate_series(0, 1) AS p;

-- Cursors: a read stays at the stable offset it started with while records
-- are committed; a scroll cursor moves backwards; a held cursor outlives
-- its transaction; LIMIT stops the read early.
BEGIN;
DECLARE c CURSOR FOR SELECT "offset" FROM topics.fetch('fs.mixed', 1, 0);
FETCH 2 FROM c;
SELECT pg_temp.produce_elsewhere(7);
FETCH ALL FROM c;
SELECT max("offset") FROM topics.fetch('fs.mixed', 1, 0);
COMMIT;
BEGIN;
DECLARE s SCROLL CURSOR FOR SELECT "offset" FROM topics.fetch('fs.mixed', 1, 0, 4);
FETCH 3 FROM s;
FETCH BACKWARD 2 FROM s;
FETCH ALL FROM s;
DECLARE h CURSOR WITH HOLD FOR SELECT "offset" FROM topics.fetch('fs.mixed', 1, 2, 3);
FETCH 1 FROM h;
COMMIT;
FETCH ALL FROM h;
CLOSE h;
SELECT "offset" FROM topics.fetch('fs.mixed', 0, 0) LIMIT 2;

-- Errors are the function's, with its SQLSTATEs.
SELECT * FROM topics.fetch(NULL, 0, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', NULL, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, NULL);
:state
SELECT * FROM topics.fetch('fs.none', 0, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', 2, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, -1);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, 100000);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, 0, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, 0, 10, 0);
:state
SELECT * FROM topics.fetch('fs.mixed', 0, 0, wait => '-1 s');
:state
-- the arguments are evaluated when the first row is wanted, not at plan time
SELECT count(*) FROM topics.fetch('fs.mixed', 0, 0) WHERE false;

-- A wait that runs out returns no rows.
SELECT count(*) FROM topics.fetch('fs.mixed', 0, topics.latest_offset('fs.mixed', 0), wait => '50 ms');

-- The scan checks EXECUTE on topics.fetch, as the function scan does.
SELECT format('topics.topic_%s', topic_id) AS fs_table
FROM topics.topic_list WHERE name = 'fs.mixed' \gset
CREATE ROLE regress_fs_reader;
GRANT SELECT ON TABLE :fs_table TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT count(*) FROM topics.fetch('fs.mixed', 0, 0, 1000);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION topics.fetch(text, integer, bigint, integer, integer, interval) FROM PUBLIC;
SET ROLE regress_fs_reader;
SELECT count(*) FROM topics.fetch('fs.mixed', 0, 0, 1000);
:state
RESET ROLE;
GRANT EXECUTE ON FUNCTION topics.fetch(text, integer, bigint, integer, integer, interval) TO PUBLIC;
REVOKE SELECT ON TABLE :fs_table FROM regress_fs_reader;
DROP ROLE regress_fs_reader;

-- clean up
SELECT dblink_disconnect('other');
SELECT topics.drop_topic('fs.mixed');
DROP EXTENSION dblink;
