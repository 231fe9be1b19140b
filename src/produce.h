/*-------------------------------------------------------------------------
 *
 * produce.h
 *	  The produce path's hooks into transaction events.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_PRODUCE_H
#define PG_TOPICS_PRODUCE_H

extern void produce_register_callbacks(void);

#endif							/* PG_TOPICS_PRODUCE_H */
