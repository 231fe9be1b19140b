-- groups: consumer-group behaviour.
--   - exactly once: sessions that consume and write what they got to a table
--     in the same transaction, rolling back at random, leave every record in
--     that table exactly once, also when two of them run at the same time;
--   - at least once with the member protocol: what a member polled but did
--     not commit comes again after a rebalance, from the committed offset;
--   - every misuse gets its SQLSTATE (throws_ok);
--   - the assignors: every partition to exactly one member, sizes balanced
--     (7 partitions over 3 members: 3, 2, 2), also after a member leaves;
--   - sticky: when a member leaves or joins, the others keep what they had.
--
-- Runs outside a transaction: the consumers commit and roll back (DO blocks
-- with COMMIT and ROLLBACK, and sessions opened with dblink).  Each test file
-- gets a fresh database.  The role is cluster-wide: it carries this file's
-- prefix, is dropped first in case an earlier run stopped half-way, and
-- dropped again at the end.

\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgtopics_tap_groups_noread') THEN
        DROP OWNED BY pgtopics_tap_groups_noread;
        DROP ROLE pgtopics_tap_groups_noread;
    END IF;
END
$$;
CREATE ROLE pgtopics_tap_groups_noread;

DO $$
BEGIN
    PERFORM topics.create_topic('tap.eo', 4);
    PERFORM topics.create_topic('tap.eo2', 3);
    PERFORM topics.create_topic('tap.alo', 3);
    PERFORM topics.create_topic('tap.err', 2);
    PERFORM topics.create_topic('tap.seven', 7);
    PERFORM topics.create_topic('tap.three', 3);
END
$$;

-- The application's table: what each consumer did with each record.
CREATE TABLE processed (topic text, partition integer, "offset" bigint, value text,
                        consumer text);
-- Non-transactional counters: a rollback does not take them back.
CREATE SEQUENCE rollbacks;
CREATE SEQUENCE deliveries;

-- Sizes of a group's assignments, largest first, and whether every
-- partition of the topic is assigned to exactly one member.
CREATE FUNCTION pg_temp.sizes(grp text) RETURNS integer[]
LANGUAGE sql AS $$
    SELECT array_agg(cardinality(m.assignment) ORDER BY cardinality(m.assignment) DESC)
    FROM topics.group_members m WHERE m.group_id = grp
$$;
CREATE FUNCTION pg_temp.each_once(grp text, topic text) RETURNS boolean
LANGUAGE sql AS $$
    SELECT array_agg(a.partition ORDER BY a.partition)
           = ARRAY(SELECT generate_series(0, t.partitions - 1)
                   FROM topics.topic_list t WHERE t.name = each_once.topic)
    FROM topics.group_members m, unnest(m.assignment) a
    WHERE m.group_id = grp AND a.topic = each_once.topic
$$;
-- One member's partitions of a topic, sorted.
CREATE FUNCTION pg_temp.parts(grp text, member text) RETURNS integer[]
LANGUAGE sql AS $$
    SELECT coalesce(array_agg(a.partition ORDER BY a.partition), '{}')
    FROM topics.group_members m, unnest(m.assignment) a
    WHERE m.group_id = grp AND m.member_id = member
$$;
-- Members join with client_id = their name; their member id starts with it.
CREATE FUNCTION pg_temp.member(grp text, name text) RETURNS text
LANGUAGE sql AS $$
    SELECT m.member_id FROM topics.group_members m
    WHERE m.group_id = grp AND m.client_id = name
$$;
CREATE FUNCTION pg_temp.join(grp text, name text, topic text, assignor text) RETURNS integer
LANGUAGE sql AS $$
    SELECT j.generation FROM topics.join_group(grp, ARRAY[topic], assignor => assignor,
                                              client_id => name) j
$$;

-- The consumer loop of an application that processes and commits in one
-- transaction: consume up to 7 records, write them to processed, commit, or
-- roll back about one time in three (the crash of a worker, a failed
-- write).  Stops when a consume returns nothing and the group has no lag
-- left (another session may hold the partitions that still have records).
CREATE PROCEDURE consumer_loop(grp text, topic text, name text)
LANGUAGE plpgsql AS $$
DECLARE
    got integer;
