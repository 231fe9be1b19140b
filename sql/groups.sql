--
-- groups: consumer groups.  Transactional consumption (topics.consume), the
-- offset store (commit, committed, reset_offsets, delete_group), the member
-- protocol (join_group, heartbeat, poll, seek, commit with fencing,
-- leave_group), the three assignors, static membership, the views
-- (group_list, group_members, consumer_lag), and every misuse with its
-- SQLSTATE.
--
-- Member ids are random: they are never printed.  Members join with a
-- client_id (their name here), which is also the prefix of their member id,
-- so the assignors order them by name; pg_temp.join keeps each member's id
-- under its name and the tests print only what follows from it.
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

-- Runs a statement and says how it ended: 'ok', or its SQLSTATE and message
-- with member ids' uuids masked (for errors that name a member).
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;

-- Members by name, in the order they joined.
CREATE TEMP TABLE mem (ord serial, grp text, name text, member_id text,
                       PRIMARY KEY (grp, name));

-- An assignment as text: "topic/partition" sorted, space-separated.
CREATE FUNCTION pg_temp.show(a topics.topic_partition[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(x.topic || '/' || x.partition, ' '
                               ORDER BY x.topic, x.partition), '-')
    FROM unnest(a) AS x
$$;

-- A new member called name joins group grp (client_id = name); its member id
-- is kept in mem.  Returns the generation and the member's assignment.
CREATE FUNCTION pg_temp.join(grp text, name text, subs text[],
                             assignor text DEFAULT 'range', instance text DEFAULT NULL,
                             OUT generation integer, OUT assignment text)
LANGUAGE plpgsql AS $$
DECLARE
    j record;
BEGIN
    SELECT * INTO j FROM topics.join_group(grp, subs, assignor => assignor,
                                           client_id => name, instance_id => instance);
    INSERT INTO mem (grp, name, member_id) VALUES (grp, name, j.member_id);
    generation := j.generation;
    assignment := pg_temp.show(j.assignment);
END
$$;

-- The member called name rejoins with its member id.
CREATE FUNCTION pg_temp.rejoin(grp text, name text, subs text[],
                               assignor text DEFAULT 'range',
                               OUT generation integer, OUT assignment text)
LANGUAGE plpgsql AS $$
DECLARE
    j record;
BEGIN
    SELECT * INTO j FROM topics.join_group(grp, subs,
                                           (SELECT m.member_id FROM mem m
                                            WHERE m.grp = rejoin.grp AND m.name = rejoin.name),
                                           assignor => assignor);
    generation := j.generation;
    assignment := pg_temp.show(j.assignment);
END
$$;

-- The member id of a named member, for calls with psql variables.
CREATE FUNCTION pg_temp.id(grp text, name text) RETURNS text
LANGUAGE sql AS $$ SELECT m.member_id FROM mem m WHERE m.grp = $1 AND m.name = $2 $$;

-- The group's members as the group sees them, by name in join order.
CREATE FUNCTION pg_temp.members(grp text)
RETURNS TABLE (name text, generation integer, assignment text)
LANGUAGE sql AS $$
    SELECT m.name, gm.generation, pg_temp.show(gm.assignment)
    FROM topics.group_members gm JOIN mem m ON m.member_id = gm.member_id
    WHERE gm.group_id = $1
    ORDER BY m.ord
$$;

-- Records as "partition:offset:value", sorted.
CREATE FUNCTION pg_temp.recs(r topics.record[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(x.partition || ':' || x."offset" || ':'
                               || coalesce(convert_from(x.value, 'UTF8'), 'NULL'), ' '
                               ORDER BY x.partition, x."offset"), '-')
    FROM unnest(r) AS x
$$;

------------------------------------------------------------------------------
-- Transactional consumption: where a new group starts
------------------------------------------------------------------------------

SELECT topics.create_topic('gr.two', 2);
SELECT * FROM topics.produce('gr.two', 'a0', partition => 0);
SELECT * FROM topics.produce('gr.two', 'b0', partition => 1);
SELECT * FROM topics.produce('gr.two', 'a1', partition => 0);

-- latest (the default): a new group starts at the end and gets nothing of
-- what was there before it; its offsets are created at the end
SHOW pg_topics.auto_offset_reset;
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.late', 'gr.two') c;
SELECT topic, partition, committed_offset, metadata FROM topics.committed('gr.late');
-- then it gets what comes after
SELECT * FROM topics.produce('gr.two', 'a2', partition => 0);
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.late', 'gr.two') c;
SELECT topic, partition, committed_offset FROM topics.committed('gr.late');

-- earliest: a new group starts at the log start and gets everything
SET pg_topics.auto_offset_reset = 'earliest';
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.early', 'gr.two') c;
-- consumed: the committed offsets moved past the records, and a second
-- consume gets nothing
SELECT topic, partition, committed_offset, metadata FROM topics.committed('gr.early');
SELECT count(*) FROM topics.consume('gr.early', 'gr.two');
SELECT group_id, topic, partition, committed_offset, end_offset, lag
FROM topics.consumer_lag WHERE group_id IN ('gr.early', 'gr.late') ORDER BY 1, 2, 3;
-- the setting only matters where a group has no offsets: gr.late keeps its
-- own
SELECT count(*) FROM topics.consume('gr.late', 'gr.two');
SELECT * FROM topics.produce('gr.two', 'b1', partition => 1);
SELECT group_id, partition, committed_offset, end_offset, lag
FROM topics.consumer_lag WHERE group_id IN ('gr.early', 'gr.late') ORDER BY 1, 2;
-- a bad value of the setting
SET pg_topics.auto_offset_reset = 'middle';
:state
SET pg_topics.auto_offset_reset = 'earliest';

-- max_records, one partition at a time; what comes next continues from
-- there
SELECT topics.create_topic('gr.one');
SELECT count(*) FROM topics.produce_batch('gr.one',
    ARRAY['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']::bytea[]);
SELECT "offset", convert_from(value, 'UTF8') AS value, partition, topic
FROM topics.consume('gr.max', 'gr.one', 3);
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', max_records => 1);
SELECT committed_offset FROM topics.committed('gr.max', 'gr.one');
SELECT partition, committed_offset, end_offset, lag FROM topics.consumer_lag
WHERE group_id = 'gr.max';

-- rollback: the same records come again, and the offset is back
BEGIN;
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', 2);
SELECT committed_offset FROM topics.committed('gr.max');
ROLLBACK;
SELECT committed_offset FROM topics.committed('gr.max');
BEGIN;
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', 2);
-- within one transaction, a second consume continues after the first
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', 1);
-- a rolled-back savepoint gives its records back
SAVEPOINT s;
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', 1);
ROLLBACK TO SAVEPOINT s;
SELECT committed_offset FROM topics.committed('gr.max');
SELECT "offset" FROM topics.consume('gr.max', 'gr.one', 5);
COMMIT;
SELECT committed_offset FROM topics.committed('gr.max');
SELECT count(*) FROM topics.consume('gr.max', 'gr.one');
-- a group's first consume that rolls back leaves no group offsets behind
SET pg_topics.auto_offset_reset = 'latest';
BEGIN;
SELECT count(*) FROM topics.consume('gr.gone', 'gr.one');
ROLLBACK;
SELECT count(*) FROM topics.committed('gr.gone');
SET pg_topics.auto_offset_reset = 'earliest';

-- A second session of the same group (dblink) skips the partition this one
-- holds in its open transaction and gets the other partition's records.
-- Once this one commits, what it consumed never comes to the other; once it
-- rolls back, the other gets the same records.
SELECT dblink_connect('other',
    format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
           split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT count(*) FROM topics.produce_batch('gr.two', ARRAY['a3', 'a4']::bytea[], partition => 0);
SELECT count(*) FROM topics.produce_batch('gr.two', ARRAY['b2', 'b3']::bytea[], partition => 1);
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.pair', 'gr.two') c;
-- only partition 0 has something new: this session takes it
SELECT * FROM topics.produce('gr.two', 'a5', partition => 0);
BEGIN;
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.pair', 'gr.two') c;
-- the other session adds a record to each partition and consumes: it gets
-- partition 1's only, neither a5 nor a6 of the partition this one holds
SELECT * FROM dblink('other', $$
    SELECT count(*) FROM topics.produce('gr.two', 'a6', partition => 0)$$) AS t(n bigint);
SELECT * FROM dblink('other', $$
    SELECT count(*) FROM topics.produce('gr.two', 'b4', partition => 1)$$) AS t(n bigint);
SELECT * FROM dblink('other', $$
    SELECT partition, "offset", convert_from(value, 'UTF8')
    FROM topics.consume('gr.pair', 'gr.two') ORDER BY 1, 2$$)
    AS t(partition integer, "offset" bigint, value text);
COMMIT;
-- this session committed: the other gets a6, not a5
SELECT * FROM dblink('other', $$
    SELECT partition, "offset", convert_from(value, 'UTF8')
    FROM topics.consume('gr.pair', 'gr.two') ORDER BY 1, 2$$)
    AS t(partition integer, "offset" bigint, value text);
-- and now it rolls back: the other gets a7 again
SELECT * FROM topics.produce('gr.two', 'a7', partition => 0);
BEGIN;
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.pair', 'gr.two') c;
ROLLBACK;
SELECT * FROM dblink('other', $$
    SELECT partition, "offset", convert_from(value, 'UTF8')
    FROM topics.consume('gr.pair', 'gr.two') ORDER BY 1, 2$$)
    AS t(partition integer, "offset" bigint, value text);
SELECT partition, committed_offset, lag FROM topics.consumer_lag
WHERE group_id = 'gr.pair' ORDER BY partition;
SELECT count(*) FROM topics.consume('gr.pair', 'gr.two');

------------------------------------------------------------------------------
-- Transactional consumption: misuse
------------------------------------------------------------------------------

SELECT * FROM topics.consume(NULL, 'gr.one');
:state
SELECT * FROM topics.consume('', 'gr.one');
:state
SELECT * FROM topics.consume(repeat('g', 256), 'gr.one');
:state
SELECT count(*) FROM topics.consume(repeat('g', 255), 'gr.one');
SELECT * FROM topics.consume('gr.bad', NULL);
:state
SELECT * FROM topics.consume('gr.bad', 'gr.nope');
:state
SELECT * FROM topics.consume('gr.bad', 'gr.one', 0);
:state
SELECT * FROM topics.consume('gr.bad', 'gr.one', 1000001);
:state
SELECT * FROM topics.consume('gr.bad', 'gr.one', NULL);
:state
SELECT * FROM topics.consume('gr.bad', 'gr.one', wait => '-1 s');
:state
-- a read-only transaction cannot move offsets
BEGIN READ ONLY;
SELECT * FROM topics.consume('gr.bad', 'gr.one');
:state
ROLLBACK;
-- a role without SELECT on the topic
CREATE ROLE regress_groups_reader;
SET ROLE regress_groups_reader;
-- (terse: the hint names the topic's table, whose id depends on the tests
-- that ran before)
\set VERBOSITY terse
SELECT * FROM topics.consume('gr.bad', 'gr.one');
:state
\set VERBOSITY default
RESET ROLE;
DROP ROLE regress_groups_reader;
-- none of that created a group
SELECT group_id FROM topics.group_list WHERE group_id = 'gr.bad';

-- a wait returns as soon as records arrive, or at the timeout without any
SELECT count(*), clock_timestamp() - statement_timestamp() >= interval '190 ms' AS waited
FROM topics.consume('gr.max', 'gr.one', wait => '200 ms');

------------------------------------------------------------------------------
-- The offset store: commit, committed, reset_offsets, delete_group
------------------------------------------------------------------------------

-- commit creates the group and its offset, with metadata
SELECT topics.commit('gr.admin', 'gr.two', 0, 2, 'first');
SELECT topic, partition, committed_offset, metadata FROM topics.committed('gr.admin');
SELECT topics.commit('gr.admin', 'gr.two', 0, 3);
SELECT topics.commit('gr.admin', 'gr.two', 1, 0, 'one');
SELECT topic, partition, committed_offset, metadata FROM topics.committed('gr.admin', 'gr.two');
SELECT count(*) FROM topics.committed('gr.admin', 'gr.one');
SELECT count(*) FROM topics.committed('gr.nobody');
-- consume continues from a committed offset
SELECT partition, "offset" FROM topics.consume('gr.admin', 'gr.two', 1) WHERE partition = 0;
-- an offset may go back, and up to the high watermark (the next offset to be
-- written), not beyond
SELECT high_watermark AS hw FROM topics.partition_offsets('gr.two', 0) \gset
SELECT topics.commit('gr.admin', 'gr.two', 0, :hw);
SELECT committed_offset = :hw AS at_high_watermark FROM topics.committed('gr.admin')
WHERE partition = 0;
SELECT topics.commit('gr.admin', 'gr.two', 0, :hw + 1);
:state
SELECT topics.commit('gr.admin', 'gr.two', 0, 0);
SELECT topics.commit('gr.admin', 'gr.two', 0, -1);
:state
SELECT topics.commit('gr.admin', 'gr.two', NULL, 1);
:state
SELECT topics.commit('gr.admin', 'gr.two', 0, NULL);
:state
SELECT topics.commit('gr.admin', 'gr.two', 5, 0);
:state
SELECT topics.commit('gr.admin', 'gr.nope', 0, 0);
:state
SELECT topics.commit('', 'gr.two', 0, 0);
:state
SELECT topic, partition, committed_offset, metadata FROM topics.committed('gr.admin');

-- reset_offsets on a topic whose partition 0 starts at 10 (as retention
-- would leave it), with timestamps to look up
SELECT topics.create_topic('gr.reset', 2);
UPDATE topics.partition_meta SET log_start_offset = 10
WHERE topic_id = (SELECT topic_id FROM topics.topic_list WHERE name = 'gr.reset')
  AND partition = 0;
SELECT * FROM topics.produce('gr.reset', 'x', partition => 0, ts => '2024-01-01 00:00:00+00');
SELECT * FROM topics.produce('gr.reset', 'y', partition => 0, ts => '2024-01-02 00:00:00+00');
SELECT * FROM topics.produce('gr.reset', 'z', partition => 0, ts => '2024-01-03 00:00:00+00');
SELECT * FROM topics.produce('gr.reset', 'p', partition => 1, ts => '2024-01-01 12:00:00+00');
SELECT topic, partition, log_start_offset, high_watermark, last_stable_offset
FROM topics.partition_list WHERE topic = 'gr.reset' ORDER BY partition;
-- on a group without offsets, reset creates them
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'earliest');
SELECT partition, committed_offset FROM topics.committed('gr.r');
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'latest');
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => '2024-01-01 06:00:00+00'::timestamptz);
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => '2024-01-02 00:00:00+00'::timestamptz);
-- after every record: the end
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => '2030-01-01 00:00:00+00'::timestamptz);
-- offsets are clamped to each partition's log start and high watermark
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 11);
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 0);
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 1000);
SELECT partition, committed_offset, metadata FROM topics.committed('gr.r');
-- a reset clears the metadata of a commit
SELECT topics.commit('gr.r', 'gr.reset', 1, 0, 'kept?');
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'earliest');
SELECT partition, committed_offset, metadata FROM topics.committed('gr.r');
-- consume reads from the reset offset
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.r', 'gr.reset') c;
-- 'latest' is the last stable offset: a record still in flight in another
-- session is not skipped
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT * FROM topics.produce('gr.reset', 'w', partition => 1)$$)
    AS t(partition integer, "offset" bigint);
