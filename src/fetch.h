/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Reading committed records of a partition, shared by topics.fetch and
 *	  the consumer-group functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_FETCH_H
#define PG_TOPICS_FETCH_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "offsets.h"
#include "storage.h"

/* Upper bound of max_records in one call. */
#define FETCH_MAX_RECORDS 1000000

/* Arguments of topics.fetch. */
#define FETCH_NARGS 6

/* Columns of topics.record. */
enum
{
	RECORD_TOPIC,
	RECORD_PARTITION,
	RECORD_OFFSET,
	RECORD_TS,
	RECORD_KEY,
	RECORD_VALUE,
	RECORD_HEADERS,
	RECORD_NATTS
};

/* Every column of topics.record, as a set of (1 << RECORD_x) bits. */
#define FETCH_ALL_COLUMNS ((1 << RECORD_NATTS) - 1)

/* A partition opened for reading: the topic, its table and offset state. */
typedef struct ReadTarget
{
	TopicInfo  *topic;
	PartitionRef ref;
	PartitionState *state;
} ReadTarget;

/*
 * A read of the records in [from_offset, stable) of one partition, within
 * max_records and max_bytes, handed out one record at a time.  The values
 * of a record stay valid until the next call.
 */
typedef struct FetchCursor
{
	ReadTarget	target;
	Datum		topic_name;
	int64		from_offset;
	int64		stable;
	int32		max_records;
	int64		max_bytes;
	int			columns;		/* columns to fill; the others are null */
	int32		returned;
	int64		bytes;
	int64		last_offset;	/* of the last record returned */
	bool		scanning;
	bool		in_batch;
	bool		finished;
	Snapshot	snapshot;
	BatchScan	scan;
	StoredBatch batch;
	MemoryContext scan_context; /* lives as long as the read */
	MemoryContext per_batch;	/* reset at every batch */
} FetchCursor;

extern void fetch_require_argument(FunctionCallInfo fcinfo, int argno,
								   const char *name);
extern long fetch_wait_milliseconds(Interval *wait);
extern void fetch_open_target(TopicInfo *topic, int32 partition,
							  ReadTarget *target);
extern void fetch_cursor_start(FetchCursor *cursor, const ReadTarget *target,
							   Datum topic_name, int64 from_offset,
							   int64 stable, int32 max_records,
							   int64 max_bytes, int columns);
extern bool fetch_cursor_next(FetchCursor *cursor, Datum *values, bool *nulls);
extern void fetch_cursor_rewind(FetchCursor *cursor);
extern void fetch_cursor_stop(FetchCursor *cursor);
extern void fetch_begin(FetchCursor *cursor, const Datum *args,
						const bool *argnulls, int columns);
extern void fetch_finish(FetchCursor *cursor);
extern int32 fetch_read_records(ReadTarget *target, Datum topic_name,
								int64 from_offset, int64 stable,
								int32 max_records, int64 max_bytes,
								ReturnSetInfo *rsi, int64 *last_offset);

#endif							/* PG_TOPICS_FETCH_H */
