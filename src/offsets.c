/*-------------------------------------------------------------------------
 *
 * offsets.c
 *	  Offset counters, in-flight producers and the last stable offset.
 *
 * Every partition that is in use has a PartitionState in a shared hash
 * table.  It owns the partition's next offset and the list of transactions
 * that took offsets in it and have not ended yet ("in flight").  The last
 * stable offset (LSO) is the smallest first offset of those transactions, or
 * the committed end (one past the highest offset a committed transaction
 * wrote) when there are none.  Readers serve only records below
 * the LSO and read them with a snapshot taken after computing it, which is
 * what makes invariant I1 (no skip) hold:
 *
 *	- a producer registers its first offset under the state's lock before it
 *	  takes any offset, so the LSO never passes a transaction that may still
 *	  write below it;
 *	- the entry is removed only after the transaction is visible to new
 *	  snapshots (the commit callback runs after ProcArrayEndTransaction), so
 *	  everything below an LSO is visible to a snapshot taken afterwards.
 *
 * A commit that is not yet flushed (synchronous_commit = off) stays in the
 * list, marked with its commit LSN, until the WAL is flushed past it; a
 * reader that meets one flushes the WAL itself.  Records are therefore
 * served only once their commit is durable, and a crash can never take back
 * a record a consumer has seen (I2, I4).
 *
 * After a restart the counters are gone; a state is initialised from
 * storage: the next offset from the highest offset any stored row holds,
 * the committed end from the highest a committed row holds (I2).  Offsets
 * only aborted transactions held may be taken again once their rows are
 * gone: the stable offset and the high watermark never pass them, so no
 * reader ever saw past them.  When the list fills with commits awaiting a
 * flush, they are merged into one entry rather than flushed by a producer.
 *
 * Pins keep a state from being evicted while a backend uses it: a producer
 * holds its pin until its transaction ends, a reader until its call ends.
 * An idle state (no pins, nothing in flight) may be evicted to make room
 * and is re-initialised from storage on next use.  States are not used on
 * a standby, which could not keep them current.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "offsets.h"
#include "pg_topics.h"

/*
 * A partition is known by its table: a dropped topic's states are never
 * found again, even by a new topic that gets the same id.
 */
typedef struct PartitionStateKey
{
	Oid			dbid;
	Oid			relid;
} PartitionStateKey;

#define NO_OWNER (-1)

typedef struct InFlight
{
	int64		first_offset;
	int			owner;			/* PGPROC number, NO_OWNER once committed */
	XLogRecPtr	commit_lsn;		/* set once committed, awaiting WAL flush */
} InFlight;

struct PartitionState
{
	PartitionStateKey key;		/* hash key, must be first */
	int32		topic_id;
	LWLock		lock;			/* protects everything below but the atomics */
	pg_atomic_uint64 next_offset;
	pg_atomic_uint32 pins;
	bool		initialized;
	int64		committed_end;	/* 1 + the highest offset a commit took */
	int64		log_start_offset;
	int			ninflight;
	ConditionVariable records_arrived;
	InFlight	inflight[FLEXIBLE_ARRAY_MEMBER];
};

/*
 * Consumers of a whole topic wait on one of these, chosen by topic id, so
 * that a commit to any partition of the topic wakes them.
 */
#define TOPIC_WAKEUPS 64

typedef struct OffsetsShared
{
	LWLock	   *hash_lock;		/* protects the hash table's membership */
	int			tranche_id;
	ConditionVariable topic_arrivals[TOPIC_WAKEUPS];
} OffsetsShared;

static OffsetsShared *shared = NULL;
static HTAB *partition_states = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * States this backend pinned: each holds one shared pin however often this
 * backend pinned it; the count says how many of its uses still hold it.
 */
typedef struct LocalPin
{
	PartitionState *state;
	int			uses;
} LocalPin;

static LocalPin *pinned = NULL;
static int	npinned = 0;
static int	pinned_capacity = 0;

static int
inflight_capacity(void)
{
	/* one running transaction per backend, as many again awaiting flush */
	return 2 * MaxBackends;
}

static Size
partition_state_size(void)
{
	return add_size(offsetof(PartitionState, inflight),
					mul_size(sizeof(InFlight), inflight_capacity()));
}

static void
offsets_request_memory(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(OffsetsShared)),
									hash_estimate_size(pg_topics_max_partitions,
													   partition_state_size())));
	RequestNamedLWLockTranche("pg_topics", 1);
}

