/*-------------------------------------------------------------------------
 *
 * storage.h
 *	  Topic tables: append a batch row, read batch rows from an offset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_STORAGE_H
#define PG_TOPICS_STORAGE_H

#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "offsets.h"

/*
 * Largest batch that keeps its row within one heap page, so that appends
 * never go through TOAST.  A batch holding one larger record is stored out
 * of line, uncompressed.
 */
#define STORAGE_BATCH_TARGET 8080

/* Columns of a topic table, in their physical order. */
#define Anum_batch_base_offset 1
#define Anum_batch_last_offset 2
#define Anum_batch_first_ts 3
#define Anum_batch_max_ts 4
#define Anum_batch_partition 5
#define Anum_batch_record_count 6
#define Anum_batch_batch 7
#define Natts_batch 7

/* A partition's table and index, opened for appending. */
typedef struct BatchAppender
{
	Relation	heap;
	Relation	index;
	IndexInfo  *index_info;
	BulkInsertState bulk;
	int32		partition;
} BatchAppender;

/* A scan over a partition's batches in offset order. */
typedef struct BatchScan
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int64		previous_last_offset;	/* batches must not overlap */
} BatchScan;

/* One stored batch: its columns and its bytes, validated and decodable. */
typedef struct StoredBatch
{
	int64		base_offset;
	int64		last_offset;
	int32		record_count;
	TimestampTz max_ts;
	bytea	   *bytes;
	BatchReader reader;
} StoredBatch;

typedef struct PartitionRef
{
	Oid			relid;
	int32		topic_id;
	int32		partition;
	const char *topic_name;
} PartitionRef;

extern bool storage_appender_open(BatchAppender *appender, Oid relid,
								  int32 partition, bool bulk);
extern void storage_append(BatchAppender *appender, BatchWriter *writer);
extern void storage_appender_close(BatchAppender *appender);

extern void storage_scan_begin(BatchScan *scan, Oid relid, int32 partition,
							   int64 from_offset, Snapshot snapshot);
extern bool storage_scan_next(BatchScan *scan, const PartitionRef *ref,
							  StoredBatch *batch);
extern void storage_open_batch(BatchScan *scan, const PartitionRef *ref,
							   StoredBatch *batch);
extern void storage_scan_end(BatchScan *scan);

extern void storage_decode_next(const PartitionRef *ref, StoredBatch *batch,
								BatchRecord *record, bool *done);
extern void storage_read_bounds(void *partition_ref, StoredBounds *bounds);

#endif							/* PG_TOPICS_STORAGE_H */
