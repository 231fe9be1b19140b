-- privileges: producing needs INSERT and fetching needs SELECT on the
-- topic's table topics.topic_<id>; a role without them gets 42501 and
-- changes nothing; administration needs the rights of the extension's owner.
--
-- Runs outside a transaction (pgTAP keeps its state in the session), so
-- that grants and records are committed as a client would see them.  Roles
-- are cluster-wide: they carry this file's prefix, are dropped first in case
-- an earlier run stopped half-way, and dropped again at the end.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['pgtopics_tap_nobody', 'pgtopics_tap_producer',
                             'pgtopics_tap_consumer', 'pgtopics_tap_group',
                             'pgtopics_tap_member'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('DROP OWNED BY %I', r);
            EXECUTE format('DROP ROLE %I', r);
        END IF;
    END LOOP;
END
$$;
CREATE ROLE pgtopics_tap_nobody;
CREATE ROLE pgtopics_tap_producer;
CREATE ROLE pgtopics_tap_consumer;
CREATE ROLE pgtopics_tap_group NOLOGIN;
CREATE ROLE pgtopics_tap_member IN ROLE pgtopics_tap_group;

DO $$
BEGIN
    PERFORM topics.create_topic('tap.priv', 2);
    PERFORM topics.create_topic('tap.other');
    -- one committed record to fetch
    PERFORM topics.produce('tap.priv', 'seed'::bytea, partition => 0);
END
$$;
SELECT topic_id AS priv_id, 'topic_' || topic_id || '_p0' AS priv_p0
FROM topics.topic_list WHERE name = 'tap.priv' \gset
SELECT topic_id AS other_id FROM topics.topic_list WHERE name = 'tap.other' \gset

-- What a partition holds, read as the superuser: high watermark, stable
-- offset and stored rows (so that a refused call is seen to change nothing).
CREATE FUNCTION pg_temp.state(topic text, part integer) RETURNS text
LANGUAGE sql AS $$
    SELECT format('hw=%s lso=%s', high_watermark, last_stable_offset)
    FROM topics.partition_offsets(topic, part)
$$;

SELECT plan(44);

------------------------------------------------------------------------------
-- A role without grants
------------------------------------------------------------------------------

SET ROLE pgtopics_tap_nobody;

SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea)$$,
                 '42501', 'permission denied for topic "tap.priv"',
                 'produce(bytea) without INSERT: 42501');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::text, 'k')$$,
                 '42501', NULL, 'produce(text) without INSERT: 42501');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', '{}'::jsonb)$$,
                 '42501', NULL, 'produce(jsonb) without INSERT: 42501');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea, partition => 1)$$,
                 '42501', NULL, 'produce to an explicit partition without INSERT: 42501');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('tap.priv', ARRAY['x']::bytea[])$$,
                 '42501', NULL, 'produce_batch without INSERT: 42501');
SELECT throws_ok($$SELECT topics.produce_all('tap.priv', 'x'::bytea)$$,
                 '42501', NULL, 'produce_all without INSERT: 42501');
SELECT throws_ok($$SELECT * FROM topics.fetch('tap.priv', 0, 0)$$,
                 '42501', 'permission denied for topic "tap.priv"',
                 'fetch without SELECT: 42501');
SELECT throws_ok($$SELECT * FROM topics.fetch('tap.priv', 1, 0, wait => '10 s')$$,
                 '42501', NULL, 'fetch with a wait without SELECT: 42501 at once');
SELECT throws_ok($$SELECT topics.earliest_offset('tap.priv', 0)$$,
                 '42501', NULL, 'earliest_offset without SELECT: 42501');
SELECT throws_ok($$SELECT topics.latest_offset('tap.priv', 0)$$,
                 '42501', NULL, 'latest_offset without SELECT: 42501');
SELECT throws_ok($$SELECT * FROM topics.partition_offsets('tap.priv', 0)$$,
                 '42501', NULL, 'partition_offsets without SELECT: 42501');
