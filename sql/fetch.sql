--
-- fetch: what topics.fetch returns (order, offsets, limits, the end of the
-- log, batch boundaries), its errors, its wait, the offset look-ups
-- (earliest_offset, latest_offset, partition_offsets, offset_for_time), and
-- what concurrent transactions do to what a consumer sees (a second session
-- through dblink).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
\set SHOW_CONTEXT never
-- :state prints the SQLSTATE of the statement before it.
\set state '\\echo SQLSTATE :SQLSTATE'

-- Reads a whole partition page by page (page records per fetch, each fetch
-- from the offset after the last record of the one before) and says what it
-- got: a consumer's loop.
CREATE FUNCTION pg_temp.page_through(topic text, part integer, page integer,
                                     OUT fetches integer, OUT records bigint,
                                     OUT first_offset bigint, OUT last_offset bigint,
                                     OUT ascending boolean)
LANGUAGE plpgsql AS $$
DECLARE
    next_offset bigint := topics.earliest_offset(topic, part);
    got bigint;
    last_seen bigint := -1;
    r record;
BEGIN
    fetches := 0;
    records := 0;
    ascending := true;
    LOOP
        got := 0;
        FOR r IN SELECT * FROM topics.fetch(topic, part, next_offset, page) LOOP
            got := got + 1;
            ascending := ascending AND r."offset" > last_seen;
            last_seen := r."offset";
            first_offset := coalesce(first_offset, r."offset");
        END LOOP;
        fetches := fetches + 1;
        EXIT WHEN got = 0;
        records := records + got;
        next_offset := last_seen + 1;
    END LOOP;
    last_offset := last_seen;
END
$$;

------------------------------------------------------------------------------
-- A small partition: order, from_offset, max_records, max_bytes, the end
------------------------------------------------------------------------------

SELECT topics.create_topic('fe.small', 2);
SELECT count(*) FROM topics.produce_batch('fe.small',
    ARRAY['zero', 'one', 'two', 'three', 'four', 'five']::bytea[],
    ARRAY['k0', 'k1', NULL, 'k3', NULL, 'k5']::bytea[],
    ARRAY[NULL, '{"n": 1}', NULL, NULL, NULL, '{"n": 5}']::jsonb[],
    partition => 0, ts => '2024-05-01 00:00:00+00');
-- in offset order, every column
SELECT * FROM topics.fetch('fe.small', 0, 0);
-- from the middle of a batch
SELECT "offset", convert_from(value, 'UTF8') AS value FROM topics.fetch('fe.small', 0, 3);
SELECT "offset", convert_from(value, 'UTF8') AS value FROM topics.fetch('fe.small', 0, 5);
-- max_records
SELECT "offset" FROM topics.fetch('fe.small', 0, 1, 2);
SELECT "offset" FROM topics.fetch('fe.small', 0, 1, max_records => 1);
SELECT "offset" FROM topics.fetch('fe.small', 0, 0, max_records => 1000000);
-- max_bytes counts keys and values; the record that reaches it is the last;
-- the first record comes whatever its size
SELECT "offset", octet_length(key) + octet_length(value) AS bytes
FROM topics.fetch('fe.small', 0, 0, max_bytes => 11);
SELECT "offset" FROM topics.fetch('fe.small', 0, 0, max_bytes => 12);
SELECT "offset" FROM topics.fetch('fe.small', 0, 0, max_bytes => 1);
SELECT "offset" FROM topics.fetch('fe.small', 0, 4, max_bytes => 1);
-- at the end of the log (the high watermark): nothing, and no error
SELECT * FROM topics.partition_offsets('fe.small', 0);
SELECT count(*) FROM topics.fetch('fe.small', 0, 6);
-- an empty partition
SELECT count(*) FROM topics.fetch('fe.small', 1, 0);
SELECT * FROM topics.partition_offsets('fe.small', 1);

