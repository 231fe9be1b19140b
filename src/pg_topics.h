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

#endif							/* PG_TOPICS_H */
