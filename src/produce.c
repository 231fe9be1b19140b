/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  topics.produce and topics.produce_batch, and the per-transaction write
 *	  buffer behind them.
 *
 * A record gets its offset when it is produced (the caller sees it at once)
 * but is written when its batch is full or the transaction commits, so that
 * the records one transaction sends to one partition share few rows.  A
 * batch holds a contiguous run of offsets taken in one subtransaction: a
 * concurrent producer taking the next offset, or a savepoint, starts a new
 * batch.  A batch is written by the subtransaction that filled it, so a
 * rolled-back savepoint takes its written rows with it, and its buffered
 * batches are dropped here; the offsets it took stay unused (gaps are
 * allowed, I3).
 *
 * Two-phase commit is refused for a transaction that produced: its
 * in-flight registration lives in this backend's shared state and would
 * not survive the hand-over to a prepared transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "offsets.h"
#include "partitioner.h"
#include "produce.h"
#include "storage.h"

PG_FUNCTION_INFO_V1(topics_produce);
PG_FUNCTION_INFO_V1(topics_produce_text);
PG_FUNCTION_INFO_V1(topics_produce_jsonb);
PG_FUNCTION_INFO_V1(topics_produce_batch);
PG_FUNCTION_INFO_V1(topics_produce_all_step);

/* A batch being filled; its bytes start VARHDRSZ into alloc (a bytea). */
typedef struct OpenBatch
{
	SubTransactionId subid;
	char	   *alloc;
	BatchWriter writer;
} OpenBatch;

/*
 * The highest offset written by one subtransaction: what a commit makes
 * durable, and so what the committed end of the partition moves to.
 */
typedef struct WrittenRun
{
	SubTransactionId subid;		/* first, as in OpenBatch */
	int64		last_offset;
} WrittenRun;

typedef struct ProducerKey
{
	int32		topic_id;
	int32		partition;
} ProducerKey;

/* What this transaction produced to one partition and not yet written. */
typedef struct ProducerPartition
{
	ProducerKey key;
	TopicInfo  *topic;
	Oid			relid;
	Oid			checked_user;
	PartitionState *state;
	List	   *batches;		/* OpenBatch *, oldest first */
	List	   *written;		/* WrittenRun *, one per subtransaction */
} ProducerPartition;

static HTAB *xact_partitions = NULL;
static MemoryContext produce_context = NULL;

/* The entry of xact_partitions used last: most calls hit it again. */
static ProducerPartition *recent_partition = NULL;

/* Input of one record, as the SQL functions receive it. */
typedef struct RecordInput
{
	int32		partition;		/* -1: choose by key, or stick when keyless */
	const char *key;
	int32		key_len;
	const char *value;
	int32		value_len;
	const char *headers;
	int32		headers_len;
	TimestampTz ts;
} RecordInput;

/*
 * The table of produced partitions and the buffers' memory live as long as
 * the backend and are emptied at the end of every transaction, so that a
 * transaction producing one record pays for no set-up.
 */
static void
start_xact_state(void)
{
	HASHCTL		info;

	produce_context = AllocSetContextCreate(TopMemoryContext,
											"pg_topics produce",
											ALLOCSET_DEFAULT_SIZES);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(ProducerKey);
	info.entrysize = sizeof(ProducerPartition);
	xact_partitions = hash_create("pg_topics produced partitions", 16, &info,
								  HASH_ELEM | HASH_BLOBS);
}

/* Whether the current transaction produced anything. */
static bool
producing(void)
{
	return xact_partitions != NULL && hash_get_num_entries(xact_partitions) > 0;
}

/* What this transaction produced to the partition so far, or NULL. */
static ProducerPartition *
find_producer_partition(TopicInfo *topic, int32 partition)
{
	ProducerKey key;

	if (recent_partition != NULL && recent_partition->topic == topic &&
		recent_partition->key.topic_id == topic->id &&
		recent_partition->key.partition == partition)
		return recent_partition;
	if (!producing())
		return NULL;
	key.topic_id = topic->id;
	key.partition = partition;
	return hash_search(xact_partitions, &key, HASH_FIND, NULL);
}

/*
 * Returns this transaction's producer state for the partition and takes
 * one offset in it, registering the transaction as in flight on the first
 * record.
 */
