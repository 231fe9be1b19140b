--
-- produce: the three produce overloads and produce_batch; where records go
-- (Kafka's murmur2 for keys, explicit partitions); what is stored (values,
-- keys, tombstones, headers, timestamps); the message size limit; and what
-- transactions do to produced records (savepoints, aborts, read-only,
-- PREPARE TRANSACTION).
--
-- Keyless records go to a random partition: where that matters, topics here
-- have one partition, or the partition is not printed.  Timestamps are given
-- (ts => ...) wherever they are printed.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
\set SHOW_CONTEXT never
-- :state prints the SQLSTATE of the statement before it.
\set state '\\echo SQLSTATE :SQLSTATE'

-- Every record of a partition, as fetch returns it, with text shown as text.
CREATE FUNCTION pg_temp.records(topic text, part integer DEFAULT 0)
RETURNS TABLE ("offset" bigint, ts timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql AS $$
    SELECT "offset", ts, key, value, headers
    FROM topics.fetch(topic, part, topics.earliest_offset(topic, part), 1000000)
$$;

SELECT topics.create_topic('pr.one');

------------------------------------------------------------------------------
-- The overloads
------------------------------------------------------------------------------

-- bytea value and key: stored as given
SELECT * FROM topics.produce('pr.one', '\x00ff0a'::bytea, '\x01'::bytea,
                             ts => '2024-01-01 00:00:00+00');
-- text value and key: stored as their UTF-8 bytes
SELECT * FROM topics.produce('pr.one', 'héllo'::text, 'kéy'::text,
                             ts => '2024-01-01 00:00:01+00');
-- an untyped literal is text
SELECT * FROM topics.produce('pr.one', 'plain', 'k', ts => '2024-01-01 00:00:02+00');
-- jsonb value: stored as its JSON text (jsonb's normal form); the key is text
SELECT * FROM topics.produce('pr.one', '{"b": [1, 2], "a": null}'::jsonb, 'j',
                             ts => '2024-01-01 00:00:03+00');
SELECT * FROM topics.produce('pr.one', '"just a string"'::jsonb,
                             ts => '2024-01-01 00:00:04+00');
SELECT "offset", ts, key, value,
       CASE WHEN "offset" > 0 THEN convert_from(value, 'UTF8') END AS value_text
FROM pg_temp.records('pr.one');

-- NULL value: a tombstone, in every overload; NULL key: no key
SELECT * FROM topics.produce('pr.one', NULL::bytea, 'gone'::bytea, ts => '2024-01-02 00:00:00+00');
SELECT * FROM topics.produce('pr.one', NULL::text, 'gone', ts => '2024-01-02 00:00:01+00');
SELECT * FROM topics.produce('pr.one', NULL::jsonb, 'gone', ts => '2024-01-02 00:00:02+00');
SELECT * FROM topics.produce('pr.one', NULL::bytea, ts => '2024-01-02 00:00:03+00');
-- empty value and empty key are not NULL
SELECT * FROM topics.produce('pr.one', ''::bytea, ''::bytea, ts => '2024-01-02 00:00:04+00');
SELECT "offset", key, key IS NULL AS no_key, value, value IS NULL AS tombstone
FROM pg_temp.records('pr.one') WHERE "offset" >= 5;

-- headers: any JSON, returned as given (as jsonb)
SELECT * FROM topics.produce('pr.one', 'h1', headers => '{"trace": "abc", "n": 1}',
                             ts => '2024-01-03 00:00:00+00');
SELECT * FROM topics.produce('pr.one', 'h2', headers => '[{"k": "v"}, {"k": "w"}]',
                             ts => '2024-01-03 00:00:00+00');
SELECT * FROM topics.produce('pr.one', 'h3', headers => '{}', ts => '2024-01-03 00:00:00+00');
SELECT * FROM topics.produce('pr.one', 'h4', headers => NULL, ts => '2024-01-03 00:00:00+00');
SELECT "offset", convert_from(value, 'UTF8') AS value, headers, headers IS NULL AS no_headers
FROM pg_temp.records('pr.one') WHERE "offset" >= 10;

-- timestamps: given ones are kept to the microsecond, in any order, also
-- before 1970; without one a record gets its transaction's start time
SELECT * FROM topics.produce('pr.one', 't1', ts => '2030-06-01 12:34:56.789012+02');
SELECT * FROM topics.produce('pr.one', 't2', ts => '1969-12-31 23:59:59.999999+00');
SELECT * FROM topics.produce('pr.one', 't3', ts => '2000-01-01 00:00:00+00');
SELECT "offset", ts FROM pg_temp.records('pr.one') WHERE "offset" >= 14;
BEGIN;
SELECT * FROM topics.produce('pr.one', 't4');
SELECT * FROM topics.produce('pr.one', 't5');
SELECT now() AS produced_at \gset
COMMIT;
SELECT "offset", ts = :'produced_at' AS ts_is_xact_start
FROM pg_temp.records('pr.one') WHERE "offset" >= 17;

-- record timestamps must be finite
SELECT * FROM topics.produce('pr.one', 'x', ts => 'infinity');
:state
SELECT * FROM topics.produce('pr.one', 'x', ts => '-infinity');

------------------------------------------------------------------------------
-- Where records go
------------------------------------------------------------------------------

-- Keys go where Kafka's default partitioner puts them: murmur2 of the key
-- bytes, sign bit masked, modulo the partition count.  The hashes are the
-- test vectors of Kafka's own UtilsTest.testMurmur2; the expected partition
-- is (hash & 0x7fffffff) % 1000, worked out by hand:
--   '21'                          -973932308 -> 340
--   'foobar'                      -790332482 -> 166
--   'a-little-bit-long-string'    -985981536 -> 112
--   'a-little-bit-longer-string' -1486304829 -> 819
--   'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'
--                                   -58897971 -> 677
--   'abc'                          479470107 -> 107
-- and for keys whose bytes have the high bit set (hashed as unsigned bytes,
-- Java's "& 0xff"), empty keys, and multi-byte UTF-8 text:
--   '\xfffefd'                                ->  92
--   '\x8081828384'                            -> 209
--   ''                              275646681 -> 681
--   'ключ' (UTF-8 bytes)                      ->  24
SELECT topics.create_topic('pr.k1000', 1000);
SELECT partition, partition = 340 AS kafka FROM topics.produce('pr.k1000', 'v', '21');
SELECT partition, partition = 166 AS kafka FROM topics.produce('pr.k1000', 'v', 'foobar');
SELECT partition, partition = 112 AS kafka
FROM topics.produce('pr.k1000', 'v', 'a-little-bit-long-string');
SELECT partition, partition = 819 AS kafka
FROM topics.produce('pr.k1000', 'v', 'a-little-bit-longer-string');
SELECT partition, partition = 677 AS kafka
FROM topics.produce('pr.k1000', 'v', 'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8');
SELECT partition, partition = 107 AS kafka FROM topics.produce('pr.k1000', 'v', 'abc');
SELECT partition, partition = 92 AS kafka
FROM topics.produce('pr.k1000', 'v'::bytea, '\xfffefd'::bytea);
SELECT partition, partition = 209 AS kafka
FROM topics.produce('pr.k1000', 'v'::bytea, '\x8081828384'::bytea);
SELECT partition, partition = 681 AS kafka FROM topics.produce('pr.k1000', 'v'::bytea, ''::bytea);
SELECT partition, partition = 24 AS kafka FROM topics.produce('pr.k1000', 'v', 'ключ');
-- the same key bytes go to the same partition whatever the overload and value
SELECT partition FROM topics.produce('pr.k1000', '{"x": 1}'::jsonb, 'foobar');
SELECT partition FROM topics.produce('pr.k1000', 'other'::bytea, 'foobar'::bytea);
SELECT partition FROM topics.produce('pr.k1000', NULL::bytea, 'foobar'::bytea);
-- offsets count per partition
SELECT "offset", key, value FROM pg_temp.records('pr.k1000', 166);

-- an explicit partition wins over the key
SELECT * FROM topics.produce('pr.k1000', 'v', 'foobar', partition => 999);
SELECT * FROM topics.produce('pr.k1000', 'v', 'foobar', partition => 0);
SELECT * FROM topics.produce('pr.k1000', 'v', partition => 0);
SELECT "offset", key, value FROM pg_temp.records('pr.k1000', 0);

-- partitions that do not exist
SELECT * FROM topics.produce('pr.k1000', 'v', partition => 1000);
:state
SELECT * FROM topics.produce('pr.k1000', 'v', partition => 2147483647);
SELECT * FROM topics.produce('pr.k1000', 'v', partition => -1);
:state

-- keyless records of one transaction stick to one partition
SELECT topics.create_topic('pr.sticky', 8);
BEGIN;
SELECT count(*) AS records, count(DISTINCT partition) AS partitions
FROM topics.produce_batch('pr.sticky', array_fill('x'::bytea, ARRAY[20]));
SELECT * FROM topics.produce('pr.sticky', 'y') \gset sticky_
SELECT partition = :sticky_partition AS same_partition FROM topics.produce('pr.sticky', 'z');
SELECT partition = :sticky_partition AS same_partition FROM topics.produce('pr.sticky', 'z'::bytea);
COMMIT;

-- after alter_topic adds partitions, keys hash over the new count
-- ('foobar' -> 0 of 3, 0 of 7; 'abc' -> 0 of 3, 4 of 7; '21' -> 0 of 3, 3 of 7)
SELECT topics.create_topic('pr.grow', 3);
SELECT partition FROM topics.produce('pr.grow', 'v', 'foobar');
SELECT partition FROM topics.produce('pr.grow', 'v', 'abc');
SELECT partition FROM topics.produce('pr.grow', 'v', '21');
SELECT topics.alter_topic('pr.grow', 7);
SELECT partition FROM topics.produce('pr.grow', 'v', 'foobar');
SELECT partition FROM topics.produce('pr.grow', 'v', 'abc');
SELECT partition FROM topics.produce('pr.grow', 'v', '21');
SELECT * FROM topics.produce('pr.grow', 'v', partition => 6);

------------------------------------------------------------------------------
-- produce_batch
------------------------------------------------------------------------------

SELECT topics.create_topic('pr.batch');
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a', 'b', NULL, '']::bytea[],
                                   ARRAY['k1', NULL, 'k3', '']::bytea[],
                                   ARRAY['{"h": 1}', NULL, '[]', '{}']::jsonb[],
                                   ts => '2024-02-01 00:00:00+00');
-- without keys and headers
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['c', 'd']::bytea[],
                                   ts => '2024-02-01 00:00:01+00');
-- an empty array produces nothing
SELECT * FROM topics.produce_batch('pr.batch', ARRAY[]::bytea[]);
SELECT * FROM topics.produce_batch('pr.batch', NULL);
SELECT * FROM pg_temp.records('pr.batch');

-- keys go by hash, an explicit partition wins
SELECT topics.create_topic('pr.batch7', 7);
SELECT * FROM topics.produce_batch('pr.batch7', ARRAY['1', '2', '3']::bytea[],
                                   ARRAY['foobar', 'abc', '21']::bytea[]);
SELECT * FROM topics.produce_batch('pr.batch7', ARRAY['1', '2']::bytea[],
                                   ARRAY['foobar', 'abc']::bytea[], partition => 5);

-- keys and headers must match the values one to one
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a', 'b']::bytea[], ARRAY['k']::bytea[]);
:state
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a', 'b']::bytea[], ARRAY['k', 'l', 'm']::bytea[]);
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a']::bytea[], NULL,
                                   ARRAY['{}', '{}']::jsonb[]);