-- beyond the end of the log: PT001 (offset out of range)
SELECT * FROM topics.fetch('fe.small', 0, 7);
:state
SELECT * FROM topics.fetch('fe.small', 0, 9223372036854775807);
SELECT * FROM topics.fetch('fe.small', 1, 1);
:state

-- before the start of the log: PT001 too.  Retention moves the log start
-- offset; here a fresh topic is given one by hand before its first use.
SELECT topics.create_topic('fe.trimmed');
UPDATE topics.partition_meta SET log_start_offset = 10
WHERE topic_id = (SELECT topic_id FROM topics.topic_list WHERE name = 'fe.trimmed');
SELECT * FROM topics.partition_offsets('fe.trimmed', 0);
SELECT topics.earliest_offset('fe.trimmed', 0), topics.latest_offset('fe.trimmed', 0);
SELECT * FROM topics.produce('fe.trimmed', 'first', ts => '2024-05-01 00:00:00+00');
SELECT "offset", value FROM topics.fetch('fe.trimmed', 0, 10);
SELECT * FROM topics.fetch('fe.trimmed', 0, 9);
:state
SELECT * FROM topics.fetch('fe.trimmed', 0, 0);
SELECT topics.offset_for_time('fe.trimmed', 0, '2000-01-01');

------------------------------------------------------------------------------
-- Bad arguments
------------------------------------------------------------------------------

SELECT * FROM topics.fetch('fe.small', 0, -1);
:state
SELECT * FROM topics.fetch('fe.small', 0, 0, 0);
:state
SELECT * FROM topics.fetch('fe.small', 0, 0, -5);
SELECT * FROM topics.fetch('fe.small', 0, 0, 1000001);
SELECT * FROM topics.fetch('fe.small', 0, 0, max_bytes => 0);
:state
SELECT * FROM topics.fetch('fe.small', 0, 0, max_bytes => -1);
SELECT * FROM topics.fetch('fe.small', 0, 0, wait => '-1 ms');
:state
SELECT * FROM topics.fetch('fe.small', 0, 0, wait => '-1 day');
SELECT * FROM topics.fetch('fe.small', 0, 0, wait => '24:00:00.001');
:state
SELECT * FROM topics.fetch('fe.small', 0, 0, wait => '1 mon');
-- NULL arguments
SELECT * FROM topics.fetch(NULL, 0, 0);
:state
SELECT * FROM topics.fetch('fe.small', NULL, 0);
SELECT * FROM topics.fetch('fe.small', 0, NULL);
SELECT * FROM topics.fetch('fe.small', 0, 0, NULL);
SELECT * FROM topics.fetch('fe.small', 0, 0, 1, NULL);
SELECT * FROM topics.fetch('fe.small', 0, 0, 1, 1, NULL);
-- unknown topics and partitions
SELECT * FROM topics.fetch('fe.nope', 0, 0);
:state
SELECT * FROM topics.fetch('FE.SMALL', 0, 0);
SELECT * FROM topics.fetch('fe.small', 2, 0);
:state
SELECT * FROM topics.fetch('fe.small', -1, 0);
-- the same for the offset look-ups
SELECT topics.earliest_offset(NULL, 0);
SELECT topics.earliest_offset('fe.small', NULL);
SELECT topics.earliest_offset('fe.nope', 0);
SELECT topics.earliest_offset('fe.small', 2);
SELECT topics.latest_offset(NULL, 0);
SELECT topics.latest_offset('fe.small', NULL);
SELECT topics.latest_offset('fe.nope', 0);
SELECT topics.latest_offset('fe.small', -1);
SELECT * FROM topics.partition_offsets(NULL, 0);
SELECT * FROM topics.partition_offsets('fe.small', NULL);
SELECT * FROM topics.partition_offsets('fe.nope', 0);
SELECT * FROM topics.partition_offsets('fe.small', 2);
SELECT topics.offset_for_time(NULL, 0, now());
SELECT topics.offset_for_time('fe.small', NULL, now());
SELECT topics.offset_for_time('fe.small', 0, NULL);
:state
SELECT topics.offset_for_time('fe.nope', 0, now());
SELECT topics.offset_for_time('fe.small', 2, now());

