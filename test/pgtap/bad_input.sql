-- bad_input: every function refuses NULL, negative, huge and malformed
-- arguments and unknown topics with its SQLSTATE, and a refused call leaves
-- nothing behind: no metadata row, no table, no stored record, no offset
-- held in flight.
--
-- Runs outside a transaction: each throws_ok runs its statement in a
-- subtransaction of its own statement, which then commits, as a client's
-- failed call followed by its next one would.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DO $$
BEGIN
    PERFORM topics.create_topic('bad.t', 3);
    PERFORM topics.produce('bad.t', 'kept'::bytea, partition => 0);
END
$$;

-- What the catalog and the topic hold, to compare before and after.
CREATE FUNCTION pg_temp.catalog_state() RETURNS text
LANGUAGE sql AS $$
    SELECT format('topics=%s partitions=%s tables=%s',
                  (SELECT count(*) FROM topics.topic_meta),
                  (SELECT count(*) FROM topics.partition_meta),
                  (SELECT count(*) FROM pg_class
                   WHERE relnamespace = 'topics'::regnamespace AND relkind IN ('r', 'p')
                     AND relname ~ '^topic_[0-9]'))
$$;
CREATE FUNCTION pg_temp.topic_state(topic text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(format('p%s: hw=%s lso=%s records=%s', p, o.high_watermark,
                             o.last_stable_offset,
                             (SELECT count(*) FROM topics.fetch(topic, p, 0, 1000000))),
                      ', ' ORDER BY p)
    FROM generate_series(0, (SELECT partitions - 1 FROM topics.topic_list WHERE name = topic)) p,
         LATERAL topics.partition_offsets(topic, p) o
$$;
-- The SQLSTATE a statement fails with, also a cancel (which throws_ok
-- cannot catch: WHEN OTHERS leaves out query_canceled).
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN query_canceled OR others THEN
    RETURN SQLSTATE;
END
$$;
SELECT pg_temp.catalog_state() AS catalog_before \gset
SELECT pg_temp.topic_state('bad.t') AS topic_before \gset

SELECT plan(139);

------------------------------------------------------------------------------
-- create_topic
------------------------------------------------------------------------------

SELECT throws_ok($$SELECT topics.create_topic(NULL)$$, '22004', NULL, 'create_topic: NULL name');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', NULL)$$, '22004', NULL,
                 'create_topic: NULL partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', cleanup_policy => NULL)$$, '22004', NULL,
                 'create_topic: NULL cleanup_policy');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', max_message_bytes => NULL)$$, '22004', NULL,
                 'create_topic: NULL max_message_bytes');
SELECT throws_ok($$SELECT topics.create_topic('')$$, '42602', NULL, 'create_topic: empty name');
SELECT throws_ok($$SELECT topics.create_topic('.')$$, '42602', NULL, 'create_topic: name "."');
SELECT throws_ok($$SELECT topics.create_topic('..')$$, '42602', NULL, 'create_topic: name ".."');
SELECT throws_ok($$SELECT topics.create_topic('a b')$$, '42602', NULL, 'create_topic: a space');
SELECT throws_ok($$SELECT topics.create_topic(repeat('a', 250))$$, '42602', NULL,
                 'create_topic: 250 characters');
SELECT throws_ok($$SELECT topics.create_topic(repeat('a', 100000))$$, '42602', NULL,
                 'create_topic: 100000 characters');
SELECT throws_ok($$SELECT topics.create_topic('ä')$$, '42602', NULL, 'create_topic: non-ASCII');
SELECT throws_ok($$SELECT topics.create_topic('a/b')$$, '42602', NULL, 'create_topic: a slash');
SELECT throws_ok($$SELECT topics.create_topic(E'a\tb')$$, '42602', NULL, 'create_topic: a tab');
SELECT throws_ok($$SELECT topics.create_topic('a''; DROP TABLE topics.topic_meta; --')$$, '42602',
                 NULL, 'create_topic: SQL in the name');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', 0)$$, '22023', NULL,
                 'create_topic: 0 partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', -1)$$, '22023', NULL,
                 'create_topic: -1 partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', 10001)$$, '22023', NULL,
                 'create_topic: 10001 partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', 2147483647)$$, '22023', NULL,
                 'create_topic: 2^31-1 partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', -2147483648)$$, '22023', NULL,
                 'create_topic: -2^31 partitions');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', retention => '0')$$, '22023', NULL,
                 'create_topic: zero retention');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', retention_bytes => 0)$$, '22023', NULL,
                 'create_topic: zero retention_bytes');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', cleanup_policy => 'x')$$, '22023', NULL,
                 'create_topic: unknown cleanup_policy');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', cleanup_policy => 'compact,delete,')$$,
                 '22023', NULL, 'create_topic: cleanup_policy with a trailing comma');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', max_message_bytes => 0)$$, '22023', NULL,
                 'create_topic: zero max_message_bytes');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', max_message_bytes => -1)$$, '22023', NULL,
                 'create_topic: negative max_message_bytes');