SELECT throws_ok($$SELECT topics.offset_for_time('tap.priv', 0, '-infinity')$$,
                 '42501', NULL, 'offset_for_time without SELECT: 42501');
SELECT throws_ok(format('SELECT * FROM topics.topic_%s', :priv_id),
                 '42501', NULL, 'the topic table itself cannot be read');

-- administration
SELECT throws_ok($$SELECT topics.create_topic('tap.by-nobody')$$,
                 '42501', NULL, 'create_topic without rights: 42501');
SELECT throws_ok($$SELECT topics.alter_topic('tap.priv', 3)$$,
                 '42501', NULL, 'alter_topic without rights: 42501');
SELECT throws_ok($$SELECT topics.alter_topic('tap.priv', max_message_bytes => 5)$$,
                 '42501', NULL, 'alter_topic of a setting without rights: 42501');
SELECT throws_ok($$SELECT topics.drop_topic('tap.priv')$$,
                 '42501', NULL, 'drop_topic without rights: 42501');
SELECT throws_ok(format('SELECT topics.create_partition_tables(%s, 2, 2)', :priv_id),
                 '42501', NULL, 'the internal create_partition_tables cannot add a partition');
SELECT throws_ok(format('SELECT topics.topic_changed(%L)', 'topics.topic_' || :priv_id),
                 '42501', NULL, 'the internal topic_changed is not executable');

RESET ROLE;

-- none of it changed anything
SELECT is(pg_temp.state('tap.priv', 0), 'hw=1 lso=1', 'partition 0 is as it was');
SELECT is(pg_temp.state('tap.priv', 1), 'hw=0 lso=0', 'partition 1 is as it was');
SELECT results_eq($$SELECT name, partitions, max_message_bytes FROM topics.topic_list
                    WHERE name LIKE 'tap.%' ORDER BY name$$,
                  $$VALUES ('tap.other'::text, 1, 1048576), ('tap.priv', 2, 1048576)$$,
                  'no topic was created, altered or dropped');
SELECT hasnt_table('topics'::name, ('topic_' || :priv_id || '_p2')::name,
                   'no partition table was added');

------------------------------------------------------------------------------
-- INSERT lets a role produce, SELECT lets it fetch
------------------------------------------------------------------------------

GRANT INSERT ON TABLE topics.topic_:priv_id TO pgtopics_tap_producer;
GRANT SELECT ON TABLE topics.topic_:priv_id TO pgtopics_tap_consumer;

SET ROLE pgtopics_tap_producer;
SELECT lives_ok($$SELECT * FROM topics.produce('tap.priv', 'from producer'::bytea, partition => 1)$$,
                'INSERT: produce works');
SELECT lives_ok($$SELECT * FROM topics.produce_batch('tap.priv', ARRAY['b1', 'b2']::bytea[],
                                                     partition => 1)$$,
                'INSERT: produce_batch works');
-- (key 'foobar' hashes to partition 0 of 2)
SELECT lives_ok($$SELECT topics.produce_all('tap.priv', v, 'foobar'::bytea)
                  FROM (VALUES ('a1'::bytea)) AS t(v)$$,
                'INSERT: produce_all works');
SELECT throws_ok($$SELECT * FROM topics.fetch('tap.priv', 1, 0)$$,
                 '42501', NULL, 'INSERT alone does not let a role fetch');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.other', 'x'::bytea)$$,
                 '42501', NULL, 'a grant on one topic is not a grant on another');
RESET ROLE;

SET ROLE pgtopics_tap_consumer;
SELECT is(ARRAY(SELECT convert_from(value, 'UTF8') FROM topics.fetch('tap.priv', 1, 0)),
          ARRAY['from producer', 'b1', 'b2'],
                  'SELECT: fetch returns what the producer committed');
SELECT is(topics.latest_offset('tap.priv', 1), 3::bigint, 'SELECT: latest_offset works');
SELECT is(topics.earliest_offset('tap.priv', 1), 0::bigint, 'SELECT: earliest_offset works');
SELECT is((SELECT high_watermark FROM topics.partition_offsets('tap.priv', 0)), 2::bigint,
          'SELECT: partition_offsets works');
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea)$$,
                 '42501', NULL, 'SELECT alone does not let a role produce');