:state
SELECT * FROM topics.produce_batch('pr.batch', ARRAY[]::bytea[], ARRAY['k']::bytea[]);
SELECT * FROM topics.produce_batch('pr.batch', ARRAY[['a'], ['b']]::bytea[]);
:state
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a']::bytea[], partition => 1);
:state
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a']::bytea[], partition => -1);
SELECT * FROM topics.produce_batch('pr.batch', ARRAY['a']::bytea[], ts => 'infinity');
SELECT * FROM topics.produce_batch(NULL, ARRAY['a']::bytea[]);
:state
SELECT * FROM topics.produce_batch('pr.nope', ARRAY['a']::bytea[]);
:state
-- a batch whose last record is too big produces none of them
SELECT topics.create_topic('pr.batch-small', max_message_bytes => 3);
SELECT * FROM topics.produce_batch('pr.batch-small', ARRAY['abc', 'abcd']::bytea[]);
:state
SELECT * FROM topics.partition_offsets('pr.batch-small', 0);
SELECT count(*) FROM pg_temp.records('pr.batch-small');
-- the refused calls produced nothing
SELECT * FROM topics.partition_offsets('pr.batch', 0);

------------------------------------------------------------------------------
-- produce_all: the aggregate, one record per input row
------------------------------------------------------------------------------

