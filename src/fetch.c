/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Reading a partition: the FetchCursor that topics.fetch, topics.consume
 *	  and the streaming scan (fetch_scan.c) read records through, the wait
 *	  for new records, and the offset look-ups (earliest, latest, for a
 *	  time, a partition's bounds).
 *
 * A fetch computes the partition's last stable offset first and only then
 * takes the snapshot it reads with (offsets.c explains why this order makes
 * skipping impossible).  That snapshot is always a fresh one, also inside
 * REPEATABLE READ and SERIALIZABLE transactions: stored batches never
 * change, so a newer snapshot cannot show a record differently, and an
 * older one could miss records below the stable offset.  A fetch never
 * returns a record at or above the stable offset.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "offsets.h"
#include "fetch.h"
#include "storage.h"

PG_FUNCTION_INFO_V1(topics_fetch);
PG_FUNCTION_INFO_V1(topics_offset_for_time);
PG_FUNCTION_INFO_V1(topics_earliest_offset);
PG_FUNCTION_INFO_V1(topics_latest_offset);
PG_FUNCTION_INFO_V1(topics_partition_offsets);

#define ERRCODE_OFFSET_OUT_OF_RANGE MAKE_SQLSTATE('P','T','0','0','1')

#define FETCH_MAX_WAIT_MS (24L * 60 * 60 * 1000)

static void
require_not_null(bool isnull, const char *name)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

void
fetch_require_argument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	require_not_null(PG_ARGISNULL(argno), name);
}

/*
 * Opens a partition for reading: checks that it exists and that the user
 * may read it, and pins its offset state.  The caller unpins it when done
 * (an error leaves that to the end of the transaction).
 */
void
fetch_open_target(TopicInfo *topic, int32 partition, ReadTarget *target)
{
	target->topic = topic;
	target->ref.relid = catalog_partition_relid(topic, partition);
	target->ref.topic_id = topic->id;
	target->ref.partition = partition;
	target->ref.topic_name = topic->name;
	catalog_check_access(topic, ACL_SELECT);
	LockRelationOid(target->ref.relid, AccessShareLock);
	target->state = offsets_pin(target->ref.relid, topic->id, storage_read_bounds,
								&target->ref);
}

/* Opens the partition named by a topic name and a partition number. */
static void
open_named_target(Datum topic, bool topic_null, Datum partition,
				  bool partition_null, ReadTarget *target)
{
	require_not_null(topic_null, "topic name");
	require_not_null(partition_null, "partition");
	fetch_open_target(catalog_lookup_topic(DatumGetTextPP(topic)),
					  DatumGetInt32(partition), target);
}

/* Opens the partition named by arguments 0 (topic) and 1 (partition). */
static void
open_target(FunctionCallInfo fcinfo, ReadTarget *target)
{
	open_named_target(PG_GETARG_DATUM(0), PG_ARGISNULL(0),
					  PG_GETARG_DATUM(1), PG_ARGISNULL(1), target);
}

