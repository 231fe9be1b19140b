/*-------------------------------------------------------------------------
 *
 * groups.h
 *	  The consumer groups' hook into transaction events.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_GROUPS_H
#define PG_TOPICS_GROUPS_H

extern void groups_register_callbacks(void);

#endif							/* PG_TOPICS_GROUPS_H */
