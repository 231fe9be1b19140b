/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  The record-batch format: how records are packed into one stored row.
 *
 * A batch is a fixed header followed by records.  Every integer in the
 * header is little-endian; records use varints.  The codec depends on
 * nothing but c.h-level types and CRC-32C, so it can be fuzzed alone.
 *
 * Header (BATCH_HEADER_SIZE bytes):
 *	  magic[2] "PT", version u8, attributes u8, crc32c u32 (of every byte
 *	  after it), base_offset i64, last_offset_delta i32, first_ts i64,
 *	  max_ts i64, record_count i32
 *
 * Record:
 *	  body_length varint, then the body:
 *	  ts_delta zigzag varint (against first_ts),
 *	  offset_delta varint (against base_offset, strictly increasing),
 *	  key_length zigzag varint (-1 = null key), key bytes,
 *	  value_length zigzag varint (-1 = null value, a tombstone), value bytes,
 *	  headers_length zigzag varint (-1 = no headers), headers (JSON text)
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_BATCH_H
#define PG_TOPICS_BATCH_H

#include "c.h"

#define BATCH_FORMAT_VERSION 1
#define BATCH_HEADER_SIZE 40

/* Upper bound of the framing bytes one record adds around its payload. */
#define BATCH_RECORD_OVERHEAD_MAX (5 + 10 + 10 + 5 + 5 + 5)

/* One record, as the caller hands it in or the reader hands it out. */
typedef struct BatchRecord
{
	int64		offset;
	int64		ts;				/* microseconds, PostgreSQL TimestampTz */
	const char *key;
	int32		key_len;		/* -1 for a null key */
	const char *value;
	int32		value_len;		/* -1 for a null value */
	const char *headers;
	int32		headers_len;	/* -1 when there are no headers */
} BatchRecord;

/* Packs records into a caller-owned buffer. */
typedef struct BatchWriter
{
	char	   *buf;
	size_t		capacity;
	size_t		len;
	int64		base_offset;
	int64		last_offset;
	int64		first_ts;
	int64		max_ts;
	int32		count;
} BatchWriter;

typedef enum BatchStatus
{
	BATCH_OK = 0,
	BATCH_TRUNCATED,
	BATCH_BAD_MAGIC,
	BATCH_BAD_VERSION,
	BATCH_BAD_CHECKSUM,
	BATCH_BAD_HEADER,
	BATCH_BAD_RECORD
} BatchStatus;

/* Walks the records of a stored batch; every byte is treated as untrusted. */
typedef struct BatchReader
{
	const char *buf;
	size_t		len;
	size_t		pos;
	int64		base_offset;
	int64		last_offset;
	int64		first_ts;
	int64		max_ts;
	int32		count;
	int32		returned;
	int64		previous_offset;
} BatchReader;

extern size_t batch_encoded_size(const BatchRecord *record, int64 base_offset,
								 int64 first_ts);
extern void batch_writer_init(BatchWriter *writer, char *buf, size_t capacity,
							  int64 base_offset, int64 first_ts);
extern bool batch_writer_append(BatchWriter *writer, const BatchRecord *record);
extern void batch_writer_move(BatchWriter *writer, char *buf, size_t capacity);
extern size_t batch_writer_finish(BatchWriter *writer);

extern BatchStatus batch_reader_open(BatchReader *reader, const char *buf,
									 size_t len);
extern BatchStatus batch_reader_next(BatchReader *reader, BatchRecord *record,
									 bool *done);
extern const char *batch_status_message(BatchStatus status);

#endif							/* PG_TOPICS_BATCH_H */