BEGIN
    LOOP
        INSERT INTO processed
        SELECT c.topic, c.partition, c."offset", convert_from(c.value, 'UTF8'), name
        FROM topics.consume(grp, topic, 7) c;
        GET DIAGNOSTICS got = ROW_COUNT;
        PERFORM nextval('deliveries') FROM generate_series(1, got);
        IF got = 0 THEN
            COMMIT;
            EXIT WHEN NOT EXISTS (SELECT FROM topics.consumer_lag l
                                  WHERE l.group_id = grp AND l.lag > 0);
            PERFORM pg_sleep(0.01);
        ELSIF random() < 0.33 THEN
            PERFORM nextval('rollbacks');
            ROLLBACK;
        ELSE
            COMMIT;
        END IF;
    END LOOP;
END
$$;

SELECT plan(77);

------------------------------------------------------------------------------
-- Exactly once: consume and write in one transaction
------------------------------------------------------------------------------

SET pg_topics.auto_offset_reset = 'earliest';
DO $$
BEGIN
    PERFORM topics.produce_batch('tap.eo',
        ARRAY(SELECT ('r' || i)::bytea FROM generate_series(1, 300) AS i));
    PERFORM topics.produce_batch('tap.eo',
        ARRAY(SELECT ('k' || i)::bytea FROM generate_series(1, 100) AS i),
        keys => ARRAY(SELECT ('key' || i)::bytea FROM generate_series(1, 100) AS i));
END
$$;
CALL consumer_loop('tap.eo.single', 'tap.eo', 'single');

SELECT is((SELECT count(*) FROM processed WHERE topic = 'tap.eo'), 400::bigint,
          'one session: 400 records produced, 400 rows in the application table');
SELECT is((SELECT count(DISTINCT (partition, "offset")) FROM processed WHERE topic = 'tap.eo'),
          400::bigint, 'one session: no record was written twice');
SELECT set_eq($$SELECT partition, "offset", value FROM processed WHERE topic = 'tap.eo'$$,
              $$SELECT r.partition, r."offset", convert_from(r.value, 'UTF8')
                FROM generate_series(0, 3) p, topics.fetch('tap.eo', p, 0, 1000) r$$,
              'one session: the application table holds exactly the records of the topic');
SELECT cmp_ok((SELECT last_value FROM rollbacks), '>', 0::bigint,
              'one session: some transactions rolled back');
SELECT cmp_ok((SELECT last_value FROM deliveries), '>', 400::bigint,
              'one session: rolled-back records were delivered again');
SELECT is((SELECT array_agg(lag ORDER BY partition) FROM topics.consumer_lag
           WHERE group_id = 'tap.eo.single'), '{0,0,0,0}'::bigint[],
          'one session: no lag is left');

-- Two sessions of one group at once, each rolling back at random.  Records
-- keep arriving while they run.
SELECT setval('rollbacks', 1, false) AS r, setval('deliveries', 1, false) AS d \gset
DO $$
BEGIN
    FOR p IN 0 .. 2 LOOP
        PERFORM topics.produce_batch('tap.eo2',
            ARRAY(SELECT ('s' || p || '.' || i)::bytea FROM generate_series(1, 70) AS i),
            partition => p);
    END LOOP;
END
$$;
SELECT dblink_connect('c1', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'),
                      split_part(current_setting('unix_socket_directories'), ',', 1))) AS c1,
       dblink_connect('c2', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'),
                      split_part(current_setting('unix_socket_directories'), ',', 1))) AS c2
\gset
SELECT dblink_exec('c1', $$SET pg_topics.auto_offset_reset = 'earliest'$$) AS s1,
       dblink_exec('c2', $$SET pg_topics.auto_offset_reset = 'earliest'$$) AS s2 \gset
-- the group's offsets exist before the sessions start
SELECT count(*) AS n FROM topics.reset_offsets('tap.eo.pair', 'tap.eo2', reset_to => 'earliest') \gset
SELECT dblink_send_query('c1', $$CALL consumer_loop('tap.eo.pair', 'tap.eo2', 'c1')$$) AS q1,
       dblink_send_query('c2', $$CALL consumer_loop('tap.eo.pair', 'tap.eo2', 'c2')$$) AS q2 \gset
