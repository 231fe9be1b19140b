--
-- topics: create_topic, alter_topic, drop_topic, and the views that list
-- topics and partitions.  Every bad input is refused with its SQLSTATE and
-- leaves nothing behind.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;
-- PL/pgSQL line numbers in CONTEXT lines change with every edit: hide them.
\set SHOW_CONTEXT never
-- :state prints the SQLSTATE of the statement before it.
\set state '\\echo SQLSTATE :SQLSTATE'

-- What the topic tables look like, without the ids (they depend on the order
-- tests run in).
CREATE FUNCTION pg_temp.topic_tables(topic text)
RETURNS TABLE (relname text, partition_bound text)
LANGUAGE sql AS $$
    SELECT regexp_replace(c.relname, '^topic_[0-9]+', 'topic_<id>'),
           pg_get_expr(c.relpartbound, c.oid)
    FROM topics.topic_list t
    JOIN pg_class c ON c.relnamespace = 'topics'::regnamespace
                   AND c.relname ~ ('^topic_' || t.topic_id || '(_p[0-9]+)?$')
    WHERE t.name = topic
    ORDER BY length(c.relname), c.relname
$$;

-- What this file added to the catalog since it started: metadata rows and
-- topic tables (other files' topics, if any, are not counted).
CREATE TEMP TABLE baseline AS
    SELECT (SELECT count(*) FROM topics.topic_meta) AS topic_meta,
           (SELECT count(*) FROM topics.partition_meta) AS partition_meta,
           (SELECT count(*) FROM pg_class
            WHERE relnamespace = 'topics'::regnamespace AND relkind IN ('r', 'p')
              AND relname ~ '^topic_[0-9]') AS tables;
CREATE FUNCTION pg_temp.leftovers(OUT topic_meta bigint, OUT partition_meta bigint,
                                  OUT tables bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM topics.topic_meta) - b.topic_meta,
           (SELECT count(*) FROM topics.partition_meta) - b.partition_meta,
           (SELECT count(*) FROM pg_class
            WHERE relnamespace = 'topics'::regnamespace AND relkind IN ('r', 'p')
              AND relname ~ '^topic_[0-9]') - b.tables
    FROM baseline b
$$;

------------------------------------------------------------------------------
-- create_topic
------------------------------------------------------------------------------

SELECT topics.create_topic('tp.orders');
SELECT topics.create_topic('tp_events-2', 3, retention => '1 hour',
                           retention_bytes => 1000000, cleanup_policy => 'compact',
                           max_message_bytes => 2000);
SELECT topics.create_topic('tp.forever', 2, retention => '-1 day', retention_bytes => -1,
                           cleanup_policy => 'compact,delete');
SELECT topics.create_topic('tp.null-limits', retention => NULL, retention_bytes => NULL);
-- names: every allowed character, case matters, 249 characters is the longest
SELECT topics.create_topic('tp.AZaz09._-');
SELECT topics.create_topic('TP.ORDERS');
SELECT topics.create_topic('...');
SELECT topics.create_topic(repeat('x', 249));

SELECT name, partitions, retention, retention_bytes, cleanup_policy, max_message_bytes,
       created_at BETWEEN now() - interval '1 hour' AND now() AS created_recently, topic_id > 0 AS has_id
FROM topics.topic_list
WHERE name <> repeat('x', 249)
ORDER BY name COLLATE "C";
SELECT length(name) FROM topics.topic_list WHERE name ~ '^x+$';

-- the storage: a table partitioned by partition number, one child each
SELECT * FROM pg_temp.topic_tables('tp_events-2');
SELECT topic, partition, log_start_offset, high_watermark, last_stable_offset,
       records, bytes, oldest_ts, newest_ts
FROM topics.partition_list
WHERE topic IN ('tp.orders', 'tp_events-2', 'tp.forever')
ORDER BY topic COLLATE "C", partition;

SELECT * FROM pg_temp.leftovers();

-- NULL arguments
SELECT topics.create_topic(NULL);
:state
SELECT topics.create_topic('tp.bad', NULL);
SELECT topics.create_topic('tp.bad', cleanup_policy => NULL);
SELECT topics.create_topic('tp.bad', max_message_bytes => NULL);

-- bad names
SELECT topics.create_topic(repeat('x', 250));
:state
SELECT topics.create_topic('');
SELECT topics.create_topic('.');
SELECT topics.create_topic('..');
SELECT topics.create_topic('a b');
SELECT topics.create_topic('a/b');
SELECT topics.create_topic('a"b');
SELECT topics.create_topic('a;b');
SELECT topics.create_topic(E'a\nb');
SELECT topics.create_topic('tp.ä');

-- duplicates
SELECT topics.create_topic('tp.orders');
:state
SELECT topics.create_topic('tp.orders', 5, max_message_bytes => 10);

-- partitions out of range
SELECT topics.create_topic('tp.bad', 0);
:state
SELECT topics.create_topic('tp.bad', -1);
SELECT topics.create_topic('tp.bad', 10001);

-- settings out of range
SELECT topics.create_topic('tp.bad', cleanup_policy => 'bogus');
:state
SELECT topics.create_topic('tp.bad', cleanup_policy => '');
SELECT topics.create_topic('tp.bad', cleanup_policy => 'DELETE');
SELECT topics.create_topic('tp.bad', cleanup_policy => 'compact,bogus');
SELECT topics.create_topic('tp.bad', cleanup_policy => 'delete,');
SELECT topics.create_topic('tp.bad', retention => '0');
:state
SELECT topics.create_topic('tp.bad', retention => '0 days 0 seconds');
SELECT topics.create_topic('tp.bad', retention_bytes => 0);
:state
SELECT topics.create_topic('tp.bad', max_message_bytes => 0);
:state
SELECT topics.create_topic('tp.bad', max_message_bytes => -1);
SELECT topics.create_topic('tp.bad', max_message_bytes => 104857601);

-- none of the failures left anything behind
SELECT * FROM pg_temp.leftovers();
SELECT count(*) FROM topics.topic_list WHERE name = 'tp.bad';

-- a failed create inside a transaction leaves the transaction to roll back,
-- and a rolled-back create leaves nothing
BEGIN;
SELECT topics.create_topic('tp.rolled-back', 4);
SELECT count(*) FROM topics.topic_list WHERE name = 'tp.rolled-back';
ROLLBACK;
SELECT count(*) FROM topics.topic_list WHERE name = 'tp.rolled-back';
SELECT * FROM pg_temp.leftovers();

------------------------------------------------------------------------------
-- alter_topic
------------------------------------------------------------------------------

-- nothing given: nothing changes
SELECT topics.alter_topic('tp_events-2');
SELECT name, partitions, retention, retention_bytes, cleanup_policy, max_message_bytes
FROM topics.topic_list WHERE name = 'tp_events-2';

-- every setting at once, by position
SELECT topics.alter_topic('tp_events-2', 5, '2 days', 5000, 'delete', 100);
SELECT name, partitions, retention, retention_bytes, cleanup_policy, max_message_bytes
FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT * FROM pg_temp.topic_tables('tp_events-2');
SELECT topic, partition, log_start_offset, high_watermark, last_stable_offset, records
FROM topics.partition_list WHERE topic = 'tp_events-2' ORDER BY partition;

-- one setting at a time, by name; the others stay
SELECT topics.alter_topic('tp_events-2', cleanup_policy => 'compact,delete');
SELECT topics.alter_topic('tp_events-2', max_message_bytes => 104857600);
SELECT topics.alter_topic('tp_events-2', partitions => 5);
SELECT name, partitions, retention, retention_bytes, cleanup_policy, max_message_bytes
FROM topics.topic_list WHERE name = 'tp_events-2';

-- a cleanup policy is a list, as in Kafka: both in either order, spaces
-- around the items and repeats allowed; it is stored as one of three
SELECT topics.alter_topic('tp_events-2', cleanup_policy => 'delete, compact');
SELECT cleanup_policy FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT topics.alter_topic('tp_events-2', cleanup_policy => ' delete,delete ');
SELECT cleanup_policy FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT topics.alter_topic('tp_events-2', cleanup_policy => 'compact, bogus');
:state
SELECT cleanup_policy FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT topics.alter_topic('tp_events-2', cleanup_policy => 'compact,delete');

-- negative retention and retention_bytes remove the limits
SELECT topics.alter_topic('tp_events-2', retention => '-1 second', retention_bytes => -1);
SELECT name, retention, retention_bytes FROM topics.topic_list WHERE name = 'tp_events-2';
-- and a positive one sets them again
SELECT topics.alter_topic('tp_events-2', retention => '3 hours', retention_bytes => 1);
SELECT name, retention, retention_bytes FROM topics.topic_list WHERE name = 'tp_events-2';

-- shrinking is refused
SELECT topics.alter_topic('tp_events-2', 4);
:state
SELECT topics.alter_topic('tp_events-2', 1);

-- out of range
SELECT topics.alter_topic('tp_events-2', 0);
:state
SELECT topics.alter_topic('tp_events-2', -3);
SELECT topics.alter_topic('tp_events-2', 10001);
SELECT topics.alter_topic('tp_events-2', cleanup_policy => 'none');
:state
SELECT topics.alter_topic('tp_events-2', retention => '0');
SELECT topics.alter_topic('tp_events-2', retention_bytes => 0);
SELECT topics.alter_topic('tp_events-2', max_message_bytes => 0);
SELECT topics.alter_topic('tp_events-2', max_message_bytes => 104857601);

-- unknown topics
SELECT topics.alter_topic('tp.nope', 2);
:state
SELECT topics.alter_topic('TP_EVENTS-2', 6);
SELECT topics.alter_topic(NULL, 6);
:state

-- the refused changes changed nothing
SELECT name, partitions, retention, retention_bytes, cleanup_policy, max_message_bytes
FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT * FROM pg_temp.topic_tables('tp_events-2');

-- a rolled-back alter leaves the partitions as they were
BEGIN;
SELECT topics.alter_topic('tp_events-2', 8);
SELECT partitions FROM topics.topic_list WHERE name = 'tp_events-2';
ROLLBACK;
SELECT partitions FROM topics.topic_list WHERE name = 'tp_events-2';
SELECT count(*) FROM pg_temp.topic_tables('tp_events-2');

------------------------------------------------------------------------------
-- drop_topic
------------------------------------------------------------------------------

SELECT topics.drop_topic('tp.nope');
:state
SELECT topics.drop_topic('TP.orders');
SELECT topics.drop_topic(NULL);
:state

-- a topic that held records goes with them
SELECT partition, "offset" FROM topics.produce('tp.forever', 'a record', partition => 1);
SELECT topics.drop_topic('tp.forever');
SELECT count(*) FROM topics.topic_list WHERE name = 'tp.forever';
SELECT count(*) FROM pg_temp.topic_tables('tp.forever');
SELECT topics.drop_topic('tp.forever');

-- a rolled-back drop keeps the topic
BEGIN;
SELECT topics.drop_topic('tp.orders');
ROLLBACK;
SELECT name, partitions FROM topics.topic_list WHERE name = 'tp.orders';

-- the name can be taken again; the new topic starts empty with new tables
SELECT topic_id AS old_id FROM topics.topic_list WHERE name = 'tp.orders' \gset
SELECT topics.drop_topic('tp.orders');
SELECT topics.create_topic('tp.orders', 2);
SELECT topic_id > :old_id AS new_id, partitions FROM topics.topic_list WHERE name = 'tp.orders';
SELECT * FROM topics.partition_offsets('tp.orders', 1);

-- clean up: every topic this file made
SELECT topics.drop_topic(name) FROM topics.topic_list
WHERE name ~* '^tp[._]' OR name IN ('...', repeat('x', 249)) ORDER BY name COLLATE "C";
SELECT * FROM pg_temp.leftovers();
