/*-------------------------------------------------------------------------
 *
 * buffer.h
 *	  The per-transaction write buffer of the produce functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_BUFFER_H
#define PG_TOPICS_BUFFER_H

#include "postgres.h"

#include "batch.h"
#include "catalog.h"

extern int64 buffer_add(TopicInfo *topic, int32 partition, BatchRecord *record);
extern bool buffer_has_room(TopicInfo *topic, int32 partition,
							const BatchRecord *record);
extern void buffer_register_callbacks(void);

#endif							/* PG_TOPICS_BUFFER_H */