SELECT throws_ok($$SELECT topics.create_topic('bad.n', max_message_bytes => 2147483647)$$,
                 '22023', NULL, 'create_topic: huge max_message_bytes');
SELECT throws_ok($$SELECT topics.create_topic('bad.t')$$, '42710', NULL,
                 'create_topic: an existing name');
SELECT throws_ok($$SELECT topics.create_topic('bad.t', 7, max_message_bytes => 5)$$, '42710', NULL,
                 'create_topic: an existing name with other settings');
-- a create interrupted half-way (after some partition tables were made)
SET statement_timeout = '100ms';
SELECT is(pg_temp.sqlstate_of($$SELECT topics.create_topic('bad.interrupted', 2000)$$), '57014',
          'create_topic: cancelled while making 2000 partition tables');
RESET statement_timeout;

SELECT is(pg_temp.catalog_state(), :'catalog_before',
          'the refused creates left no metadata rows and no tables');
SELECT is((SELECT count(*) FROM topics.topic_list WHERE name LIKE 'bad.%'), 1::bigint,
          'only the topic made on purpose exists');
SELECT is((SELECT ROW(partitions, max_message_bytes)::text FROM topics.topic_list
           WHERE name = 'bad.t'), ROW(3, 1048576)::text,
          'the existing topic kept its settings');

------------------------------------------------------------------------------
-- alter_topic and drop_topic
------------------------------------------------------------------------------

SELECT throws_ok($$SELECT topics.alter_topic(NULL, 4)$$, '22004', NULL, 'alter_topic: NULL name');
SELECT throws_ok($$SELECT topics.alter_topic('bad.nope', 4)$$, '42704', NULL,
                 'alter_topic: unknown topic');
SELECT throws_ok($$SELECT topics.alter_topic('', 4)$$, '42704', NULL, 'alter_topic: empty name');
SELECT throws_ok($$SELECT topics.alter_topic('BAD.T', 4)$$, '42704', NULL,
                 'alter_topic: names are case-sensitive');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', 2)$$, '22023', NULL,
                 'alter_topic: fewer partitions');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', 0)$$, '22023', NULL,
                 'alter_topic: 0 partitions');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', -5)$$, '22023', NULL,
                 'alter_topic: negative partitions');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', 10001)$$, '22023', NULL,
                 'alter_topic: 10001 partitions');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', retention => '0')$$, '22023', NULL,
                 'alter_topic: zero retention');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', retention_bytes => 0)$$, '22023', NULL,
                 'alter_topic: zero retention_bytes');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', cleanup_policy => 'none')$$, '22023', NULL,
                 'alter_topic: unknown cleanup_policy');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', max_message_bytes => 0)$$, '22023', NULL,
                 'alter_topic: zero max_message_bytes');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', max_message_bytes => 104857601)$$, '22023',
                 NULL, 'alter_topic: too large max_message_bytes');
-- one bad setting spoils the whole call
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', 5, cleanup_policy => 'bogus')$$, '22023',
                 NULL, 'alter_topic: more partitions with a bad setting');
SELECT throws_ok($$SELECT topics.alter_topic('bad.t', 5, max_message_bytes => -1)$$, '22023',
                 NULL, 'alter_topic: more partitions with a bad limit');
SET statement_timeout = '100ms';
SELECT is(pg_temp.sqlstate_of($$SELECT topics.alter_topic('bad.t', 2000)$$), '57014',
          'alter_topic: cancelled while adding 1997 partition tables');
RESET statement_timeout;
SELECT throws_ok($$SELECT topics.drop_topic(NULL)$$, '22004', NULL, 'drop_topic: NULL name');
SELECT throws_ok($$SELECT topics.drop_topic('bad.nope')$$, '42704', NULL,
                 'drop_topic: unknown topic');