DO $$
BEGIN
    FOR i IN 1 .. 10 LOOP
        PERFORM topics.produce_batch('tap.eo2',
            ARRAY(SELECT ('t' || i || '.' || j)::bytea FROM generate_series(1, 10) AS j));
        COMMIT;
    END LOOP;
END
$$;
SELECT status AS c1_status FROM dblink_get_result('c1') AS t(status text) \gset
SELECT count(*) AS c1_end FROM dblink_get_result('c1') AS t(status text) \gset
SELECT status AS c2_status FROM dblink_get_result('c2') AS t(status text) \gset
SELECT count(*) AS c2_end FROM dblink_get_result('c2') AS t(status text) \gset
SELECT is(:'c1_status' || ' ' || :'c2_status', 'CALL CALL', 'two sessions: both loops ended without error');
-- what the loops may have left when the last records came after they ended
CALL consumer_loop('tap.eo.pair', 'tap.eo2', 'sweep');

SELECT is((SELECT count(*) FROM processed WHERE topic = 'tap.eo2'), 310::bigint,
          'two sessions: 310 records produced, 310 rows in the application table');
SELECT is((SELECT count(DISTINCT (partition, "offset")) FROM processed WHERE topic = 'tap.eo2'),
          310::bigint, 'two sessions: no record was written twice');
SELECT set_eq($$SELECT partition, "offset", value FROM processed WHERE topic = 'tap.eo2'$$,
              $$SELECT r.partition, r."offset", convert_from(r.value, 'UTF8')
                FROM generate_series(0, 2) p, topics.fetch('tap.eo2', p, 0, 1000) r$$,
              'two sessions: the application table holds exactly the records of the topic');
SELECT cmp_ok((SELECT count(*) FROM processed WHERE topic = 'tap.eo2' AND consumer = 'c1'),
              '>', 0::bigint, 'two sessions: the first session wrote records');
SELECT cmp_ok((SELECT count(*) FROM processed WHERE topic = 'tap.eo2' AND consumer = 'c2'),
              '>', 0::bigint, 'two sessions: the second session wrote records');
SELECT cmp_ok((SELECT last_value FROM rollbacks), '>', 0::bigint,
              'two sessions: some transactions rolled back');
SELECT is((SELECT array_agg(lag ORDER BY partition) FROM topics.consumer_lag
           WHERE group_id = 'tap.eo.pair'), '{0,0,0}'::bigint[],
          'two sessions: no lag is left');
SELECT dblink_disconnect('c1') AS d1, dblink_disconnect('c2') AS d2 \gset

------------------------------------------------------------------------------
-- At least once with the member protocol: poll, commit part, rebalance
------------------------------------------------------------------------------

DO $$
BEGIN
    FOR p IN 0 .. 2 LOOP
        PERFORM topics.produce_batch('tap.alo',
            ARRAY(SELECT ('p' || p || '.' || i)::bytea FROM generate_series(0, 9) AS i),
            partition => p);
    END LOOP;
END
$$;
SELECT pg_temp.join('tap.alo', 'a', 'tap.alo', 'range') AS gen \gset
SELECT pg_temp.member('tap.alo', 'a') AS a \gset
CREATE TEMP TABLE polled_a AS SELECT * FROM topics.poll('tap.alo', :'a', :gen);
SELECT is((SELECT count(*) FROM polled_a), 30::bigint, 'a member polls all 30 records');
SELECT is((SELECT count(*) FROM topics.poll('tap.alo', :'a', :gen)), 0::bigint,
          'polling again returns nothing: the position moved');
-- a commits partition 0 to its end, partition 1 to 4, partition 2 not at all
SELECT topics.commit('tap.alo', 'tap.alo', 0, 10, member_id => :'a', generation => :gen) AS c0,
       topics.commit('tap.alo', 'tap.alo', 1, 4, member_id => :'a', generation => :gen) AS c1 \gset
SELECT pg_temp.join('tap.alo', 'b', 'tap.alo', 'range') AS gen \gset
SELECT pg_temp.member('tap.alo', 'b') AS b \gset
SELECT is(topics.heartbeat('tap.alo', :'a', :gen - 1), 'rebalance',
          'after b joined, a is told to rejoin');
SELECT is((SELECT j.generation FROM topics.join_group('tap.alo', '{tap.alo}', :'a') j), :gen,
          'a rejoins in the new generation');