static void
offsets_init_memory(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_topics offsets", sizeof(OffsetsShared), &found);
	if (!found)
	{
		shared->hash_lock = &(GetNamedLWLockTranche("pg_topics"))->lock;
		shared->tranche_id = LWLockNewTrancheId();
		for (int i = 0; i < TOPIC_WAKEUPS; i++)
			ConditionVariableInit(&shared->topic_arrivals[i]);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PartitionStateKey);
	info.entrysize = partition_state_size();
	partition_states = ShmemInitHash("pg_topics partition states",
									 pg_topics_max_partitions,
									 pg_topics_max_partitions,
									 &info,
									 HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
	LWLockRegisterTranche(shared->tranche_id, "pg_topics_partition");
}

void
offsets_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = offsets_request_memory;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = offsets_init_memory;
}

void
offsets_check_loaded(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_topics must be loaded via shared_preload_libraries"),
				 errhint("Add pg_topics to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Drops committed entries whose commit record is now on disk. */
static void
forget_flushed_commits(PartitionState *state, XLogRecPtr flushed)
{
	int			i = 0;

	while (i < state->ninflight)
	{
		InFlight   *entry = &state->inflight[i];

		if (entry->owner == NO_OWNER && entry->commit_lsn <= flushed)
			state->inflight[i] = state->inflight[--state->ninflight];
		else
			i++;
	}
}

/*
 * Removes one state that nobody uses; the caller holds hash_lock
 * exclusively.  A state whose only entries are commits awaiting a WAL flush
 * is idle once the WAL is flushed, so the second pass flushes it.
 */
static bool
evict_idle_state(void)
{
	for (int pass = 0; pass < 2; pass++)
	{
		XLogRecPtr	flushed = compat_flushed_lsn();
		HASH_SEQ_STATUS scan;
		PartitionState *state;

		hash_seq_init(&scan, partition_states);
		while ((state = hash_seq_search(&scan)) != NULL)
		{
			bool		idle;

			if (pg_atomic_read_u32(&state->pins) != 0)
				continue;
			LWLockAcquire(&state->lock, LW_EXCLUSIVE);
			forget_flushed_commits(state, flushed);
			idle = state->ninflight == 0;
			LWLockRelease(&state->lock);
			if (idle)
			{
				hash_seq_term(&scan);
				hash_search(partition_states, &state->key, HASH_REMOVE, NULL);
				return true;
			}
		}
		if (pass == 0)
			XLogFlush(GetXLogInsertRecPtr());
	}
	return false;
}

static LocalPin *
my_pin(PartitionState *state)
{
	for (int i = npinned - 1; i >= 0; i--)
		if (pinned[i].state == state)
			return &pinned[i];
	return NULL;
}

/* Makes room to remember one more pin, before any lock is taken. */
static void
reserve_pin_slot(void)
{
	int			capacity;

	if (npinned < pinned_capacity)
		return;
	capacity = Max(8, pinned_capacity * 2);
	if (pinned == NULL)
		pinned = MemoryContextAlloc(TopMemoryContext, capacity * sizeof(LocalPin));
	else
		pinned = repalloc(pinned, capacity * sizeof(LocalPin));
	pinned_capacity = capacity;
}

/* Counts a use of the state; the first one takes the shared pin. */
static void
use_pin(PartitionState *state)
{
	LocalPin   *pin = my_pin(state);

	if (pin != NULL)
	{
		pin->uses++;
		return;
	}
	Assert(npinned < pinned_capacity);
	pg_atomic_fetch_add_u32(&state->pins, 1);
	pinned[npinned].state = state;
	pinned[npinned].uses = 1;
	npinned++;
}

static PartitionState *
find_or_create_state(const PartitionStateKey *key, int32 topic_id)
{
	PartitionState *state;
	bool		found;

	reserve_pin_slot();
	LWLockAcquire(shared->hash_lock, LW_SHARED);
	state = hash_search(partition_states, key, HASH_FIND, NULL);
	if (state != NULL)
	{
		use_pin(state);
		LWLockRelease(shared->hash_lock);
		return state;
	}
	LWLockRelease(shared->hash_lock);

	LWLockAcquire(shared->hash_lock, LW_EXCLUSIVE);
	state = hash_search(partition_states, key, HASH_ENTER_NULL, &found);
	if (state == NULL && evict_idle_state())
		state = hash_search(partition_states, key, HASH_ENTER_NULL, &found);
	if (state == NULL)
	{
		LWLockRelease(shared->hash_lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many partitions in use at once"),
				 errdetail("Every one of the %d partition slots in shared memory is in use.",
						   pg_topics_max_partitions),
				 errhint("Raise pg_topics.max_partitions and restart the server.")));
	}
	if (!found)
	{
		state->topic_id = topic_id;
		LWLockInitialize(&state->lock, shared->tranche_id);
		pg_atomic_init_u64(&state->next_offset, 0);
		state->committed_end = 0;
		pg_atomic_init_u32(&state->pins, 0);
		state->initialized = false;
		state->log_start_offset = 0;
		state->ninflight = 0;
		ConditionVariableInit(&state->records_arrived);
	}
	use_pin(state);
	LWLockRelease(shared->hash_lock);
	return state;
}

/*
 * Finds the state of the partition stored in table relid, creating it if
 * needed, and pins it (once per backend).  A cold state learns its next
 * offset from stored_bounds, which reads the partition's table.
 */
PartitionState *
offsets_pin(Oid relid, int32 topic_id, StoredBoundsFunction stored_bounds,
			void *arg)
{
	PartitionStateKey key;
	PartitionState *state;

	offsets_check_loaded();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_topics cannot read topics on a standby"),
				 errdetail("A standby does not know which records its primary has made stable."),
				 errhint("Read from the primary.")));
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	state = find_or_create_state(&key, topic_id);

	if (!state->initialized)
	{
		StoredBounds bounds;

		/*
		 * Read storage without holding the lock (it may run SQL).  Nobody
		 * takes offsets from an uninitialised state, so whichever backend
		 * stores its reading first stores a correct one.
		 */
		stored_bounds(arg, &bounds);
		LWLockAcquire(&state->lock, LW_EXCLUSIVE);
		if (!state->initialized)
		{
			pg_atomic_write_u64(&state->next_offset, bounds.next_offset);
			state->committed_end = bounds.committed_end;
			state->log_start_offset = bounds.log_start_offset;
			state->initialized = true;
		}
		LWLockRelease(&state->lock);
	}
	return state;
}

