/*-------------------------------------------------------------------------
 *
 * partitioner.h
 *	  Which partition a keyed record goes to, as Kafka's default
 *	  partitioner decides it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_PARTITIONER_H
#define PG_TOPICS_PARTITIONER_H

#include "c.h"

extern int32 kafka_murmur2(const char *data, size_t len);
extern int32 partition_for_key(const char *key, size_t len, int32 partitions);

#endif							/* PG_TOPICS_PARTITIONER_H */
