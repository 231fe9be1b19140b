/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Encode and decode record batches (the format is described in batch.h).
 *
 * This file owns the byte layout of stored batches and nothing else: no
 * catalog access, no memory allocation, no error reporting.  The reader
 * never trusts a length or a count it reads: every step checks the bytes
 * left, and every failure is a BatchStatus the caller turns into an error
 * that names the topic, partition and offset.
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include "common/int.h"
#include "port/pg_crc32c.h"

#include "batch.h"

#define BATCH_MAGIC_0 'P'
#define BATCH_MAGIC_1 'T'
#define BATCH_CRC_POS 4
#define BATCH_CRC_START 8

static void
put_u32(char *p, uint32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char) ((v >> (8 * i)) & 0xFF);
}

static void
put_u64(char *p, uint64 v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char) ((v >> (8 * i)) & 0xFF);
}

static uint32
get_u32(const char *p)
{
	uint32		v = 0;

	for (int i = 0; i < 4; i++)
		v |= ((uint32) (unsigned char) p[i]) << (8 * i);
	return v;
}

static uint64
get_u64(const char *p)
{
	uint64		v = 0;

	for (int i = 0; i < 8; i++)
		v |= ((uint64) (unsigned char) p[i]) << (8 * i);
	return v;
}

static size_t
varint_size(uint64 v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static uint64
zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (v < 0 ? ~UINT64CONST(0) : 0);
}

static int64
unzigzag(uint64 v)
{
	return (int64) (v >> 1) ^ -((int64) (v & 1));
}

static char *
put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) ((v & 0x7F) | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

/* Reads a varint from [*pos, end); false when it is truncated or too long. */
static bool
get_varint(const char *buf, size_t end, size_t *pos, uint64 *out)
{
	uint64		v = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		unsigned char b;

		if (*pos >= end)
			return false;
		b = (unsigned char) buf[(*pos)++];
		v |= ((uint64) (b & 0x7F)) << shift;
		if ((b & 0x80) == 0)
		{
			*out = v;
			return true;
		}
	}
	return false;
}

/* Whether the record's timestamp has a delta against first_ts in int64. */
static bool
ts_delta_fits(const BatchRecord *r, int64 first_ts)
{
	int64		delta;

	return !pg_sub_s64_overflow(r->ts, first_ts, &delta);
}

static size_t
body_size(const BatchRecord *r, int64 base_offset, int64 first_ts)
{
	size_t		n = 0;

	n += varint_size(zigzag(r->ts - first_ts));
	n += varint_size((uint64) (r->offset - base_offset));
	n += varint_size(zigzag(r->key_len)) + Max(r->key_len, 0);
	n += varint_size(zigzag(r->value_len)) + Max(r->value_len, 0);
	n += varint_size(zigzag(r->headers_len)) + Max(r->headers_len, 0);
	return n;
}

/*
 * Bytes the record takes in a batch whose base offset and first timestamp
 * are given, so that callers can decide where one batch ends.
 */
size_t
batch_encoded_size(const BatchRecord *record, int64 base_offset, int64 first_ts)
{
	size_t		body;

	/* a timestamp too far from the batch's first needs a batch of its own */
	if (!ts_delta_fits(record, first_ts))
		return SIZE_MAX / 2;
	body = body_size(record, base_offset, first_ts);

	return varint_size(body) + body;
}

void
batch_writer_init(BatchWriter *writer, char *buf, size_t capacity,
				  int64 base_offset, int64 first_ts)
{
	writer->buf = buf;
	writer->capacity = capacity;
	writer->len = BATCH_HEADER_SIZE;
	writer->base_offset = base_offset;
	writer->last_offset = base_offset - 1;
	writer->first_ts = first_ts;
	writer->max_ts = first_ts;
	writer->count = 0;
}

/* Tells the writer its bytes moved to a larger buffer. */
void
batch_writer_move(BatchWriter *writer, char *buf, size_t capacity)
{
	Assert(capacity >= writer->len);
	writer->buf = buf;
	writer->capacity = capacity;
}

static char *
put_bytes(char *p, const char *data, int32 len)
{
	p = put_varint(p, zigzag(len));
	if (len > 0)
	{
		memcpy(p, data, len);
		p += len;
	}
	return p;
}

/*
 * Appends a record whose offset is above every offset already in the batch.
 * Returns false, leaving the batch as it was, when the record does not fit
 * (in bytes, in the 32-bit offset delta of the header, or in a 64-bit
 * timestamp delta).
 */
bool
batch_writer_append(BatchWriter *writer, const BatchRecord *record)
{
	size_t		body;
	size_t		total;
	char	   *p;

	Assert(record->offset > writer->last_offset);
	if (!ts_delta_fits(record, writer->first_ts) ||
		record->offset - writer->base_offset > PG_INT32_MAX)
		return false;
	body = body_size(record, writer->base_offset, writer->first_ts);
	total = varint_size(body) + body;
	if (writer->len + total > writer->capacity)
		return false;

	p = writer->buf + writer->len;
	p = put_varint(p, body);
	p = put_varint(p, zigzag(record->ts - writer->first_ts));
	p = put_varint(p, (uint64) (record->offset - writer->base_offset));
	p = put_bytes(p, record->key, record->key_len);
	p = put_bytes(p, record->value, record->value_len);
	p = put_bytes(p, record->headers, record->headers_len);

	writer->len += total;
	writer->last_offset = record->offset;
	writer->max_ts = Max(writer->max_ts, record->ts);
	writer->count++;
	return true;
}