SELECT * FROM topics.produce('gr.reset', 'v', partition => 1);
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'latest');
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => '2030-01-01 00:00:00+00'::timestamptz);
SELECT dblink_exec('other', 'COMMIT');
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.r', 'gr.reset') c;
-- bad targets
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'middle');
:state
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => NULL::text);
:state
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => -1);
:state
SELECT * FROM topics.reset_offsets('gr.r', 'gr.reset', reset_to => 'infinity'::timestamptz);
:state
SELECT * FROM topics.reset_offsets('gr.r', 'gr.nope', reset_to => 'earliest');
:state
SELECT * FROM topics.reset_offsets(NULL, 'gr.reset', reset_to => 'earliest');
:state
SELECT partition, committed_offset FROM topics.committed('gr.r');

-- delete_group removes the group and its offsets
SELECT topics.delete_group('gr.r');
SELECT count(*) FROM topics.committed('gr.r');
SELECT count(*) FROM topics.group_list WHERE group_id = 'gr.r';
SELECT topics.delete_group('gr.r');
:state
-- the group starts over, where the setting says
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.r', 'gr.reset') c;
SELECT topics.delete_group('gr.r');

------------------------------------------------------------------------------
-- The member protocol: join, heartbeat, poll, commit, seek, leave
------------------------------------------------------------------------------

