--
-- corruption: stored batches are untrusted.  A damaged or crafted batch row
-- makes fetch fail with data_corrupted (XX001), naming the topic, partition
-- and offset; it never crashes the server, and the batches around it stay
-- readable.
--
-- Part 1 damages batches the way a disk or a careless UPDATE would.  Part 2
-- writes batches with a correct checksum but a malformed inside, built by
-- an encoder written here in SQL from the format in src/batch.h, so that the
-- decoder's own checks are reached.  Every change is rolled back.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
\set SHOW_CONTEXT never
-- :state prints the SQLSTATE of the statement before it.
\set state '\\echo SQLSTATE :SQLSTATE'

------------------------------------------------------------------------------
-- A batch encoder in SQL
------------------------------------------------------------------------------

-- CRC-32C (Castagnoli), as pg_crc32c computes it.
CREATE FUNCTION pg_temp.crc32c(data bytea) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    tab bigint[] := '{}';
    crc bigint := 4294967295;
    c bigint;
BEGIN
    FOR n IN 0..255 LOOP
        c := n;
        FOR k IN 1..8 LOOP
            c := CASE WHEN c & 1 = 1 THEN (c >> 1) # 2197175160 ELSE c >> 1 END;
        END LOOP;
        tab := tab || c;
    END LOOP;
    FOR i IN 0..length(data) - 1 LOOP
        crc := tab[((crc # get_byte(data, i)) & 255) + 1] # (crc >> 8);
    END LOOP;
    RETURN crc # 4294967295;
END
$$;
-- Little-endian, two's complement, n bytes.
CREATE FUNCTION pg_temp.le(v numeric, n integer) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b bytea := '\x';
BEGIN
    IF v < 0 THEN
        v := v + 256::numeric ^ n;
    END IF;
    FOR i IN 1..n LOOP
        b := b || set_byte('\x00', 0, (v % 256)::integer);
        v := div(v, 256);
    END LOOP;
    RETURN b;
END
$$;
-- Unsigned varint (7 bits a byte, low first); zigzag for signed values.
CREATE FUNCTION pg_temp.varint(v numeric) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b bytea := '\x';
BEGIN
    WHILE v >= 128 LOOP
        b := b || set_byte('\x00', 0, (v % 128)::integer + 128);
        v := div(v, 128);
    END LOOP;
    RETURN b || set_byte('\x00', 0, v::integer);
END
$$;
CREATE FUNCTION pg_temp.zigzag(v numeric) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.varint(CASE WHEN v >= 0 THEN 2 * v ELSE -2 * v - 1 END)
$$;
-- A length-prefixed byte string; NULL is length -1.
CREATE FUNCTION pg_temp.field(b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN b IS NULL THEN pg_temp.zigzag(-1) ELSE pg_temp.zigzag(length(b)) || b END
$$;
-- One record: body length, then ts delta, offset delta, key, value, headers.
CREATE FUNCTION pg_temp.rec(ts_delta numeric, offset_delta numeric, key bytea, value bytea,
                            headers bytea DEFAULT NULL) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.varint(length(body)) || body
    FROM (SELECT pg_temp.zigzag(ts_delta) || pg_temp.varint(offset_delta) ||
                 pg_temp.field(key) || pg_temp.field(value) || pg_temp.field(headers)) AS r(body)
$$;
-- A record from a hand-made body.
CREATE FUNCTION pg_temp.raw(body bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.varint(length(body)) || body
$$;
-- Records with value 'v', no key, offsets base+first .. base+last, delta 0.
CREATE FUNCTION pg_temp.recs(first_delta integer, last_delta integer) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(pg_temp.rec(0, d, NULL, 'v'), '' ORDER BY d), '')
    FROM generate_series(first_delta, last_delta) AS d
$$;
-- A batch: the 40-byte header (magic, version, attributes, checksum of all
-- that follows, base offset, last offset delta, first and max timestamp,
-- record count) and the records.
CREATE FUNCTION pg_temp.batch(records bytea, base_offset numeric DEFAULT 0,
                              last_delta numeric DEFAULT 9, record_count numeric DEFAULT 10,
                              first_ts timestamptz DEFAULT '2024-01-01 00:00:00+00',
                              max_ts timestamptz DEFAULT '2024-01-01 00:00:00+00',
                              magic bytea DEFAULT 'PT', version integer DEFAULT 1)
RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT magic || set_byte('\x00', 0, version) || '\x00'::bytea ||
           pg_temp.le(pg_temp.crc32c(rest), 4) || rest
    FROM (SELECT pg_temp.le(base_offset, 8) || pg_temp.le(last_delta, 4) ||
                 pg_temp.le((extract(epoch FROM first_ts) - 946684800) * 1000000, 8) ||
                 pg_temp.le((extract(epoch FROM max_ts) - 946684800) * 1000000, 8) ||
                 pg_temp.le(record_count, 4) || records) AS b(rest)
$$;

-- The encoder is right: the check value of CRC-32C, and batches that
-- topics.produce wrote, rebuilt byte for byte.
SELECT to_hex(pg_temp.crc32c('123456789')) AS crc32c_check;
SELECT topics.create_topic('co.crafted');
SELECT topic_id AS crafted_id FROM topics.topic_list WHERE name = 'co.crafted' \gset
SELECT count(*) FROM topics.produce_batch('co.crafted', array_fill('v'::bytea, ARRAY[10]),
                                          ts => '2024-01-01 00:00:00+00');
SELECT base_offset, last_offset, record_count,
       batch = pg_temp.batch(pg_temp.recs(0, 9)) AS rebuilt
FROM topics.topic_:crafted_id;

------------------------------------------------------------------------------
-- Part 1: damaged batches
------------------------------------------------------------------------------

SELECT topics.create_topic('co.damaged');
SELECT topic_id AS damaged_id FROM topics.topic_list WHERE name = 'co.damaged' \gset
SELECT count(*) FROM topics.produce_batch('co.damaged',
    array(SELECT convert_to(lpad(g::text, 100, '.'), 'UTF8') FROM generate_series(0, 199) g),
    ts => '2024-01-01 00:00:00+00');
-- the batch rows; the tests damage the second one
SELECT count(*) AS batches, min(base_offset) FILTER (WHERE base_offset > 0) AS second
FROM topics.topic_:damaged_id;
SELECT min(base_offset) AS second, min(last_offset) FILTER (WHERE base_offset > 0) AS second_last
FROM topics.topic_:damaged_id WHERE base_offset > 0 \gset
SELECT :second > 1 AND :second_last < 199 AS second_is_in_the_middle;

-- a flipped byte in a record
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = overlay(batch placing '\xff' from 60 for 1)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
:state
ROLLBACK;
-- a flipped byte in the header
BEGIN;
UPDATE topics.topic_:damaged_id
SET batch = overlay(batch placing set_byte(substring(batch from 21 for 1), 0,
                                           get_byte(batch, 20) # 1) from 21 for 1)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
-- cut short: in the records, in the header, nothing left
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = substring(batch from 1 for 1000)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = substring(batch from 1 for 30)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
:state
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = '' WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
-- extra bytes at the end
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = batch || '\x00' WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
-- another magic, another format version
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = overlay(batch placing 'XX' from 1 for 2)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = overlay(batch placing '\x02' from 3 for 1)
WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
-- the row's columns disagree with the batch header
BEGIN;
UPDATE topics.topic_:damaged_id SET base_offset = base_offset + 1 WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET base_offset = base_offset - 1 WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET record_count = record_count - 1 WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
BEGIN;
UPDATE topics.topic_:damaged_id SET last_offset = last_offset - 1 WHERE base_offset = :second;
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;
-- two rows' batches swapped: each header disagrees with its row
BEGIN;
UPDATE topics.topic_:damaged_id AS t SET batch = o.batch
FROM topics.topic_:damaged_id AS o
WHERE (t.base_offset, o.base_offset) IN ((0, :second), (:second, 0));
SELECT count(*) FROM topics.fetch('co.damaged', 0, 0, 1000);
ROLLBACK;

-- a damaged batch spoils only the fetches that read it
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = overlay(batch placing '\xff' from 60 for 1)
WHERE base_offset = :second;
-- the batch before it, up to its last record
SELECT count(*), max("offset") = :second - 1 AS up_to_the_damage
FROM topics.fetch('co.damaged', 0, 0, :second);
-- the batch after it
SELECT count(*), min("offset") = :second_last + 1 AS after_the_damage
FROM topics.fetch('co.damaged', 0, :second_last + 1, 1000);
-- offset_for_time does not need it for a time before its records
SELECT topics.offset_for_time('co.damaged', 0, '-infinity');
-- from inside the damaged batch
SELECT count(*) FROM topics.fetch('co.damaged', 0, :second + 3);
ROLLBACK;
-- offset_for_time fails like fetch on a batch it has to read
BEGIN;
UPDATE topics.topic_:damaged_id SET batch = overlay(batch placing '\xff' from 60 for 1)
WHERE base_offset = 0;
SELECT topics.offset_for_time('co.damaged', 0, '-infinity');
:state
ROLLBACK;
-- rolled back: everything is readable again, and the server is up
SELECT count(*), min("offset"), max("offset") FROM topics.fetch('co.damaged', 0, 0, 1000);

------------------------------------------------------------------------------
-- Part 2: crafted batches with a correct checksum
------------------------------------------------------------------------------

-- Puts a batch (and optionally other column values) into the only row of
-- co.crafted, fetches from from_offset, and undoes the change.  Returns the
-- SQLSTATE, message and detail of the error, or 'ok' and what was fetched.
CREATE FUNCTION pg_temp.try_batch(new_batch bytea, from_offset bigint DEFAULT 0,
                                  new_base bigint DEFAULT 0, new_last bigint DEFAULT 9,
                                  new_count integer DEFAULT 10,
                                  OUT state text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
    id integer := (SELECT topic_id FROM topics.topic_list WHERE name = 'co.crafted');
BEGIN
    BEGIN
        EXECUTE format('UPDATE topics.%I SET batch = $1, base_offset = $2, last_offset = $3,'
                       ' record_count = $4', 'topic_' || id)
            USING new_batch, new_base, new_last, new_count;
        -- every column of every record, converted to text as a client would
        SELECT string_agg(format('%s:%s:%s:%s:%s', "offset", ts, key, value, headers), ' '
                          ORDER BY "offset")
            INTO detail
            FROM topics.fetch('co.crafted', 0, from_offset);
        RAISE EXCEPTION 'undo' USING ERRCODE = 'TT000';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        IF state = 'TT000' THEN
            state := 'ok';
            message := NULL;
        ELSE
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        END IF;
    END;
END
$$;

-- well-formed crafted batches are read as written
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9)), 8);
SELECT * FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.rec(-1000000, 0, 'k', '', '{"a": 1}') || pg_temp.rec(0, 9, NULL, NULL),
    record_count => 2), 0, new_count => 2);
-- a batch without records (allowed by the format) yields nothing
SELECT * FROM pg_temp.try_batch(pg_temp.batch('', last_delta => 0, record_count => 0),
                                0, new_last => 0, new_count => 0);

-- the header's own checks
SELECT * FROM pg_temp.try_batch(overlay(pg_temp.batch(pg_temp.recs(0, 9)) placing '\x01' from 4 for 1));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), magic => 'TP'));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), version => 0));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), first_ts => '2024-01-02'));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), record_count => 11),
                                new_count => 11);
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), record_count => -1),
                                new_count => -1);
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), last_delta => -1));
SELECT * FROM pg_temp.try_batch(pg_temp.batch('', last_delta => 9, record_count => 0),
                                new_count => 0);
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), base_offset => -1));
-- a negative base offset in the row
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9), base_offset => -1),
                                new_base => -1);
