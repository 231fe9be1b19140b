-- behaviour: what goes in comes out, byte for byte (values, keys, headers,
-- empty and NULL, a record at the size limit); records are visible only once
-- their transaction commits; keyed records go where Kafka puts them, also
-- after partitions are added; keyless records spread over partitions across
-- transactions and stick to one within a transaction.
--
-- Runs outside a transaction: several tests commit (DO blocks with COMMIT
-- make many small transactions).  Each test file gets a fresh database.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Every record of a partition.
CREATE FUNCTION pg_temp.records(topic text, part integer DEFAULT 0)
RETURNS SETOF topics.record
LANGUAGE sql AS $$
    SELECT * FROM topics.fetch(topic, part, topics.earliest_offset(topic, part), 1000000,
                               2147483647)
$$;
-- Records per partition of a topic, as an array indexed from partition 0.
CREATE FUNCTION pg_temp.per_partition(topic text) RETURNS bigint[]
LANGUAGE sql AS $$
    SELECT array_agg(high_watermark ORDER BY partition)
    FROM topics.partition_list WHERE partition_list.topic = per_partition.topic
$$;
-- n bytes that do not compress: md5 digests of successive numbers.
CREATE FUNCTION pg_temp.noise(n integer, seed integer DEFAULT 0) RETURNS bytea
LANGUAGE sql AS $$
    SELECT substring(string_agg(decode(md5((seed * 1000003 + g)::text), 'hex'), ''
                                ORDER BY g) FROM 1 FOR n)
    FROM generate_series(0, n / 16) AS g
$$;

CREATE TEMP TABLE produced (label text PRIMARY KEY, part integer, off bigint);

DO $$
BEGIN
    PERFORM topics.create_topic('tap.rt');
    PERFORM topics.create_topic('tap.big');
    PERFORM topics.create_topic('tap.tx', 2);
    PERFORM topics.create_topic('tap.tx2');
    PERFORM topics.create_topic('tap.keys', 4);
    PERFORM topics.create_topic('tap.spread', 4);
    PERFORM topics.create_topic('tap.sticky', 4);
END
$$;

SELECT plan(50);

------------------------------------------------------------------------------
-- Round trips
------------------------------------------------------------------------------

-- every byte value, in value and key
INSERT INTO produced
SELECT 'all bytes', partition, "offset"
FROM topics.produce('tap.rt',
                    (SELECT string_agg(set_byte('\x00'::bytea, 0, b), '' ORDER BY b)
                     FROM generate_series(0, 255) b),
                    (SELECT string_agg(set_byte('\x00'::bytea, 0, b), '' ORDER BY b DESC)
                     FROM generate_series(0, 255) b),
                    '{"ü": "line\nbreak\ttab \"quoted\"", "n": [1, 2.5, null, true, {"x": {}}]}',
                    ts => '2001-02-03 04:05:06.789012+00');
SELECT results_eq(
    $$SELECT "offset", key, value, headers, ts FROM pg_temp.records('tap.rt')
      WHERE "offset" = (SELECT off FROM produced WHERE label = 'all bytes')$$,
    $$SELECT off, (SELECT string_agg(set_byte('\x00'::bytea, 0, b), '' ORDER BY b DESC)
                   FROM generate_series(0, 255) b),
             (SELECT string_agg(set_byte('\x00'::bytea, 0, b), '' ORDER BY b)
              FROM generate_series(0, 255) b),
             '{"ü": "line\nbreak\ttab \"quoted\"", "n": [1, 2.5, null, true, {"x": {}}]}'::jsonb,
             '2001-02-03 04:05:06.789012+00'::timestamptz
      FROM produced WHERE label = 'all bytes'$$,
    'all 256 byte values in value and key, headers and ts come back exactly');

-- empty, NULL, and the text and jsonb overloads
INSERT INTO produced
SELECT 'empty', partition, "offset" FROM topics.produce('tap.rt', ''::bytea, ''::bytea, '{}');
INSERT INTO produced
SELECT 'nulls', partition, "offset" FROM topics.produce('tap.rt', NULL::bytea, NULL::bytea, NULL);
INSERT INTO produced
SELECT 'text', partition, "offset" FROM topics.produce('tap.rt', 'héllo wörld ✓'::text, 'ключ');
INSERT INTO produced
SELECT 'jsonb', partition, "offset"
FROM topics.produce('tap.rt', '{"b": 1, "a": [true, "ü"]}'::jsonb, 'j');