SELECT throws_ok($$SELECT topics.drop_topic('')$$, '42704', NULL, 'drop_topic: empty name');

SELECT is(pg_temp.catalog_state(), :'catalog_before',
          'the refused alters and drops left the catalog as it was');
SELECT is((SELECT ROW(partitions, retention, retention_bytes, cleanup_policy,
                      max_message_bytes)::text
           FROM topics.topic_list WHERE name = 'bad.t'),
          ROW(3, '7 days'::interval, NULL::bigint, 'delete', 1048576)::text,
          'the topic kept every setting');

------------------------------------------------------------------------------
-- produce, produce_batch, produce_all
------------------------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM topics.produce(NULL, 'v'::bytea)$$, '22004', NULL,
                 'produce(bytea): NULL topic');
SELECT throws_ok($$SELECT * FROM topics.produce(NULL, 'v'::text)$$, '22004', NULL,
                 'produce(text): NULL topic');
SELECT throws_ok($$SELECT * FROM topics.produce(NULL, '1'::jsonb)$$, '22004', NULL,
                 'produce(jsonb): NULL topic');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.nope', 'v'::bytea)$$, '42704', NULL,
                 'produce: unknown topic');
SELECT throws_ok($$SELECT * FROM topics.produce('', 'v'::bytea)$$, '42704', NULL,
                 'produce: empty topic name');
SELECT throws_ok($$SELECT * FROM topics.produce(repeat('b', 250), 'v'::bytea)$$, '42704', NULL,
                 'produce: a name too long to exist');
SELECT throws_ok($$SELECT * FROM topics.produce(repeat('b', 100000), 'v'::bytea)$$, '42704', NULL,
                 'produce: a very long name');
SELECT throws_ok($$SELECT * FROM topics.produce(E'bad.t\n', 'v'::bytea)$$, '42704', NULL,
                 'produce: a name with a newline');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, partition => -1)$$, '22023',
                 NULL, 'produce: partition -1');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, partition => -2147483648)$$,
                 '22023', NULL, 'produce: partition -2^31');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, partition => 3)$$, '22023',
                 NULL, 'produce: partition = partition count');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, partition => 2147483647)$$,
                 '22023', NULL, 'produce: partition 2^31-1');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::text, partition => 3)$$, '22023',
                 NULL, 'produce(text): partition out of range');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', '{}'::jsonb, partition => 3)$$, '22023',
                 NULL, 'produce(jsonb): partition out of range');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, ts => 'infinity')$$, '22023',
                 NULL, 'produce: infinite ts');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, ts => '-infinity')$$, '22023',
                 NULL, 'produce: minus infinite ts');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', repeat('x', 1048577)::bytea)$$, '54000',
                 NULL, 'produce: value over the limit');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, repeat('k', 1048576)::bytea)$$,
                 '54000', NULL, 'produce: key over the limit');
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, NULL,
                       jsonb_build_object('h', repeat('h', 1048576)))$$,
                 '54000', NULL, 'produce: headers over the limit');
SELECT throws_ok($$SELECT * FROM topics.produce_batch(NULL, ARRAY['v']::bytea[])$$, '22004', NULL,
                 'produce_batch: NULL topic');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.nope', ARRAY['v']::bytea[])$$, '42704',
                 NULL, 'produce_batch: unknown topic');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a', 'b']::bytea[],
                                                      ARRAY['k']::bytea[], partition => 0)$$,
                 '2202E', NULL, 'produce_batch: fewer keys than values');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a']::bytea[],
                                                      ARRAY['k', 'l']::bytea[], partition => 0)$$,
                 '2202E', NULL, 'produce_batch: more keys than values');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a', 'b']::bytea[], NULL,
                                                      ARRAY['{}']::jsonb[], partition => 0)$$,
                 '2202E', NULL, 'produce_batch: fewer headers than values');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY[['a', 'b'], ['c', 'd']]::bytea[],
                                                      partition => 0)$$,
                 '2202E', NULL, 'produce_batch: a two-dimensional array');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a']::bytea[], partition => -1)$$,
                 '22023', NULL, 'produce_batch: partition -1');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a']::bytea[], partition => 3)$$,
                 '22023', NULL, 'produce_batch: partition out of range');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t', ARRAY['a']::bytea[],
                                                      ts => 'infinity')$$,
                 '22023', NULL, 'produce_batch: infinite ts');
