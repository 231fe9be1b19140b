/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  What the C code knows about topics: a backend-local cache of the
 *	  rows of topics.topic_meta and of the tables that store each topic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_CATALOG_H
#define PG_TOPICS_CATALOG_H

#include "postgres.h"

#include "utils/acl.h"

#define TOPIC_NAME_MAX 249

typedef struct TopicInfo
{
	char		name[TOPIC_NAME_MAX + 1];	/* hash key */
	bool		valid;			/* false once an invalidation hit it */
	int32		id;
	Oid			relid;			/* the partitioned table of the topic */
	int32		partitions;
	int32		max_message_bytes;
	Oid		   *partition_relids;	/* one table per partition */

	/* the last user found allowed to produce and to fetch (until reload) */
	Oid			insert_allowed_user;
	Oid			select_allowed_user;

	/* keyless records stick to one partition per transaction and batch */
	int32		sticky_partition;
	LocalTransactionId sticky_lxid;
} TopicInfo;

extern TopicInfo *catalog_lookup_topic(text *name);
extern Oid	catalog_partition_relid(TopicInfo *topic, int32 partition);
extern void catalog_check_access(TopicInfo *topic, AclMode mode);
extern Oid	catalog_schema_oid(void);
extern Oid	catalog_relid(const char *name);

#endif							/* PG_TOPICS_CATALOG_H */