SELECT topics.create_topic('gr.five', 5);
SELECT count(*) FROM generate_series(0, 4) AS p,
    LATERAL topics.produce_batch('gr.five', ARRAY['v' || p || '.0', 'v' || p || '.1']::bytea[],
                                 partition => p);

-- the first member gets every partition in generation 1
SELECT * FROM pg_temp.join('gr.m', 'a', '{gr.five}');
SELECT group_id, state, generation, members, assignor, rebalanced_at IS NOT NULL AS rebalanced
FROM topics.group_list WHERE group_id = 'gr.m';
-- its member id is its client_id and a uuid
SELECT regexp_replace(member_id, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
                      '<uuid>') AS member_id
FROM mem WHERE grp = 'gr.m';
SELECT pg_temp.id('gr.m', 'a') AS a \gset
SELECT topics.heartbeat('gr.m', :'a', 1);
-- a second member: a rebalance (generation 2); range splits 5 as 3 + 2
SELECT * FROM pg_temp.join('gr.m', 'b', '{gr.five}');
SELECT pg_temp.id('gr.m', 'b') AS b \gset
-- a's assignment is already new, but a has not rejoined yet: its heartbeat
-- says so, the group is rebalancing, and its generation 1 is fenced
SELECT * FROM pg_temp.members('gr.m');
SELECT state, generation, members FROM topics.group_list WHERE group_id = 'gr.m';
SELECT topics.heartbeat('gr.m', :'a', 1);
SELECT topics.heartbeat('gr.m', :'a', 2);
SELECT topics.heartbeat('gr.m', :'b', 2);
SELECT * FROM topics.poll('gr.m', :'a', 1);
:state
SELECT topics.commit('gr.m', 'gr.five', 0, 1, member_id => :'a', generation => 1);
:state
SELECT * FROM topics.poll('gr.m', :'a', 2);
:state
-- a rejoins: no new rebalance, the current generation and its partitions
SELECT * FROM pg_temp.rejoin('gr.m', 'a', '{gr.five}');
SELECT state, generation, members FROM topics.group_list WHERE group_id = 'gr.m';
SELECT topics.heartbeat('gr.m', :'a', 2);
-- a generation from the future
SELECT topics.heartbeat('gr.m', :'a', 3);
:state
SELECT topics.heartbeat('gr.m', :'a', NULL);
:state
SELECT topics.heartbeat('gr.m', 'gr.m-nobody', 2);
:state

