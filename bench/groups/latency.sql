-- bench/groups/latency.sql: goal (b), end-to-end latency, as two procedures
-- that bench/groups/run calls in two sessions at once.
--
-- The producer produces records 1..n to a topic of one partition, one per
-- transaction, the value being "seq|clock_timestamp()"; before each it waits
-- (polling every millisecond) until the consumer has committed the previous
-- record and is blocked in topics.consume again (its wait_event is
-- 'Extension'), so that every record wakes a sleeping consumer: a ping-pong.
-- The consumer loops topics.consume(group, topic, 1, wait => '5s') and, as
-- soon as the call returns, takes clock_timestamp() for each record.  Both
-- timestamps are taken in SQL, inside the server, on one clock.
--
-- latency(run, seq, produced_at, committed_at, woke_at):
--   produced_at   clock_timestamp() in the producer's produce call
--   committed_at  clock_timestamp() in the producer right after its COMMIT
--                 returned (the commit includes the WAL flush)
--   woke_at       clock_timestamp() in the consumer when consume returned

CREATE TABLE latency (
    run text NOT NULL,
    seq integer NOT NULL,
    produced_at timestamptz,
    committed_at timestamptz,
    woke_at timestamptz,
    PRIMARY KEY (run, seq));

CREATE PROCEDURE latency_consumer(run text, topic text, n integer)
LANGUAGE plpgsql AS $$
DECLARE
    got integer := 0;
    empty integer := 0;
    r record;
BEGIN
    WHILE got < n LOOP
        FOR r IN SELECT clock_timestamp() AS woke, convert_from(c.value, 'UTF8') AS v
                 FROM topics.consume(run, topic, 1, wait => '5s') AS c LOOP
            INSERT INTO latency (run, seq, produced_at, woke_at)
            VALUES (run, split_part(r.v, '|', 1)::integer,
                    split_part(r.v, '|', 2)::timestamptz, r.woke);
            got := got + 1;
            empty := 0;
        END LOOP;
        IF NOT FOUND THEN
            empty := empty + 1;
            IF empty >= 3 THEN
                RAISE EXCEPTION 'latency consumer: nothing for 15 s after % records', got;
            END IF;
        END IF;
        COMMIT;
    END LOOP;
END
$$;

CREATE PROCEDURE latency_producer(run text, topic text, n integer, consumer_pid integer)
LANGUAGE plpgsql AS $$
DECLARE
    committed timestamptz[] := '{}';
    deadline timestamptz;
BEGIN
    -- record i once the consumer has committed record i - 1 and sleeps in
    -- topics.consume again; after the last, until it has committed that
    FOR i IN 1 .. n + 1 LOOP
        deadline := clock_timestamp() + interval '10 s';
        LOOP
            PERFORM pg_stat_clear_snapshot();
            EXIT WHEN (SELECT o.committed_offset FROM topics.group_offset o
                       WHERE o.group_id = run) >= i - 1
                  AND (i > n OR (SELECT a.wait_event_type FROM pg_stat_activity a
                                 WHERE a.pid = consumer_pid) = 'Extension');
            IF clock_timestamp() > deadline THEN
                RAISE EXCEPTION 'latency producer: the consumer did not take record %', i - 1;
            END IF;
            PERFORM pg_sleep(0.001);
        END LOOP;
        EXIT WHEN i > n;
        PERFORM topics.produce(topic, i || '|' || clock_timestamp());
        COMMIT;
        committed := committed || clock_timestamp();
    END LOOP;
    UPDATE latency l SET committed_at = committed[l.seq] WHERE l.run = latency_producer.run;
END
$$;
