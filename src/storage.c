/*-------------------------------------------------------------------------
 *
 * storage.c
 *	  Topic tables: append batch rows, read them back in offset order.
 *
 * Each partition of a topic is one child table of the topic's table
 * (partitioned by LIST on the partition number) with a primary key on
 * (partition, last_offset).  A row is one batch: its offsets are a
 * contiguous run that no other batch overlaps, so last_offset order is
 * offset order, and the first batch whose last_offset reaches an offset is
 * the one that holds it.  Rows are inserted with heap_insert and
 * index_insert directly; they are ordinary WAL-logged heap rows, so crash
 * recovery, replication and pg_dump need nothing special.
 *
 * Rows are only inserted here, never updated.  Every stored byte is
 * checked before it is decoded: the columns must agree with the batch
 * header and the checksum must match, or the read fails with an error
 * naming the topic, partition and offset.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "storage.h"

static Relation
open_primary_key(Relation heap, LOCKMODE mode)
{
	Oid			index_oid = RelationGetPrimaryKeyIndex(heap);

	if (!OidIsValid(index_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("topic table \"%s\" has no primary key",
						RelationGetRelationName(heap))));
	return index_open(index_oid, mode);
}

/*
 * Opens a partition's table for appending one batch or, with bulk, many;
 * false when it no longer exists (the topic was dropped later in the same
 * transaction).
 */
bool
storage_appender_open(BatchAppender *appender, Oid relid, int32 partition,
					  bool bulk)
{
	appender->heap = try_table_open(relid, RowExclusiveLock);
	if (appender->heap == NULL)
		return false;
	appender->index = open_primary_key(appender->heap, RowExclusiveLock);
	appender->index_info = BuildIndexInfo(appender->index);
	/* a bulk-insert ring pays off over many batches, not for one */
	appender->bulk = bulk ? GetBulkInsertState() : NULL;
	appender->partition = partition;
	return true;
}

/* Stores one finished batch as a row of the partition's table. */
void
storage_append(BatchAppender *appender, BatchWriter *writer)
{
	Datum		values[Natts_batch];
	bool		nulls[Natts_batch] = {false};
	Datum		key_values[2];
	bool		key_nulls[2] = {false, false};
	size_t		len = batch_writer_finish(writer);
	bytea	   *bytes = (bytea *) (writer->buf - VARHDRSZ);
	HeapTuple	tuple;

	/* the writer's buffer starts VARHDRSZ bytes into a bytea (produce.c) */
	SET_VARSIZE(bytes, len + VARHDRSZ);

	values[Anum_batch_base_offset - 1] = Int64GetDatum(writer->base_offset);
	values[Anum_batch_last_offset - 1] = Int64GetDatum(writer->last_offset);
	values[Anum_batch_first_ts - 1] = TimestampTzGetDatum(writer->first_ts);
	values[Anum_batch_max_ts - 1] = TimestampTzGetDatum(writer->max_ts);
	values[Anum_batch_partition - 1] = Int32GetDatum(appender->partition);
	values[Anum_batch_record_count - 1] = Int32GetDatum(writer->count);
	values[Anum_batch_batch - 1] = PointerGetDatum(bytes);

	tuple = heap_form_tuple(RelationGetDescr(appender->heap), values, nulls);
	heap_insert(appender->heap, tuple, GetCurrentCommandId(true), 0,
				appender->bulk);

	key_values[0] = Int32GetDatum(appender->partition);
	key_values[1] = Int64GetDatum(writer->last_offset);
	index_insert(appender->index, key_values, key_nulls, &tuple->t_self,
				 appender->heap, UNIQUE_CHECK_YES, false,
				 appender->index_info);
	heap_freetuple(tuple);
}

void
storage_appender_close(BatchAppender *appender)
{
	if (appender->bulk != NULL)
		FreeBulkInsertState(appender->bulk);
	index_close(appender->index, NoLock);
	table_close(appender->heap, NoLock);
}

static void
init_scan(BatchScan *scan, Oid relid, Snapshot snapshot, ScanKeyData *keys,
		  int nkeys)
{
	scan->heap = table_open(relid, AccessShareLock);
	scan->index = open_primary_key(scan->heap, AccessShareLock);
	scan->slot = table_slot_create(scan->heap, NULL);
	scan->scan = index_beginscan(scan->heap, scan->index, snapshot, nkeys, 0);
	scan->previous_last_offset = -1;
	index_rescan(scan->scan, keys, nkeys, NULL, 0);
}

/* Starts a scan at the batch that holds from_offset, or the next one. */
void
storage_scan_begin(BatchScan *scan, Oid relid, int32 partition,
				   int64 from_offset, Snapshot snapshot)
{
	ScanKeyData keys[2];

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(partition));
	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(from_offset));
	init_scan(scan, relid, snapshot, keys, 2);
}

static void
corrupt_batch(const PartitionRef *ref, int64 offset, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt record batch in partition %d of topic \"%s\" at offset " INT64_FORMAT,
					ref->partition, ref->topic_name, offset),
			 errdetail("%s", detail),
			 errhint("Restore the partition from a backup, or delete the damaged row from its table.")));
}

/*
 * Moves to the next visible batch and reads its columns; false at the end
 * of the partition.  Its bytes are read by storage_open_batch, so that
 * callers skipping most batches do not pay for their checksums.
 */
