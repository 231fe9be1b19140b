/*-------------------------------------------------------------------------
 *
 * batch_fuzzer.c
 *	  libFuzzer target for the record-batch reader (src/batch.c).
 *
 * Each input is decoded twice: as it is (so the magic, version and checksum
 * checks get exercised), and with the magic, version and a valid CRC-32C
 * stamped onto it, so that the fuzzer reaches the structural checks behind
 * the checksum.  Every record the reader returns as OK must lie inside the
 * batch and respect the header; a batch that decodes completely must survive
 * being re-encoded by the writer and read again.  Build with ASan+UBSan:
 * `make fuzz` (see README.md).
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include <stdlib.h>
#include <string.h>

#include "port/pg_crc32c.h"

#include "batch.h"

#define MAX_RECORDS 4096

static BatchRecord records[MAX_RECORDS];

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static bool
inside(const char *p, int32 len, const char *buf, size_t buflen)
{
	if (len < -1)
		return false;
	if (len <= 0)
		return true;
	return p >= buf && (size_t) len <= buflen && p <= buf + buflen - len;
}

/*
 * Decodes the batch; returns the number of records when it decodes
 * completely, -1 when the reader rejects it at some point.
 */
static int
decode(const char *buf, size_t len, BatchReader *reader)
{
	BatchStatus st;
	int			n = 0;
	bool		done = false;

	st = batch_reader_open(reader, buf, len);
	if (st != BATCH_OK)
		return -1;
	REQUIRE(len >= BATCH_HEADER_SIZE);
	REQUIRE(reader->base_offset >= 0 && reader->count >= 0);
	REQUIRE(reader->last_offset >= reader->base_offset ||
			(reader->count == 0 && reader->last_offset == reader->base_offset));

	for (;;)
	{
		BatchRecord r;

		memset(&r, 0, sizeof(r));
		st = batch_reader_next(reader, &r, &done);
		if (st != BATCH_OK)
			return -1;
		if (done)
			break;
		/* the reader never returns more records than the header counts */
		REQUIRE(n < reader->count);
		REQUIRE(r.offset >= reader->base_offset && r.offset <= reader->last_offset);
		REQUIRE(n == 0 || r.offset > records[n - 1].offset);
		REQUIRE(inside(r.key, r.key_len, buf, len));
		REQUIRE(inside(r.value, r.value_len, buf, len));
		REQUIRE(inside(r.headers, r.headers_len, buf, len));
		if (n < MAX_RECORDS)
			records[n] = r;
		n++;
		if (n >= MAX_RECORDS)
			return -1;			/* too many to re-encode; the walk was checked */
	}
	REQUIRE(n == reader->count);
	REQUIRE(n == 0 || records[n - 1].offset == reader->last_offset);
	/* once done, the reader stays done */
	{
		BatchRecord r;

		REQUIRE(batch_reader_next(reader, &r, &done) == BATCH_OK && done);
	}
	return n;
}

static bool
same_bytes(const char *a, int32 alen, const char *b, int32 blen)
{
	return alen == blen && (alen <= 0 || memcmp(a, b, alen) == 0);
}

/* Writes the decoded records again and checks they read back the same. */
static void
reencode(const BatchReader *reader, int n)
{
	size_t		capacity = BATCH_HEADER_SIZE;
	char	   *buf;
	BatchWriter w;
	BatchReader again;
	size_t		len;
	bool		done;

	/* an empty batch is covered by batch_unit's test_empty_batch */
	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		capacity += batch_encoded_size(&records[i], reader->base_offset,
									   reader->first_ts);
	buf = malloc(capacity);
	REQUIRE(buf != NULL);
	batch_writer_init(&w, buf, capacity, reader->base_offset, reader->first_ts);
	for (int i = 0; i < n; i++)
		REQUIRE(batch_writer_append(&w, &records[i]));
	len = batch_writer_finish(&w);
	REQUIRE(len == capacity);
	REQUIRE(w.last_offset == reader->last_offset);

	REQUIRE(batch_reader_open(&again, buf, len) == BATCH_OK);
	for (int i = 0; i < n; i++)
	{
		BatchRecord r;

		REQUIRE(batch_reader_next(&again, &r, &done) == BATCH_OK && !done);
		REQUIRE(r.offset == records[i].offset && r.ts == records[i].ts);
		REQUIRE(same_bytes(r.key, r.key_len, records[i].key, records[i].key_len));
		REQUIRE(same_bytes(r.value, r.value_len, records[i].value, records[i].value_len));
		REQUIRE(same_bytes(r.headers, r.headers_len, records[i].headers,
						   records[i].headers_len));
	}
	{
		BatchRecord r;

		REQUIRE(batch_reader_next(&again, &r, &done) == BATCH_OK && done);
	}
	free(buf);
}

static void
run(const char *buf, size_t len)
{
	BatchReader reader;
	int			n = decode(buf, len, &reader);

	if (n >= 0)
		reencode(&reader, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy = malloc(size > 0 ? size : 1);

	REQUIRE(copy != NULL);

	/* as it is */
	if (size > 0)
		memcpy(copy, data, size);
	run(copy, size);

	/* with the magic, the version and a valid checksum */
	if (size >= BATCH_HEADER_SIZE)
	{
		pg_crc32c	crc;

		copy[0] = 'P';
		copy[1] = 'T';
		copy[2] = BATCH_FORMAT_VERSION;
		INIT_CRC32C(crc);
		COMP_CRC32C(crc, copy + 8, size - 8);
		FIN_CRC32C(crc);
		for (int i = 0; i < 4; i++)
			copy[4 + i] = (char) (crc >> (8 * i));
		run(copy, size);
	}
	free(copy);
	return 0;
}