SELECT topics.create_topic('pr.all', 7);
SELECT topics.produce_all('pr.all', convert_to(g::text, 'UTF8'))
FROM generate_series(1, 100) AS g;
-- (keyless rows of one statement stick to one partition)
SELECT count(*) FILTER (WHERE high_watermark > 0) AS partitions_used,
       sum(high_watermark) AS records
FROM topics.partition_list WHERE topic = 'pr.all';
-- keyed rows go by hash ('foobar' -> 0, 'abc' -> 4, '21' -> 3 of 7)
SELECT topics.create_topic('pr.all-keyed', 7);
SELECT topics.produce_all('pr.all-keyed', convert_to(k, 'UTF8'), convert_to(k, 'UTF8'),
                          jsonb_build_object('k', k))
FROM (VALUES ('foobar'), ('abc'), ('21'), ('abc')) AS v(k);
SELECT partition, "offset", convert_from(key, 'UTF8') AS key, headers
FROM generate_series(0, 6) AS p,
     LATERAL topics.fetch('pr.all-keyed', p, 0)
ORDER BY partition, "offset";
-- no rows: nothing produced
SELECT topics.produce_all('pr.all', 'v'::bytea) FROM generate_series(1, 0);
SELECT topics.produce_all(NULL, 'v'::bytea);
:state
SELECT topics.produce_all('pr.nope', 'v'::bytea);
:state
-- a failure on a later row aborts the records of the earlier ones
SELECT topics.produce_all(t, 'v'::bytea) FROM (VALUES ('pr.all'), ('pr.nope')) AS v(t);
BEGIN READ ONLY;
SELECT topics.produce_all('pr.all', 'v'::bytea);
:state
ROLLBACK;
-- nothing of the failed calls was stored
SELECT sum(high_watermark) AS records, sum(last_stable_offset) AS stable
FROM topics.partition_list WHERE topic = 'pr.all';
SELECT count(*) AS fetched
FROM generate_series(0, 6) AS p, LATERAL topics.fetch('pr.all', p, 0, 1000);