CREATE TEMP TABLE polled_after AS
SELECT * FROM topics.poll('tap.alo', :'a', :gen)
UNION ALL SELECT * FROM topics.poll('tap.alo', :'b', :gen);
SELECT set_eq($$SELECT partition, "offset" FROM polled_after$$,
              $$SELECT 1, o FROM generate_series(4, 9) o
                UNION ALL SELECT 2, o FROM generate_series(0, 9) o$$,
              'after the rebalance, everything polled but not committed comes again, nothing committed does');
SELECT is((SELECT count(*) FROM polled_after), 16::bigint,
          'after the rebalance, each uncommitted record comes once');
SELECT throws_ok(format('SELECT topics.commit(%L, %L, 2, 10, member_id => %L, generation => %s)',
                        'tap.alo', 'tap.alo', :'a', :gen - 1),
                 'PT003', NULL, 'a commit with the generation before the rebalance is fenced');

------------------------------------------------------------------------------
-- Errors, each with its SQLSTATE
------------------------------------------------------------------------------

DO $$ BEGIN PERFORM topics.produce('tap.err', 'x'::bytea, partition => 0); END $$;
SELECT throws_ok($$SELECT * FROM topics.consume(NULL, 'tap.err')$$, '22004', NULL,
                 'consume: NULL group_id');
SELECT throws_ok($$SELECT * FROM topics.consume('', 'tap.err')$$, '22023', NULL,
                 'consume: empty group_id');
SELECT throws_ok($$SELECT * FROM topics.consume(repeat('x', 256), 'tap.err')$$, '22023', NULL,
                 'consume: group_id of 256 characters');
SELECT throws_ok($$SELECT * FROM topics.consume('tap.e', 'tap.err', 0)$$, '22023', NULL,
                 'consume: max_records 0');
SELECT throws_ok($$SELECT * FROM topics.consume('tap.e', 'tap.err', 1000001)$$, '22023', NULL,
                 'consume: max_records above 1000000');
SELECT throws_ok($$SELECT * FROM topics.consume('tap.e', 'tap.nope')$$, '42704', NULL,
                 'consume: unknown topic');
SET ROLE pgtopics_tap_groups_noread;
SELECT throws_ok($$SELECT * FROM topics.consume('tap.e', 'tap.err')$$, '42501', NULL,
                 'consume: no SELECT on the topic');
RESET ROLE;
SELECT throws_ok($$SELECT topics.commit('tap.e', 'tap.err', 0, -1)$$, '22023', NULL,
                 'commit: negative offset');
SELECT throws_ok($$SELECT topics.commit('tap.e', 'tap.err', 0, 2)$$, 'PT001', NULL,
                 'commit: offset beyond the high watermark');
SELECT throws_ok($$SELECT topics.commit('tap.e', 'tap.err', 2, 0)$$, '22023', NULL,
                 'commit: partition out of range');
SELECT throws_ok($$SELECT topics.commit('tap.e', 'tap.nope', 0, 0)$$, '42704', NULL,
                 'commit: unknown topic');
SELECT throws_ok($$SELECT topics.delete_group('tap.never')$$, '42704', NULL,
                 'delete_group: unknown group');
SELECT throws_ok($$SELECT * FROM topics.reset_offsets('tap.e', 'tap.err', reset_to => 'now')$$,
                 '22023', NULL, 'reset_offsets: unknown target');
SELECT throws_ok($$SELECT * FROM topics.reset_offsets('tap.e', 'tap.err', reset_to => -5)$$,
                 '22023', NULL, 'reset_offsets: negative offset');

SELECT pg_temp.join('tap.em', 'm', 'tap.err', 'range') AS gen \gset
SELECT pg_temp.member('tap.em', 'm') AS m \gset
SELECT throws_ok($$SELECT * FROM topics.consume('tap.em', 'tap.err')$$, '55000', NULL,
                 'consume: the group has members');
SELECT throws_ok($$SELECT topics.commit('tap.em', 'tap.err', 0, 0)$$, '55000', NULL,
                 'commit without member_id and generation: the group has members');
SELECT throws_ok($$SELECT * FROM topics.reset_offsets('tap.em', 'tap.err', reset_to => 'earliest')$$,
                 '55000', NULL, 'reset_offsets: the group has members');
