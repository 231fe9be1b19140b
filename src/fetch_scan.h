/*-------------------------------------------------------------------------
 *
 * fetch_scan.h
 *	  The streaming scan for topics.fetch in FROM.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_FETCH_SCAN_H
#define PG_TOPICS_FETCH_SCAN_H

extern PGDLLIMPORT bool pg_topics_enable_fetch_scan;

extern void fetch_scan_install(void);

#endif							/* PG_TOPICS_FETCH_SCAN_H */