SELECT is((SELECT ROW(key, value, headers)::text FROM pg_temp.records('tap.rt') r
           JOIN produced p ON p.off = r."offset" WHERE p.label = 'empty'),
          ROW(''::bytea, ''::bytea, '{}'::jsonb)::text,
          'empty key and value stay empty (not NULL)');
SELECT ok((SELECT key IS NULL AND value IS NULL AND headers IS NULL
           FROM pg_temp.records('tap.rt') r
           JOIN produced p ON p.off = r."offset" WHERE p.label = 'nulls'),
          'NULL key, value (a tombstone) and headers stay NULL');
SELECT is((SELECT ROW(key, value)::text FROM pg_temp.records('tap.rt') r
           JOIN produced p ON p.off = r."offset" WHERE p.label = 'text'),
          ROW(convert_to('ключ', 'UTF8'), convert_to('héllo wörld ✓', 'UTF8'))::text,
          'text key and value are stored as their UTF-8 bytes');
SELECT is((SELECT convert_from(value, 'UTF8')::jsonb FROM pg_temp.records('tap.rt') r
           JOIN produced p ON p.off = r."offset" WHERE p.label = 'jsonb'),
          '{"b": 1, "a": [true, "ü"]}'::jsonb,
          'a jsonb value comes back as the same JSON');
SELECT is((SELECT array_agg("offset" ORDER BY "offset") FROM pg_temp.records('tap.rt')),
          (SELECT array_agg(off ORDER BY off) FROM produced),
          'fetch returns exactly the offsets produce returned');
SELECT ok((SELECT bool_and(topic = 'tap.rt' AND partition = 0) FROM pg_temp.records('tap.rt')),
          'fetched records name their topic and partition');

-- the size limit (1 MiB by default): key, value and headers count
SELECT is((SELECT max_message_bytes FROM topics.topic_list WHERE name = 'tap.big'), 1048576,
          'the default max_message_bytes is 1 MiB');
SELECT lives_ok($$INSERT INTO produced SELECT 'mib', partition, "offset"
                  FROM topics.produce('tap.big', pg_temp.noise(1048576, 1))$$,
                'a 1 MiB value is accepted');
SELECT lives_ok($$INSERT INTO produced SELECT 'mib with key', partition, "offset"
                  FROM topics.produce('tap.big', pg_temp.noise(1048575, 2), 'k'::bytea)$$,
                'a 1 MiB key and value together are accepted');
SELECT lives_ok($$INSERT INTO produced SELECT 'mib with headers', partition, "offset"
                  FROM topics.produce('tap.big', pg_temp.noise(1048576 - 8, 3), NULL,
                                      '{"a": 1}')$$,
                'a 1 MiB value and headers (as JSON text) together are accepted');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.big', pg_temp.noise(1048577, 4))$$,
                 '54000', NULL, 'one byte more in the value is refused');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.big', pg_temp.noise(1048576, 5), 'k'::bytea)$$,
                 '54000', NULL, 'one byte more in the key is refused');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.big', pg_temp.noise(1048576 - 8, 6), NULL,
                                                '{"ab": 1}')$$,
                 '54000', NULL, 'one byte more in the headers is refused');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('tap.big',
                      ARRAY['small'::bytea, pg_temp.noise(1048577, 7)])$$,
                 '54000', NULL, 'produce_batch refuses the same record');
SELECT results_eq(
    $$SELECT md5(value), md5(key), octet_length(value) FROM pg_temp.records('tap.big')
      ORDER BY "offset"$$,
    $$VALUES (md5(pg_temp.noise(1048576, 1)), NULL::text, 1048576),
             (md5(pg_temp.noise(1048575, 2)), md5('k'::bytea), 1048575),
             (md5(pg_temp.noise(1048576 - 8, 3)), NULL::text, 1048568)$$,
    'the big records come back byte for byte, and only the accepted ones');
SELECT is((SELECT count(*) FROM topics.fetch('tap.big', 0, 0, max_bytes => 1)), 1::bigint,
          'a fetch returns a record bigger than max_bytes when it is the first');
SELECT is((SELECT count(*) FROM topics.fetch('tap.big', 0, 0, max_bytes => 1048576)), 1::bigint,
          'max_bytes of 1 MiB stops after the first 1 MiB record');
