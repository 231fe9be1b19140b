/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background workers' entry points for _PG_init.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_WORKER_H
#define PG_TOPICS_WORKER_H

extern int	pg_topics_worker_naptime;

extern void worker_install(void);

#endif							/* PG_TOPICS_WORKER_H */