-- records that do not add up to the header
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8)));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9) || pg_temp.rec(0, 9, NULL, 'v')));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 9) || '\x00'));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8), record_count => 9),
                                new_count => 9);
-- offsets out of order, repeated, or beyond the last offset
SELECT * FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 4) || pg_temp.rec(0, 4, NULL, 'v') || pg_temp.recs(6, 9)));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 4) || pg_temp.rec(0, 3, NULL, 'v') || pg_temp.recs(6, 9)));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || pg_temp.rec(0, 10, NULL, 'v')));
-- lengths that lie: a body longer than the batch, a key longer than its
-- body, a length below -1, a varint that never ends
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || '\xff7f00'));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || pg_temp.raw(
    pg_temp.zigzag(0) || pg_temp.varint(9) || pg_temp.zigzag(100) || 'k' ||
    pg_temp.zigzag(-1) || pg_temp.zigzag(-1))));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || pg_temp.raw(
    pg_temp.zigzag(0) || pg_temp.varint(9) || pg_temp.zigzag(-2) ||
    pg_temp.zigzag(-1) || pg_temp.zigzag(-1))));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) ||
    pg_temp.varint(9223372036854775807) || pg_temp.zigzag(0)));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) ||
    '\xffffffffffffffffffffff01'));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || pg_temp.raw(
    pg_temp.zigzag(0) || '\xffffffffffffffffffff01'::bytea ||
    pg_temp.zigzag(-1) || pg_temp.zigzag(-1) || pg_temp.zigzag(-1))));