------------------------------------------------------------------------------
-- Bad arguments
------------------------------------------------------------------------------

SELECT * FROM topics.produce(NULL, 'v');
:state
SELECT * FROM topics.produce(NULL::text, 'v'::bytea);
SELECT * FROM topics.produce(NULL::text, '{}'::jsonb);
SELECT * FROM topics.produce('pr.nope', 'v');
:state
SELECT * FROM topics.produce('PR.ONE', 'v');
SELECT * FROM topics.produce('', 'v');
SELECT * FROM topics.produce(repeat('x', 250), 'v');

------------------------------------------------------------------------------
-- The message size limit: key, value and headers (as JSON text) count
------------------------------------------------------------------------------

SELECT topics.create_topic('pr.small', max_message_bytes => 10);
SELECT "offset" FROM topics.produce('pr.small', '0123456789'::bytea);
SELECT "offset" FROM topics.produce('pr.small', '01234'::bytea, '56789'::bytea);
-- headers count as jsonb's text form: '{"a":1}' is '{"a": 1}', 8 bytes
SELECT "offset" FROM topics.produce('pr.small', '01'::bytea, headers => '{"a":1}');
SELECT "offset" FROM topics.produce('pr.small', '0123456789a'::bytea);
:state
SELECT "offset" FROM topics.produce('pr.small', '01234'::bytea, '567890'::bytea);
SELECT "offset" FROM topics.produce('pr.small', '012'::bytea, headers => '{"a":1}');
-- text counts in bytes: five two-byte characters fit in 10
SELECT "offset" FROM topics.produce('pr.small', 'ééééé'::text);
SELECT "offset" FROM topics.produce('pr.small', '[1, 2, 3, 4]'::jsonb);
-- a tombstone with a key within the limit is fine
SELECT "offset" FROM topics.produce('pr.small', NULL::bytea, '0123456789'::bytea);
-- raising the limit lets the same record in, at once
SELECT topics.alter_topic('pr.small', max_message_bytes => 11);
SELECT "offset" FROM topics.produce('pr.small', '0123456789a'::bytea);
SELECT "offset" FROM topics.produce('pr.small', '0123456789ab'::bytea);
:state
-- and lowering it keeps the next one out
SELECT topics.alter_topic('pr.small', max_message_bytes => 1);
SELECT "offset" FROM topics.produce('pr.small', '01'::bytea);
SELECT "offset" FROM topics.produce('pr.small', '0'::bytea);
SELECT "offset", key, value FROM pg_temp.records('pr.small');