/* Writes the header and checksum; returns the batch's length in bytes. */
size_t
batch_writer_finish(BatchWriter *writer)
{
	char	   *h = writer->buf;
	pg_crc32c	crc;

	h[0] = BATCH_MAGIC_0;
	h[1] = BATCH_MAGIC_1;
	h[2] = BATCH_FORMAT_VERSION;
	h[3] = 0;
	put_u64(h + 8, (uint64) writer->base_offset);
	put_u32(h + 16, (uint32) (writer->count > 0 ?
							   writer->last_offset - writer->base_offset : 0));
	put_u64(h + 20, (uint64) writer->first_ts);
	put_u64(h + 28, (uint64) writer->max_ts);
	put_u32(h + 36, (uint32) writer->count);

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, h + BATCH_CRC_START, writer->len - BATCH_CRC_START);
	FIN_CRC32C(crc);
	put_u32(h + BATCH_CRC_POS, crc);
	return writer->len;
}

/* Validates the header and the checksum of a stored batch. */
BatchStatus
batch_reader_open(BatchReader *reader, const char *buf, size_t len)
{
	pg_crc32c	crc;
	int64		last_delta;

	memset(reader, 0, sizeof(*reader));
	if (len < BATCH_HEADER_SIZE)
		return BATCH_TRUNCATED;
	if (buf[0] != BATCH_MAGIC_0 || buf[1] != BATCH_MAGIC_1)
		return BATCH_BAD_MAGIC;
	if (buf[2] != BATCH_FORMAT_VERSION || buf[3] != 0)
		return BATCH_BAD_VERSION;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf + BATCH_CRC_START, len - BATCH_CRC_START);
	FIN_CRC32C(crc);
	if (crc != get_u32(buf + BATCH_CRC_POS))
		return BATCH_BAD_CHECKSUM;

	reader->buf = buf;
	reader->len = len;
	reader->pos = BATCH_HEADER_SIZE;
	reader->base_offset = (int64) get_u64(buf + 8);
	last_delta = (int32) get_u32(buf + 16);
	reader->first_ts = (int64) get_u64(buf + 20);
	reader->max_ts = (int64) get_u64(buf + 28);
	reader->count = (int32) get_u32(buf + 36);
	if (reader->base_offset < 0 || last_delta < 0 || reader->count < 0 ||
		reader->count > last_delta + 1 ||
		(reader->count == 0 && last_delta != 0) ||
		reader->base_offset > PG_INT64_MAX - last_delta ||
		reader->first_ts > reader->max_ts)
		return BATCH_BAD_HEADER;
	reader->last_offset = reader->base_offset + last_delta;
	reader->previous_offset = reader->base_offset - 1;
	return BATCH_OK;
}

/* Reads a length-prefixed byte string; -1 means null. */
static bool
get_bytes(const BatchReader *reader, size_t end, size_t *pos,
		  const char **data, int32 *len)
{
	uint64		raw;
	int64		n;

	if (!get_varint(reader->buf, end, pos, &raw))
		return false;
	n = unzigzag(raw);
	if (n < -1 || n > (int64) (end - *pos))
		return false;
	*len = (int32) n;
	*data = n > 0 ? reader->buf + *pos : NULL;
	if (n > 0)
		*pos += n;
	return true;
}

/*
 * Decodes the next record.  Sets *done once every record was returned and
 * the batch ended exactly where its header said it would.
 */
BatchStatus
batch_reader_next(BatchReader *reader, BatchRecord *record, bool *done)
{
	uint64		body;
	uint64		raw;
	size_t		pos = reader->pos;
	size_t		end;

	*done = false;
	if (reader->returned == reader->count)
	{
		if (pos != reader->len || reader->previous_offset !=
			(reader->count > 0 ? reader->last_offset : reader->base_offset - 1))
			return BATCH_BAD_RECORD;
		*done = true;
		return BATCH_OK;
	}

	if (!get_varint(reader->buf, reader->len, &pos, &body) ||
		body > reader->len - pos)
		return BATCH_TRUNCATED;
	end = pos + body;

	if (!get_varint(reader->buf, end, &pos, &raw))
		return BATCH_BAD_RECORD;
	if (pg_add_s64_overflow(reader->first_ts, unzigzag(raw), &record->ts) ||
		record->ts > reader->max_ts)
		return BATCH_BAD_RECORD;
	if (!get_varint(reader->buf, end, &pos, &raw) ||
		raw > (uint64) (reader->last_offset - reader->base_offset))
		return BATCH_BAD_RECORD;
	record->offset = reader->base_offset + (int64) raw;
	if (record->offset <= reader->previous_offset)
		return BATCH_BAD_RECORD;

	if (!get_bytes(reader, end, &pos, &record->key, &record->key_len) ||
		!get_bytes(reader, end, &pos, &record->value, &record->value_len) ||
		!get_bytes(reader, end, &pos, &record->headers, &record->headers_len) ||
		pos != end)
		return BATCH_BAD_RECORD;

	reader->pos = end;
	reader->previous_offset = record->offset;
	reader->returned++;
	return BATCH_OK;
}

const char *
batch_status_message(BatchStatus status)
{
	switch (status)
	{
		case BATCH_OK:
			return "No error.";
		case BATCH_TRUNCATED:
			return "The batch is truncated.";
		case BATCH_BAD_MAGIC:
			return "The batch does not start with the batch magic bytes.";
		case BATCH_BAD_VERSION:
			return "The batch has an unknown format version or attributes.";
		case BATCH_BAD_CHECKSUM:
			return "The batch checksum does not match its contents.";
		case BATCH_BAD_HEADER:
			return "The batch header is inconsistent.";
		case BATCH_BAD_RECORD:
			return "A record in the batch is malformed.";
	}
	return "Unknown batch error.";
}
