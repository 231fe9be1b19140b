-- bench/setup.sql: the benchmark database, made once before anything is timed.
--
-- psql variable :rows is the number of records of the bulk tests (1,000,000).
-- Values are incompressible: pgcrypto's gen_random_bytes, made here once, never
-- inside a timed statement.
--
--   payload(id, v)       :rows random 100-byte bytea values: what pg_topics and
--                        the plain table store
--   payload_text(id, t)  the first 75 bytes of each value in base64, 100
--                        characters: PgQ's ev_data is text, so PgQ gets a
--                        100-byte text value of the same randomness
--   blobs(id, data)      the payload's bytes packed 70 values (7,000 bytes) to a
--                        row, kept inline and uncompressed (STORAGE PLAIN): the
--                        source of the storage-limit test
--
-- Also the helper functions the tests call: fetch loops and size sums.

\set ON_ERROR_STOP on

CREATE EXTENSION pg_topics;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION pgq;

-- Touch all of shared_buffers once (an unlogged table of one 7,000-byte row
-- a page, dropped again): in a fresh cluster the first use of every buffer
-- costs a page fault, which would tax whichever test first needs new buffers.
CREATE UNLOGGED TABLE filler (data text);
ALTER TABLE filler ALTER COLUMN data SET STORAGE PLAIN;
INSERT INTO filler
    SELECT repeat('x', 7000)
    FROM generate_series(1, (SELECT setting::integer * 15 / 16 FROM pg_settings
                             WHERE name = 'shared_buffers'));
DROP TABLE filler;

CREATE TABLE payload (id integer PRIMARY KEY, v bytea NOT NULL);
INSERT INTO payload SELECT i, gen_random_bytes(100) FROM generate_series(1, :rows) AS i;

CREATE TABLE payload_text (id integer PRIMARY KEY, t text NOT NULL);
INSERT INTO payload_text
    SELECT id, replace(encode(substr(v, 1, 75), 'base64'), E'\n', '') FROM payload;

CREATE TABLE blobs (id integer PRIMARY KEY, data bytea NOT NULL);
ALTER TABLE blobs ALTER COLUMN data SET STORAGE PLAIN;
INSERT INTO blobs
    SELECT (id - 1) / 70, string_agg(v, ''::bytea ORDER BY id)
    FROM payload GROUP BY (id - 1) / 70;

VACUUM ANALYZE payload, payload_text, blobs;

-- The shape of the plain peer: the columns of topics.record, offsets from a
-- sequence (bigserial), primary key (partition, "offset").
CREATE FUNCTION make_plain(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (partition integer NOT NULL, "offset" bigserial,'
                   ' ts timestamptz NOT NULL, key bytea, value bytea, headers jsonb,'
                   ' PRIMARY KEY (partition, "offset"))', name);
END
$$;

-- The storage limit's target: ~7 KB rows that never go to TOAST.
CREATE FUNCTION make_packed(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (id integer, data bytea) WITH (toast_tuple_target = 8160)', name);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN data SET STORAGE PLAIN', name);
END
$$;

-- Bytes on disk of a topic: every partition's table with its indexes and TOAST.
CREATE FUNCTION topic_bytes(topic text) RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(pg_total_relation_size(t.relid))::bigint
    FROM topics.topic_list l,
         pg_partition_tree(format('topics.%I', 'topic_' || l.topic_id)::regclass) t
    WHERE l.name = topic
$$;

-- Bytes on disk of a PgQ queue: its event tables (parent and rotation
-- children) with their indexes and TOAST.
CREATE FUNCTION queue_bytes(queue text) RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(pg_total_relation_size(c.oid))::bigint
    FROM pgq.queue q, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE q.queue_name = queue AND c.relkind = 'r'
      AND n.nspname || '.' || c.relname ~ ('^' || q.queue_data_pfx || '(_[0-9]+)?$')
$$;

-- Reads partition 0 of a topic from its first offset to the end, chunk records
-- per topics.fetch call, and counts records and value bytes.
CREATE FUNCTION fetch_topic(topic text, chunk integer,
                            OUT records bigint, OUT bytes bigint, OUT calls integer)
LANGUAGE plpgsql AS $$
DECLARE
    next_offset bigint := topics.earliest_offset(topic, 0);
    n bigint;
    b bigint;
    last bigint;
BEGIN
    records := 0; bytes := 0; calls := 0;
    LOOP
        SELECT count(*), sum(length(f.value)), max(f."offset") INTO n, b, last
          FROM topics.fetch(topic, 0, next_offset, chunk, 2147483647) AS f;
        calls := calls + 1;
        EXIT WHEN n = 0;
        records := records + n;
        bytes := bytes + b;
        next_offset := last + 1;
    END LOOP;
END
$$;

-- The same over the plain table plain_d, by primary-key range scans of chunk
-- rows (index scans: the planner may not pick a sequential scan and sort).
CREATE FUNCTION fetch_plain(chunk integer,
                            OUT records bigint, OUT bytes bigint, OUT calls integer)
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    next_offset bigint := 0;
    n bigint;
    b bigint;
    last bigint;
BEGIN
    records := 0; bytes := 0; calls := 0;
    LOOP
        SELECT count(*), sum(length(s.value)), max(s."offset") INTO n, b, last
          FROM (SELECT p."offset", p.value FROM plain_d AS p
                 WHERE p.partition = 0 AND p."offset" >= next_offset
                 ORDER BY p."offset" LIMIT chunk) AS s;
        calls := calls + 1;
        EXIT WHEN n = 0;
        records := records + n;
        bytes := bytes + b;
        next_offset := last + 1;
    END LOOP;
END
$$;

CHECKPOINT;