-- poll: the member's partitions from the committed offsets (none yet: the
-- setting says earliest), then on from its position
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'a', 2) p;
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'b', 2) p;
SELECT count(*) FROM topics.poll('gr.m', :'a', 2);
SELECT count(*) FROM topics.poll('gr.m', :'b', 2);
SELECT * FROM topics.produce('gr.five', 'v0.2', partition => 0);
SELECT * FROM topics.produce('gr.five', 'v4.2', partition => 4);
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'a', 2) p;
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'b', 2) p;
-- poll does not commit: the group's offsets are where consumption starts
SELECT partition, committed_offset FROM topics.committed('gr.m');
-- a member commits with its generation
SELECT topics.commit('gr.m', 'gr.five', 0, 3, 'a was here', member_id => :'a', generation => 2);
SELECT topics.commit('gr.m', 'gr.five', 1, 2, member_id => :'a', generation => 2);
SELECT topics.commit('gr.m', 'gr.five', 3, 1, member_id => :'b', generation => 2);
SELECT partition, committed_offset, metadata FROM topics.committed('gr.m');
-- without member_id and generation, or with only one of them, while the
-- group has members: refused
SELECT topics.commit('gr.m', 'gr.five', 0, 0);
:state
SELECT topics.commit('gr.m', 'gr.five', 0, 0, member_id => :'a');
:state
SELECT topics.commit('gr.m', 'gr.five', 0, 0, generation => 2);
:state
-- an unknown member, a stale generation, a generation from the future
SELECT topics.commit('gr.m', 'gr.five', 0, 0, member_id => 'gr.m-nobody', generation => 2);
:state
SELECT topics.commit('gr.m', 'gr.five', 0, 0, member_id => :'a', generation => 1);
:state
SELECT topics.commit('gr.m', 'gr.five', 0, 0, member_id => :'a', generation => 3);
:state
SELECT partition, committed_offset FROM topics.committed('gr.m');
-- poll with a wait returns at the timeout when nothing comes
SELECT count(*), clock_timestamp() - statement_timestamp() >= interval '190 ms' AS waited
FROM topics.poll('gr.m', :'b', 2, wait => '200 ms');
-- poll's own misuse
SELECT * FROM topics.poll('gr.m', :'a', 2, 0);
:state
SELECT * FROM topics.poll('gr.m', 'gr.m-nobody', 2);
:state
SELECT * FROM topics.poll('gr.m', :'a', NULL);
:state