------------------------------------------------------------------------------
-- Transactions
------------------------------------------------------------------------------

SELECT topics.create_topic('pr.tx');

-- records become visible at commit, never before
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'a', ts => '2024-03-01 00:00:00+00');
SELECT * FROM topics.produce('pr.tx', 'b', ts => '2024-03-01 00:00:00+00');
SELECT count(*) FROM pg_temp.records('pr.tx');
SELECT * FROM topics.partition_offsets('pr.tx', 0);
COMMIT;
SELECT "offset", value FROM pg_temp.records('pr.tx');
SELECT * FROM topics.partition_offsets('pr.tx', 0);

-- an aborted transaction leaves a gap in the offsets
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'aborted 1');
SELECT * FROM topics.produce('pr.tx', 'aborted 2');
ROLLBACK;
SELECT * FROM topics.produce('pr.tx', 'c');
SELECT "offset", value FROM pg_temp.records('pr.tx');
SELECT * FROM topics.partition_offsets('pr.tx', 0);

-- a transaction that fails aborts its records too
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'failed');
SELECT 1 / 0;
COMMIT;
SELECT "offset", value FROM pg_temp.records('pr.tx');

-- a rolled-back savepoint drops what it produced; released ones keep theirs
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'd');
SAVEPOINT s1;
SELECT * FROM topics.produce('pr.tx', 'rolled back');
ROLLBACK TO SAVEPOINT s1;
SELECT * FROM topics.produce('pr.tx', 'e');
SAVEPOINT s2;
SELECT * FROM topics.produce('pr.tx', 'f');
SAVEPOINT s3;
SELECT * FROM topics.produce('pr.tx', 'rolled back with s3');
ROLLBACK TO SAVEPOINT s3;
RELEASE SAVEPOINT s2;
SAVEPOINT s4;
SELECT * FROM topics.produce('pr.tx', 'rolled back with s4');
SAVEPOINT s5;
SELECT * FROM topics.produce('pr.tx', 'released into s4');
RELEASE SAVEPOINT s5;
ROLLBACK TO SAVEPOINT s4;
SELECT * FROM topics.produce('pr.tx', 'g');
COMMIT;
SELECT "offset", value FROM pg_temp.records('pr.tx');

-- a savepoint that fills whole batches (they are written to the table
-- before the transaction ends) takes them with it when rolled back
SELECT topic_id AS tx_id FROM topics.topic_list WHERE name = 'pr.tx' \gset
SELECT count(*) AS stored_rows FROM topics.topic_:tx_id;
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'h');
SAVEPOINT big;
SELECT count(*) FROM topics.produce_batch('pr.tx',
    array(SELECT convert_to(lpad(g::text, 100, '.'), 'UTF8') FROM generate_series(1, 500) g));
