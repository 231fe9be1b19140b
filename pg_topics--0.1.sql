-- pg_topics 0.1: topics, partitions, produce and fetch.
-- Every object lives in schema topics; docs/reference.md documents each one.

\echo Use "CREATE EXTENSION pg_topics" to load this file. \quit

-------------------------------------------------------------------------------
-- Metadata
-------------------------------------------------------------------------------

CREATE SEQUENCE topics.topic_id_seq AS integer;

CREATE TABLE topics.topic_meta (
    id                integer PRIMARY KEY DEFAULT nextval('topics.topic_id_seq'),
    name              text NOT NULL UNIQUE,
    partitions        integer NOT NULL CHECK (partitions BETWEEN 1 AND 10000),
    retention         interval CHECK (retention > interval '0'),
    retention_bytes   bigint CHECK (retention_bytes > 0),
    cleanup_policy    text NOT NULL
                      CHECK (cleanup_policy IN ('delete', 'compact', 'compact,delete')),
    max_message_bytes integer NOT NULL CHECK (max_message_bytes BETWEEN 1 AND 104857600),
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE topics.topic_meta IS
    'One row per topic: its name, partition count and settings; its records live in table topics.topic_<id>.';

CREATE TABLE topics.partition_meta (
    topic_id          integer NOT NULL REFERENCES topics.topic_meta (id) ON DELETE CASCADE,
    partition         integer NOT NULL,
    log_start_offset  bigint NOT NULL DEFAULT 0 CHECK (log_start_offset >= 0),
    PRIMARY KEY (topic_id, partition)
);
COMMENT ON TABLE topics.partition_meta IS
    'One row per partition: the first offset still stored, which offsets never go below.';

SELECT pg_catalog.pg_extension_config_dump('topics.topic_meta', '');
SELECT pg_catalog.pg_extension_config_dump('topics.partition_meta', '');
SELECT pg_catalog.pg_extension_config_dump('topics.topic_id_seq', '');

GRANT USAGE ON SCHEMA topics TO PUBLIC;
GRANT SELECT ON topics.topic_meta, topics.partition_meta TO PUBLIC;

CREATE TYPE topics.record AS (
    topic      text,
    partition  integer,
    "offset"   bigint,
    ts         timestamptz,
    key        bytea,
    value      bytea,
    headers    jsonb
);
COMMENT ON TYPE topics.record IS
    'A record as topics.fetch returns it: where it is (topic, partition, offset) and what it holds.';

-------------------------------------------------------------------------------
-- Administration
-------------------------------------------------------------------------------

CREATE FUNCTION topics.topic_changed(topic_table regclass) RETURNS void
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'topics_topic_changed';
COMMENT ON FUNCTION topics.topic_changed(regclass) IS
    'Internal: makes every session reload the metadata of the topic stored in topic_table.';
REVOKE ALL ON FUNCTION topics.topic_changed(regclass) FROM PUBLIC;

CREATE FUNCTION topics.normalize_cleanup_policy(cleanup_policy text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN bool_and(p IN ('compact', 'delete'))
                THEN string_agg(DISTINCT p, ',' ORDER BY p) END
    FROM unnest(string_to_array(cleanup_policy, ',')) AS item, btrim(item) AS p
$$;
COMMENT ON FUNCTION topics.normalize_cleanup_policy(text) IS
    'Internal: a cleanup policy as stored (''delete'', ''compact'' or ''compact,delete''), from a list of them in any order; NULL when it is not one.';

CREATE FUNCTION topics.check_topic_settings(
    partitions integer, retention interval, retention_bytes bigint,
    cleanup_policy text, max_message_bytes integer)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF partitions IS NOT NULL AND (partitions < 1 OR partitions > 10000) THEN
        RAISE EXCEPTION 'partitions must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', partitions);
    END IF;
    IF retention IS NOT NULL AND retention = interval '0' THEN
        RAISE EXCEPTION 'retention must not be zero'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a positive interval, or a negative one or NULL to keep records forever.';
    END IF;
    IF retention_bytes IS NOT NULL AND retention_bytes = 0 THEN
        RAISE EXCEPTION 'retention_bytes must not be zero'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a positive size, or -1 or NULL for no size limit.';
    END IF;
    IF cleanup_policy IS NOT NULL
       AND topics.normalize_cleanup_policy(cleanup_policy) IS NULL THEN
        RAISE EXCEPTION 'invalid cleanup_policy "%"', cleanup_policy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''delete'', ''compact'' or both: ''compact,delete''.';
    END IF;
    IF max_message_bytes IS NOT NULL
       AND (max_message_bytes < 1 OR max_message_bytes > 104857600) THEN
        RAISE EXCEPTION 'max_message_bytes must be between 1 and 104857600'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION topics.check_topic_settings(integer, interval, bigint, text, integer) IS
    'Internal: raises an error for a topic setting out of range.';

CREATE FUNCTION topics.create_partition_tables(topic_id integer, first_partition integer,
                                               last_partition integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR p IN first_partition .. last_partition LOOP
        -- Batches fill a page each: keep them inline and out of TOAST.
        EXECUTE format('CREATE TABLE topics.%I PARTITION OF topics.%I FOR VALUES IN (%s)'
                       ' WITH (toast_tuple_target = 8160)',
                       'topic_' || topic_id || '_p' || p, 'topic_' || topic_id, p);
        INSERT INTO topics.partition_meta (topic_id, partition) VALUES (topic_id, p);
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.create_partition_tables(integer, integer, integer) IS
    'Internal: creates the tables of partitions first_partition to last_partition of a topic.';

CREATE FUNCTION topics.create_topic(
    name text,
    partitions integer DEFAULT 1,
    retention interval DEFAULT '7 days',
    retention_bytes bigint DEFAULT NULL,
    cleanup_policy text DEFAULT 'delete',
    max_message_bytes integer DEFAULT 1048576)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    new_id integer;
    table_name text;
BEGIN
    IF name IS NULL OR partitions IS NULL OR cleanup_policy IS NULL
       OR max_message_bytes IS NULL THEN
        RAISE EXCEPTION 'name, partitions, cleanup_policy and max_message_bytes must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF name !~ '^[A-Za-z0-9._-]{1,249}$' OR name IN ('.', '..') THEN
        RAISE EXCEPTION 'invalid topic name "%"', name
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'A topic name is 1 to 249 characters from A-Z, a-z, 0-9, ".", "_" and "-", and is not "." or "..".';
    END IF;
    PERFORM topics.check_topic_settings(partitions, retention, retention_bytes,
                                        cleanup_policy, max_message_bytes);
    IF EXISTS (SELECT FROM topics.topic_meta t WHERE t.name = create_topic.name) THEN
        RAISE EXCEPTION 'topic "%" already exists', name
            USING ERRCODE = 'duplicate_object';
    END IF;

    -- Tables of topics from an earlier installation of the extension may
    -- remain (DROP EXTENSION keeps schema topics and the data): skip their ids.
    LOOP
        new_id := nextval('topics.topic_id_seq');
        EXIT WHEN to_regclass(format('topics.%I', 'topic_' || new_id)) IS NULL;
    END LOOP;

    INSERT INTO topics.topic_meta (id, name, partitions, retention, retention_bytes,
                                   cleanup_policy, max_message_bytes)
    VALUES (new_id, name, partitions,
            CASE WHEN retention > interval '0' THEN retention END,
            CASE WHEN retention_bytes > 0 THEN retention_bytes END,
            topics.normalize_cleanup_policy(cleanup_policy), max_message_bytes);

    table_name := 'topic_' || new_id;
    EXECUTE format('CREATE TABLE topics.%I ('
                   ' base_offset bigint NOT NULL,'
                   ' last_offset bigint NOT NULL,'
                   ' first_ts timestamptz NOT NULL,'
                   ' max_ts timestamptz NOT NULL,'
                   ' partition integer NOT NULL,'
                   ' record_count integer NOT NULL,'
                   ' batch bytea NOT NULL,'
                   ' PRIMARY KEY (partition, last_offset)'
                   ') PARTITION BY LIST (partition)', table_name);
    -- Large batches go out of line uncompressed: values are mostly incompressible.
    EXECUTE format('ALTER TABLE topics.%I ALTER COLUMN batch SET STORAGE EXTERNAL', table_name);
    EXECUTE format('COMMENT ON TABLE topics.%I IS %L', table_name,
                   format('Record batches of topic %s (pg_topics).', name));
    PERFORM topics.create_partition_tables(new_id, 0, partitions - 1);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'topic "%" already exists', name
            USING ERRCODE = 'duplicate_object';
END
$$;
COMMENT ON FUNCTION topics.create_topic(text, integer, interval, bigint, text, integer) IS
    'Creates a topic with the given number of partitions and settings.';

CREATE FUNCTION topics.alter_topic(
    name text,
    partitions integer DEFAULT NULL,
    retention interval DEFAULT NULL,
    retention_bytes bigint DEFAULT NULL,
    cleanup_policy text DEFAULT NULL,
    max_message_bytes integer DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    topic topics.topic_meta;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO topic FROM topics.topic_meta t WHERE t.name = alter_topic.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'topic "%" does not exist', name
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM topics.check_topic_settings(partitions, retention, retention_bytes,
                                        cleanup_policy, max_message_bytes);
    IF partitions < topic.partitions THEN
        RAISE EXCEPTION 'partitions of topic "%" can only be increased', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The partition count is %s; the count asked for, %s, is smaller.',
                                  topic.partitions, partitions),
                  HINT = 'Keyed records keep their partition only while the count stays the same; create a new topic to shrink.';
    END IF;

    IF partitions > topic.partitions THEN
        PERFORM topics.create_partition_tables(topic.id, topic.partitions, partitions - 1);
    END IF;
    UPDATE topics.topic_meta t SET
        partitions = coalesce(alter_topic.partitions, t.partitions),
        retention = CASE WHEN alter_topic.retention IS NULL THEN t.retention
                         WHEN alter_topic.retention > interval '0' THEN alter_topic.retention END,
        retention_bytes = CASE WHEN alter_topic.retention_bytes IS NULL THEN t.retention_bytes
                               WHEN alter_topic.retention_bytes > 0 THEN alter_topic.retention_bytes END,
        cleanup_policy = coalesce(topics.normalize_cleanup_policy(alter_topic.cleanup_policy),
                                  t.cleanup_policy),
        max_message_bytes = coalesce(alter_topic.max_message_bytes, t.max_message_bytes)
    WHERE t.id = topic.id;
    PERFORM topics.topic_changed(format('topics.%I', 'topic_' || topic.id)::regclass);
    IF partitions > topic.partitions THEN
        PERFORM topics.rebalance_subscribers(name);
    END IF;
END
$$;
COMMENT ON FUNCTION topics.alter_topic(text, integer, interval, bigint, text, integer) IS
    'Changes a topic''s settings; partitions may only grow. NULL leaves a setting as it is; a negative retention or retention_bytes removes that limit.';

CREATE FUNCTION topics.drop_topic(name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    topic_id integer;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM topics.topic_meta t WHERE t.name = drop_topic.name RETURNING t.id INTO topic_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'topic "%" does not exist', name
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TABLE topics.%I', 'topic_' || topic_id);
    PERFORM topics.rebalance_subscribers(name);
END
$$;
COMMENT ON FUNCTION topics.drop_topic(text) IS
    'Drops a topic and every record in it.';

-------------------------------------------------------------------------------
-- Produce
-------------------------------------------------------------------------------

CREATE FUNCTION topics.produce(
    topic text, value bytea, key bytea DEFAULT NULL, headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL, ts timestamptz DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1
    AS 'MODULE_PATHNAME', 'topics_produce';
COMMENT ON FUNCTION topics.produce(text, bytea, bytea, jsonb, integer, timestamptz) IS
    'Produces one record and returns the partition and offset it got; it becomes visible when the transaction commits.';

CREATE FUNCTION topics.produce(
    topic text, value text, key text DEFAULT NULL, headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL, ts timestamptz DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1
    AS 'MODULE_PATHNAME', 'topics_produce_text';
COMMENT ON FUNCTION topics.produce(text, text, text, jsonb, integer, timestamptz) IS
    'Produces one record whose value and key are text, stored as their bytes.';

CREATE FUNCTION topics.produce(
    topic text, value jsonb, key text DEFAULT NULL, headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL, ts timestamptz DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1
    AS 'MODULE_PATHNAME', 'topics_produce_jsonb';
COMMENT ON FUNCTION topics.produce(text, jsonb, text, jsonb, integer, timestamptz) IS
    'Produces one record whose value is JSON (stored as its text) and whose key is text.';

CREATE FUNCTION topics.produce_batch(
    topic text, payloads bytea[], keys bytea[] DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    partition integer DEFAULT NULL, ts timestamptz DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_produce_batch';
COMMENT ON FUNCTION topics.produce_batch(text, bytea[], bytea[], jsonb[], integer, timestamptz) IS
    'Produces one record per element of payloads (with the matching keys and headers) and returns their partitions and offsets.';

CREATE FUNCTION topics.produce_all_step(count bigint, topic text, value bytea)
RETURNS bigint LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_produce_all_step';
CREATE FUNCTION topics.produce_all_step(count bigint, topic text, value bytea, key bytea)
RETURNS bigint LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_produce_all_step';
CREATE FUNCTION topics.produce_all_step(count bigint, topic text, value bytea, key bytea,
                                        headers jsonb)
RETURNS bigint LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_produce_all_step';
COMMENT ON FUNCTION topics.produce_all_step(bigint, text, bytea) IS
    'Internal: transition function of topics.produce_all.';
COMMENT ON FUNCTION topics.produce_all_step(bigint, text, bytea, bytea) IS
    'Internal: transition function of topics.produce_all.';
COMMENT ON FUNCTION topics.produce_all_step(bigint, text, bytea, bytea, jsonb) IS
    'Internal: transition function of topics.produce_all.';
-- Aggregates check EXECUTE of their transition function against their owner.
REVOKE ALL ON FUNCTION topics.produce_all_step(bigint, text, bytea),
    topics.produce_all_step(bigint, text, bytea, bytea),
    topics.produce_all_step(bigint, text, bytea, bytea, jsonb) FROM PUBLIC;

CREATE AGGREGATE topics.produce_all(topic text, value bytea) (
    SFUNC = topics.produce_all_step, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE topics.produce_all(topic text, value bytea, key bytea) (
    SFUNC = topics.produce_all_step, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE topics.produce_all(topic text, value bytea, key bytea, headers jsonb) (
    SFUNC = topics.produce_all_step, STYPE = bigint, INITCOND = '0');
COMMENT ON AGGREGATE topics.produce_all(text, bytea) IS
    'Bulk produce: one record per input row (keyless), returns how many were produced.';
COMMENT ON AGGREGATE topics.produce_all(text, bytea, bytea) IS
    'Bulk produce: one keyed record per input row, returns how many were produced.';
COMMENT ON AGGREGATE topics.produce_all(text, bytea, bytea, jsonb) IS
    'Bulk produce: one keyed record with headers per input row, returns how many were produced.';

-------------------------------------------------------------------------------
-- Fetch and offsets
-------------------------------------------------------------------------------

CREATE FUNCTION topics.fetch(
    topic text, partition integer, from_offset bigint,
    max_records integer DEFAULT 500, max_bytes integer DEFAULT 1048576,
    wait interval DEFAULT '0')
RETURNS SETOF topics.record
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 500
    AS 'MODULE_PATHNAME', 'topics_fetch';
COMMENT ON FUNCTION topics.fetch(text, integer, bigint, integer, integer, interval) IS
    'Returns committed records of one partition from from_offset on; with wait, blocks until there is one or the time is up. FETCH is reserved: call it as topics.fetch.';

CREATE FUNCTION topics.offset_for_time(topic text, partition integer, ts timestamptz)
RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_offset_for_time';
COMMENT ON FUNCTION topics.offset_for_time(text, integer, timestamptz) IS
    'The first offset whose record has a timestamp at or after ts; NULL when there is none yet.';

CREATE FUNCTION topics.earliest_offset(topic text, partition integer) RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_earliest_offset';
COMMENT ON FUNCTION topics.earliest_offset(text, integer) IS
    'The log start offset: the first offset still stored in the partition.';

CREATE FUNCTION topics.latest_offset(topic text, partition integer) RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_latest_offset';
COMMENT ON FUNCTION topics.latest_offset(text, integer) IS
    'The last stable offset: every committed record below it can be fetched, and none below it can still appear.';

CREATE FUNCTION topics.partition_offsets(
    topic text, partition integer,
    OUT log_start_offset bigint, OUT high_watermark bigint, OUT last_stable_offset bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_partition_offsets';
COMMENT ON FUNCTION topics.partition_offsets(text, integer) IS
    'Log start offset, high watermark (next offset to be taken) and last stable offset of a partition.';

-------------------------------------------------------------------------------
-- Views
-------------------------------------------------------------------------------

CREATE VIEW topics.topic_list AS
    SELECT name, partitions, retention, retention_bytes, cleanup_policy,
           max_message_bytes, created_at, id AS topic_id
    FROM topics.topic_meta;
COMMENT ON VIEW topics.topic_list IS 'Every topic with its settings.';
GRANT SELECT ON topics.topic_list TO PUBLIC;

CREATE FUNCTION topics.partition_details()
RETURNS TABLE (topic text, partition integer, log_start_offset bigint,
               high_watermark bigint, last_stable_offset bigint, records bigint,
               bytes bigint, oldest_ts timestamptz, newest_ts timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t topics.topic_meta;
BEGIN
    FOR t IN SELECT * FROM topics.topic_meta ORDER BY name LOOP
        RETURN QUERY EXECUTE format(
            'SELECT $1, p.partition, o.log_start_offset, o.high_watermark,'
            '       o.last_stable_offset, coalesce(s.records, 0), coalesce(s.bytes, 0),'
            '       s.oldest_ts, s.newest_ts'
            '  FROM generate_series(0, $2 - 1) AS p(partition)'
            '  CROSS JOIN LATERAL topics.partition_offsets($1, p.partition) AS o'
            '  LEFT JOIN (SELECT b.partition, sum(b.record_count)::bigint AS records,'
            '                    sum(octet_length(b.batch))::bigint AS bytes,'
            '                    min(b.first_ts) AS oldest_ts, max(b.max_ts) AS newest_ts'
            '               FROM topics.%I b GROUP BY b.partition) AS s'
            '    ON s.partition = p.partition'
            ' ORDER BY p.partition', 'topic_' || t.id)
        USING t.name, t.partitions;
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.partition_details() IS
    'The rows of topics.partition_list; counts records and bytes by reading every batch row.';

CREATE VIEW topics.partition_list AS
    SELECT * FROM topics.partition_details();
COMMENT ON VIEW topics.partition_list IS
    'Every partition: log start offset, high watermark, last stable offset, records, bytes, oldest and newest timestamp.';
GRANT SELECT ON topics.partition_list TO PUBLIC;

-------------------------------------------------------------------------------
-- Consumer groups: the offset store
-------------------------------------------------------------------------------

CREATE TYPE topics.topic_partition AS (topic text, partition integer);
COMMENT ON TYPE topics.topic_partition IS 'One partition of one topic, as assignments list them.';

CREATE TABLE topics.consumer_group (
    group_id       text COLLATE "C" PRIMARY KEY
                   CHECK (length(group_id) BETWEEN 1 AND 255),
    generation     integer NOT NULL DEFAULT 0,
    assignor       text NOT NULL DEFAULT 'range'
                   CHECK (assignor IN ('range', 'roundrobin', 'sticky')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    rebalanced_at  timestamptz
);
COMMENT ON TABLE topics.consumer_group IS
    'One row per consumer group: its generation (bumped by every rebalance) and assignor.';

CREATE TABLE topics.group_member (
    group_id        text COLLATE "C" NOT NULL
                    REFERENCES topics.consumer_group (group_id) ON DELETE CASCADE,
    member_id       text COLLATE "C" NOT NULL,
    instance_id     text,
    client_id       text NOT NULL DEFAULT '',
    client_host     text,
    topics          text[] NOT NULL,
    session_timeout interval NOT NULL,
    generation      integer NOT NULL,
    assignment      topics.topic_partition[] NOT NULL DEFAULT '{}',
    positions       bigint[],
    joined_at       timestamptz NOT NULL DEFAULT now(),
    last_heartbeat  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (group_id, member_id),
    UNIQUE (group_id, instance_id)
);
COMMENT ON TABLE topics.group_member IS
    'Members of groups that use the member protocol: subscription, assignment, poll positions and liveness.';

CREATE TABLE topics.group_offset (
    group_id          text COLLATE "C" NOT NULL
                      REFERENCES topics.consumer_group (group_id) ON DELETE CASCADE,
    topic_id          integer NOT NULL REFERENCES topics.topic_meta (id) ON DELETE CASCADE,
    partition         integer NOT NULL,
    committed_offset  bigint NOT NULL CHECK (committed_offset >= 0),
    metadata          text,
    committed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic_id, partition)
);
COMMENT ON TABLE topics.group_offset IS
    'Committed offsets: the next offset each group will read in each partition.';

SELECT pg_catalog.pg_extension_config_dump('topics.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_offset', '');
-- Groups are managed through the functions below, which run as their caller.
-- Until group-level privileges exist, any role may use any group.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON topics.consumer_group, topics.group_member, topics.group_offset TO PUBLIC;

CREATE FUNCTION topics.topic_id(topic text) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found_id integer;
BEGIN
    SELECT t.id INTO found_id FROM topics.topic_meta t WHERE t.name = topic;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'topic "%" does not exist', topic
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with topics.create_topic().';
    END IF;
    IF NOT has_table_privilege(format('topics.%I', 'topic_' || found_id), 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for topic "%"', topic
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('SELECT privilege on table topics.topic_%s is needed.', found_id);
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION topics.topic_id(text) IS
    'Internal: the id of a topic the caller may read; an error otherwise.';

CREATE FUNCTION topics.check_group_id(group_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF group_id IS NULL THEN
        RAISE EXCEPTION 'group_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(group_id) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'invalid group_id'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A group_id is a string of 1 to 255 characters.';
    END IF;
END
$$;
COMMENT ON FUNCTION topics.check_group_id(text) IS 'Internal: raises an error for a malformed group_id.';

CREATE FUNCTION topics.check_no_members(group_id text, action text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM topics.group_member m WHERE m.group_id = check_no_members.group_id) THEN
        RAISE EXCEPTION 'cannot % group "%" while it has active members', action, group_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Stop the group''s consumers (topics.leave_group) first, as Kafka requires.';
    END IF;
END
$$;
COMMENT ON FUNCTION topics.check_no_members(text, text) IS
    'Internal: refuses an administrative action on a group that has members.';

CREATE FUNCTION topics.start_offset(topic text, partition integer, reset_to text)
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT CASE reset_to WHEN 'earliest' THEN o.log_start_offset ELSE o.last_stable_offset END
    FROM topics.partition_offsets(topic, partition) o
$$;
COMMENT ON FUNCTION topics.start_offset(text, integer, text) IS
    'Internal: where a group without a committed offset starts: the log start (earliest) or the last stable offset (latest).';

CREATE FUNCTION topics.ensure_group_offsets(group_id text, topic text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tid integer := topics.topic_id(topic);
    reset_to text := current_setting('pg_topics.auto_offset_reset');
BEGIN
    PERFORM topics.check_group_id(group_id);
    INSERT INTO topics.consumer_group AS g (group_id) VALUES (ensure_group_offsets.group_id)
        ON CONFLICT DO NOTHING;
    INSERT INTO topics.group_offset AS o (group_id, topic_id, partition, committed_offset)
    SELECT ensure_group_offsets.group_id, tid, p, topics.start_offset(topic, p, reset_to)
    FROM topics.topic_meta t, generate_series(0, t.partitions - 1) AS p
    WHERE t.id = tid
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION topics.ensure_group_offsets(text, text) IS
    'Internal: gives a group an offset for every partition of a topic, starting where pg_topics.auto_offset_reset says.';

CREATE FUNCTION topics.commit(
    group_id text, topic text, partition integer, next_offset bigint,
    metadata text DEFAULT NULL, member_id text DEFAULT NULL, generation integer DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tid integer := topics.topic_id(topic);
    bounds record;
BEGIN
    PERFORM topics.check_group_id(group_id);
    IF partition IS NULL OR next_offset IS NULL THEN
        RAISE EXCEPTION 'partition and next_offset must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF next_offset < 0 THEN
        RAISE EXCEPTION 'next_offset must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF member_id IS NOT NULL OR generation IS NOT NULL THEN
        PERFORM topics.check_member(group_id, member_id, generation);
    ELSE
        PERFORM topics.check_no_members(group_id, 'commit offsets without member_id and generation to');
    END IF;
    bounds := topics.partition_offsets(topic, partition);
    IF next_offset > bounds.high_watermark THEN
        RAISE EXCEPTION 'offset % is beyond the end of partition % of topic "%"',
                        next_offset, partition, topic
            USING ERRCODE = 'PT001',
                  DETAIL = format('The next offset to be written is %s.', bounds.high_watermark);
    END IF;

    INSERT INTO topics.consumer_group AS g (group_id) VALUES (commit.group_id)
        ON CONFLICT DO NOTHING;
    INSERT INTO topics.group_offset AS o
        (group_id, topic_id, partition, committed_offset, metadata, committed_at)
    VALUES (commit.group_id, tid, commit.partition, next_offset, commit.metadata, now())
    ON CONFLICT ON CONSTRAINT group_offset_pkey DO UPDATE
        SET committed_offset = excluded.committed_offset, metadata = excluded.metadata,
            committed_at = excluded.committed_at;
END
$$;
COMMENT ON FUNCTION topics.commit(text, text, integer, bigint, text, text, integer) IS
    'Commits the next offset a group will read in a partition. Members pass member_id and generation, and a stale generation is refused (fencing).';

CREATE FUNCTION topics.committed(group_id text, topic text DEFAULT NULL)
RETURNS TABLE (topic text, partition integer, committed_offset bigint, metadata text,
               committed_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT t.name, o.partition, o.committed_offset, o.metadata, o.committed_at
    FROM topics.group_offset o JOIN topics.topic_meta t ON t.id = o.topic_id
    WHERE o.group_id = $1 AND ($2 IS NULL OR t.name = $2)
    ORDER BY t.name, o.partition
$$;
COMMENT ON FUNCTION topics.committed(text, text) IS
    'The committed offsets of a group, for one topic or all.';

CREATE FUNCTION topics.reset_offsets_to(group_id text, topic text, target text,
                                        target_ts timestamptz, target_offset bigint)
RETURNS TABLE (partition integer, committed_offset bigint)
LANGUAGE plpgsql AS $$
DECLARE
    tid integer := topics.topic_id(topic);
    p integer;
    bounds record;
    new_offset bigint;
BEGIN
    PERFORM topics.check_group_id(group_id);
    INSERT INTO topics.consumer_group AS g (group_id) VALUES (reset_offsets_to.group_id)
        ON CONFLICT DO NOTHING;
    PERFORM FROM topics.consumer_group g WHERE g.group_id = reset_offsets_to.group_id FOR NO KEY UPDATE;
    PERFORM topics.check_no_members(group_id, 'reset offsets of');
    FOR p IN SELECT generate_series(0, t.partitions - 1) FROM topics.topic_meta t WHERE t.id = tid LOOP
        bounds := topics.partition_offsets(topic, p);
        new_offset := CASE
            WHEN target = 'earliest' THEN bounds.log_start_offset
            WHEN target = 'latest' THEN bounds.last_stable_offset
            WHEN target = 'timestamp' THEN coalesce(topics.offset_for_time(topic, p, target_ts),
                                                     bounds.last_stable_offset)
            ELSE greatest(bounds.log_start_offset, least(target_offset, bounds.high_watermark))
        END;
        INSERT INTO topics.group_offset AS o (group_id, topic_id, partition, committed_offset)
        VALUES (reset_offsets_to.group_id, tid, p, new_offset)
        ON CONFLICT ON CONSTRAINT group_offset_pkey DO UPDATE
            SET committed_offset = excluded.committed_offset, metadata = NULL, committed_at = now();
        partition := p;
        committed_offset := new_offset;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.reset_offsets_to(text, text, text, timestamptz, bigint) IS
    'Internal: the body of the topics.reset_offsets overloads.';

CREATE FUNCTION topics.reset_offsets(group_id text, topic text, reset_to text)
RETURNS TABLE (partition integer, committed_offset bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF reset_to IS NULL OR reset_to NOT IN ('earliest', 'latest') THEN
        RAISE EXCEPTION 'invalid reset_to "%"', reset_to
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''earliest'', ''latest'', a timestamptz or an offset.';
    END IF;
    RETURN QUERY SELECT * FROM topics.reset_offsets_to(group_id, topic, reset_to, NULL, NULL);
END
$$;
COMMENT ON FUNCTION topics.reset_offsets(text, text, text) IS
    'Moves a group''s offsets on every partition of a topic to the earliest or latest offset; refused while the group has members.';

CREATE FUNCTION topics.reset_offsets(group_id text, topic text, reset_to timestamptz)
RETURNS TABLE (partition integer, committed_offset bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF reset_to IS NULL OR NOT isfinite(reset_to) THEN
        RAISE EXCEPTION 'reset_to must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM topics.reset_offsets_to(group_id, topic, 'timestamp', reset_to, NULL);
END
$$;
COMMENT ON FUNCTION topics.reset_offsets(text, text, timestamptz) IS
    'Moves a group''s offsets to the first record at or after a time (the end where there is none).';

CREATE FUNCTION topics.reset_offsets(group_id text, topic text, reset_to bigint)
RETURNS TABLE (partition integer, committed_offset bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF reset_to IS NULL OR reset_to < 0 THEN
        RAISE EXCEPTION 'reset_to offset must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM topics.reset_offsets_to(group_id, topic, 'offset', NULL, reset_to);
END
$$;
COMMENT ON FUNCTION topics.reset_offsets(text, text, bigint) IS
    'Moves a group''s offsets to an offset, clamped to each partition''s log start and end.';

CREATE FUNCTION topics.delete_group(group_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM topics.check_group_id(group_id);
    PERFORM FROM topics.consumer_group g WHERE g.group_id = delete_group.group_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group "%" does not exist', group_id
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM topics.check_no_members(group_id, 'delete');
    DELETE FROM topics.consumer_group g WHERE g.group_id = delete_group.group_id;
END
$$;
COMMENT ON FUNCTION topics.delete_group(text) IS
    'Deletes a group and its committed offsets; refused while it has members.';

-------------------------------------------------------------------------------
-- Consumer groups: transactional consumption
-------------------------------------------------------------------------------

CREATE FUNCTION topics.consume(
    group_id text, topic text, max_records integer DEFAULT 500, wait interval DEFAULT '0')
RETURNS SETOF topics.record
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 500
    AS 'MODULE_PATHNAME', 'topics_consume';
COMMENT ON FUNCTION topics.consume(text, text, integer, interval) IS
    'Returns the next records of partitions no other session of the group holds and moves the group''s offsets past them in the same transaction: commit and they are consumed, roll back and they come again.';

-------------------------------------------------------------------------------
-- Consumer groups: the member protocol
-------------------------------------------------------------------------------

CREATE FUNCTION topics.check_member(group_id text, member_id text, generation integer,
                                    lock_member boolean DEFAULT true)
RETURNS topics.group_member LANGUAGE plpgsql AS $$
DECLARE
    member topics.group_member;
    current_generation integer;
BEGIN
    IF member_id IS NULL OR generation IS NULL THEN
        RAISE EXCEPTION 'member_id and generation must both be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_member THEN
        SELECT * INTO member FROM topics.group_member m
        WHERE m.group_id = check_member.group_id AND m.member_id = check_member.member_id
        FOR UPDATE;
    ELSE
        SELECT * INTO member FROM topics.group_member m
        WHERE m.group_id = check_member.group_id AND m.member_id = check_member.member_id;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown member "%" of group "%"', member_id, group_id
            USING ERRCODE = 'PT002',
                  HINT = 'The member left or its session timed out: join the group again.';
    END IF;
    SELECT g.generation INTO current_generation FROM topics.consumer_group g
    WHERE g.group_id = check_member.group_id;
    IF generation = current_generation AND member.generation <> current_generation THEN
        RAISE EXCEPTION 'the member has not rejoined group "%" since its rebalance', group_id
            USING ERRCODE = 'PT003',
                  DETAIL = format('The member last joined generation %s; the current one is %s.',
                                  member.generation, current_generation),
                  HINT = 'Call topics.join_group with your member_id to get the new assignment.';
    END IF;
    IF generation <> current_generation THEN
        RAISE EXCEPTION 'generation % of group "%" is not current', generation, group_id
            USING ERRCODE = 'PT003',
                  DETAIL = format('The current generation is %s.', current_generation),
                  HINT = 'The group rebalanced: call topics.join_group with your member_id to get the new assignment.';
    END IF;
    RETURN member;
END
$$;
COMMENT ON FUNCTION topics.check_member(text, text, integer, boolean) IS
    'Internal: the member''s row (locked unless lock_member is false); an error when the member is unknown (PT002) or its generation is not current (PT003).';

CREATE FUNCTION topics.assign_range(group_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    topic record;
    members text[];
    k integer;
    first integer;
    count integer;
BEGIN
    FOR topic IN
        SELECT t.name, t.partitions FROM topics.topic_meta t
        WHERE t.name IN (SELECT unnest(m.topics) FROM topics.group_member m
                         WHERE m.group_id = assign_range.group_id)
        ORDER BY t.name
    LOOP
        members := ARRAY(SELECT m.member_id FROM topics.group_member m
                         WHERE m.group_id = assign_range.group_id AND topic.name = ANY (m.topics)
                         ORDER BY coalesce(m.instance_id, m.member_id), m.member_id);
        k := cardinality(members);
        FOR i IN 0 .. k - 1 LOOP
            first := i * (topic.partitions / k) + least(i, topic.partitions % k);
            count := topic.partitions / k + CASE WHEN i < topic.partitions % k THEN 1 ELSE 0 END;
            UPDATE topics.group_member m
            SET assignment = m.assignment || ARRAY(
                    SELECT (topic.name, p)::topics.topic_partition
                    FROM generate_series(first, first + count - 1) AS p)
            WHERE m.group_id = assign_range.group_id AND m.member_id = members[i + 1];
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.assign_range(text) IS
    'Internal: the range assignor: each topic''s partitions in contiguous ranges over its subscribers, as Kafka''s RangeAssignor.';

CREATE FUNCTION topics.assign_roundrobin(group_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    members text[];
    subscriptions text[];
    k integer;
    next integer := 0;
    tp record;
BEGIN
    SELECT array_agg(m.member_id ORDER BY coalesce(m.instance_id, m.member_id), m.member_id)
    INTO members FROM topics.group_member m WHERE m.group_id = assign_roundrobin.group_id;
    k := cardinality(members);
    FOR tp IN
        SELECT t.name, p FROM topics.topic_meta t, generate_series(0, t.partitions - 1) AS p
        WHERE t.name IN (SELECT unnest(m.topics) FROM topics.group_member m
                         WHERE m.group_id = assign_roundrobin.group_id)
        ORDER BY t.name, p
    LOOP
        FOR attempt IN 1 .. k LOOP
            SELECT m.topics INTO subscriptions FROM topics.group_member m
            WHERE m.group_id = assign_roundrobin.group_id AND m.member_id = members[next % k + 1];
            next := next + 1;
            IF tp.name = ANY (subscriptions) THEN
                UPDATE topics.group_member m
                SET assignment = m.assignment || (tp.name, tp.p)::topics.topic_partition
                WHERE m.group_id = assign_roundrobin.group_id AND m.member_id = members[(next - 1) % k + 1];
                EXIT;
            END IF;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.assign_roundrobin(text) IS
    'Internal: the round-robin assignor: all subscribed partitions dealt in turn to the members subscribed to them.';

CREATE FUNCTION topics.assign_sticky(group_id text, previous jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    candidates topics.topic_partition[];
    members integer;
    base_share integer;
    extra_shares integer;
    held integer;
    tp record;
    chosen text;
BEGIN
    candidates := ARRAY(
        SELECT (t.name, p)::topics.topic_partition
        FROM topics.topic_meta t, generate_series(0, t.partitions - 1) AS p
        WHERE t.name IN (SELECT unnest(m.topics) FROM topics.group_member m
                         WHERE m.group_id = assign_sticky.group_id)
        ORDER BY t.name, p);
    SELECT count(*) INTO members FROM topics.group_member m
    WHERE m.group_id = assign_sticky.group_id;
    IF members = 0 THEN
        RETURN;
    END IF;
    -- A fair share is total / members; total % members members get one more.
    base_share := cardinality(candidates) / members;
    extra_shares := cardinality(candidates) % members;

    -- Keep what each member had, up to its fair share.
    FOR tp IN
        SELECT prev.member_id, prev.topic, prev.partition
        FROM jsonb_to_recordset(previous) AS prev(member_id text, topic text, partition integer)
        WHERE (prev.topic, prev.partition)::topics.topic_partition = ANY (candidates)
        ORDER BY prev.member_id, prev.topic, prev.partition
    LOOP
        SELECT cardinality(m.assignment) INTO held FROM topics.group_member m
        WHERE m.group_id = assign_sticky.group_id AND m.member_id = tp.member_id
          AND tp.topic = ANY (m.topics);
        CONTINUE WHEN held IS NULL OR held > base_share
                      OR (held = base_share AND extra_shares = 0);
        IF held = base_share THEN
            extra_shares := extra_shares - 1;
        END IF;
        UPDATE topics.group_member m
        SET assignment = m.assignment || (tp.topic, tp.partition)::topics.topic_partition
        WHERE m.group_id = assign_sticky.group_id AND m.member_id = tp.member_id;
    END LOOP;

    -- Give every partition left to the least loaded member subscribed to it.
    FOR tp IN
        SELECT c.topic, c.partition FROM unnest(candidates) AS c
        WHERE NOT EXISTS (SELECT FROM topics.group_member o, unnest(o.assignment) a
                          WHERE o.group_id = assign_sticky.group_id
                            AND a.topic = c.topic AND a.partition = c.partition)
        ORDER BY c.topic, c.partition
    LOOP
        SELECT m.member_id INTO chosen FROM topics.group_member m
        WHERE m.group_id = assign_sticky.group_id AND tp.topic = ANY (m.topics)
        ORDER BY cardinality(m.assignment), coalesce(m.instance_id, m.member_id), m.member_id
        LIMIT 1;
        UPDATE topics.group_member m
        SET assignment = m.assignment || (tp.topic, tp.partition)::topics.topic_partition
        WHERE m.group_id = assign_sticky.group_id AND m.member_id = chosen;
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.assign_sticky(text, jsonb) IS
    'Internal: the sticky assignor: members keep their previous partitions up to a fair share (total / members, one more for total % members of them), and the rest go to the least loaded.';

CREATE FUNCTION topics.rebalance(group_id text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    new_generation integer;
    group_assignor text;
    previous jsonb;
BEGIN
    UPDATE topics.consumer_group g
    SET generation = g.generation + 1, rebalanced_at = clock_timestamp()
    WHERE g.group_id = rebalance.group_id
    RETURNING g.generation, g.assignor INTO new_generation, group_assignor;

    SELECT coalesce(jsonb_agg(jsonb_build_object('member_id', m.member_id,
                                                 'topic', a.topic, 'partition', a.partition)),
                    '[]')
    INTO previous
    FROM topics.group_member m, unnest(m.assignment) a
    WHERE m.group_id = rebalance.group_id;

    UPDATE topics.group_member m SET assignment = '{}', positions = NULL
    WHERE m.group_id = rebalance.group_id;
    CASE group_assignor
        WHEN 'range' THEN PERFORM topics.assign_range(group_id);
        WHEN 'roundrobin' THEN PERFORM topics.assign_roundrobin(group_id);
        ELSE PERFORM topics.assign_sticky(group_id, previous);
    END CASE;
    RETURN new_generation;
END
$$;
COMMENT ON FUNCTION topics.rebalance(text) IS
    'Internal: starts a new generation of a group and assigns its partitions to its members anew.';

CREATE FUNCTION topics.rebalance_subscribers(topic text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    subscribed_group text;
BEGIN
    FOR subscribed_group IN
        SELECT DISTINCT m.group_id FROM topics.group_member m
        WHERE topic = ANY (m.topics) ORDER BY 1
    LOOP
        PERFORM FROM topics.consumer_group g WHERE g.group_id = subscribed_group FOR NO KEY UPDATE;
        PERFORM topics.rebalance(subscribed_group);
    END LOOP;
END
$$;
COMMENT ON FUNCTION topics.rebalance_subscribers(text) IS
    'Internal: rebalances every group with a member subscribed to the topic (its partitions changed).';

CREATE FUNCTION topics.join_group_as(
    p_group_id text, p_topics text[], p_member_id text, p_session_timeout interval,
    p_assignor text, p_client_id text, p_instance_id text)
RETURNS topics.group_member LANGUAGE plpgsql AS $$
DECLARE
    grp topics.consumer_group;
    member topics.group_member;
    has_members boolean;
    changed boolean := false;
BEGIN
    PERFORM topics.check_group_id(p_group_id);
    IF p_topics IS NULL OR cardinality(p_topics) = 0 OR array_position(p_topics, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'topics must be a non-empty array of topic names'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM topics.topic_id(t) FROM unnest(p_topics) AS t;
    IF p_session_timeout IS NULL OR p_session_timeout < interval '1 second'
       OR p_session_timeout > interval '30 minutes' THEN
        RAISE EXCEPTION 'session_timeout must be between 1 second and 30 minutes'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_assignor IS NULL OR p_assignor NOT IN ('range', 'roundrobin', 'sticky') THEN
        RAISE EXCEPTION 'unknown assignor "%"', p_assignor
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''range'', ''roundrobin'' or ''sticky''.';
    END IF;

    INSERT INTO topics.consumer_group AS g (group_id, assignor) VALUES (p_group_id, p_assignor)
        ON CONFLICT DO NOTHING;
    -- Membership changes of a group take turns on its row; NO KEY UPDATE
    -- leaves alone the key-share locks its offset rows' foreign keys take.
    SELECT * INTO grp FROM topics.consumer_group g WHERE g.group_id = p_group_id FOR NO KEY UPDATE;
    has_members := EXISTS (SELECT FROM topics.group_member m WHERE m.group_id = p_group_id);
    IF NOT has_members AND grp.assignor <> p_assignor THEN
        UPDATE topics.consumer_group g SET assignor = p_assignor WHERE g.group_id = p_group_id;
    ELSIF grp.assignor <> p_assignor THEN
        RAISE EXCEPTION 'group "%" uses the % assignor', p_group_id, grp.assignor
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Every member of a group must use the same assignor.';
    END IF;

    IF p_member_id IS NOT NULL THEN
        SELECT * INTO member FROM topics.group_member m
        WHERE m.group_id = p_group_id AND m.member_id = p_member_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown member "%" of group "%"', p_member_id, p_group_id
                USING ERRCODE = 'PT002',
                      HINT = 'The member left or its session timed out: join again without a member_id.';
        END IF;
    ELSIF p_instance_id IS NOT NULL THEN
        -- A static member coming back takes its place, and its partitions, over.
        SELECT * INTO member FROM topics.group_member m
        WHERE m.group_id = p_group_id AND m.instance_id = p_instance_id;
        IF FOUND THEN
            UPDATE topics.group_member m
            SET member_id = p_instance_id || '-' || gen_random_uuid(), positions = NULL
            WHERE m.group_id = p_group_id AND m.member_id = member.member_id
            RETURNING * INTO member;
        END IF;
    END IF;

    IF member.member_id IS NULL THEN
        INSERT INTO topics.group_member
            (group_id, member_id, instance_id, client_id, client_host, topics,
             session_timeout, generation)
        VALUES (p_group_id, coalesce(p_instance_id, p_client_id, 'member') || '-' || gen_random_uuid(),
                p_instance_id, coalesce(p_client_id, ''), inet_client_addr()::text, p_topics,
                p_session_timeout, grp.generation)
        RETURNING * INTO member;
        changed := true;
    ELSE
        changed := member.topics IS DISTINCT FROM p_topics;
        UPDATE topics.group_member m
        SET topics = p_topics, session_timeout = p_session_timeout,
            client_id = coalesce(p_client_id, m.client_id), last_heartbeat = clock_timestamp()
        WHERE m.group_id = p_group_id AND m.member_id = member.member_id;
    END IF;

    IF changed THEN
        grp.generation := topics.rebalance(p_group_id);
    END IF;
    UPDATE topics.group_member m SET generation = grp.generation
    WHERE m.group_id = p_group_id AND m.member_id = member.member_id
    RETURNING * INTO member;
    RETURN member;
END
$$;
COMMENT ON FUNCTION topics.join_group_as(text, text[], text, interval, text, text, text) IS
    'Internal: the body of topics.join_group.';

CREATE FUNCTION topics.join_group(
    group_id text, topics text[], member_id text DEFAULT NULL,
    session_timeout interval DEFAULT '45 seconds', assignor text DEFAULT 'range',
    client_id text DEFAULT NULL, instance_id text DEFAULT NULL)
RETURNS TABLE (member_id text, generation integer, assignment topics.topic_partition[])
LANGUAGE sql AS $$
    SELECT m.member_id, m.generation, m.assignment
    FROM topics.join_group_as($1, $2, $3, $4, $5, $6, $7) AS m
$$;
COMMENT ON FUNCTION topics.join_group(text, text[], text, interval, text, text, text) IS
    'Joins a group (or rejoins it after a rebalance, with member_id) and returns the member id, the generation and the member''s partitions.';

CREATE FUNCTION topics.heartbeat(group_id text, member_id text, generation integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    member topics.group_member;
    current_generation integer;
BEGIN
    IF member_id IS NULL OR generation IS NULL THEN
        RAISE EXCEPTION 'member_id and generation must both be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE topics.group_member m SET last_heartbeat = clock_timestamp()
    WHERE m.group_id = heartbeat.group_id AND m.member_id = heartbeat.member_id
    RETURNING * INTO member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown member "%" of group "%"', member_id, group_id
            USING ERRCODE = 'PT002',
                  HINT = 'The member left or its session timed out: join the group again.';
    END IF;
    SELECT g.generation INTO current_generation FROM topics.consumer_group g
    WHERE g.group_id = heartbeat.group_id;
    IF generation > current_generation THEN
        RAISE EXCEPTION 'generation % of group "%" does not exist', generation, group_id
            USING ERRCODE = 'PT003',
                  DETAIL = format('The current generation is %s.', current_generation);
    END IF;
    RETURN CASE WHEN generation = current_generation AND member.generation = current_generation
                THEN 'ok' ELSE 'rebalance' END;
END
$$;
COMMENT ON FUNCTION topics.heartbeat(text, text, integer) IS
    'Keeps a member alive; returns ''ok'', or ''rebalance'' when the member must rejoin to get its new assignment.';

CREATE FUNCTION topics.leave_group(group_id text, member_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM topics.consumer_group g WHERE g.group_id = leave_group.group_id FOR NO KEY UPDATE;
    DELETE FROM topics.group_member m
    WHERE m.group_id = leave_group.group_id AND m.member_id = leave_group.member_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown member "%" of group "%"', member_id, group_id
            USING ERRCODE = 'PT002';
    END IF;
    PERFORM topics.rebalance(group_id);
END
$$;
COMMENT ON FUNCTION topics.leave_group(text, text) IS
    'Leaves a group; its partitions go to the remaining members in a new generation.';

CREATE FUNCTION topics.expire_members() RETURNS interval
LANGUAGE plpgsql AS $$
DECLARE
    expired_group text;
BEGIN
    FOR expired_group IN
        SELECT DISTINCT m.group_id FROM topics.group_member m
        WHERE m.last_heartbeat + m.session_timeout < clock_timestamp()
        ORDER BY 1
    LOOP
        PERFORM FROM topics.consumer_group g WHERE g.group_id = expired_group FOR NO KEY UPDATE;
        -- A member whose row is locked is in a poll or a heartbeat: alive.
        DELETE FROM topics.group_member m
        WHERE m.ctid IN (SELECT x.ctid FROM topics.group_member x
                         WHERE x.group_id = expired_group
                           AND x.last_heartbeat + x.session_timeout < clock_timestamp()
                         FOR UPDATE SKIP LOCKED);
        IF FOUND THEN
            PERFORM topics.rebalance(expired_group);
        END IF;
    END LOOP;
    RETURN (SELECT min(m.last_heartbeat + m.session_timeout) - clock_timestamp()
            FROM topics.group_member m);
END
$$;
COMMENT ON FUNCTION topics.expire_members() IS
    'Removes members whose session timed out and rebalances their groups; returns the time until the next member could expire. The background worker calls it.';

CREATE FUNCTION topics.wait_for_records(topics text[], partitions integer[],
                                        positions bigint[], wait interval)
RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'topics_wait_for_records';
COMMENT ON FUNCTION topics.wait_for_records(text[], integer[], bigint[], interval) IS
    'Internal: waits until one of the partitions has a committed record at or past its position.';

CREATE FUNCTION topics.start_positions(group_id text, assignment topics.topic_partition[])
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    positions bigint[] := '{}';
    tp topics.topic_partition;
    committed bigint;
BEGIN
    FOREACH tp IN ARRAY assignment LOOP
        PERFORM topics.ensure_group_offsets(group_id, tp.topic);
        SELECT o.committed_offset INTO committed
        FROM topics.group_offset o
        WHERE o.group_id = start_positions.group_id AND o.topic_id = topics.topic_id(tp.topic)
          AND o.partition = tp.partition;
        positions := positions || committed;
    END LOOP;
    RETURN positions;
END
$$;
COMMENT ON FUNCTION topics.start_positions(text, topics.topic_partition[]) IS
    'Internal: the committed offsets of a group for an assignment, where a member''s positions start.';

CREATE FUNCTION topics.poll(group_id text, member_id text, generation integer,
                            max_records integer DEFAULT 500, wait interval DEFAULT '0')
RETURNS SETOF topics.record LANGUAGE plpgsql AS $$
DECLARE
    -- Not locked: a poll that waits must not hold up a rebalance.
    member topics.group_member := topics.check_member(group_id, member_id, generation, false);
    pos bigint[] := member.positions;
    n integer := cardinality(member.assignment);
    start integer;
    returned integer := 0;
    waited boolean := false;
    tp topics.topic_partition;
    r topics.record;
BEGIN
    IF max_records IS NULL OR max_records < 1 OR max_records > 1000000 THEN
        RAISE EXCEPTION 'max_records must be between 1 and 1000000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF wait IS NULL OR wait < interval '0' OR wait > interval '24 hours' THEN
        RAISE EXCEPTION 'wait must be between 0 and 24 hours'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pos IS NULL OR cardinality(pos) <> n THEN
        -- A new assignment starts at the committed offsets.
        pos := topics.start_positions(group_id, member.assignment);
    END IF;

    start := floor(random() * greatest(n, 1))::integer;
    LOOP
        FOR j IN 0 .. n - 1 LOOP
            EXIT WHEN returned >= max_records;
            tp := member.assignment[(start + j) % n + 1];
            BEGIN
                FOR r IN SELECT * FROM topics.fetch(tp.topic, tp.partition,
                                                    pos[(start + j) % n + 1],
                                                    max_records - returned)
                LOOP
                    RETURN NEXT r;
                    pos[(start + j) % n + 1] := r."offset" + 1;
                    returned := returned + 1;
                END LOOP;
            EXCEPTION WHEN SQLSTATE 'PT001' THEN
                -- Out of range (retention passed it): start over where auto_offset_reset says.
                pos[(start + j) % n + 1] := topics.start_offset(
                    tp.topic, tp.partition, current_setting('pg_topics.auto_offset_reset'));
            END;
        END LOOP;
        -- The poll's own heartbeat is stored only when it returns: wait no
        -- longer than two thirds of the session from the last one, so that
        -- the member cannot expire while it waits.
        wait := least(wait, member.last_heartbeat + member.session_timeout * 2 / 3
                            - clock_timestamp());
        EXIT WHEN returned > 0 OR waited OR wait <= interval '0' OR n = 0;
        PERFORM topics.wait_for_records(ARRAY(SELECT a.topic FROM unnest(member.assignment) a),
                                        ARRAY(SELECT a.partition FROM unnest(member.assignment) a),
                                        pos, wait);
        waited := true;
    END LOOP;

    -- Unless a rebalance changed the assignment meanwhile (then positions restart).
    UPDATE topics.group_member m SET positions = pos, last_heartbeat = clock_timestamp()
    WHERE m.group_id = poll.group_id AND m.member_id = poll.member_id
      AND m.generation = member.generation AND m.assignment = member.assignment;
END
$$;
COMMENT ON FUNCTION topics.poll(text, text, integer, integer, interval) IS
    'Returns the next records of the member''s assigned partitions from its position, and moves the position; a poll counts as a heartbeat.';

CREATE FUNCTION topics.seek(group_id text, member_id text, generation integer,
                            topic text, partition integer, to_offset bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    member topics.group_member := topics.check_member(group_id, member_id, generation);
    i integer;
BEGIN
    i := array_position(member.assignment, (topic, partition)::topics.topic_partition);
    IF i IS NULL THEN
        RAISE EXCEPTION 'partition % of topic "%" is not assigned to member "%"',
                        partition, topic, member_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_offset IS NULL OR to_offset < 0 THEN
        RAISE EXCEPTION 'to_offset must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF member.positions IS NULL OR cardinality(member.positions) <> cardinality(member.assignment) THEN
        member.positions := topics.start_positions(group_id, member.assignment);
    END IF;
    member.positions[i] := to_offset;
    UPDATE topics.group_member m SET positions = member.positions
    WHERE m.group_id = seek.group_id AND m.member_id = seek.member_id;
END
$$;
COMMENT ON FUNCTION topics.seek(text, text, integer, text, integer, bigint) IS
    'Moves a member''s position in one of its partitions; the next poll reads from there.';

-------------------------------------------------------------------------------
-- Consumer groups: views
-------------------------------------------------------------------------------

CREATE VIEW topics.group_list AS
    SELECT g.group_id,
           CASE WHEN count(m.member_id) = 0 THEN 'Empty'
                WHEN bool_and(m.generation = g.generation) THEN 'Stable'
                ELSE 'PreparingRebalance' END AS state,
           g.generation,
           count(m.member_id)::integer AS members,
           g.assignor,
           g.rebalanced_at
    FROM topics.consumer_group g
    LEFT JOIN topics.group_member m ON m.group_id = g.group_id
    GROUP BY g.group_id;
COMMENT ON VIEW topics.group_list IS
    'Every consumer group: state (Empty, Stable, PreparingRebalance), generation, members and assignor.';
GRANT SELECT ON topics.group_list TO PUBLIC;

CREATE VIEW topics.group_members AS
    SELECT m.group_id, m.member_id, m.instance_id, m.client_id, m.client_host,
           m.topics, m.assignment, m.generation, m.session_timeout, m.joined_at,
           m.last_heartbeat
    FROM topics.group_member m;
COMMENT ON VIEW topics.group_members IS
    'Every member of every group: who it is, what it subscribes to, its assignment and its last heartbeat.';
GRANT SELECT ON topics.group_members TO PUBLIC;

CREATE VIEW topics.consumer_lag AS
    SELECT o.group_id, t.name AS topic, o.partition, o.committed_offset,
           e.last_stable_offset AS end_offset,
           greatest(e.last_stable_offset - o.committed_offset, 0) AS lag
    FROM topics.group_offset o
    JOIN topics.topic_meta t ON t.id = o.topic_id
    CROSS JOIN LATERAL topics.partition_offsets(t.name, o.partition) AS e;
COMMENT ON VIEW topics.consumer_lag IS
    'For every group and partition: the committed offset, the end a consumer can read to (the last stable offset) and the lag between them.';
GRANT SELECT ON topics.consumer_lag TO PUBLIC;

-------------------------------------------------------------------------------
-- The background worker
-------------------------------------------------------------------------------

CREATE FUNCTION topics.start_worker() RETURNS boolean
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'topics_start_worker';
COMMENT ON FUNCTION topics.start_worker() IS
    'Starts this database''s pg_topics worker now if none runs (the launcher would within 30 seconds); false when pg_topics is not preloaded.';

SELECT topics.start_worker();
