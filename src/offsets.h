/*-------------------------------------------------------------------------
 *
 * offsets.h
 *	  Offset counters, in-flight producers and the last stable offset of
 *	  every partition, kept in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_OFFSETS_H
#define PG_TOPICS_OFFSETS_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "storage/condition_variable.h"
#include "utils/timestamp.h"

typedef struct PartitionState PartitionState;

/* A partition's bounds as storage tells them, for a cold state. */
typedef struct StoredBounds
{
	int64		next_offset;	/* after the highest offset any row took */
	int64		committed_end;	/* after the highest offset a committed row took */
	int64		log_start_offset;
} StoredBounds;

typedef void (*StoredBoundsFunction) (void *arg, StoredBounds *bounds);

extern void offsets_install_hooks(void);
extern void offsets_check_loaded(void);

extern PartitionState *offsets_pin(Oid relid, int32 topic_id,
								   StoredBoundsFunction stored_bounds, void *arg);
extern int64 offsets_register(PartitionState *state, int64 count);
extern int64 offsets_take(PartitionState *state, int64 count);
extern void offsets_end_transaction(PartitionState *state, bool committed,
									int64 last_offset);
extern void offsets_unpin(PartitionState *state);
extern void offsets_release_pins(void);

extern int64 offsets_stable(PartitionState *state, int64 *high_watermark);
extern int64 offsets_log_start(PartitionState *state);
extern ConditionVariable *offsets_topic_arrivals(int32 topic_id);
extern bool offsets_sleep_until(ConditionVariable *cv, TimestampTz deadline,
								long max_ms);
extern int64 offsets_wait_beyond(PartitionState *state, int64 from_offset,
								 long timeout_ms);

#endif							/* PG_TOPICS_OFFSETS_H */