static ProducerPartition *
producer_partition(TopicInfo *topic, int32 partition, int64 *first_offset)
{
	ProducerKey key;
	ProducerPartition *pp;
	PartitionRef ref;

	pp = find_producer_partition(topic, partition);
	if (pp != NULL)
	{
		if (pp->checked_user != GetUserId())
		{
			catalog_check_access(topic, ACL_INSERT);
			pp->checked_user = GetUserId();
		}
		*first_offset = offsets_take(pp->state, 1);
		recent_partition = pp;
		return pp;
	}

	if (xact_partitions == NULL)
		start_xact_state();
	key.topic_id = topic->id;
	key.partition = partition;
	pp = hash_search(xact_partitions, &key, HASH_ENTER, NULL);

	*first_offset = -1;
	PG_TRY();
	{
		pp->topic = topic;
		pp->relid = catalog_partition_relid(topic, partition);
		pp->batches = NIL;
		pp->written = NIL;
		pp->state = NULL;
		catalog_check_access(topic, ACL_INSERT);
		pp->checked_user = GetUserId();
		LockRelationOid(pp->relid, RowExclusiveLock);

		ref.relid = pp->relid;
		ref.topic_id = topic->id;
		ref.partition = partition;
		ref.topic_name = topic->name;
		pp->state = offsets_pin(pp->relid, topic->id, storage_read_bounds, &ref);
		*first_offset = offsets_register(pp->state, 1);
		recent_partition = pp;
	}
	PG_CATCH();
	{
		/* not registered: the end-of-transaction callback must skip it */
		if (*first_offset < 0)
			hash_search(xact_partitions, &key, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return pp;
}

static List *
list_append_in(MemoryContext context, List *list, void *item)
{
	MemoryContext outer = MemoryContextSwitchTo(context);

	list = lappend(list, item);
	MemoryContextSwitchTo(outer);
	return list;
}

static void
remember_written(ProducerPartition *pp, SubTransactionId subid,
				 int64 last_offset)
{
	WrittenRun *run = pp->written != NIL ? llast(pp->written) : NULL;

	if (run == NULL || run->subid != subid)
	{
		run = MemoryContextAlloc(produce_context, sizeof(WrittenRun));
		run->subid = subid;
		run->last_offset = last_offset;
		pp->written = list_append_in(produce_context, pp->written, run);
	}
	run->last_offset = Max(run->last_offset, last_offset);
}

static void
free_batch(void *item)
{
	OpenBatch  *batch = item;

	pfree(batch->alloc);
	pfree(batch);
}

static void
write_batches(ProducerPartition *pp, List *batches)
{
	BatchAppender appender;
	ListCell   *lc;

	if (batches == NIL)
		return;
	if (!storage_appender_open(&appender, pp->relid, pp->key.partition,
							   list_length(batches) > 1))
	{
		/* the topic was dropped after these records were produced */
		foreach(lc, batches)
			free_batch(lfirst(lc));
		return;
	}
	foreach(lc, batches)
	{
		OpenBatch  *batch = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		storage_append(&appender, &batch->writer);
		remember_written(pp, GetCurrentSubTransactionId(),
						 batch->writer.last_offset);
		free_batch(batch);
	}
	storage_appender_close(&appender);
}

/* The highest offset this transaction wrote to the partition, or -1. */
static int64
highest_written(ProducerPartition *pp)
{
	int64		highest = -1;
	ListCell   *lc;

	foreach(lc, pp->written)
		highest = Max(highest, ((WrittenRun *) lfirst(lc))->last_offset);
	return highest;
}

/* Writes the partition's batches that belong to the current subtransaction. */
static void
write_current_batches(ProducerPartition *pp)
{
	SubTransactionId current = GetCurrentSubTransactionId();
	MemoryContext outer = MemoryContextSwitchTo(produce_context);
	List	   *now = NIL;
	List	   *later = NIL;
	ListCell   *lc;

	foreach(lc, pp->batches)
	{
		OpenBatch  *batch = lfirst(lc);

		if (batch->subid == current)
			now = lappend(now, batch);
		else
			later = lappend(later, batch);
	}
	list_free(pp->batches);
	pp->batches = later;
	MemoryContextSwitchTo(outer);
	write_batches(pp, now);
	list_free(now);
}

/*
 * A new batch starting with the record.  It starts small, enough for a few
 * records like it, and grows up to STORAGE_BATCH_TARGET: most transactions
 * produce a record or two.
 */
static OpenBatch *
new_batch(const BatchRecord *record)
{
	OpenBatch  *batch = MemoryContextAlloc(produce_context, sizeof(OpenBatch));
	size_t		needed = BATCH_HEADER_SIZE +
		batch_encoded_size(record, record->offset, record->ts);
	size_t		capacity = needed > STORAGE_BATCH_TARGET ? needed :
		Min(STORAGE_BATCH_TARGET, BATCH_HEADER_SIZE + 4 * (needed - BATCH_HEADER_SIZE));

	batch->subid = GetCurrentSubTransactionId();
	batch->alloc = MemoryContextAllocHuge(produce_context, capacity + VARHDRSZ);
	batch_writer_init(&batch->writer, batch->alloc + VARHDRSZ, capacity,
					  record->offset, record->ts);
	return batch;
}

/* Doubles a batch's room, up to STORAGE_BATCH_TARGET. */
static void
grow_batch(OpenBatch *batch)
{
	size_t		capacity = Min(STORAGE_BATCH_TARGET, 2 * batch->writer.capacity);

	batch->alloc = repalloc(batch->alloc, capacity + VARHDRSZ);
	batch_writer_move(&batch->writer, batch->alloc + VARHDRSZ, capacity);
}

/*
 * Adds a record to the partition's open batch, or starts a new one.  The
 * open batch is written as soon as it cannot grow: it is full, or the next
 * offset went to another transaction.
 */
static void
buffer_record(ProducerPartition *pp, const BatchRecord *record)
{
	OpenBatch  *open = pp->batches != NIL ? llast(pp->batches) : NULL;

	if (open != NULL && open->subid == GetCurrentSubTransactionId())
	{
		bool		contiguous = record->offset == open->writer.last_offset + 1;

		if (contiguous && batch_writer_append(&open->writer, record))
			return;
		if (contiguous && open->writer.capacity < STORAGE_BATCH_TARGET)
		{
			grow_batch(open);
			if (batch_writer_append(&open->writer, record))
				return;
		}
		write_current_batches(pp);
	}
	open = new_batch(record);
	if (!batch_writer_append(&open->writer, record))
		elog(ERROR, "record does not fit in a batch sized for it");
	pp->batches = list_append_in(produce_context, pp->batches, open);
}

/*
 * Whether the record still fits the open batch this transaction has for the
 * partition (true when there is none yet), were it to get the next offset.
 */
static bool
open_batch_has_room(TopicInfo *topic, int32 partition, const RecordInput *in)
{
	ProducerPartition *pp = find_producer_partition(topic, partition);
	OpenBatch  *open;
	BatchRecord record;

	if (pp == NULL || pp->batches == NIL)
		return true;
	open = llast(pp->batches);
	record.offset = open->writer.last_offset + 1;
	record.ts = in->ts;
	record.key_len = in->key_len;
	record.value_len = in->value_len;
	record.headers_len = in->headers_len;
	return open->writer.len +
		batch_encoded_size(&record, open->writer.base_offset,
						   open->writer.first_ts) <=
		Max(open->writer.capacity, STORAGE_BATCH_TARGET);
}

/*
 * Explicit partitions are checked, keyed records go where Kafka's default
 * partitioner puts them, and keyless records stick to one partition until
 * its batch is full, as Kafka's sticky partitioner does, so that they still
 * form full batches.
 */
static int32
choose_partition(TopicInfo *topic, const RecordInput *in)
{
	if (in->partition >= 0)
	{
		(void) catalog_partition_relid(topic, in->partition);
		return in->partition;
	}
	if (in->key != NULL)
		return partition_for_key(in->key, in->key_len, topic->partitions);
	if (topic->sticky_lxid != MyProc->lxid ||
		topic->sticky_partition >= topic->partitions)
	{
		topic->sticky_partition = (int32) (pg_prng_uint32(&pg_global_prng_state) %
										   (uint32) topic->partitions);
		topic->sticky_lxid = MyProc->lxid;
	}
	else if (!open_batch_has_room(topic, topic->sticky_partition, in))
		topic->sticky_partition = (topic->sticky_partition + 1) % topic->partitions;
	return topic->sticky_partition;
}

static void
check_record_size(TopicInfo *topic, const RecordInput *in)
{
	int64		size = (int64) Max(in->key_len, 0) + Max(in->value_len, 0) +
		Max(in->headers_len, 0);

	if (size > topic->max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record of " INT64_FORMAT " bytes exceeds the maximum message size of topic \"%s\"",
						size, topic->name),
				 errdetail("The topic's max_message_bytes is %d; key, value and headers count.",
						   topic->max_message_bytes),
				 errhint("Raise it with topics.alter_topic(name, max_message_bytes => ...).")));
}

