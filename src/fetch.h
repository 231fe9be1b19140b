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

/* A partition opened for reading: the topic, its table and offset state. */
typedef struct ReadTarget
{
	TopicInfo  *topic;
	PartitionRef ref;
	PartitionState *state;
} ReadTarget;

extern void fetch_require_argument(FunctionCallInfo fcinfo, int argno,
								   const char *name);
extern long fetch_wait_milliseconds(Interval *wait);
extern void fetch_open_target(TopicInfo *topic, int32 partition,
							  ReadTarget *target);
extern int32 fetch_read_records(ReadTarget *target, Datum topic_name,
								int64 from_offset, int64 stable,
								int32 max_records, int64 max_bytes,
								ReturnSetInfo *rsi, int64 *last_offset);

#endif							/* PG_TOPICS_FETCH_H */
