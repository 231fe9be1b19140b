/*-------------------------------------------------------------------------
 *
 * groups.c
 *	  Transactional consumption (topics.consume) over the group offset store,
 *	  and the wait that topics.poll uses.
 *
 * A group's position in a partition is a row of topics.group_offset.  A
 * session consumes a partition by locking that row (skipping it when
 * another session holds it), reading the records from the committed offset
 * on, and moving the committed offset past them, all in the caller's
 * transaction.  The row lock is what makes a partition belong to one
 * session of the group at a time; it is released when the transaction
 * ends.  Commit, and the records are consumed together with whatever else
 * the transaction wrote; roll back (or die), and the lock and the offset go
 * back, so the next session gets the same records again.
 *
 * Rows are found, locked and updated with direct heap and index access;
 * only the cold path that creates a group's rows runs SQL.  A group that
 * uses the member protocol (it has members) is not consumed this way: its
 * partitions belong to its members.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "fetch.h"
#include "groups.h"
#include "offsets.h"

PG_FUNCTION_INFO_V1(topics_consume);
PG_FUNCTION_INFO_V1(topics_wait_for_records);

/* Columns of topics.group_offset. */
#define Anum_group_offset_group_id 1
#define Anum_group_offset_topic_id 2
#define Anum_group_offset_partition 3
#define Anum_group_offset_committed_offset 4
#define Anum_group_offset_metadata 5
#define Anum_group_offset_committed_at 6
#define Natts_group_offset 6

#define GROUP_ID_MAX 255

/*
 * Topics this transaction consumed from.  When it ends, the partitions it
 * held are free again, so sessions of the group waiting in topics.consume
 * are woken to look at them.
 */
static List *consumed_topics = NIL;

/* The offset store, opened for one consume call. */
typedef struct OffsetStore
{
	Relation	heap;
	Relation	index;
	IndexInfo  *index_info;
	TupleTableSlot *slot;
	Snapshot	snapshot;
} OffsetStore;

typedef enum RowLock
{
	ROW_LOCKED,					/* ours until the transaction ends */
	ROW_HELD,					/* another session of the group holds it */
	ROW_CAUGHT_UP,				/* nothing to read: left unlocked */
	ROW_MISSING					/* the group has no offset here yet */
} RowLock;

static void
open_offset_store(OffsetStore *store)
{
	store->heap = table_open(catalog_relid("group_offset"), RowExclusiveLock);
	store->index = index_open(catalog_relid("group_offset_pkey"),
							  RowExclusiveLock);
	store->index_info = BuildIndexInfo(store->index);
	store->slot = table_slot_create(store->heap, NULL);
	store->snapshot = RegisterSnapshot(GetLatestSnapshot());
}

static void
close_offset_store(OffsetStore *store)
{
	UnregisterSnapshot(store->snapshot);
	ExecDropSingleTupleTableSlot(store->slot);
	index_close(store->index, NoLock);
	table_close(store->heap, NoLock);
}

static void
text_key(ScanKeyData *key, AttrNumber attno, text *value)
{
	ScanKeyEntryInitialize(key, 0, attno, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, PointerGetDatum(value));
}

static int64
committed_offset(OffsetStore *store)
{
	bool		isnull;

	return DatumGetInt64(slot_getattr(store->slot,
									  Anum_group_offset_committed_offset,
									  &isnull));
}

/*
 * Finds the group's offset row of a partition and, unless the group has
 * read everything below stable, tries to lock it without waiting.  When
 * locked, *committed is the committed offset of the latest version, which
 * the slot holds.
 */
static RowLock
lock_offset_row(OffsetStore *store, text *group_id, int32 topic_id,
				int32 partition, int64 stable, int64 *committed)
{
	ScanKeyData keys[3];
	IndexScanDesc scan;
	ItemPointerData tid;
	bool		found;
	TM_FailureData failure;
	TM_Result	result;

	text_key(&keys[0], 1, group_id);
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(topic_id));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(partition));
	scan = index_beginscan(store->heap, store->index, store->snapshot, 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, store->slot);
	if (found)
		tid = store->slot->tts_tid;
	index_endscan(scan);
	if (!found)
		return ROW_MISSING;
	if (committed_offset(store) >= stable)
		return ROW_CAUGHT_UP;

	result = table_tuple_lock(store->heap, &tid, store->snapshot, store->slot,
							  GetCurrentCommandId(false), LockTupleExclusive,
							  LockWaitSkip, TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &failure);
	if (result != TM_Ok)
		return ROW_HELD;
	*committed = committed_offset(store);
	return ROW_LOCKED;
}