/*
 * Produces one record: chooses its partition, takes its offset and
 * buffers it.  Returns the partition and sets *offset.
 */
static int32
produce_record(TopicInfo *topic, const RecordInput *in, int64 *offset)
{
	int32		partition;
	ProducerPartition *pp;
	BatchRecord record;

	check_record_size(topic, in);
	partition = choose_partition(topic, in);
	pp = producer_partition(topic, partition, offset);

	record.offset = *offset;
	record.ts = in->ts;
	record.key = in->key;
	record.key_len = in->key_len;
	record.value = in->value;
	record.value_len = in->value_len;
	record.headers = in->headers;
	record.headers_len = in->headers_len;
	buffer_record(pp, &record);
	return partition;
}

static void
end_xact_state(bool committed)
{
	HASH_SEQ_STATUS scan;
	ProducerPartition *pp;

	if (producing())
	{
		hash_seq_init(&scan, xact_partitions);
		while ((pp = hash_seq_search(&scan)) != NULL)
		{
			offsets_end_transaction(pp->state, committed, highest_written(pp));
			hash_search(xact_partitions, &pp->key, HASH_REMOVE, NULL);
		}
		MemoryContextReset(produce_context);
	}
	recent_partition = NULL;
	offsets_release_pins();
}

static void
xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	ProducerPartition *pp;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (!producing())
				return;
			hash_seq_init(&scan, xact_partitions);
			while ((pp = hash_seq_search(&scan)) != NULL)
			{
				write_batches(pp, pp->batches);
				pp->batches = NIL;
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (producing())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that produced records to a topic"),
						 errdetail("pg_topics does not support two-phase commit of producing transactions."),
						 errhint("Produce in a transaction that is committed directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			end_xact_state(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			end_xact_state(false);
			break;
		default:
			break;
	}
}

