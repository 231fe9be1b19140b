-- bench/groups/summary.sql: medians, ratios and goal verdicts from the raw
-- results of bench/groups/run.
--
-- Reads the raw results (latest.csv: goal,variant,rep,value,unit) from
-- standard input; psql variable :rows is the record count of goal (a).
-- Medians are percentile_cont(0.5) over the repetitions (trials for (c)).

\set ON_ERROR_STOP on
\pset footer off
\pset null '-'

CREATE TEMP TABLE raw (goal text, variant text, rep integer, value float8, unit text);
\copy raw FROM pstdin WITH (FORMAT csv, HEADER true)

CREATE TEMP VIEW med AS
    SELECT goal, variant, unit,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median,
           string_agg(round(value::numeric, CASE goal WHEN 'a' THEN 1 ELSE 3 END)::text,
                      ' ' ORDER BY rep) AS runs
    FROM raw GROUP BY goal, variant, unit;

SELECT coalesce(bool_or(goal = 'a'), false) AS has_a, coalesce(bool_or(goal = 'b'), false) AS has_b,
       coalesce(bool_or(goal = 'c'), false) AS has_c
FROM raw \gset

CREATE FUNCTION pg_temp.m(g text, var text) RETURNS float8 LANGUAGE sql AS
    $$ SELECT median FROM med WHERE goal = g AND variant = var $$;
CREATE FUNCTION pg_temp.verdict(ok boolean) RETURNS text LANGUAGE sql AS
    $$ SELECT CASE WHEN ok THEN 'MET' WHEN NOT ok THEN 'NOT MET' ELSE 'not measured' END $$;

\if :has_a
\echo
\echo '(a) consume throughput, one session inside the server, batches of 500, one transaction per batch,' :rows 'records of 100 B'
\echo '    (sync = synchronous_commit on, async = off; records/s from the median time; ratios against the same mode)'
SELECT variant, round(median::numeric, 1) AS median_ms,
       round(:rows / (median / 1000)) AS records_per_s,
       round((pg_temp.m('a', regexp_replace(variant, '^.*_', 'plain_delete_')) / median)::numeric, 2) AS x_plain_delete,
       round((pg_temp.m('a', regexp_replace(variant, '^.*_', 'plain_offset_')) / median)::numeric, 2) AS x_plain_offset,
       round((pg_temp.m('a', regexp_replace(variant, '^.*_', 'pgq_')) / median)::numeric, 2) AS x_pgq,
       runs AS runs_ms
FROM med WHERE goal = 'a' ORDER BY variant ~ '_async$', median;

SELECT format('a: topics.consume >= 500,000 records/s, synchronous_commit %s', m.sc) AS goal,
       round(:rows / (pg_temp.m('a', m.variant) / 1000)) AS records_per_s,
       pg_temp.verdict(:rows / (pg_temp.m('a', m.variant) / 1000) >= 500000) AS verdict
FROM (VALUES ('on', 'topics_consume_sync'), ('off', 'topics_consume_async')) AS m(sc, variant);

\endif

\if :has_b
\echo
\echo '(b) end-to-end latency, produce (one record per transaction) to consume wake-up, ping-pong, milliseconds;'
\echo '    each figure the median over the runs of the percentile within each run'
\echo '    e2e = consumer clock at wake-up - producer clock in the produce call; commit = producer clock after COMMIT returned - in produce;'
\echo '    wake = consumer at wake-up - producer after COMMIT returned (can be < 0: the consumer is woken before the producer returns)'
SELECT split_part(variant, '_e2e', 1) AS mode,
       round(pg_temp.m('b', mode_ || '_e2e_p50')::numeric, 3) AS e2e_p50,
       round(pg_temp.m('b', mode_ || '_e2e_p99')::numeric, 3) AS e2e_p99,
       round(pg_temp.m('b', mode_ || '_e2e_max')::numeric, 3) AS e2e_max,
       round(pg_temp.m('b', mode_ || '_commit_p50')::numeric, 3) AS commit_p50,
       round(pg_temp.m('b', mode_ || '_commit_p99')::numeric, 3) AS commit_p99,
       round(pg_temp.m('b', mode_ || '_wake_p50')::numeric, 3) AS wake_p50,
       round(pg_temp.m('b', mode_ || '_wake_p99')::numeric, 3) AS wake_p99,
       round(pg_temp.m('b', mode_ || '_wake_max')::numeric, 3) AS wake_max,
       (SELECT runs FROM med WHERE goal = 'b' AND med.variant = mode_ || '_e2e_p99') AS e2e_p99_runs
FROM (SELECT DISTINCT variant, split_part(variant, '_e2e', 1) AS mode_
      FROM raw WHERE goal = 'b' AND variant LIKE '%\_e2e\_p50') AS b
ORDER BY array_position(ARRAY['durable', 'async_producer', 'no_fsync'], mode_);

SELECT format('b: p99 end-to-end < 2 ms (%s, median of the runs)', mode) AS goal,
       round(pg_temp.m('b', mode || '_e2e_p99')::numeric, 3) AS p99_ms,
       pg_temp.verdict(pg_temp.m('b', mode || '_e2e_p99') < 2) AS verdict
FROM unnest(ARRAY['durable', 'async_producer', 'no_fsync']) AS mode
WHERE pg_temp.m('b', mode || '_e2e_p99') IS NOT NULL;

\endif

\if :has_c
\echo
\echo '(c) rebalance: a member with session_timeout 3 s stops heartbeating; seconds from its last heartbeat'
\echo '    expired_after = to consumer_group.rebalanced_at; noticed_after = to the first heartbeat of a live member that says rebalance'
SELECT variant, round(median::numeric, 3) AS median_s,
       round(min(value)::numeric, 3) AS min_s, round(max(value)::numeric, 3) AS max_s,
       count(*) AS trials, runs AS trials_s
FROM med JOIN raw USING (goal, variant)
WHERE goal = 'c' GROUP BY variant, median, runs ORDER BY variant;

SELECT 'c: rebalance <= session timeout + 1 s, every trial' AS goal,
       round(max(value)::numeric, 3) AS worst_s,
       pg_temp.verdict(max(value) <= 4) AS verdict
FROM raw WHERE goal = 'c' AND variant = 'expired_after';
\endif