-- seek moves the position in one partition; the next poll reads from there
SELECT topics.seek('gr.m', :'a', 2, 'gr.five', 1, 0);
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'a', 2) p;
SELECT topics.seek('gr.m', :'b', 2, 'gr.five', 4, 2);
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'b', 2) p;
-- a partition that is not the member's, a negative offset, a stale
-- generation, an unknown member
SELECT pg_temp.try(format('SELECT topics.seek(%L, %L, 2, %L, 4, 0)', 'gr.m', :'a', 'gr.five'));
SELECT topics.seek('gr.m', :'a', 2, 'gr.five', 0, -1);
:state
SELECT topics.seek('gr.m', :'a', 1, 'gr.five', 0, 0);
:state
SELECT topics.seek('gr.m', 'gr.m-nobody', 2, 'gr.five', 0, 0);
:state

-- the group belongs to its members: no transactional consume, no reset, no
-- delete
SELECT * FROM topics.consume('gr.m', 'gr.five');
:state
SELECT * FROM topics.reset_offsets('gr.m', 'gr.five', reset_to => 'earliest');
:state
SELECT topics.delete_group('gr.m');
:state

-- join_group misuse
SELECT * FROM topics.join_group('gr.m', '{gr.five}', 'gr.m-nobody');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five}', session_timeout => '999 ms');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five}', session_timeout => '30 min 1 s');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five}', session_timeout => NULL);
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five}', assignor => 'sticky');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five}', assignor => 'random');
:state
SELECT * FROM topics.join_group('gr.m', '{}');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.five,NULL}');
:state
SELECT * FROM topics.join_group('gr.m', '{gr.nope}');
:state
SELECT * FROM topics.join_group('', '{gr.five}');
:state
-- none of that changed the group
SELECT state, generation, members, assignor FROM topics.group_list WHERE group_id = 'gr.m';