/*
 * At the end of subtransaction subid, keeps the items of a list that belong
 * to older subtransactions, re-tags its own to the parent on commit, and
 * frees them on abort.  Items start with their SubTransactionId.
 */
static List *
end_subtransaction_items(List *items, SubXactEvent event,
						 SubTransactionId subid, SubTransactionId parent_subid,
						 void (*free_item) (void *item))
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, items)
	{
		SubTransactionId *item_subid = lfirst(lc);

		if (*item_subid < subid)
			kept = lappend(kept, item_subid);
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			*item_subid = parent_subid;
			kept = lappend(kept, item_subid);
		}
		else
			free_item(item_subid);
	}
	list_free(items);
	return kept;
}

/*
 * Forgets what an aborted subtransaction buffered and wrote; hands what a
 * committed one did to its parent.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId subid,
				 SubTransactionId parent_subid, void *arg)
{
	HASH_SEQ_STATUS scan;
	ProducerPartition *pp;
	MemoryContext outer;

	if (!producing() ||
		(event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;

	outer = MemoryContextSwitchTo(produce_context);
	hash_seq_init(&scan, xact_partitions);
	while ((pp = hash_seq_search(&scan)) != NULL)
	{
		pp->batches = end_subtransaction_items(pp->batches, event, subid,
											   parent_subid, free_batch);
		pp->written = end_subtransaction_items(pp->written, event, subid,
											   parent_subid, pfree);
	}
	MemoryContextSwitchTo(outer);
}

void
produce_register_callbacks(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}

/* ---- SQL-callable functions ---- */

/* Per-call-site state of the single-record produce functions. */
typedef struct ProduceCallState
{
	TopicInfo  *topic;			/* the topic named last */
	bool		row_returned;	/* the next call ends the one-row set */
	ExprContext *registered_in;
} ProduceCallState;

static void
reset_call_state(Datum arg)
{
	ProduceCallState *cs = (ProduceCallState *) DatumGetPointer(arg);

	cs->row_returned = false;
	cs->registered_in = NULL;
}

/*
 * The row type (partition int, offset bigint) every produce function
 * returns, built once per backend: looking the declared type up costs more
 * than producing a record, and every execution of a prepared statement
 * would pay it again.
 */
static TupleDesc
result_desc(void)
{
	static TupleDesc desc = NULL;

	if (desc == NULL)
	{
		MemoryContext outer = MemoryContextSwitchTo(TopMemoryContext);
		TupleDesc	template = CreateTemplateTupleDesc(2);

		TupleDescInitEntry(template, 1, "partition", INT4OID, -1, 0);
		TupleDescInitEntry(template, 2, "offset", INT8OID, -1, 0);
		desc = BlessTupleDesc(template);
		MemoryContextSwitchTo(outer);
	}
	return desc;
}