long
fetch_wait_milliseconds(Interval *wait)
{
	int64		usecs;

	if (wait->month != 0 || wait->day > 1 || wait->day < -1)
		usecs = wait->month < 0 || wait->day < 0 ? -1 : FETCH_MAX_WAIT_MS * 1000 + 1;
	else
		usecs = wait->time + wait->day * USECS_PER_DAY;
	if (usecs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must not be negative")));
	if (usecs > FETCH_MAX_WAIT_MS * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must be at most 24 hours")));
	return (long) ((usecs + 999) / 1000);
}

static void
check_fetch_offset(const ReadTarget *target, int64 from_offset,
				   int64 high_watermark)
{
	int64		log_start = offsets_log_start(target->state);

	if (from_offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_offset must not be negative")));
	if (from_offset < log_start)
		ereport(ERROR,
				(errcode(ERRCODE_OFFSET_OUT_OF_RANGE),
				 errmsg("offset " INT64_FORMAT " is before the start of partition %d of topic \"%s\"",
						from_offset, target->ref.partition, target->topic->name),
				 errdetail("The log start offset is " INT64_FORMAT ".", log_start),
				 errhint("Fetch from topics.earliest_offset() instead.")));
	if (from_offset > high_watermark)
		ereport(ERROR,
				(errcode(ERRCODE_OFFSET_OUT_OF_RANGE),
				 errmsg("offset " INT64_FORMAT " is beyond the end of partition %d of topic \"%s\"",
						from_offset, target->ref.partition, target->topic->name),
				 errdetail("The next offset to be written is " INT64_FORMAT ".",
						   high_watermark),
				 errhint("Fetch from topics.latest_offset() or lower.")));
}

/*
 * A bytea holding a copy of the bytes; small ones get the one-byte header
 * they would get in a tuple anyway, which spares the result tuple a
 * conversion.
 */
static bytea *
copy_bytes(const char *data, int32 len)
{
	bytea	   *b;

	if (len + VARHDRSZ_SHORT <= VARATT_SHORT_MAX)
	{
		b = palloc(len + VARHDRSZ_SHORT);
		SET_VARSIZE_SHORT(b, len + VARHDRSZ_SHORT);
		memcpy(VARDATA_SHORT(b), data, len);
		return b;
	}
	b = palloc(len + VARHDRSZ);
	SET_VARSIZE(b, len + VARHDRSZ);
	memcpy(VARDATA(b), data, len);
	return b;
}

static Datum
headers_datum(const BatchRecord *record)
{
	char	   *text = pnstrdup(record->headers, record->headers_len);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}

/*
 * Starts reading the records in [from_offset, stable) of a target the
 * caller opened, within max_records and max_bytes (at least one record, as
 * Kafka does).
 */
void
fetch_cursor_start(FetchCursor *cursor, const ReadTarget *target,
				   Datum topic_name, int64 from_offset, int64 stable,
				   int32 max_records, int64 max_bytes, int columns)
{
	memset(cursor, 0, sizeof(FetchCursor));
	cursor->target = *target;
	cursor->topic_name = topic_name;
	cursor->from_offset = from_offset;
	cursor->stable = stable;
	cursor->max_records = max_records;
	cursor->max_bytes = max_bytes;
	cursor->columns = columns;
	cursor->last_offset = -1;
	cursor->finished = stable <= from_offset;
	if (cursor->finished)
		return;
	cursor->scan_context = CurrentMemoryContext;
	cursor->per_batch = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_topics fetch batch",
											  ALLOCSET_DEFAULT_SIZES);
	cursor->snapshot = RegisterSnapshot(GetLatestSnapshot());
	storage_scan_begin(&cursor->scan, target->ref.relid, target->ref.partition,
					   from_offset, cursor->snapshot);
	cursor->scanning = true;
}

/*
 * Moves to the next batch that can hold records below the stable offset
 * and opens it in per_batch, the current memory context.
 */
static bool
next_batch(FetchCursor *cursor)
{
	bool		found;

	CHECK_FOR_INTERRUPTS();
	MemoryContextReset(cursor->per_batch);
	MemoryContextSwitchTo(cursor->scan_context);
	found = storage_scan_next(&cursor->scan, &cursor->target.ref, &cursor->batch);
	MemoryContextSwitchTo(cursor->per_batch);
	if (!found || cursor->batch.base_offset >= cursor->stable)
		return false;
	storage_open_batch(&cursor->scan, &cursor->target.ref, &cursor->batch);
	return true;
}

static void
fill_record(FetchCursor *cursor, const BatchRecord *record, Datum *values,
			bool *nulls)
{
	int			columns = cursor->columns;

	values[RECORD_TOPIC] = cursor->topic_name;
	values[RECORD_PARTITION] = Int32GetDatum(cursor->target.ref.partition);
	values[RECORD_OFFSET] = Int64GetDatum(record->offset);
	values[RECORD_TS] = TimestampTzGetDatum(record->ts);
	nulls[RECORD_TOPIC] = nulls[RECORD_PARTITION] = false;
	nulls[RECORD_OFFSET] = nulls[RECORD_TS] = false;

	nulls[RECORD_KEY] = record->key_len < 0 || !(columns & (1 << RECORD_KEY));
	if (!nulls[RECORD_KEY])
		values[RECORD_KEY] = PointerGetDatum(copy_bytes(record->key, record->key_len));
	nulls[RECORD_VALUE] = record->value_len < 0 || !(columns & (1 << RECORD_VALUE));
	if (!nulls[RECORD_VALUE])
		values[RECORD_VALUE] = PointerGetDatum(copy_bytes(record->value, record->value_len));
	nulls[RECORD_HEADERS] = record->headers_len < 0 || !(columns & (1 << RECORD_HEADERS));
	if (!nulls[RECORD_HEADERS])
		values[RECORD_HEADERS] = headers_datum(record);
}

/*
 * Hands out the next record: its columns go to values and nulls (those the
 * cursor was not asked for are null).  False when the read is complete.
 */
bool
fetch_cursor_next(FetchCursor *cursor, Datum *values, bool *nulls)
{
	MemoryContext outer;
	BatchRecord record;
	bool		done;

	if (cursor->finished)
		return false;
	outer = MemoryContextSwitchTo(cursor->per_batch);
	for (;;)
	{
		if (!cursor->in_batch && !(cursor->in_batch = next_batch(cursor)))
			break;
		storage_decode_next(&cursor->target.ref, &cursor->batch, &record, &done);
		if (done)
		{
			cursor->in_batch = false;
			continue;
		}
		if (record.offset < cursor->from_offset)
			continue;
		if (record.offset >= cursor->stable)
			break;

		fill_record(cursor, &record, values, nulls);
		cursor->last_offset = record.offset;
		cursor->returned++;
		cursor->bytes += Max(record.key_len, 0) + Max(record.value_len, 0);
		cursor->finished = cursor->returned >= cursor->max_records ||
			cursor->bytes >= cursor->max_bytes;
		MemoryContextSwitchTo(outer);
		return true;
	}
	cursor->finished = true;
	MemoryContextSwitchTo(outer);
	return false;
}

/*
 * Starts the read over with the same snapshot and stable offset, so that
 * it returns the same records again.
 */
void
fetch_cursor_rewind(FetchCursor *cursor)
{
	cursor->returned = 0;
	cursor->bytes = 0;
	cursor->last_offset = -1;
	cursor->in_batch = false;
	cursor->finished = !cursor->scanning;
	if (cursor->scanning)
	{
		MemoryContext outer = MemoryContextSwitchTo(cursor->scan_context);

		MemoryContextReset(cursor->per_batch);
		storage_scan_end(&cursor->scan);
		storage_scan_begin(&cursor->scan, cursor->target.ref.relid,
						   cursor->target.ref.partition, cursor->from_offset,
						   cursor->snapshot);
		MemoryContextSwitchTo(outer);
	}
}

/* Ends the read; the target stays open. */
void
fetch_cursor_stop(FetchCursor *cursor)
{
	if (!cursor->scanning)
		return;
	storage_scan_end(&cursor->scan);
	UnregisterSnapshot(cursor->snapshot);
	MemoryContextDelete(cursor->per_batch);
	cursor->scanning = false;
	cursor->finished = true;
}

/*
 * Does what topics.fetch does before its first record, given its arguments:
 * checks them, opens the partition, computes the stable offset, waits for
 * records when asked to, and starts reading.  fetch_finish ends the read.
 */
void
fetch_begin(FetchCursor *cursor, const Datum *args, const bool *argnulls,
			int columns)
{
	ReadTarget	target;
	int64		from_offset;
	int32		max_records;
	int32		max_bytes;
	long		wait_ms;
	int64		high_watermark;
	int64		stable;

	require_not_null(argnulls[2], "from_offset");
	require_not_null(argnulls[3], "max_records");
	require_not_null(argnulls[4], "max_bytes");
	require_not_null(argnulls[5], "wait");
	from_offset = DatumGetInt64(args[2]);
	max_records = DatumGetInt32(args[3]);
	max_bytes = DatumGetInt32(args[4]);
	wait_ms = fetch_wait_milliseconds(DatumGetIntervalP(args[5]));
	if (max_records < 1 || max_records > FETCH_MAX_RECORDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records must be between 1 and %d", FETCH_MAX_RECORDS)));
	if (max_bytes < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_bytes must be positive")));

	open_named_target(args[0], argnulls[0], args[1], argnulls[1], &target);

	stable = offsets_stable(target.state, &high_watermark);
	check_fetch_offset(&target, from_offset, high_watermark);
	if (stable <= from_offset && wait_ms > 0)
		stable = offsets_wait_beyond(target.state, from_offset, wait_ms);
	fetch_cursor_start(cursor, &target, args[0], from_offset, stable,
					   max_records, max_bytes, columns);
}

/* Ends what fetch_begin started, closing the partition too. */
void
fetch_finish(FetchCursor *cursor)
{
	fetch_cursor_stop(cursor);
	offsets_unpin(cursor->target.state);
}

/* Appends every record of the cursor to a function's result. */
static void
put_records(FetchCursor *cursor, ReturnSetInfo *rsi)
{
	Datum		values[RECORD_NATTS];
	bool		nulls[RECORD_NATTS];

	while (fetch_cursor_next(cursor, values, nulls))
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, values, nulls);
}

/*
 * Appends the records in [from_offset, stable) to the result, within
 * max_records and max_bytes.  Returns how many it appended and sets
 * *last_offset to the offset of the last.
 */
int32
fetch_read_records(ReadTarget *target, Datum topic_name, int64 from_offset,
				   int64 stable, int32 max_records, int64 max_bytes,
				   ReturnSetInfo *rsi, int64 *last_offset)
{
	FetchCursor cursor;

	fetch_cursor_start(&cursor, target, topic_name, from_offset, stable,
					   max_records, max_bytes, FETCH_ALL_COLUMNS);
	put_records(&cursor, rsi);
	fetch_cursor_stop(&cursor);
	*last_offset = cursor.last_offset;
	return cursor.returned;
}

/*
 * topics.fetch(topic, partition, from_offset, max_records, max_bytes, wait)
 * returns the committed records from from_offset on.  With a wait, it
 * blocks until there is at least one or the time is up.  In a FROM clause
 * the query runs fetch_scan.c's streaming scan instead of this function.
 */
Datum
topics_fetch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		args[FETCH_NARGS];
	bool		argnulls[FETCH_NARGS];
	FetchCursor cursor;

	for (int i = 0; i < FETCH_NARGS; i++)
	{
		args[i] = PG_GETARG_DATUM(i);
		argnulls[i] = PG_ARGISNULL(i);
	}
	fetch_begin(&cursor, args, argnulls, FETCH_ALL_COLUMNS);
	InitMaterializedSRF(fcinfo, 0);
	put_records(&cursor, rsi);
	fetch_finish(&cursor);
	return (Datum) 0;
}

/*
 * topics.offset_for_time(topic, partition, ts): the first offset whose
 * record has a timestamp at or after ts, as Kafka's ListOffsets answers it;
 * null when there is none yet.  Batches whose newest timestamp is older are
 * skipped without decoding them.
 */
Datum
topics_offset_for_time(PG_FUNCTION_ARGS)
{
	ReadTarget	target;
	TimestampTz ts;
	int64		stable;
	int64		found = -1;
	Snapshot	snapshot;
	BatchScan	scan;
	StoredBatch batch;

	fetch_require_argument(fcinfo, 2, "ts");
	ts = PG_GETARG_TIMESTAMPTZ(2);
	open_target(fcinfo, &target);
	stable = offsets_stable(target.state, NULL);
	snapshot = RegisterSnapshot(GetLatestSnapshot());

	storage_scan_begin(&scan, target.ref.relid, target.ref.partition,
					   offsets_log_start(target.state), snapshot);
	while (found < 0 && storage_scan_next(&scan, &target.ref, &batch))
	{
		BatchRecord record;
		bool		done = false;

		CHECK_FOR_INTERRUPTS();
		if (batch.base_offset >= stable)
			break;
		if (batch.max_ts < ts)
			continue;
		storage_open_batch(&scan, &target.ref, &batch);
		while (found < 0)
		{
			storage_decode_next(&target.ref, &batch, &record, &done);
			if (done || record.offset >= stable)
				break;
			if (record.ts >= ts)
				found = record.offset;
		}
		if (!done && found < 0)
			break;
	}
	storage_scan_end(&scan);
	UnregisterSnapshot(snapshot);
	offsets_unpin(target.state);

	if (found < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(found);
}

/* topics.earliest_offset(topic, partition): the log start offset. */
Datum
topics_earliest_offset(PG_FUNCTION_ARGS)
{
	ReadTarget	target;
	int64		log_start;

	open_target(fcinfo, &target);
	log_start = offsets_log_start(target.state);
	offsets_unpin(target.state);
	PG_RETURN_INT64(log_start);
}

/*
 * topics.latest_offset(topic, partition): the last stable offset, the
 * offset the next committed record a consumer can read will have at least.
 */
Datum
topics_latest_offset(PG_FUNCTION_ARGS)
{
	ReadTarget	target;
	int64		stable;

	open_target(fcinfo, &target);
	stable = offsets_stable(target.state, NULL);
	offsets_unpin(target.state);
	PG_RETURN_INT64(stable);
}

/*
 * topics.partition_offsets(topic, partition): log start offset, high
 * watermark and last stable offset in one consistent reading.
 */
Datum
topics_partition_offsets(PG_FUNCTION_ARGS)
{
	ReadTarget	target;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int64		high_watermark;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	open_target(fcinfo, &target);
	values[2] = Int64GetDatum(offsets_stable(target.state, &high_watermark));
	values[1] = Int64GetDatum(high_watermark);
	values[0] = Int64GetDatum(offsets_log_start(target.state));
	offsets_unpin(target.state);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}
