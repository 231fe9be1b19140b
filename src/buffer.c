/*-------------------------------------------------------------------------
 *
 * buffer.c
 *	  The per-transaction write buffer of the produce functions.
 *
 * A record gets its offset when it is produced (the caller sees it at once)
 * but is written when its batch is full or the transaction commits, so that
 * the records one transaction sends to one partition share few rows.  A
 * batch holds a contiguous run of offsets taken in one subtransaction: a
 * concurrent producer taking the next offset, or a savepoint, starts a new
 * batch.  A batch is written by the subtransaction that filled it, so a
 * rolled-back savepoint takes its written rows with it, and its buffered
 * batches are dropped here; the offsets it took stay unused (gaps are
 * allowed, I3).  At the end of the transaction each partition's in-flight
 * registration ends with the highest offset the transaction wrote.
 *
 * Two-phase commit is refused for a transaction that produced: its
 * in-flight registration lives in this backend's shared state and would
 * not survive the hand-over to a prepared transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "buffer.h"
#include "offsets.h"
#include "storage.h"

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
 * Takes the record's offset in the partition and buffers it for writing;
 * returns the offset (also set in record->offset).
 */
int64
buffer_add(TopicInfo *topic, int32 partition, BatchRecord *record)
{
	ProducerPartition *pp = producer_partition(topic, partition, &record->offset);

	buffer_record(pp, record);
	return record->offset;
}

/*
 * Whether the record still fits the open batch this transaction has for the
 * partition (true when there is none yet), were it to get the next offset.
 */
bool
buffer_has_room(TopicInfo *topic, int32 partition, const BatchRecord *record)
{
	ProducerPartition *pp = find_producer_partition(topic, partition);
	OpenBatch  *open;
	BatchRecord next;

	if (pp == NULL || pp->batches == NIL)
		return true;
	open = llast(pp->batches);
	next = *record;
	next.offset = open->writer.last_offset + 1;
	return open->writer.len +
		batch_encoded_size(&next, open->writer.base_offset,
						   open->writer.first_ts) <=
		Max(open->writer.capacity, STORAGE_BATCH_TARGET);
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
buffer_register_callbacks(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}