static ProduceCallState *
call_state(FunctionCallInfo fcinfo)
{
	ProduceCallState *cs = fcinfo->flinfo->fn_extra;
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsi == NULL || !IsA(rsi, ReturnSetInfo) ||
		(rsi->allowedModes & SFRM_ValuePerCall) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (cs == NULL)
	{
		cs = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									sizeof(ProduceCallState));
		fcinfo->flinfo->fn_extra = cs;
	}
	/* a rescan abandons a set half-read: start over then */
	if (cs->registered_in != rsi->econtext)
	{
		RegisterExprContextCallback(rsi->econtext, reset_call_state,
									PointerGetDatum(cs));
		cs->registered_in = rsi->econtext;
	}
	return cs;
}

static void
read_bytes(Datum d, const char **data, int32 *len)
{
	bytea	   *b = DatumGetByteaPP(d);

	*data = VARDATA_ANY(b);
	*len = VARSIZE_ANY_EXHDR(b);
}

static void
read_headers(Datum d, RecordInput *in)
{
	Jsonb	   *headers = DatumGetJsonbP(d);
	char	   *text = JsonbToCString(NULL, &headers->root, VARSIZE(headers));

	in->headers = text;
	in->headers_len = strlen(text);
}

static TimestampTz
read_timestamp(FunctionCallInfo fcinfo, int argno)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		return GetCurrentTransactionStartTimestamp();
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record timestamp must be finite")));
	return ts;
}

static int32
read_partition(FunctionCallInfo fcinfo, int argno)
{
	int32		partition;

	if (PG_ARGISNULL(argno))
		return -1;
	partition = PG_GETARG_INT32(argno);
	if (partition < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition must not be negative")));
	return partition;
}

static TopicInfo *
topic_argument(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic name must not be null")));
	PreventCommandIfReadOnly("topics.produce()");
	PreventCommandDuringRecovery("topics.produce()");
	return catalog_lookup_topic(PG_GETARG_TEXT_PP(0));
}

static bool
topic_is_named(TopicInfo *topic, text *name)
{
	int			len = VARSIZE_ANY_EXHDR(name);

	return len <= TOPIC_NAME_MAX && topic->name[len] == '\0' &&
		memcmp(topic->name, VARDATA_ANY(name), len) == 0;
}

/*
 * The topic argument of a per-record call: a call site names the same topic
 * on every row, so remember it and skip the cache look-up while it is valid.
 */
static TopicInfo *
cached_topic_argument(FunctionCallInfo fcinfo, ProduceCallState *cs)
{
	if (cs->topic == NULL || !cs->topic->valid || PG_ARGISNULL(0) ||
		XactReadOnly || !topic_is_named(cs->topic, PG_GETARG_TEXT_PP(0)))
		cs->topic = topic_argument(fcinfo);
	return cs->topic;
}

/*
 * The body shared by the produce overloads: arguments are (topic, value,
 * key, headers, partition, ts); value and key arrive as bytea here.
 */
static Datum
produce_common(FunctionCallInfo fcinfo, Datum value, bool value_null,
			   Datum key, bool key_null)
{
	ProduceCallState *cs = call_state(fcinfo);
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	TopicInfo  *topic;
	RecordInput in;
	int64		offset;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (cs->row_returned)
	{
		cs->row_returned = false;
		rsi->isDone = ExprEndResult;
		PG_RETURN_NULL();
	}

	topic = cached_topic_argument(fcinfo, cs);
	memset(&in, 0, sizeof(in));
	in.value_len = in.key_len = in.headers_len = -1;
	if (!value_null)
		read_bytes(value, &in.value, &in.value_len);
	if (!key_null)
		read_bytes(key, &in.key, &in.key_len);
	if (!PG_ARGISNULL(3))
		read_headers(PG_GETARG_DATUM(3), &in);
	in.partition = read_partition(fcinfo, 4);
	in.ts = read_timestamp(fcinfo, 5);

	values[0] = Int32GetDatum(produce_record(topic, &in, &offset));
	values[1] = Int64GetDatum(offset);

	cs->row_returned = true;
	rsi->isDone = ExprMultipleResult;
	return HeapTupleGetDatum(heap_form_tuple(result_desc(), values, nulls));
}

Datum
topics_produce(PG_FUNCTION_ARGS)
{
	return produce_common(fcinfo, PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

/* Text values and keys are stored as their bytes (server encoding). */
Datum
topics_produce_text(PG_FUNCTION_ARGS)
{
	return produce_common(fcinfo, PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

/* A jsonb value is stored as its JSON text; the key is text. */
Datum
topics_produce_jsonb(PG_FUNCTION_ARGS)
{
	Datum		value = (Datum) 0;

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *json = PG_GETARG_JSONB_P(1);

		value = CStringGetTextDatum(JsonbToCString(NULL, &json->root,
												   VARSIZE(json)));
	}
	return produce_common(fcinfo, value, PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

static Datum *
array_elements(FunctionCallInfo fcinfo, int argno, Oid elemtype, int expected,
			   bool **nulls, int *count)
{
	ArrayType  *array;
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*nulls = NULL;
	*count = 0;
	if (PG_ARGISNULL(argno))
		return NULL;
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("arrays of records must be one-dimensional")));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, nulls, count);
	if (expected >= 0 && *count != expected)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys and headers arrays must be as long as the values array"),
				 errdetail("There are %d values and %d elements in argument %d.",
						   expected, *count, argno + 1)));
	return elems;
}

/*
 * topics.produce_batch(topic, values bytea[], keys bytea[], headers jsonb[],
 * partition, ts): many records in one call; one result row per record.
 */
Datum
topics_produce_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	TopicInfo  *topic = topic_argument(fcinfo);
	Datum	   *values;
	Datum	   *keys;
	Datum	   *headers;
	bool	   *value_nulls;
	bool	   *key_nulls;
	bool	   *header_nulls;
	int			count;
	int			nkeys;
	int			nheaders;
	RecordInput in;

	InitMaterializedSRF(fcinfo, 0);
	values = array_elements(fcinfo, 1, BYTEAOID, -1, &value_nulls, &count);
	keys = array_elements(fcinfo, 2, BYTEAOID, count, &key_nulls, &nkeys);
	headers = array_elements(fcinfo, 3, JSONBOID, count, &header_nulls, &nheaders);

	memset(&in, 0, sizeof(in));
	in.partition = read_partition(fcinfo, 4);
	in.ts = read_timestamp(fcinfo, 5);
	for (int i = 0; i < count; i++)
	{
		Datum		result[2];
		bool		result_nulls[2] = {false, false};
		int64		offset;

		CHECK_FOR_INTERRUPTS();
		in.value = in.key = in.headers = NULL;
		in.value_len = in.key_len = in.headers_len = -1;
		if (!value_nulls[i])
			read_bytes(values[i], &in.value, &in.value_len);
		if (keys != NULL && !key_nulls[i])
			read_bytes(keys[i], &in.key, &in.key_len);
		if (headers != NULL && !header_nulls[i])
			read_headers(headers[i], &in);

		result[0] = Int32GetDatum(produce_record(topic, &in, &offset));
		result[1] = Int64GetDatum(offset);
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, result, result_nulls);
	}
	return (Datum) 0;
}