SELECT throws_ok($$SELECT topics.delete_group('tap.em')$$, '55000', NULL,
                 'delete_group: the group has members');
SELECT throws_ok($$SELECT * FROM topics.join_group('tap.em', '{tap.err}', assignor => 'sticky')$$,
                 '22023', NULL, 'join_group: another assignor than the group''s');
SELECT throws_ok($$SELECT * FROM topics.join_group('tap.em', '{tap.err}', session_timeout => '0.5 s')$$,
                 '22023', NULL, 'join_group: session_timeout below 1 s');
SELECT throws_ok($$SELECT * FROM topics.join_group('tap.em', '{tap.err}', session_timeout => '31 min')$$,
                 '22023', NULL, 'join_group: session_timeout above 30 min');
SELECT throws_ok($$SELECT * FROM topics.join_group('tap.em', '{tap.err}', 'tap.em-nobody')$$,
                 'PT002', NULL, 'join_group: unknown member_id');
SELECT throws_ok($$SELECT topics.heartbeat('tap.em', 'tap.em-nobody', 1)$$, 'PT002', NULL,
                 'heartbeat: unknown member');
SELECT throws_ok(format('SELECT topics.heartbeat(%L, %L, %s)', 'tap.em', :'m', :gen + 1),
                 'PT003', NULL, 'heartbeat: a generation from the future');
SELECT throws_ok($$SELECT * FROM topics.poll('tap.em', 'tap.em-nobody', 1)$$, 'PT002', NULL,
                 'poll: unknown member');
SELECT throws_ok($$SELECT topics.leave_group('tap.em', 'tap.em-nobody')$$, 'PT002', NULL,
                 'leave_group: unknown member');
SELECT throws_ok($$SELECT topics.commit('tap.em', 'tap.err', 0, 0, member_id => 'tap.em-nobody', generation => 1)$$,
                 'PT002', NULL, 'commit: unknown member');
SELECT throws_ok($$SELECT topics.seek('tap.em', 'tap.em-nobody', 1, 'tap.err', 0, 0)$$,
                 'PT002', NULL, 'seek: unknown member');
-- a second member makes m's generation stale
SELECT pg_temp.join('tap.em', 'n', 'tap.err', 'range') AS gen2 \gset
SELECT throws_ok(format('SELECT topics.commit(%L, %L, 0, 0, member_id => %L, generation => %s)',
                        'tap.em', 'tap.err', :'m', :gen), 'PT003', NULL,
                 'commit: stale generation');
SELECT throws_ok(format('SELECT * FROM topics.poll(%L, %L, %s)', 'tap.em', :'m', :gen),
                 'PT003', NULL, 'poll: stale generation');
SELECT throws_ok(format('SELECT topics.seek(%L, %L, %s, %L, 0, 0)', 'tap.em', :'m', :gen, 'tap.err'),
                 'PT003', NULL, 'seek: stale generation');
SELECT throws_ok(format('SELECT * FROM topics.poll(%L, %L, %s)', 'tap.em', :'m', :gen2),
                 'PT003', NULL, 'poll: current generation, but the member has not rejoined');
SELECT lives_ok(format('SELECT * FROM topics.join_group(%L, %L, %L)', 'tap.em', '{tap.err}', :'m'),
                'the member rejoins');
SELECT lives_ok(format('SELECT * FROM topics.poll(%L, %L, %s)', 'tap.em', :'m', :gen2),
                'then its poll with the current generation works');
SELECT throws_ok(format('SELECT topics.seek(%L, %L, %s, %L, 0, -1)', 'tap.em', :'m', :gen2, 'tap.err'),
                 '22023', NULL, 'seek: negative offset');

------------------------------------------------------------------------------
-- Assignors: balanced, every partition exactly once
------------------------------------------------------------------------------