/* Moves the locked row's committed offset (the slot holds the row). */
static void
advance_offset_row(OffsetStore *store, int64 next_offset)
{
	Datum		values[Natts_group_offset];
	bool		nulls[Natts_group_offset];
	bool		replace[Natts_group_offset] = {false};
	HeapTuple	old_tuple;
	HeapTuple	new_tuple;
	bool		should_free;

	old_tuple = ExecFetchSlotHeapTuple(store->slot, false, &should_free);
	values[Anum_group_offset_committed_offset - 1] = Int64GetDatum(next_offset);
	nulls[Anum_group_offset_committed_offset - 1] = false;
	replace[Anum_group_offset_committed_offset - 1] = true;
	values[Anum_group_offset_committed_at - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	nulls[Anum_group_offset_committed_at - 1] = false;
	replace[Anum_group_offset_committed_at - 1] = true;
	nulls[Anum_group_offset_metadata - 1] = true;
	replace[Anum_group_offset_metadata - 1] = true;

	new_tuple = heap_modify_tuple(old_tuple, RelationGetDescr(store->heap),
								  values, nulls, replace);
	simple_heap_update(store->heap, &store->slot->tts_tid, new_tuple);
	if (!HeapTupleIsHeapOnly(new_tuple))
	{
		Datum		key_values[3];
		bool		key_nulls[3] = {false, false, false};

		key_values[0] = heap_getattr(new_tuple, 1, RelationGetDescr(store->heap), &key_nulls[0]);
		key_values[1] = heap_getattr(new_tuple, 2, RelationGetDescr(store->heap), &key_nulls[1]);
		key_values[2] = heap_getattr(new_tuple, 3, RelationGetDescr(store->heap), &key_nulls[2]);
		index_insert(store->index, key_values, key_nulls, &new_tuple->t_self,
					 store->heap, UNIQUE_CHECK_YES, false, store->index_info);
	}
	heap_freetuple(new_tuple);
	if (should_free)
		heap_freetuple(old_tuple);
}

/*
 * Gives the group an offset row for every partition of the topic (the cold
 * path: a new group, or partitions added since).
 */
static void
create_offset_rows(text *group_id, TopicInfo *topic)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	args[0] = PointerGetDatum(group_id);
	args[1] = CStringGetTextDatum(topic->name);
	SPI_connect();
	if (SPI_execute_with_args("SELECT topics.ensure_group_offsets($1, $2)",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not create the offsets of a group");
	SPI_finish();
	CommandCounterIncrement();
}

/* Refuses transactional consumption of a group that has members. */
static void
check_group_has_no_members(text *group_id)
{
	Relation	heap = table_open(catalog_relid("group_member"), AccessShareLock);
	Relation	index = index_open(catalog_relid("group_member_pkey"),
								   AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		has_members;

	text_key(&key, 1, group_id);
	scan = index_beginscan(heap, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	has_members = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, NoLock);
	table_close(heap, NoLock);

	if (has_members)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("group \"%s\" has members and cannot be consumed with topics.consume",
						text_to_cstring(group_id)),
				 errdetail("Its partitions are assigned to the members that joined it with topics.join_group."),
				 errhint("Use topics.poll as a member, or another group_id.")));
}

static text *
group_id_argument(FunctionCallInfo fcinfo, int argno)
{
	text	   *group_id;
	int			len;

	fetch_require_argument(fcinfo, argno, "group_id");
	group_id = PG_GETARG_TEXT_PP(argno);
	len = pg_mbstrlen_with_len(VARDATA_ANY(group_id), VARSIZE_ANY_EXHDR(group_id));
	if (len < 1 || len > GROUP_ID_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid group_id"),
				 errdetail("A group_id is a string of 1 to %d characters.", GROUP_ID_MAX)));
	return group_id;
}

/*
 * One pass over the topic's partitions, starting at *next_partition:
 * consumes up to max_records from the partitions this session can lock.
 * Returns how many records it appended to the result.
 */
static int32
consume_pass(text *group_id, TopicInfo *topic, Datum topic_name,
			 int32 max_records, ReturnSetInfo *rsi, int32 *next_partition)
{
	OffsetStore store;
	int32		returned = 0;
	bool		rows_created = false;

	open_offset_store(&store);
	for (int i = 0; i < topic->partitions && returned < max_records; i++)
	{
		int32		partition = (*next_partition + i) % topic->partitions;
		ReadTarget	target;
		int64		stable;
		int64		committed;
		int64		last_offset;
		int32		got;
		RowLock		lock;

		CHECK_FOR_INTERRUPTS();
		fetch_open_target(topic, partition, &target);
		stable = offsets_stable(target.state, NULL);
		lock = lock_offset_row(&store, group_id, topic->id, partition, stable,
							   &committed);
		if (lock == ROW_MISSING && !rows_created)
		{
			close_offset_store(&store);
			create_offset_rows(group_id, topic);
			rows_created = true;
			open_offset_store(&store);
			stable = offsets_stable(target.state, NULL);
			lock = lock_offset_row(&store, group_id, topic->id, partition,
								   stable, &committed);
		}
		if (lock == ROW_LOCKED && !list_member_int(consumed_topics, topic->id))
		{
			MemoryContext outer = MemoryContextSwitchTo(TopMemoryContext);

			consumed_topics = lappend_int(consumed_topics, topic->id);
			MemoryContextSwitchTo(outer);
		}
		if (lock == ROW_LOCKED && committed < stable)
		{
			int32		wanted = max_records - returned;

			got = fetch_read_records(&target, topic_name, committed, stable,
									 wanted, PG_INT64_MAX, rsi, &last_offset);

			/*
			 * Short of what was wanted, the read reached the stable offset:
			 * the offsets left below it belong to aborted transactions, so
			 * move past them, or the group would never catch up.
			 */
			advance_offset_row(&store, got < wanted ? stable : last_offset + 1);
			returned += got;
		}
		offsets_unpin(target.state);
	}
	close_offset_store(&store);
	*next_partition = (*next_partition + 1) % topic->partitions;
	return returned;
}