------------------------------------------------------------------------------
-- wait
------------------------------------------------------------------------------

-- on an empty partition, a short wait ends with nothing, after the wait
SELECT clock_timestamp() AS started \gset
SELECT count(*) FROM topics.fetch('fe.small', 1, 0, wait => '200 ms');
SELECT clock_timestamp() - :'started' >= interval '200 ms' AS waited;
-- at the end of a partition with records, the same
SELECT clock_timestamp() AS started \gset
SELECT count(*) FROM topics.fetch('fe.small', 0, 6, wait => '100 ms');
SELECT clock_timestamp() - :'started' >= interval '100 ms' AS waited;
-- with records to return, no waiting
SELECT clock_timestamp() AS started \gset
SELECT count(*) FROM topics.fetch('fe.small', 0, 0, wait => '1 min');
SELECT clock_timestamp() - :'started' < interval '30 s' AS returned_at_once;
-- the longest wait is accepted (and not waited for: there are records)
SELECT count(*) FROM topics.fetch('fe.small', 0, 5, wait => '24 hours');
-- out-of-range offsets are refused before any wait
SELECT * FROM topics.fetch('fe.small', 0, 8, wait => '1 min');
-- a wait cannot see records of the fetching transaction itself: they are
-- not committed
BEGIN;
SELECT "offset" FROM topics.produce('fe.small', 'mine', partition => 1);
SELECT count(*) FROM topics.fetch('fe.small', 1, 0, wait => '100 ms');
COMMIT;
SELECT "offset", value FROM topics.fetch('fe.small', 1, 0);

------------------------------------------------------------------------------
-- Many batches: 500 records of 100 bytes span several batch rows
------------------------------------------------------------------------------

SELECT topics.create_topic('fe.big');
SELECT topic_id AS big_id FROM topics.topic_list WHERE name = 'fe.big' \gset
SELECT count(*) FROM topics.produce_batch('fe.big',
    array(SELECT convert_to(lpad(g::text, 100, '.'), 'UTF8') FROM generate_series(0, 499) g),
    ts => '2024-06-01 00:00:00+00');
-- the records were stored as several batches, which cover the offsets
-- without gaps or overlaps
SELECT count(*) > 1 AS several_batches, sum(record_count) AS records,
       min(base_offset) AS first, max(last_offset) AS last,
       bool_and(base_offset = coalesce(prev_last + 1, 0)) AS contiguous,
       bool_and(octet_length(batch) <= 8160) AS fit_a_page
FROM (SELECT *, lag(last_offset) OVER (ORDER BY base_offset) AS prev_last
      FROM topics.topic_:big_id) AS b;
-- one fetch gets them all, in order, without gaps
SELECT count(*), min("offset"), max("offset"),
       count(*) FILTER (WHERE "offset" <> coalesce(prev + 1, 0)) AS not_contiguous,
       count(*) FILTER (WHERE convert_from(value, 'UTF8') <> lpad("offset"::text, 100, '.'))
           AS wrong_value
FROM (SELECT *, lag("offset") OVER (ORDER BY "offset") AS prev
      FROM topics.fetch('fe.big', 0, 0, 1000)) AS f;
-- the default max_records is 500
SELECT count(*), max("offset") FROM topics.fetch('fe.big', 0, 0);
-- a fetch that starts in the middle of a batch and ends in another
SELECT count(*), min("offset"), max("offset") FROM topics.fetch('fe.big', 0, 100, 150);
-- fetches that start at, before and after each batch boundary
SELECT bool_and(f.first = b.from_offset AND f.n = least(3, 500 - b.from_offset))
           AS boundaries_ok, count(*) AS fetches
FROM (SELECT o AS from_offset
      FROM topics.topic_:big_id, LATERAL (VALUES (base_offset - 1), (base_offset),
                                                  (last_offset), (last_offset + 1)) AS v(o)
      WHERE o BETWEEN 0 AND 499) AS b,
     LATERAL (SELECT min("offset") AS first, count(*) AS n
              FROM topics.fetch('fe.big', 0, b.from_offset, 3)) AS f;