-- a failure on a late element takes the earlier ones with it
SELECT throws_ok($$SELECT * FROM topics.produce_batch('bad.t',
                       array_fill('ok'::bytea, ARRAY[1000]) || repeat('x', 1048577)::bytea,
                       partition => 0)$$,
                 '54000', NULL, 'produce_batch: 1000 good records and one too big');
SELECT throws_ok($$SELECT topics.produce_all(NULL, 'v'::bytea)$$, '22004', NULL,
                 'produce_all: NULL topic');
SELECT throws_ok($$SELECT topics.produce_all('bad.nope', 'v'::bytea)$$, '42704', NULL,
                 'produce_all: unknown topic');
SELECT throws_ok($$SELECT topics.produce_all('bad.t', v)
                   FROM (VALUES ('ok'::bytea), (repeat('x', 1048577)::bytea)) AS t(v)$$,
                 '54000', NULL, 'produce_all: a good row and one too big');
-- a failure after records of another statement in the same transaction
BEGIN;
DO $$ BEGIN PERFORM topics.produce('bad.t', 'in the failed transaction'::bytea, partition => 1);
END $$;
SELECT throws_ok($$SELECT * FROM topics.produce('bad.t', 'v'::bytea, partition => 99)$$, '22023',
                 NULL, 'produce: a bad call in a transaction that produced');
ROLLBACK;

SELECT is(pg_temp.topic_state('bad.t'), :'topic_before',
          'the refused produces stored nothing and hold back no stable offset');
SELECT is((SELECT count(*) FROM topics.topic_list WHERE name LIKE 'bad.%'), 1::bigint,
          'and created no topic');
SELECT lives_ok($$SELECT * FROM topics.produce('bad.t', 'after'::bytea, partition => 0)$$,
                'the topic takes records after all the refusals');
SELECT is(ARRAY(SELECT convert_from(value, 'UTF8') FROM topics.fetch('bad.t', 0, 0)),
          ARRAY['kept', 'after'], 'and returns exactly the accepted records');

------------------------------------------------------------------------------
-- fetch and the offset functions
------------------------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM topics.fetch(NULL, 0, 0)$$, '22004', NULL, 'fetch: NULL topic');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', NULL, 0)$$, '22004', NULL,
                 'fetch: NULL partition');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, NULL)$$, '22004', NULL,
                 'fetch: NULL from_offset');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, NULL)$$, '22004', NULL,
                 'fetch: NULL max_records');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 10, NULL)$$, '22004', NULL,
                 'fetch: NULL max_bytes');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 10, 10, NULL)$$, '22004', NULL,
                 'fetch: NULL wait');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.nope', 0, 0)$$, '42704', NULL,
                 'fetch: unknown topic');
SELECT throws_ok($$SELECT * FROM topics.fetch(repeat('b', 100000), 0, 0)$$, '42704', NULL,
                 'fetch: a very long name');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', -1, 0)$$, '22023', NULL,
                 'fetch: partition -1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 3, 0)$$, '22023', NULL,
                 'fetch: partition out of range');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 2147483647, 0)$$, '22023', NULL,
                 'fetch: partition 2^31-1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, -1)$$, '22023', NULL,
                 'fetch: from_offset -1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, -9223372036854775808)$$, '22023', NULL,
                 'fetch: from_offset -2^63');
SELECT high_watermark + 1 AS beyond FROM topics.partition_offsets('bad.t', 0) \gset
SELECT throws_ok(format('SELECT * FROM topics.fetch(%L, 0, %s)', 'bad.t', :beyond), 'PT001', NULL,
                 'fetch: from_offset one beyond the high watermark');