RESET ROLE;

------------------------------------------------------------------------------
-- Grants follow PostgreSQL's rules
------------------------------------------------------------------------------

-- through role membership
GRANT INSERT, SELECT ON TABLE topics.topic_:other_id TO pgtopics_tap_group;
SET ROLE pgtopics_tap_member;
SELECT lives_ok($$SELECT * FROM topics.produce('tap.other', 'by member'::bytea)$$,
                'a member of a granted role can produce');
SELECT is((SELECT count(*) FROM topics.fetch('tap.other', 0, 0)), 1::bigint,
          'and fetch');
RESET ROLE;

-- the topic's table decides, not the table of one partition
GRANT INSERT, SELECT ON TABLE topics.:"priv_p0" TO pgtopics_tap_nobody;
SET ROLE pgtopics_tap_nobody;
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea, partition => 0)$$,
                 '42501', NULL, 'INSERT on a partition table alone does not let a role produce');
SELECT throws_ok($$SELECT * FROM topics.fetch('tap.priv', 0, 0)$$,
                 '42501', NULL, 'SELECT on a partition table alone does not let a role fetch');
RESET ROLE;

-- a revoked grant stops the next produce
REVOKE INSERT ON TABLE topics.topic_:priv_id FROM pgtopics_tap_producer;
SET ROLE pgtopics_tap_producer;
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea, partition => 1)$$,
                 '42501', NULL, 'after REVOKE, produce is refused again');
RESET ROLE;

-- the check is per role, also within one transaction that already produced
-- to the partition as another role
BEGIN;
DO $$ BEGIN
    PERFORM topics.produce('tap.priv', 'superuser in the transaction'::bytea, partition => 1);
END $$;
SET LOCAL ROLE pgtopics_tap_nobody;
SELECT throws_ok($$SELECT * FROM topics.produce('tap.priv', 'x'::bytea, partition => 1)$$,
                 '42501', NULL,
                 'a role switch inside a producing transaction is checked again');
SELECT throws_ok($$SELECT * FROM topics.produce_batch('tap.priv', ARRAY['x']::bytea[],
                                                      partition => 1)$$,
                 '42501', NULL, 'also for produce_batch');
RESET ROLE;
COMMIT;
SELECT is(ARRAY(SELECT convert_from(value, 'UTF8') FROM topics.fetch('tap.priv', 1, 3)),
          ARRAY['superuser in the transaction'],
                  'only the permitted record of that transaction was stored');

-- SECURITY DEFINER wrappers are how an owner hands out narrower rights
CREATE FUNCTION public.tap_produce_hello() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT "offset" FROM topics.produce('tap.priv', 'hello'::bytea, partition => 0)
$$;
REVOKE ALL ON FUNCTION public.tap_produce_hello() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.tap_produce_hello() TO pgtopics_tap_nobody;
SET ROLE pgtopics_tap_nobody;
SELECT is(public.tap_produce_hello(), 2::bigint,
          'a role without grants produces through a SECURITY DEFINER function');
RESET ROLE;

-- the metadata is public; the records are not
SET ROLE pgtopics_tap_nobody;
SELECT is((SELECT count(*) FROM topics.topic_meta WHERE name LIKE 'tap.%'), 2::bigint,
          'topic_meta can be read by anyone');
SELECT is((SELECT partitions FROM topics.topic_meta WHERE name = 'tap.priv'), 2,
          'including the partition count');
RESET ROLE;

SELECT * FROM finish();

-- clean up: the roles are cluster-wide
DROP FUNCTION public.tap_produce_hello();
DROP OWNED BY pgtopics_tap_nobody, pgtopics_tap_producer, pgtopics_tap_consumer,
              pgtopics_tap_group, pgtopics_tap_member;
DROP ROLE pgtopics_tap_nobody, pgtopics_tap_producer, pgtopics_tap_consumer,
          pgtopics_tap_member, pgtopics_tap_group;
