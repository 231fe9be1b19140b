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
       AND cleanup_policy NOT IN ('delete', 'compact', 'compact,delete') THEN
        RAISE EXCEPTION 'invalid cleanup_policy "%"', cleanup_policy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''delete'', ''compact'' or ''compact,delete''.';
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
            cleanup_policy, max_message_bytes);

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
                  DETAIL = format('The topic has %s partitions; %s were asked for.',
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
        cleanup_policy = coalesce(alter_topic.cleanup_policy, t.cleanup_policy),
        max_message_bytes = coalesce(alter_topic.max_message_bytes, t.max_message_bytes)
    WHERE t.id = topic.id;
    PERFORM topics.topic_changed(format('topics.%I', 'topic_' || topic.id)::regclass);
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