bool
storage_scan_next(BatchScan *scan, const PartitionRef *ref, StoredBatch *batch)
{
	bool		isnull[Natts_batch];

	if (!index_getnext_slot(scan->scan, ForwardScanDirection, scan->slot))
		return false;
	slot_getallattrs(scan->slot);
	for (int i = 0; i < Natts_batch; i++)
		isnull[i] = scan->slot->tts_isnull[i];

	batch->base_offset = isnull[Anum_batch_base_offset - 1] ? -1 :
		DatumGetInt64(scan->slot->tts_values[Anum_batch_base_offset - 1]);
	batch->last_offset = isnull[Anum_batch_last_offset - 1] ? -1 :
		DatumGetInt64(scan->slot->tts_values[Anum_batch_last_offset - 1]);
	if (isnull[Anum_batch_batch - 1] || isnull[Anum_batch_record_count - 1] ||
		isnull[Anum_batch_max_ts - 1] || batch->base_offset < 0)
		corrupt_batch(ref, batch->last_offset,
					  "A column of the batch row is null or negative.");
	if (batch->base_offset <= scan->previous_last_offset)
		corrupt_batch(ref, batch->base_offset,
					  "The batch overlaps the batch before it.");
	scan->previous_last_offset = batch->last_offset;
	batch->record_count =
		DatumGetInt32(scan->slot->tts_values[Anum_batch_record_count - 1]);
	batch->max_ts =
		DatumGetTimestampTz(scan->slot->tts_values[Anum_batch_max_ts - 1]);
	return true;
}

/*
 * Makes batch->reader ready to decode the batch the scan is on, after
 * verifying its checksum and checking its header against its columns.
 */
void
storage_open_batch(BatchScan *scan, const PartitionRef *ref, StoredBatch *batch)
{
	BatchStatus status;

	batch->bytes = DatumGetByteaPP(scan->slot->tts_values[Anum_batch_batch - 1]);

	status = batch_reader_open(&batch->reader, VARDATA_ANY(batch->bytes),
							   VARSIZE_ANY_EXHDR(batch->bytes));
	if (status != BATCH_OK)
		corrupt_batch(ref, batch->base_offset, batch_status_message(status));
	if (batch->reader.base_offset != batch->base_offset ||
		batch->reader.last_offset != batch->last_offset ||
		batch->reader.count != batch->record_count ||
		batch->reader.max_ts != batch->max_ts)
		corrupt_batch(ref, batch->base_offset,
					  "The batch header disagrees with the columns of its row.");
}

/* Whether headers are what produce stores: JSON text without NUL bytes. */
static bool
headers_are_json(const BatchRecord *record)
{
	JsonLexContext *lex;

	if (memchr(record->headers, '\0', record->headers_len) != NULL)
		return false;
	lex = makeJsonLexContextCstringLen((char *) record->headers,
									   record->headers_len,
									   GetDatabaseEncoding(), false);
	return pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
}

/*
 * Decodes the next record of a batch that storage_open_batch opened, and
 * checks what the codec cannot: that its timestamp is one PostgreSQL can
 * represent and its headers are JSON.
 */
void
storage_decode_next(const PartitionRef *ref, StoredBatch *batch,
					BatchRecord *record, bool *done)
{
	BatchStatus status = batch_reader_next(&batch->reader, record, done);

	if (status != BATCH_OK)
		corrupt_batch(ref, batch->reader.previous_offset + 1,
					  batch_status_message(status));
	if (*done)
		return;
	if (!IS_VALID_TIMESTAMP(record->ts))
		corrupt_batch(ref, record->offset,
					  "A record's timestamp is out of range.");
	if (record->headers_len >= 0 && !headers_are_json(record))
		corrupt_batch(ref, record->offset,
					  "A record's headers are not valid JSON.");
}

void
storage_scan_end(BatchScan *scan)
{
	index_endscan(scan->scan);
	ExecDropSingleTupleTableSlot(scan->slot);
	index_close(scan->index, NoLock);
	table_close(scan->heap, NoLock);
}

static int64
read_log_start(const PartitionRef *ref)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2];
	int64		log_start = 0;

	args[0] = Int32GetDatum(ref->topic_id);
	args[1] = Int32GetDatum(ref->partition);
	SPI_connect();
	if (SPI_execute_with_args("SELECT log_start_offset FROM topics.partition_meta"
							  " WHERE topic_id = $1 AND partition = $2",
							  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read topics.partition_meta");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			log_start = DatumGetInt64(d);
	}
	SPI_finish();
	return log_start;
}

/* One past the highest last_offset among the rows the snapshot sees. */
static int64
stored_end(const PartitionRef *ref, Snapshot snapshot, int64 floor)
{
	BatchScan	scan;
	ScanKeyData key;
	int64		end = floor;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(ref->partition));
	init_scan(&scan, ref->relid, snapshot, &key, 1);
	if (index_getnext_slot(scan.scan, BackwardScanDirection, scan.slot))
	{
		bool		isnull;
		Datum		last = slot_getattr(scan.slot, Anum_batch_last_offset, &isnull);

		if (!isnull)
			end = Max(end, DatumGetInt64(last) + 1);
	}
	storage_scan_end(&scan);
	return end;
}

/*
 * The bounds of a partition whose counter is cold (StoredBoundsFunction).
 * The next offset comes from every row version (SnapshotAny), so that no
 * offset of a row still stored, even an aborted or deleted one, is taken
 * again.  The committed end comes from the committed rows only (nothing is
 * in flight in a cold partition, so a fresh snapshot sees them all): the
 * stable offset must not count offsets of aborted rows, which vacuum may
 * remove and a later restart hand out again.
 */
void
storage_read_bounds(void *partition_ref, StoredBounds *bounds)
{
	const PartitionRef *ref = partition_ref;
	Snapshot	snapshot;

	bounds->log_start_offset = read_log_start(ref);
	bounds->next_offset = stored_end(ref, SnapshotAny, bounds->log_start_offset);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	bounds->committed_end = stored_end(ref, snapshot, bounds->log_start_offset);
	UnregisterSnapshot(snapshot);
}