SELECT is((SELECT count(*) FROM topics.fetch('tap.big', 0, 0, max_bytes => 1048577)), 2::bigint,
          'max_bytes one byte more lets the next record through too');

------------------------------------------------------------------------------
-- Visibility: records appear when their transaction commits
------------------------------------------------------------------------------

BEGIN;
SELECT is((SELECT count(*) FROM topics.produce_batch('tap.tx', ARRAY['a', 'b', 'c']::bytea[],
                                                     partition => 0)), 3::bigint,
          'three records produced in a transaction');
SELECT is((SELECT count(*) FROM topics.fetch('tap.tx', 0, 0)), 0::bigint,
          'the transaction does not fetch its own records');
SELECT is(topics.latest_offset('tap.tx', 0), 0::bigint,
          'the stable offset stays below them');
SELECT is((SELECT high_watermark FROM topics.partition_offsets('tap.tx', 0)), 0::bigint,
          'the high watermark stays at the committed end too');
SELECT is((SELECT count(*) FROM topics.fetch('tap.tx', 0, 0, wait => '50 ms')), 0::bigint,
          'waiting does not make them visible');
SELECT is(topics.offset_for_time('tap.tx', 0, '-infinity'), NULL,
          'offset_for_time does not see them');
DO $$ BEGIN PERFORM topics.produce('tap.tx2', 'other topic'); END $$;
COMMIT;
SELECT is(ARRAY(SELECT convert_from(value, 'UTF8') FROM topics.fetch('tap.tx', 0, 0)),
          ARRAY['a', 'b', 'c'], 'after COMMIT they are fetched, in order');
SELECT is((SELECT count(*) FROM topics.fetch('tap.tx2', 0, 0)), 1::bigint,
          'and so is what the transaction produced to another topic');

-- a rolled-back transaction: never visible, its offsets are a gap
BEGIN;
DO $$ BEGIN
    PERFORM topics.produce('tap.tx', 'rolled back', partition => 0);
    PERFORM topics.produce('tap.tx2', 'rolled back');
END $$;
ROLLBACK;
DO $$ BEGIN PERFORM topics.produce('tap.tx', 'd', partition => 0); END $$;
SELECT is(ARRAY(SELECT "offset" FROM topics.fetch('tap.tx', 0, 0)), ARRAY[0, 1, 2, 4]::bigint[],
          'a rolled-back record is never fetched; its offset stays unused');
SELECT is((SELECT count(*) FROM topics.fetch('tap.tx2', 0, 0)), 1::bigint,
          'in every topic the transaction touched');
SELECT is(topics.latest_offset('tap.tx', 0), 5::bigint,
          'the rolled-back transaction does not hold back the stable offset');

-- a record's default timestamp is its transaction's start
BEGIN;
SELECT now() AS tx_start \gset
DO $$ BEGIN PERFORM topics.produce('tap.tx', 'stamped', partition => 1); END $$;
COMMIT;
SELECT is((SELECT ts FROM topics.fetch('tap.tx', 1, 0)), :'tx_start'::timestamptz,
          'a record without ts gets the start time of its transaction');

------------------------------------------------------------------------------
-- Keys
------------------------------------------------------------------------------

-- the same key lands in the same partition in every transaction; with four
-- partitions Kafka puts 'user-3' in 3, 'k1' in 1, 'abc' in 3, 'foobar' in 2
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM topics.produce('tap.keys', 'v' || i, 'user-3');
        COMMIT;
    END LOOP;
END
$$;
SELECT is(pg_temp.per_partition('tap.keys'), ARRAY[0, 0, 0, 20]::bigint[],
          'twenty transactions with one key all went to its partition');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'k1')), 1,
          'k1 goes to partition 1 of 4');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'abc')), 3,
          'abc goes to partition 3 of 4');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v'::bytea, 'foobar'::bytea)), 2,
          'foobar goes to partition 2 of 4');
SELECT is((SELECT array_agg(DISTINCT partition)
           FROM topics.produce_batch('tap.keys', array_fill('v'::bytea, ARRAY[10]),
                                     array_fill('user-3'::bytea, ARRAY[10]))),
          ARRAY[3], 'produce_batch puts a key where produce does');

-- adding partitions: keys hash over the new count at once ('abc': 4 of 7,
-- 'k1': 0 of 7 and 8 of 9)
SELECT lives_ok($$SELECT topics.alter_topic('tap.keys', 7)$$, 'partitions grow from 4 to 7');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'abc')), 4,
          'abc now goes to partition 4 of 7');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'k1')), 0,
          'k1 now goes to partition 0 of 7');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'user-3', partition => 6)), 6,
          'an explicit partition can name a new partition');