-- max_bytes: 100-byte values, the record that reaches the limit is the last
SELECT count(*), sum(octet_length(value)) FROM topics.fetch('fe.big', 0, 0, max_bytes => 1000);
SELECT count(*), sum(octet_length(value)) FROM topics.fetch('fe.big', 0, 0, max_bytes => 1001);
SELECT count(*) FROM topics.fetch('fe.big', 0, 0, 1000, max_bytes => 1048576);
-- a consumer loop over pages of several sizes gets every record once
SELECT * FROM pg_temp.page_through('fe.big', 0, 7);
SELECT * FROM pg_temp.page_through('fe.big', 0, 75);
SELECT * FROM pg_temp.page_through('fe.big', 0, 500);

------------------------------------------------------------------------------
-- Offsets for times
------------------------------------------------------------------------------

SELECT topics.create_topic('fe.time', 2);
SELECT count(*) FROM topics.produce_batch('fe.time', array_fill('a'::bytea, ARRAY[3]),
                                          partition => 0,
                                          ts => '2024-01-01 10:00:00+00');
SELECT count(*) FROM topics.produce_batch('fe.time', array_fill('b'::bytea, ARRAY[3]),
                                          partition => 0,
                                          ts => '2024-01-01 12:00:00+00');
-- timestamps need not grow with offsets
SELECT count(*) FROM topics.produce_batch('fe.time', array_fill('c'::bytea, ARRAY[3]),
                                          partition => 0,
                                          ts => '2024-01-01 11:00:00+00');
-- and many batches later
SELECT count(*) FROM topics.produce_batch('fe.time',
    array(SELECT convert_to(lpad(g::text, 100, '.'), 'UTF8') FROM generate_series(1, 300) g),
    partition => 0, ts => '2024-01-01 13:00:00+00');
SELECT * FROM topics.produce('fe.time', 'last', partition => 0, ts => '2024-01-01 14:00:00+00');
SELECT t, topics.offset_for_time('fe.time', 0, t::timestamptz)
FROM (VALUES ('-infinity'), ('2023-12-31 00:00:00+00'), ('2024-01-01 10:00:00+00'),
             ('2024-01-01 10:00:00.000001+00'), ('2024-01-01 11:00:00+00'),
             ('2024-01-01 11:30:00+00'), ('2024-01-01 12:00:00+00'),
             ('2024-01-01 12:00:01+00'), ('2024-01-01 13:00:00+00'),
             ('2024-01-01 13:30:00+00'), ('2024-01-01 14:00:00+00'),
             ('2024-01-01 14:00:00.000001+00'), ('infinity')) AS v(t);
-- an empty partition has no offset for any time; a trimmed one starts at its
-- log start offset
SELECT topics.offset_for_time('fe.time', 1, '-infinity') AS empty,
       topics.offset_for_time('fe.trimmed', 0, '-infinity') AS trimmed;
-- records not yet committed have no offset for their time
BEGIN;
SELECT "offset" FROM topics.produce('fe.time', 'late', partition => 0,
                                    ts => '2024-01-01 15:00:00+00');
SELECT topics.offset_for_time('fe.time', 0, '2024-01-01 14:30:00+00');
COMMIT;
SELECT topics.offset_for_time('fe.time', 0, '2024-01-01 14:30:00+00');

------------------------------------------------------------------------------
-- Concurrent transactions: interleaved offsets, the last stable offset
------------------------------------------------------------------------------

SELECT dblink_connect('other',
    format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
           split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', $$SET TimeZone = 'UTC'$$);
SELECT topics.create_topic('fe.mixed');

-- two transactions take offsets in turn; the second commits first
BEGIN;
SELECT * FROM topics.produce('fe.mixed', 'A1', ts => '2024-07-01 00:00:00+00');
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('fe.mixed', 'B1',
                                ts => '2024-07-01 00:00:01+00')$$) AS t(p int, o bigint);