/*
 * Makes room in a list full of commits awaiting a WAL flush (only they can
 * fill it: each backend has one running transaction) by merging them into
 * one entry that holds the lowest of their offsets until the latest of
 * their commit records is flushed.  That holds the stable offset back no
 * longer than the entries it replaces, and spares the producer a flush.
 */
static void
merge_pending_commits(PartitionState *state)
{
	InFlight	merged = {PG_INT64_MAX, NO_OWNER, InvalidXLogRecPtr};
	int			i = 0;

	while (i < state->ninflight)
	{
		InFlight   *entry = &state->inflight[i];

		if (entry->owner == NO_OWNER)
		{
			merged.first_offset = Min(merged.first_offset, entry->first_offset);
			merged.commit_lsn = Max(merged.commit_lsn, entry->commit_lsn);
			state->inflight[i] = state->inflight[--state->ninflight];
		}
		else
			i++;
	}
	state->inflight[state->ninflight++] = merged;
}

/*
 * Registers this backend's transaction as in flight in the partition and
 * takes its first count offsets; returns the first.  Called once per
 * transaction and partition; later offsets come from offsets_take.
 */
int64
offsets_register(PartitionState *state, int64 count)
{
	int64		first;

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	if (state->ninflight == inflight_capacity())
	{
		forget_flushed_commits(state, compat_flushed_lsn());
		if (state->ninflight == inflight_capacity())
			merge_pending_commits(state);
		if (state->ninflight == inflight_capacity())
			elog(ERROR, "in-flight list of a partition is full of running transactions");
	}

	first = pg_atomic_fetch_add_u64(&state->next_offset, count);
	state->inflight[state->ninflight].first_offset = first;
	state->inflight[state->ninflight].owner = COMPAT_MY_PROC_NUMBER;
	state->inflight[state->ninflight].commit_lsn = InvalidXLogRecPtr;
	state->ninflight++;
	LWLockRelease(&state->lock);
	return first;
}

/* Takes further offsets for a transaction already registered. */
int64
offsets_take(PartitionState *state, int64 count)
{
	return pg_atomic_fetch_add_u64(&state->next_offset, count);
}

/*
 * Ends this backend's registration in the partition; last_offset is the
 * highest offset the transaction took there.  Runs from the transaction
 * callbacks, after the transaction became visible (or certainly invisible),
 * so it must not fail.
 */