SELECT lives_ok(format('SELECT * FROM topics.fetch(%L, 0, %s)', 'bad.t', :beyond - 1),
                'fetch: from_offset at the high watermark is fine');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 9223372036854775807)$$, 'PT001', NULL,
                 'fetch: from_offset 2^63-1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 0)$$, '22023', NULL,
                 'fetch: max_records 0');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, -1)$$, '22023', NULL,
                 'fetch: max_records -1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 1000001)$$, '22023', NULL,
                 'fetch: max_records over 1000000');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 2147483647)$$, '22023', NULL,
                 'fetch: max_records 2^31-1');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, max_bytes => 0)$$, '22023', NULL,
                 'fetch: max_bytes 0');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, max_bytes => -2147483648)$$, '22023',
                 NULL, 'fetch: max_bytes -2^31');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '-1 microsecond')$$, '22023',
                 NULL, 'fetch: a negative wait');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '-1 mon')$$, '22023',
                 NULL, 'fetch: a negative wait in months');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '24:00:00.000001')$$, '22023',
                 NULL, 'fetch: a wait just over 24 hours');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '1000 years')$$, '22023',
                 NULL, 'fetch: a wait of 1000 years');
SELECT throws_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '1 day 1 second')$$, '22023',
                 NULL, 'fetch: a wait of a day and a second');
SELECT lives_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, 1000000, 2147483647, '24 hours')$$,
                'fetch: the largest max_records, max_bytes and wait are accepted');
SELECT lives_ok($$SELECT * FROM topics.fetch('bad.t', 0, 0, wait => '1 day')$$,
                'fetch: a wait of one day is 24 hours');

SELECT throws_ok($$SELECT topics.offset_for_time(NULL, 0, now())$$, '22004', NULL,
                 'offset_for_time: NULL topic');
SELECT throws_ok($$SELECT topics.offset_for_time('bad.t', NULL, now())$$, '22004', NULL,
                 'offset_for_time: NULL partition');
SELECT throws_ok($$SELECT topics.offset_for_time('bad.t', 0, NULL)$$, '22004', NULL,
                 'offset_for_time: NULL ts');
SELECT throws_ok($$SELECT topics.offset_for_time('bad.nope', 0, now())$$, '42704', NULL,
                 'offset_for_time: unknown topic');
SELECT throws_ok($$SELECT topics.offset_for_time('bad.t', 3, now())$$, '22023', NULL,
                 'offset_for_time: partition out of range');
SELECT throws_ok($$SELECT topics.offset_for_time('bad.t', -1, now())$$, '22023', NULL,
                 'offset_for_time: partition -1');
SELECT throws_ok($$SELECT topics.earliest_offset(NULL, 0)$$, '22004', NULL,
                 'earliest_offset: NULL topic');
SELECT throws_ok($$SELECT topics.earliest_offset('bad.t', NULL)$$, '22004', NULL,
                 'earliest_offset: NULL partition');
SELECT throws_ok($$SELECT topics.earliest_offset('bad.nope', 0)$$, '42704', NULL,
                 'earliest_offset: unknown topic');
SELECT throws_ok($$SELECT topics.earliest_offset('bad.t', 3)$$, '22023', NULL,
                 'earliest_offset: partition out of range');
SELECT throws_ok($$SELECT topics.latest_offset(NULL, 0)$$, '22004', NULL,
                 'latest_offset: NULL topic');
SELECT throws_ok($$SELECT topics.latest_offset('bad.t', NULL)$$, '22004', NULL,
                 'latest_offset: NULL partition');
SELECT throws_ok($$SELECT topics.latest_offset('bad.nope', 0)$$, '42704', NULL,
                 'latest_offset: unknown topic');
SELECT throws_ok($$SELECT topics.latest_offset('bad.t', -1)$$, '22023', NULL,
                 'latest_offset: partition -1');
SELECT throws_ok($$SELECT * FROM topics.partition_offsets(NULL, 0)$$, '22004', NULL,
                 'partition_offsets: NULL topic');
SELECT throws_ok($$SELECT * FROM topics.partition_offsets('bad.t', NULL)$$, '22004', NULL,
                 'partition_offsets: NULL partition');
SELECT throws_ok($$SELECT * FROM topics.partition_offsets('bad.nope', 0)$$, '42704', NULL,
                 'partition_offsets: unknown topic');
SELECT throws_ok($$SELECT * FROM topics.partition_offsets('bad.t', 3)$$, '22023', NULL,
                 'partition_offsets: partition out of range');

-- and none of that changed anything
SELECT is(pg_temp.catalog_state(), :'catalog_before', 'the catalog is as it was at the start');
SELECT is(ARRAY(SELECT convert_from(value, 'UTF8') FROM topics.fetch('bad.t', 0, 0)),
          ARRAY['kept', 'after'], 'the topic holds what it held');

SELECT * FROM finish();