SELECT * FROM topics.produce('fe.mixed', 'A2', ts => '2024-07-01 00:00:02+00');
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('fe.mixed', 'B2',
                                ts => '2024-07-01 00:00:03+00')$$) AS t(p int, o bigint);
-- a third one takes an offset and rolls back
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('fe.mixed', 'B3',
                                ts => '2024-07-01 00:00:04+00')$$) AS t(p int, o bigint);
SELECT dblink_exec('other', 'COMMIT');
-- B committed, but A (offset 0) is still in flight: nothing is stable yet,
-- neither here nor in the other session
SELECT * FROM topics.partition_offsets('fe.mixed', 0);
SELECT count(*) FROM topics.fetch('fe.mixed', 0, 0);
SELECT * FROM dblink('other', $$SELECT * FROM topics.partition_offsets('fe.mixed', 0)$$)
    AS t(log_start bigint, hw bigint, lso bigint);
SELECT * FROM dblink('other', $$SELECT count(*) FROM topics.fetch('fe.mixed', 0, 0)$$)
    AS t(n bigint);
-- from an offset between the stable offset and the high watermark: empty, no error
SELECT * FROM dblink('other', $$SELECT count(*) FROM topics.fetch('fe.mixed', 0, 3)$$)
    AS t(n bigint);
COMMIT;
-- now all of A and B are there, interleaved in offset order
SELECT "offset", convert_from(value, 'UTF8') AS value, ts FROM topics.fetch('fe.mixed', 0, 0);
SELECT * FROM topics.partition_offsets('fe.mixed', 0);

-- an aborted transaction among committed ones leaves a gap, and does not
-- hold back the stable offset once it has ended
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('fe.mixed', 'aborted')$$)
    AS t(p int, o bigint);
SELECT * FROM topics.produce('fe.mixed', 'C1', ts => '2024-07-01 00:00:05+00');
SELECT topics.latest_offset('fe.mixed', 0);
SELECT dblink_exec('other', 'ROLLBACK');
SELECT topics.latest_offset('fe.mixed', 0);
SELECT "offset", convert_from(value, 'UTF8') AS value FROM topics.fetch('fe.mixed', 0, 3);

-- a fetch reads with a fresh snapshot, also in REPEATABLE READ: records
-- committed after the transaction started are returned
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM topics.fetch('fe.mixed', 0, 0);
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('fe.mixed', 'D1')$$)
    AS t(p int, o bigint);
SELECT "offset", convert_from(value, 'UTF8') AS value FROM topics.fetch('fe.mixed', 0, 6);
SELECT topics.latest_offset('fe.mixed', 0);
COMMIT;

-- many committed transactions from two sessions at once, one record each:
-- every offset is there exactly once, in order
SELECT dblink_send_query('other', $q$DO $$ BEGIN
    FOR i IN 1..200 LOOP
        PERFORM topics.produce('fe.mixed', 'other ' || i);
        COMMIT;
    END LOOP; END $$$q$);
DO $$ BEGIN
    FOR i IN 1..200 LOOP
        PERFORM topics.produce('fe.mixed', 'this ' || i);
        COMMIT;
    END LOOP;
END $$;
SELECT * FROM dblink_get_result('other') AS t(status text);
SELECT * FROM dblink_get_result('other') AS t(status text);
SELECT count(*), min("offset"), max("offset"),
       count(DISTINCT "offset") AS distinct_offsets,
       count(*) FILTER (WHERE convert_from(value, 'UTF8') LIKE 'other %') AS from_other,
       count(*) FILTER (WHERE convert_from(value, 'UTF8') LIKE 'this %') AS from_this
FROM topics.fetch('fe.mixed', 0, 7);
SELECT * FROM topics.partition_offsets('fe.mixed', 0);

SELECT dblink_disconnect('other');

-- clean up
SELECT topics.drop_topic(name) FROM topics.topic_list WHERE name LIKE 'fe.%'
ORDER BY name COLLATE "C";
DROP EXTENSION dblink;