void
offsets_end_transaction(PartitionState *state, bool committed,
						int64 last_offset)
{
	XLogRecPtr	commit_lsn = XactLastCommitEnd;
	bool		durable = !committed || commit_lsn <= compat_flushed_lsn();

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	if (committed)
		state->committed_end = Max(state->committed_end, last_offset + 1);
	for (int i = 0; i < state->ninflight; i++)
	{
		InFlight   *entry = &state->inflight[i];

		if (entry->owner != COMPAT_MY_PROC_NUMBER)
			continue;
		if (durable)
			state->inflight[i] = state->inflight[--state->ninflight];
		else
		{
			entry->owner = NO_OWNER;
			entry->commit_lsn = commit_lsn;
		}
		break;
	}
	LWLockRelease(&state->lock);
	ConditionVariableBroadcast(&state->records_arrived);
	ConditionVariableBroadcast(offsets_topic_arrivals(state->topic_id));
}

/*
 * The condition variable broadcast whenever a transaction that produced to
 * the topic ends (other topics may share it).
 */
ConditionVariable *
offsets_topic_arrivals(int32 topic_id)
{
	offsets_check_loaded();
	return &shared->topic_arrivals[(uint32) topic_id % TOPIC_WAKEUPS];
}

/*
 * Ends one use of a pinned state before the end of the transaction
 * (readers do); the shared pin goes with the last use, so a reader cannot
 * take away the pin of this transaction's producer.
 */
void
offsets_unpin(PartitionState *state)
{
	LocalPin   *pin = my_pin(state);

	if (pin == NULL || --pin->uses > 0)
		return;
	pg_atomic_fetch_sub_u32(&state->pins, 1);
	*pin = pinned[--npinned];
}

void
offsets_release_pins(void)
{
	for (int i = 0; i < npinned; i++)
		pg_atomic_fetch_sub_u32(&pinned[i].state->pins, 1);
	npinned = 0;
}

/*
 * Returns the last stable offset: every committed record below it is
 * durable and visible to a snapshot taken after this call returns, and no
 * record below it can appear later.  Also reports the high watermark: the
 * end of the committed log.
 *
 * Both stop at the highest offset a commit took, never at offsets that only
 * aborted transactions held: those are not stored anywhere, so a counter
 * re-initialised from storage (after a restart or an eviction) may hand them
 * out again, and a consumer parked at an offset above them would skip the
 * records that get them.
 */
int64
offsets_stable(PartitionState *state, int64 *high_watermark)
{
	for (;;)
	{
		XLogRecPtr	flushed = compat_flushed_lsn();
		XLogRecPtr	must_flush = InvalidXLogRecPtr;
		int64		end;
		int64		stable;

		LWLockAcquire(&state->lock, LW_SHARED);
		end = state->committed_end;
		stable = end;
		for (int i = 0; i < state->ninflight; i++)
		{
			InFlight   *entry = &state->inflight[i];

			if (entry->owner == NO_OWNER && entry->commit_lsn <= flushed)
				continue;
			if (entry->owner == NO_OWNER)
				must_flush = Max(must_flush, entry->commit_lsn);
			stable = Min(stable, entry->first_offset);
		}
		LWLockRelease(&state->lock);

		if (must_flush == InvalidXLogRecPtr)
		{
			if (high_watermark)
				*high_watermark = end;
			return stable;
		}
		/* a commit below is not on disk yet: make it durable, then look again */
		XLogFlush(must_flush);
	}
}

/*
 * Sleeps on a condition variable the caller prepared to sleep on, at most
 * max_ms at a time and never past the deadline; false once the deadline
 * has passed, without sleeping.
 */
bool
offsets_sleep_until(ConditionVariable *cv, TimestampTz deadline, long max_ms)
{
	long		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															deadline);

	if (remaining <= 0)
		return false;
	ConditionVariableTimedSleep(cv, Min(remaining, max_ms), PG_WAIT_EXTENSION);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/*
 * Waits until the last stable offset passes from_offset or timeout_ms
 * elapses, and returns the last stable offset.  Woken by the commits and
 * aborts of producing transactions, not by polling.
 */
int64
offsets_wait_beyond(PartitionState *state, int64 from_offset, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	int64		stable;

	ConditionVariablePrepareToSleep(&state->records_arrived);
	do
		stable = offsets_stable(state, NULL);
	while (stable <= from_offset &&
		   offsets_sleep_until(&state->records_arrived, deadline, timeout_ms));
	ConditionVariableCancelSleep();
	return stable;
}

/* The first offset still stored in the partition. */
int64
offsets_log_start(PartitionState *state)
{
	int64		log_start;

	LWLockAcquire(&state->lock, LW_SHARED);
	log_start = state->log_start_offset;
	LWLockRelease(&state->lock);
	return log_start;
}
