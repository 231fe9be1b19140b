/*-------------------------------------------------------------------------
 *
 * pg_topics.h
 *	  Settings shared by the files of pg_topics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_H
#define PG_TOPICS_H

/* pg_topics.max_partitions: partition slots in shared memory */
extern int	pg_topics_max_partitions;

/* pg_topics.auto_offset_reset: where a group without an offset starts */
typedef enum AutoOffsetReset
{
	AUTO_OFFSET_RESET_LATEST,
	AUTO_OFFSET_RESET_EARLIEST
} AutoOffsetReset;

extern int	pg_topics_auto_offset_reset;

#endif							/* PG_TOPICS_H */