/*
 * topics.consume(group_id, topic, max_records, wait): the next records of
 * the partitions no other session of the group holds, the group's offsets
 * moved past them in the caller's transaction.
 */
Datum
topics_consume(PG_FUNCTION_ARGS)
{
	static int32 next_partition = -1;
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *group_id = group_id_argument(fcinfo, 0);
	TopicInfo  *topic;
	int32		max_records;
	long		wait_ms;
	TimestampTz deadline;
	ConditionVariable *arrivals;

	fetch_require_argument(fcinfo, 1, "topic name");
	fetch_require_argument(fcinfo, 2, "max_records");
	fetch_require_argument(fcinfo, 3, "wait");
	max_records = PG_GETARG_INT32(2);
	if (max_records < 1 || max_records > FETCH_MAX_RECORDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records must be between 1 and %d", FETCH_MAX_RECORDS)));
	wait_ms = fetch_wait_milliseconds(PG_GETARG_INTERVAL_P(3));
	PreventCommandIfReadOnly("topics.consume()");
	topic = catalog_lookup_topic(PG_GETARG_TEXT_PP(1));
	catalog_check_access(topic, ACL_SELECT);
	check_group_has_no_members(group_id);
	InitMaterializedSRF(fcinfo, 0);

	/* sessions start at different partitions, so that they spread out */
	if (next_partition < 0)
		next_partition = MyProcPid;
	next_partition %= topic->partitions;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	arrivals = offsets_topic_arrivals(topic->id);
	if (wait_ms > 0)
		ConditionVariablePrepareToSleep(arrivals);
	while (consume_pass(group_id, topic, PG_GETARG_DATUM(1), max_records,
						rsi, &next_partition) == 0 && wait_ms > 0 &&
		   offsets_sleep_until(arrivals, deadline, wait_ms))
		;
	if (wait_ms > 0)
		ConditionVariableCancelSleep();
	return (Datum) 0;
}

/*
 * topics.wait_for_records(topics text[], partitions int[], positions
 * bigint[], wait interval): waits until one of the partitions has a
 * committed record at or past its position; true if one has.  The member
 * protocol's poll uses it; it is woken by commits to the first topic, and
 * looks at the others every 100 ms.
 */
Datum
topics_wait_for_records(PG_FUNCTION_ARGS)
{
	Datum	   *names;
	Datum	   *partitions;
	Datum	   *positions;
	bool	   *nulls;
	int			count;
	int			npartitions;
	int			npositions;
	long		wait_ms;
	TimestampTz deadline;
	TopicInfo **topics;
	bool		several_topics = false;
	bool		arrived = false;
	ConditionVariable *arrivals;

	for (int i = 0; i < 4; i++)
		fetch_require_argument(fcinfo, i, "argument");
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &names, &nulls, &count);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT4OID, 4, true, TYPALIGN_INT,
					  &partitions, &nulls, &npartitions);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &positions, &nulls, &npositions);
	if (count != npartitions || count != npositions)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("topics, partitions and positions must have the same length")));
	wait_ms = fetch_wait_milliseconds(PG_GETARG_INTERVAL_P(3));
	if (count == 0)
		PG_RETURN_BOOL(false);

	topics = palloc(sizeof(TopicInfo *) * count);
	for (int i = 0; i < count; i++)
	{
		topics[i] = catalog_lookup_topic(DatumGetTextPP(names[i]));
		several_topics |= topics[i]->id != topics[0]->id;
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	arrivals = offsets_topic_arrivals(topics[0]->id);
	ConditionVariablePrepareToSleep(arrivals);
	do
	{
		for (int i = 0; i < count && !arrived; i++)
		{
			ReadTarget	target;

			fetch_open_target(topics[i], DatumGetInt32(partitions[i]), &target);
			arrived = offsets_stable(target.state, NULL) > DatumGetInt64(positions[i]);
			offsets_unpin(target.state);
		}
	} while (!arrived &&
			 offsets_sleep_until(arrivals, deadline, several_topics ? 100 : wait_ms));
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(arrived);
}

static void
wake_waiting_consumers(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (consumed_topics == NIL ||
		(event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		 event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		 event != XACT_EVENT_PREPARE))
		return;
	foreach(lc, consumed_topics)
		ConditionVariableBroadcast(offsets_topic_arrivals(lfirst_int(lc)));
	list_free(consumed_topics);
	consumed_topics = NIL;
}

void
groups_register_callbacks(void)
{
	RegisterXactCallback(wake_waiting_consumers, NULL);
}