/*
 * Transition function of the aggregate topics.produce_all(topic, value
 * [, key [, headers]]): produces one record per input row and counts them.
 * A set goes straight from the scan into batches, without building an
 * array or returning a row per record.
 */
Datum
topics_produce_all_step(PG_FUNCTION_ARGS)
{
	int64		count = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	TopicInfo  *topic = fcinfo->flinfo->fn_extra;
	RecordInput in;
	int64		offset;
	int			nargs = PG_NARGS();

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("topics.produce_all_step can only be called by the aggregate topics.produce_all")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic name must not be null")));
	if (topic == NULL || !topic->valid ||
		!topic_is_named(topic, PG_GETARG_TEXT_PP(1)))
	{
		PreventCommandIfReadOnly("topics.produce_all()");
		PreventCommandDuringRecovery("topics.produce_all()");
		topic = catalog_lookup_topic(PG_GETARG_TEXT_PP(1));
		fcinfo->flinfo->fn_extra = topic;
	}

	memset(&in, 0, sizeof(in));
	in.partition = -1;
	in.value_len = in.key_len = in.headers_len = -1;
	in.ts = GetCurrentTransactionStartTimestamp();
	if (!PG_ARGISNULL(2))
		read_bytes(PG_GETARG_DATUM(2), &in.value, &in.value_len);
	if (nargs > 3 && !PG_ARGISNULL(3))
		read_bytes(PG_GETARG_DATUM(3), &in.key, &in.key_len);
	if (nargs > 4 && !PG_ARGISNULL(4))
		read_headers(PG_GETARG_DATUM(4), &in);

	(void) produce_record(topic, &in, &offset);
	PG_RETURN_INT64(count + 1);
}