-- b leaves: a gets everything in generation 3 and starts every partition at
-- the group's committed offset (its own positions are forgotten: partition
-- 2 comes again, partition 3 from 1, where b committed)
SELECT topics.leave_group('gr.m', :'b');
SELECT pg_temp.try(format('SELECT topics.leave_group(%L, %L)', 'gr.m', :'b'));
SELECT pg_temp.try(format('SELECT topics.heartbeat(%L, %L, 3)', 'gr.m', :'b'));
SELECT pg_temp.try(format('SELECT topics.commit(%L, %L, 3, 0, member_id => %L, generation => 3)',
                          'gr.m', 'gr.five', :'b'));
SELECT topics.heartbeat('gr.m', :'a', 2);
SELECT * FROM pg_temp.rejoin('gr.m', 'a', '{gr.five}');
SELECT pg_temp.recs(array_agg(p)) FROM topics.poll('gr.m', :'a', 3) p;
-- a leaves too: the group is empty, and transactional consumption, resets
-- and delete are allowed again
SELECT topics.leave_group('gr.m', :'a');
SELECT state, generation, members FROM topics.group_list WHERE group_id = 'gr.m';
SELECT * FROM topics.reset_offsets('gr.m', 'gr.five', reset_to => 1);
SELECT pg_temp.recs(array_agg(c)) FROM topics.consume('gr.m', 'gr.five') c;
SELECT topics.delete_group('gr.m');