-- timestamps: beyond the batch's max_ts, or overflowing
SELECT * FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 8) || pg_temp.rec(1, 9, NULL, 'v')));
SELECT * FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 8) || pg_temp.rec(9223372036854775807, 9, NULL, 'v'),
    max_ts => '294000-01-01 00:00:00+00'));
-- a record with bytes left over inside its body
SELECT * FROM pg_temp.try_batch(pg_temp.batch(pg_temp.recs(0, 8) || pg_temp.raw(
    pg_temp.zigzag(0) || pg_temp.varint(9) || pg_temp.zigzag(-1) ||
    pg_temp.zigzag(-1) || pg_temp.zigzag(-1) || '\x00'::bytea)));

-- Stored bytes that pass the decoder but are not what the columns hold must
-- fail the same way, naming where they are: headers that are not JSON, a
-- timestamp outside PostgreSQL's range, and a row whose offsets overlap
-- another row's.  Only the SQLSTATE is shown: the wording is not settled.
SELECT state FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 8) || pg_temp.rec(0, 9, NULL, 'v', '{"a": ')));

SELECT state FROM pg_temp.try_batch(pg_temp.batch(
    pg_temp.recs(0, 8) || pg_temp.rec(-9223372036854775807, 9, NULL, 'v')));
BEGIN;
INSERT INTO topics.topic_:crafted_id
VALUES (5, 7, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00', 0, 3,
        pg_temp.batch(pg_temp.recs(0, 2), base_offset => 5, last_delta => 2, record_count => 3));
\set VERBOSITY sqlstate
SELECT "offset" FROM topics.fetch('co.crafted', 0, 0);
\set VERBOSITY default
ROLLBACK;

-- nothing of this stayed
SELECT count(*), min("offset"), max("offset") FROM topics.fetch('co.crafted', 0, 0);
SELECT base_offset, last_offset, record_count,
       batch = pg_temp.batch(pg_temp.recs(0, 9)) AS unchanged
FROM topics.topic_:crafted_id;

-- clean up
SELECT topics.drop_topic(name) FROM topics.topic_list WHERE name LIKE 'co.%'
ORDER BY name COLLATE "C";