SELECT is((SELECT count(*) FROM topics.fetch('tap.keys', 6, 0)), 1::bigint,
          'and its record is fetched from there');
-- in the same transaction as the change too
BEGIN;
SELECT lives_ok($$SELECT topics.alter_topic('tap.keys', 9)$$, 'partitions grow to 9');
SELECT is((SELECT partition FROM topics.produce('tap.keys', 'v', 'k1')), 8,
          'k1 goes to partition 8 of 9 in the transaction that grew the topic');
COMMIT;

------------------------------------------------------------------------------
-- Keyless records
------------------------------------------------------------------------------

-- one record per transaction, 200 transactions: every partition gets some
-- (a partition missing by chance: 4 * (3/4)^200, about 1e-25)
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        PERFORM topics.produce('tap.spread', 'v' || i);
        COMMIT;
    END LOOP;
END
$$;
SELECT is((SELECT sum(n) FROM unnest(pg_temp.per_partition('tap.spread')) AS n), 200::numeric,
          '200 keyless records were stored');
SELECT ok((SELECT bool_and(n > 0) FROM unnest(pg_temp.per_partition('tap.spread')) AS n),
          'keyless records of separate transactions reach every partition');

-- within one transaction, small records stick to one partition ...
BEGIN;
CREATE TEMP TABLE sticky_small AS
SELECT * FROM topics.produce_batch('tap.sticky', array_fill('x'::bytea, ARRAY[10]));
INSERT INTO sticky_small SELECT * FROM topics.produce('tap.sticky', 'y');
INSERT INTO sticky_small SELECT * FROM topics.produce('tap.sticky', 'z'::bytea);
COMMIT;
SELECT is((SELECT count(DISTINCT partition) FROM sticky_small), 1::bigint,
          'keyless records of one transaction stick to one partition');
-- ... until its batch is full: then the next partition takes a run of them
-- (200 records of 100 bytes fill about three batches of 8 KB: no wrap-around)
BEGIN;
CREATE TEMP TABLE sticky_big AS
SELECT row_number() OVER () AS n, *
FROM topics.produce_batch('tap.sticky',
    array(SELECT convert_to(lpad(g::text, 100, '.'), 'UTF8') FROM generate_series(1, 200) g));
COMMIT;
SELECT ok((SELECT count(DISTINCT partition) > 1 FROM sticky_big),
          '200 records of 100 bytes in one transaction fill batches in several partitions');
SELECT is((SELECT count(*) FROM (SELECT partition, lag(partition) OVER (ORDER BY n) AS prev
                                 FROM sticky_big) s WHERE partition <> prev),
          (SELECT count(DISTINCT partition) - 1 FROM sticky_big),
          'each partition got one run of consecutive records');

------------------------------------------------------------------------------
-- A dropped and re-created topic starts afresh
------------------------------------------------------------------------------

DO $$ BEGIN
    PERFORM topics.drop_topic('tap.tx2');
    PERFORM topics.create_topic('tap.tx2');
    PERFORM topics.produce('tap.tx2', 'new');
END $$;
SELECT is(ARRAY(SELECT ROW("offset", convert_from(value, 'UTF8'))::text
                FROM topics.fetch('tap.tx2', 0, 0)),
          ARRAY[ROW(0::bigint, 'new')::text],
          'a re-created topic has none of the old records and starts at offset 0');

-- dropping a topic in the transaction that produced to it: the drop is
-- either refused or it wins, but COMMIT must not fail with an internal error
DO $$ BEGIN PERFORM topics.create_topic('tap.dropped'); END $$;
BEGIN;
DO $$ BEGIN PERFORM topics.produce('tap.dropped', 'buffered', partition => 0); END $$;
SAVEPOINT before_drop;
\set ON_ERROR_STOP 0
DO $$ BEGIN PERFORM topics.drop_topic('tap.dropped'); END $$;
\if :ERROR
ROLLBACK TO SAVEPOINT before_drop;
\endif
COMMIT;
\set commit_state :SQLSTATE
\set ON_ERROR_STOP 1
SELECT is(:'commit_state'::text, '00000',
          'produce then drop_topic in one transaction: COMMIT succeeds (the drop won or was refused)');

SELECT * FROM finish();