------------------------------------------------------------------------------
-- Assignors: 5 partitions over 2 and 3 members
------------------------------------------------------------------------------

-- range: contiguous ranges, the first members get one more
SELECT * FROM pg_temp.join('gr.range', 'a', '{gr.five}', 'range');
SELECT * FROM pg_temp.join('gr.range', 'b', '{gr.five}', 'range');
SELECT * FROM pg_temp.members('gr.range');
SELECT * FROM pg_temp.join('gr.range', 'c', '{gr.five}', 'range');
SELECT * FROM pg_temp.members('gr.range');
-- over two topics, each topic is split on its own: a gets the first range
-- of both
SELECT * FROM pg_temp.rejoin('gr.range', 'a', '{gr.five,gr.two}', 'range');
SELECT * FROM pg_temp.rejoin('gr.range', 'b', '{gr.five,gr.two}', 'range');
-- the others rejoin with what they had: no rebalance, the group is stable
SELECT * FROM pg_temp.rejoin('gr.range', 'a', '{gr.five,gr.two}', 'range');
SELECT * FROM pg_temp.rejoin('gr.range', 'c', '{gr.five}', 'range');
SELECT * FROM pg_temp.members('gr.range');
SELECT state, generation, members FROM topics.group_list WHERE group_id = 'gr.range';

-- roundrobin: dealt in turn over all subscribed partitions
SELECT * FROM pg_temp.join('gr.rr', 'a', '{gr.five}', 'roundrobin');
SELECT * FROM pg_temp.join('gr.rr', 'b', '{gr.five}', 'roundrobin');
SELECT * FROM pg_temp.members('gr.rr');
SELECT * FROM pg_temp.join('gr.rr', 'c', '{gr.five}', 'roundrobin');
SELECT * FROM pg_temp.members('gr.rr');
-- with two topics (7 partitions), in topic and partition order
SELECT * FROM pg_temp.rejoin('gr.rr', 'a', '{gr.five,gr.two}', 'roundrobin');
SELECT * FROM pg_temp.rejoin('gr.rr', 'b', '{gr.five,gr.two}', 'roundrobin');
SELECT * FROM pg_temp.rejoin('gr.rr', 'c', '{gr.five,gr.two}', 'roundrobin');
SELECT * FROM pg_temp.members('gr.rr');
SELECT assignor FROM topics.group_list WHERE group_id = 'gr.rr';

-- sticky: members keep what they had, up to a fair share
SELECT * FROM pg_temp.join('gr.sticky', 'a', '{gr.five}', 'sticky');
SELECT * FROM pg_temp.join('gr.sticky', 'b', '{gr.five}', 'sticky');
SELECT * FROM pg_temp.members('gr.sticky');
SELECT * FROM pg_temp.join('gr.sticky', 'c', '{gr.five}', 'sticky');
SELECT * FROM pg_temp.members('gr.sticky');
-- b leaves: a and c keep theirs, b's go to the least loaded
SELECT topics.leave_group('gr.sticky', pg_temp.id('gr.sticky', 'b'));
SELECT * FROM pg_temp.members('gr.sticky');

-- a member that subscribes to a topic only it reads gets all of it
SELECT * FROM pg_temp.join('gr.mixed', 'a', '{gr.five}', 'range');
SELECT * FROM pg_temp.join('gr.mixed', 'b', '{gr.five,gr.one}', 'range');
SELECT * FROM pg_temp.members('gr.mixed');

------------------------------------------------------------------------------
-- Static membership
------------------------------------------------------------------------------

SELECT * FROM pg_temp.join('gr.static', 'a', '{gr.five}', instance => 'inst-1');
SELECT * FROM pg_temp.join('gr.static', 'b', '{gr.five}', instance => 'inst-2');
-- ordered by instance id, not by member id
SELECT * FROM pg_temp.members('gr.static');
SELECT member_id LIKE 'inst-1-%' AS named_after_instance FROM mem
WHERE grp = 'gr.static' AND name = 'a';
-- inst-1 comes back without its member id (a restart): it takes a's place,
-- partitions and generation, with a new member id, without a rebalance
SELECT * FROM pg_temp.join('gr.static', 'a2', '{gr.five}', instance => 'inst-1');
SELECT pg_temp.id('gr.static', 'a') <> pg_temp.id('gr.static', 'a2') AS new_member_id;
SELECT state, generation, members FROM topics.group_list WHERE group_id = 'gr.static';
SELECT * FROM pg_temp.members('gr.static');
SELECT instance_id, client_id FROM topics.group_members
WHERE group_id = 'gr.static' ORDER BY instance_id;
-- the old member id is fenced: unknown
SELECT pg_temp.try(format('SELECT topics.heartbeat(%L, %L, 2)', 'gr.static',
                          pg_temp.id('gr.static', 'a')));