SELECT count(*) > 0 AS batches_written FROM topics.topic_:tx_id;
ROLLBACK TO SAVEPOINT big;
SELECT count(*) AS stored_rows FROM topics.topic_:tx_id;
SELECT * FROM topics.produce('pr.tx', 'i');
COMMIT;
SELECT "offset", value FROM pg_temp.records('pr.tx') WHERE "offset" >= 14;
SELECT * FROM topics.partition_offsets('pr.tx', 0);

-- an error inside a savepoint rolls back that savepoint's records only
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'j');
SAVEPOINT s6;
SELECT * FROM topics.produce('pr.tx', 'lost with the error');
SELECT * FROM topics.produce('pr.tx', 'x', partition => 1);
ROLLBACK TO SAVEPOINT s6;
COMMIT;
SELECT "offset", value FROM pg_temp.records('pr.tx') WHERE "offset" >= 517;

-- read-only transactions cannot produce
BEGIN READ ONLY;
SELECT * FROM topics.produce('pr.tx', 'ro');
:state
ROLLBACK;
BEGIN;
SET TRANSACTION READ ONLY;
SELECT * FROM topics.produce_batch('pr.tx', ARRAY['ro']::bytea[]);
:state
ROLLBACK;
SET default_transaction_read_only = on;
SELECT * FROM topics.produce('pr.tx', 'ro'::bytea);
SELECT * FROM topics.produce('pr.tx', '{}'::jsonb);
-- reading is fine
SELECT count(*) FROM pg_temp.records('pr.tx');
RESET default_transaction_read_only;

-- a transaction that produced cannot be prepared; it is rolled back instead
-- and leaves nothing in flight
BEGIN;
SELECT * FROM topics.produce('pr.tx', 'prepared');
PREPARE TRANSACTION 'pr_produced';
:state
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'pr_produced';
SELECT * FROM topics.partition_offsets('pr.tx', 0);
-- also when its records went with a savepoint
BEGIN;
SAVEPOINT s;
SELECT * FROM topics.produce('pr.tx', 'prepared');
ROLLBACK TO SAVEPOINT s;
PREPARE TRANSACTION 'pr_produced';
SELECT * FROM topics.partition_offsets('pr.tx', 0);
-- a transaction that only fetched can be prepared
BEGIN;
SELECT count(*) FROM pg_temp.records('pr.tx');
PREPARE TRANSACTION 'pr_fetched';
COMMIT PREPARED 'pr_fetched';
SELECT "offset", value FROM pg_temp.records('pr.tx') WHERE "offset" >= 517;

------------------------------------------------------------------------------
-- Producing from a query: one record per row
------------------------------------------------------------------------------

-- Each call happens once per row and returns its own partition and offset,
-- also when the rows reach partitions this backend has not used yet.
\c -
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
\set SHOW_CONTEXT never
\set state '\\echo SQLSTATE :SQLSTATE'
SELECT topics.create_topic('pr.rows', 10);
SELECT v.key, p.partition, p."offset"
FROM (VALUES ('1'), ('2'), ('3'), ('4')) AS v(key),
     LATERAL topics.produce('pr.rows', 'v', v.key) AS p
ORDER BY v.key;
SELECT count(*) AS records, count(DISTINCT (r).partition) AS partitions
FROM (SELECT topics.produce('pr.rows', 'v', g::text) AS r
      FROM generate_series(1, 1000) AS g) AS s;
SELECT count(*) AS records, count(DISTINCT p.partition) AS partitions,
       count(DISTINCT (p.partition, p."offset")) AS distinct_offsets
FROM generate_series(1, 1000) AS g,
     LATERAL topics.produce('pr.rows', 'w', g::text) AS p;
SELECT sum(high_watermark) AS stored FROM topics.partition_list WHERE topic = 'pr.rows';

-- clean up
SELECT topics.drop_topic(name) FROM topics.topic_list WHERE name LIKE 'pr.%'
ORDER BY name COLLATE "C";
