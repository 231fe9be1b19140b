-- bench/groups/setup.sql: the consumer-group benchmark database, made once
-- before anything is timed (bench/groups/run).
--
-- psql variable :rows is the number of records consumed per run (1,000,000).
-- Values are incompressible: pgcrypto's gen_random_bytes, made here once.
--
--   payload(id, v)        :rows random 100-byte bytea values
--   payload_text(id, t)   the first 75 bytes of each in base64: 100 characters
--                         of the same randomness, for PgQ (ev_data is text)
--   topic ct              1 partition, the :rows payload values produced once;
--                         every run reads it from the start with a new group
--   plain_log             the same values in a heap table with the columns of
--                         topics.record, PRIMARY KEY (partition, "offset");
--                         every run reads it from the start with a new row in
--                         plain_offsets
--   q                     the plain queue table: the same columns with
--                         id bigserial PRIMARY KEY, refilled before each run
--                         (its consumer deletes what it takes)
--   PgQ queues            made and filled by fill_pgq before each repetition
--
-- The consumers are procedures that loop one batch per transaction (COMMIT
-- inside the loop) until there is nothing left, and count the records and
-- their value bytes (so that every peer reads the values):
--   consume_topics        SELECT ... FROM topics.consume(group, topic, batch)
--   consume_plain_delete  DELETE FROM q WHERE id IN (SELECT id FROM q ORDER BY
--                         id LIMIT batch FOR UPDATE SKIP LOCKED) RETURNING *
--   consume_plain_offset  lock the group's row of plain_offsets (SKIP LOCKED),
--                         read the next batch rows by primary key, move the
--                         row's offset: what topics.consume does, in SQL
--   consume_pgq           pgq.next_batch, pgq.get_batch_events, pgq.finish_batch

\set ON_ERROR_STOP on

CREATE EXTENSION pg_topics;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION pgq;

-- Touch all of shared_buffers once (see bench/setup.sql): in a fresh cluster
-- the first use of every buffer costs a page fault.
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

SELECT topics.create_topic('ct', 1);
SELECT count(*) FROM (SELECT topics.produce('ct', v) FROM payload ORDER BY id) AS s;

CREATE TABLE plain_log (
    partition integer NOT NULL, "offset" bigint NOT NULL, ts timestamptz NOT NULL,
    key bytea, value bytea, headers jsonb,
    PRIMARY KEY (partition, "offset"));
INSERT INTO plain_log (partition, "offset", ts, value)
    SELECT 0, id - 1, now(), v FROM payload ORDER BY id;
CREATE TABLE plain_offsets (group_id text PRIMARY KEY, next_offset bigint NOT NULL);

CREATE TABLE q (
    id bigserial PRIMARY KEY, partition integer NOT NULL, ts timestamptz NOT NULL,
    key bytea, value bytea, headers jsonb);

VACUUM ANALYZE payload, payload_text, plain_log;

-- Refills q with the payload (not timed).
CREATE PROCEDURE fill_plain_queue()
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE q;
    INSERT INTO q (partition, ts, value) SELECT 0, now(), v FROM payload ORDER BY id;
END
$$;

-- Makes PgQ queue cq with the given consumers registered and fills it with
-- the payload, batch events to a transaction, a tick after each (the ticker
-- ticks once queue_ticker_max_count, 500, events have come): one PgQ batch
-- per batch events (not timed).
CREATE PROCEDURE fill_pgq(consumers text[], batch integer)
LANGUAGE plpgsql AS $$
DECLARE
    total integer := (SELECT count(*) FROM payload_text);
    lo integer := 1;
    c text;
BEGIN
    PERFORM pgq.create_queue('cq');
    FOREACH c IN ARRAY consumers LOOP
        PERFORM pgq.register_consumer('cq', c);
    END LOOP;
    COMMIT;
    WHILE lo <= total LOOP
        PERFORM pgq.insert_event('cq', 'bench', t)
        FROM payload_text WHERE id BETWEEN lo AND lo + batch - 1 ORDER BY id;
        COMMIT;
        PERFORM pgq.ticker('cq');
        COMMIT;
        lo := lo + batch;
    END LOOP;
END
$$;

-- Reads every row of the queue's event tables once (sets hint bits).
CREATE FUNCTION touch_pgq() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s',
                   (SELECT queue_data_pfx FROM pgq.queue WHERE queue_name = 'cq')) INTO n;
    RETURN n;
END
$$;

CREATE PROCEDURE consume_topics(group_id text, topic text, batch integer,
                                INOUT records bigint DEFAULT 0, INOUT bytes bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    b bigint;
BEGIN
    LOOP
        SELECT count(*), sum(length(c.value)) INTO n, b
        FROM topics.consume(group_id, topic, batch) AS c;
        EXIT WHEN n = 0;
        records := records + n;
        bytes := bytes + b;
        COMMIT;
    END LOOP;
END
$$;

CREATE PROCEDURE consume_plain_delete(batch integer,
                                      INOUT records bigint DEFAULT 0, INOUT bytes bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    b bigint;
BEGIN
    LOOP
        WITH d AS (
            DELETE FROM q
            WHERE id IN (SELECT id FROM q ORDER BY id LIMIT batch FOR UPDATE SKIP LOCKED)
            RETURNING *)
        SELECT count(*), sum(length(d.value)) INTO n, b FROM d;
        EXIT WHEN n = 0;
        records := records + n;
        bytes := bytes + b;
        COMMIT;
    END LOOP;
END
$$;

CREATE PROCEDURE consume_plain_offset(group_id text, batch integer,
                                      INOUT records bigint DEFAULT 0, INOUT bytes bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    pos bigint;
    n bigint;
    b bigint;
    last bigint;
BEGIN
    INSERT INTO plain_offsets VALUES (group_id, 0);
    COMMIT;
    LOOP
        SELECT o.next_offset INTO pos FROM plain_offsets o
        WHERE o.group_id = consume_plain_offset.group_id FOR UPDATE SKIP LOCKED;
        EXIT WHEN pos IS NULL;
        SELECT count(*), sum(length(s.value)), max(s."offset") INTO n, b, last
        FROM (SELECT l."offset", l.value FROM plain_log l
              WHERE l.partition = 0 AND l."offset" >= pos
              ORDER BY l."offset" LIMIT batch) AS s;
        EXIT WHEN n = 0;
        UPDATE plain_offsets o SET next_offset = last + 1
        WHERE o.group_id = consume_plain_offset.group_id;
        records := records + n;
        bytes := bytes + b;
        COMMIT;
    END LOOP;
END
$$;

CREATE PROCEDURE consume_pgq(consumer text,
                             INOUT records bigint DEFAULT 0, INOUT bytes bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    batch_id bigint;
    n bigint;
    b bigint;
BEGIN
    LOOP
        batch_id := pgq.next_batch('cq', consumer);
        EXIT WHEN batch_id IS NULL;
        SELECT count(*), sum(length(e.ev_data)) INTO n, b
        FROM pgq.get_batch_events(batch_id) AS e;
        PERFORM pgq.finish_batch(batch_id);
        records := records + n;
        bytes := bytes + coalesce(b, 0);
        COMMIT;
    END LOOP;
END
$$;

\ir latency.sql
\ir rebalance.sql

CHECKPOINT;