SELECT pg_temp.try(format('SELECT topics.commit(%L, %L, 0, 0, member_id => %L, generation => 2)',
                          'gr.static', 'gr.five', pg_temp.id('gr.static', 'a')));
SELECT pg_temp.try(format('SELECT * FROM topics.poll(%L, %L, 2)', 'gr.static',
                          pg_temp.id('gr.static', 'a')));
SELECT pg_temp.try(format('SELECT * FROM topics.join_group(%L, %L, %L)', 'gr.static', '{gr.five}',
                          pg_temp.id('gr.static', 'a')));
SELECT topics.heartbeat('gr.static', pg_temp.id('gr.static', 'a2'), 2);
-- a new instance is a new member: a rebalance
SELECT * FROM pg_temp.join('gr.static', 'c', '{gr.five}', instance => 'inst-0');
SELECT * FROM pg_temp.members('gr.static');

------------------------------------------------------------------------------
-- Expiry: a member whose session timed out is removed, and its group
-- rebalances (the background worker calls topics.expire_members; whether it
-- or this call comes first, the outcome is the same)
------------------------------------------------------------------------------

SELECT * FROM pg_temp.join('gr.expiry', 'a', '{gr.five}');
SELECT j.generation, pg_temp.show(j.assignment)
FROM topics.join_group('gr.expiry', '{gr.five}', session_timeout => '1 s', client_id => 'short') j;
SELECT count(*) FROM topics.group_members WHERE group_id = 'gr.expiry';
SELECT pg_sleep(1.2);
SELECT topics.expire_members() IS NOT NULL AS members_left;
SELECT client_id, session_timeout FROM topics.group_members WHERE group_id = 'gr.expiry';
SELECT topics.heartbeat('gr.expiry', pg_temp.id('gr.expiry', 'a'), 2);
SELECT * FROM pg_temp.rejoin('gr.expiry', 'a', '{gr.five}');

------------------------------------------------------------------------------
-- The views
------------------------------------------------------------------------------

SELECT group_id, state, generation, members, assignor
FROM topics.group_list WHERE group_id LIKE 'gr.%' ORDER BY group_id;
SELECT m.name, gm.instance_id, gm.client_id, gm.topics, pg_temp.show(gm.assignment) AS assignment,
       gm.generation, gm.session_timeout, gm.last_heartbeat >= gm.joined_at AS heartbeat_after_join
FROM topics.group_members gm JOIN mem m ON m.member_id = gm.member_id
WHERE gm.group_id IN ('gr.static', 'gr.rr') ORDER BY gm.group_id, m.ord;
SELECT group_id, topic, partition, committed_offset, end_offset, lag
FROM topics.consumer_lag WHERE group_id LIKE 'gr.%' ORDER BY 1, 2, 3;

-- clean up: members leave, groups and topics go
SET client_min_messages = warning;
SELECT count(topics.leave_group(gm.group_id, gm.member_id))
FROM topics.group_members gm WHERE gm.group_id LIKE 'gr.%';
RESET client_min_messages;
SELECT count(topics.delete_group(group_id)) FROM topics.group_list WHERE group_id LIKE 'gr.%';
-- dropping a topic removes its groups' offsets
SELECT topics.commit('gr.left', 'gr.one', 0, 1);
SELECT topics.drop_topic(name) FROM topics.topic_list WHERE name LIKE 'gr.%' ORDER BY name;
SELECT count(*) FROM topics.committed('gr.left');
SELECT topics.delete_group('gr.left');
SELECT dblink_disconnect('other');
RESET pg_topics.auto_offset_reset;
