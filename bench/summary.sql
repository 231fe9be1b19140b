-- bench/summary.sql: medians, ratios and goal verdicts from the raw results.
--
-- Reads the raw results (bench/run's latest.csv: goal,variant,rep,value,unit)
-- from standard input; psql variable :rows is the record count of the bulk
-- tests.
-- Medians are percentile_cont(0.5) over the repetitions.

\set ON_ERROR_STOP on
\pset footer off
\pset null '-'

CREATE TEMP TABLE raw (goal text, variant text, rep integer, value float8, unit text);
\copy raw FROM pstdin WITH (FORMAT csv, HEADER true)

CREATE TEMP VIEW med AS
    SELECT goal, variant, unit,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median,
           string_agg(round(value::numeric, CASE WHEN unit IN ('ms', 'us_per_tx') THEN 1 ELSE 0 END)::text,
                      ' ' ORDER BY rep) AS runs
    FROM raw GROUP BY goal, variant, unit;

CREATE TEMP TABLE v (name text PRIMARY KEY, val float8);
INSERT INTO v VALUES ('rows', :rows);
CREATE FUNCTION pg_temp.m(g text, var text) RETURNS float8 LANGUAGE sql AS
    $$ SELECT median FROM med WHERE goal = g AND variant = var $$;
CREATE FUNCTION pg_temp.verdict(ok boolean) RETURNS text LANGUAGE sql AS
    $$ SELECT CASE WHEN ok THEN 'MET' WHEN NOT ok THEN 'NOT MET' ELSE 'not measured' END $$;
CREATE FUNCTION pg_temp.info(ratio float8) RETURNS text LANGUAGE sql AS
    $$ SELECT CASE WHEN ratio IS NULL THEN 'not measured' ELSE '(info)' END $$;

\echo
\echo '(a) single-record produce: 1 record (100 B) per transaction, pgbench -M prepared -c 2 -j 2, synchronous_commit = off'
SELECT variant, round(median) AS median_tps,
       round((median / pg_temp.m('a', 'plain_insert'))::numeric, 3) AS vs_plain,
       round((median / pg_temp.m('a', 'pgq_insert_event'))::numeric, 3) AS vs_pgq,
       runs
FROM med WHERE goal = 'a' ORDER BY median DESC;

\echo 'server CPU per transaction (the two backends serving pgbench, from /proc; less disturbed by other load than tps)'
SELECT variant, round(median::numeric, 1) AS median_us_per_tx,
       round((median / pg_temp.m('a_cpu', 'plain_insert'))::numeric, 3) AS vs_plain,
       round((median / pg_temp.m('a_cpu', 'pgq_insert_event'))::numeric, 3) AS vs_pgq,
       runs
FROM med WHERE goal = 'a_cpu' ORDER BY median;

SELECT 'a: pg_topics >= 0.9 x plain INSERT' AS goal,
       round((pg_temp.m('a', 'topics_produce') / pg_temp.m('a', 'plain_insert'))::numeric, 3) AS ratio,
       pg_temp.verdict(pg_temp.m('a', 'topics_produce') >= 0.9 * pg_temp.m('a', 'plain_insert')) AS verdict
UNION ALL
SELECT 'a: pg_topics > PgQ',
       round((pg_temp.m('a', 'topics_produce') / pg_temp.m('a', 'pgq_insert_event'))::numeric, 3),
       pg_temp.verdict(pg_temp.m('a', 'topics_produce') > pg_temp.m('a', 'pgq_insert_event'))
UNION ALL
SELECT 'a: (info) plain INSERT CPU / pg_topics CPU per transaction',
       round((pg_temp.m('a_cpu', 'plain_insert') / pg_temp.m('a_cpu', 'topics_produce'))::numeric, 3),
       pg_temp.info(pg_temp.m('a_cpu', 'plain_insert') / pg_temp.m('a_cpu', 'topics_produce'))
UNION ALL
SELECT 'a: (info) PgQ CPU / pg_topics CPU per transaction',
       round((pg_temp.m('a_cpu', 'pgq_insert_event') / pg_temp.m('a_cpu', 'topics_produce'))::numeric, 3),
       pg_temp.info(pg_temp.m('a_cpu', 'pgq_insert_event') / pg_temp.m('a_cpu', 'topics_produce'));

\echo
\echo '(b) one statement, one transaction,' :rows 'records of 100 B (synchronous_commit = on)'
SELECT variant, round(median::numeric, 1) AS median_ms,
       round((SELECT val FROM v WHERE name = 'rows') / (median / 1000)) AS records_per_s,
       round((pg_temp.m('b', 'plain_insert_select') / median)::numeric, 2) AS x_faster_than_plain,
       round((median / pg_temp.m('b', 'packed_limit'))::numeric, 2) AS time_over_limit,
       runs
FROM med WHERE goal = 'b' ORDER BY median;

SELECT g.goal,
       round(g.ratio::numeric, 2) AS ratio,
       CASE WHEN g.info THEN pg_temp.info(g.ratio) ELSE pg_temp.verdict(g.ok) END AS verdict
FROM (
    SELECT p.o * 2 AS o, false AS info,
           format('b: %s >= 1,000,000 records/s (records/s / 1e6)', p.label) AS goal,
           (SELECT val FROM v WHERE name = 'rows') / (pg_temp.m('b', p.variant) / 1000) / 1e6 AS ratio,
           (SELECT val FROM v WHERE name = 'rows') / (pg_temp.m('b', p.variant) / 1000) >= 1e6 AS ok
    FROM (VALUES (1, 'topics_row_count', 'per-row produce'),
                 (2, 'topics_batch', 'produce_batch'),
                 (3, 'topics_produce_all', 'produce_all')) AS p(o, variant, label)
    UNION ALL
    SELECT p.o * 2 + 1, false,
           format('b: %s >= 3 x plain INSERT ... SELECT (x faster)', p.label),
           pg_temp.m('b', 'plain_insert_select') / pg_temp.m('b', p.variant),
           pg_temp.m('b', 'plain_insert_select') / pg_temp.m('b', p.variant) >= 3
    FROM (VALUES (1, 'topics_row_count', 'per-row produce'),
                 (2, 'topics_batch', 'produce_batch'),
                 (3, 'topics_produce_all', 'produce_all')) AS p(o, variant, label)
    UNION ALL
    SELECT 10 + p.o, true,
           format('b: %s time / storage-limit time', p.label),
           pg_temp.m('b', p.variant) / pg_temp.m('b', 'packed_limit'), NULL
    FROM (VALUES (1, 'topics_row_count', 'per-row produce'),
                 (2, 'topics_batch', 'produce_batch'),
                 (3, 'topics_produce_all', 'produce_all')) AS p(o, variant, label)
    UNION ALL
    SELECT 20, true, 'b: storage limit / plain INSERT ... SELECT (x faster)',
           pg_temp.m('b', 'plain_insert_select') / pg_temp.m('b', 'packed_limit'), NULL
) g ORDER BY g.o;

\echo
\echo '(c) on-disk size after (b): pg_total_relation_size (heap + indexes + TOAST + FSM), payload =' :rows 'x 100 B'
SELECT variant, round(median) AS median_bytes,
       round((median / 1048576)::numeric, 1) AS mib,
       round((median / ((SELECT val FROM v WHERE name = 'rows') * 100))::numeric, 3) AS x_payload,
       runs
FROM med WHERE goal = 'c' ORDER BY median;

SELECT 'c: topic size <= 1.3 x payload bytes' AS goal,
       round((pg_temp.m('c', 'topics_row_count') / ((SELECT val FROM v WHERE name = 'rows') * 100))::numeric, 3) AS ratio,
       pg_temp.verdict(pg_temp.m('c', 'topics_row_count') <= 1.3 * (SELECT val FROM v WHERE name = 'rows') * 100) AS verdict;

\echo
\echo '(d) read all' :rows 'records of one partition inside the server (warm cache)'
SELECT variant, round(median::numeric, 1) AS median_ms,
       round((SELECT val FROM v WHERE name = 'rows') / (median / 1000)) AS records_per_s,
       runs
FROM med WHERE goal = 'd' ORDER BY variant;

SELECT 'd: fetch 10,000 a call at least as fast as PK range scans of 10,000' AS goal,
       round((pg_temp.m('d', 'plain_range_10k') / pg_temp.m('d', 'topics_fetch_10k'))::numeric, 3) AS speed_ratio,
       pg_temp.verdict(pg_temp.m('d', 'topics_fetch_10k') <= pg_temp.m('d', 'plain_range_10k')) AS verdict
UNION ALL
SELECT 'd: fetch 1,000,000 in one call at least as fast as one PK range scan',
       round((pg_temp.m('d', 'plain_range_1m') / pg_temp.m('d', 'topics_fetch_1m'))::numeric, 3),
       pg_temp.verdict(pg_temp.m('d', 'topics_fetch_1m') <= pg_temp.m('d', 'plain_range_1m'))
UNION ALL
SELECT 'd (no goal): the materialising function scan, 10,000 a call, against PK range scans',
       round((pg_temp.m('d', 'plain_range_10k') / pg_temp.m('d', 'topics_function_10k'))::numeric, 3),
       '-';