SELECT count(pg_temp.join('tap.as.' || a, n, 'tap.seven', a)) AS joined
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a, unnest(ARRAY['a', 'b', 'c']) AS n \gset
SELECT is(pg_temp.sizes('tap.as.' || a), '{3,2,2}'::integer[],
          a || ': 7 partitions over 3 members, sizes 3, 2, 2')
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a;
SELECT ok(pg_temp.each_once('tap.as.' || a, 'tap.seven'),
          a || ': every partition assigned to exactly one member')
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a;
SELECT count(topics.leave_group('tap.as.' || a, pg_temp.member('tap.as.' || a, 'b'))) AS left
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a \gset
SELECT is(pg_temp.sizes('tap.as.' || a), '{4,3}'::integer[],
          a || ': after a member left, 7 over 2 members: 4, 3')
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a;
SELECT ok(pg_temp.each_once('tap.as.' || a, 'tap.seven'),
          a || ': after a member left, every partition still assigned exactly once')
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a;
-- more members than partitions: some get nothing, none gets two
SELECT count(pg_temp.join('tap.as.many.' || a, n, 'tap.three', a)) AS joined
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a,
     unnest(ARRAY['a', 'b', 'c', 'd', 'e']) AS n \gset
SELECT is(pg_temp.sizes('tap.as.many.' || a), '{1,1,1,0,0}'::integer[],
          a || ': 3 partitions over 5 members, sizes 1, 1, 1, 0, 0')
FROM unnest(ARRAY['range', 'roundrobin', 'sticky']) AS a;

------------------------------------------------------------------------------
-- Sticky: the others keep what they had
------------------------------------------------------------------------------

-- a, b, c on 7 partitions; the first member (a) leaves.  Range moves b's
-- and c's partitions in that case (each topic's ranges start again from the
-- first member); sticky must not.
SELECT count(pg_temp.join('tap.st.' || a, n, 'tap.seven', a)) AS joined
FROM unnest(ARRAY['range', 'sticky']) AS a, unnest(ARRAY['a', 'b', 'c']) AS n \gset
CREATE TEMP TABLE before_leave AS
SELECT m.group_id, m.client_id, pg_temp.parts(m.group_id, m.member_id) AS parts
FROM topics.group_members m WHERE m.group_id LIKE 'tap.st.%';
SELECT count(topics.leave_group('tap.st.' || a, pg_temp.member('tap.st.' || a, 'a'))) AS left
FROM unnest(ARRAY['range', 'sticky']) AS a \gset
SELECT ok(bool_and(pg_temp.parts(b.group_id, pg_temp.member(b.group_id, b.client_id)) @> b.parts),
          'sticky: after a member left, each remaining member kept all its partitions')
FROM before_leave b WHERE b.group_id = 'tap.st.sticky' AND b.client_id <> 'a';
SELECT ok(NOT bool_and(pg_temp.parts(b.group_id, pg_temp.member(b.group_id, b.client_id)) @> b.parts),
          'range, in the same case, moves partitions (so the sticky test can tell)')
FROM before_leave b WHERE b.group_id = 'tap.st.range' AND b.client_id <> 'a';
SELECT is(pg_temp.sizes('tap.st.sticky'), '{4,3}'::integer[],
          'sticky: after a member left, still balanced');

-- two members join: (fair share 2) each old member keeps only partitions it
-- had, and the new ones get the rest
DELETE FROM before_leave;
INSERT INTO before_leave
SELECT m.group_id, m.client_id, pg_temp.parts(m.group_id, m.member_id)
FROM topics.group_members m WHERE m.group_id = 'tap.st.sticky';
SELECT count(pg_temp.join('tap.st.sticky', n, 'tap.seven', 'sticky')) AS joined
FROM unnest(ARRAY['d', 'e']) AS n \gset
SELECT ok(bool_and(pg_temp.parts(b.group_id, pg_temp.member(b.group_id, b.client_id)) <@ b.parts),
          'sticky: after members joined, the old members kept a part of what they had')
FROM before_leave b;
SELECT is(pg_temp.sizes('tap.st.sticky'), '{2,2,2,1}'::integer[],
          'sticky: 7 over 4 members: 2, 2, 2, 1');
SELECT ok(pg_temp.each_once('tap.st.sticky', 'tap.seven'),
          'sticky: every partition still assigned exactly once');

-- clean up
SET client_min_messages = warning;
SELECT count(topics.leave_group(m.group_id, m.member_id)) AS left FROM topics.group_members m \gset
DROP OWNED BY pgtopics_tap_groups_noread;
DROP ROLE pgtopics_tap_groups_noread;

SELECT * FROM finish();
