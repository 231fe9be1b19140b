/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  A backend-local cache of topic metadata, so that produce and fetch
 *	  find a topic's id, partition count, limits and tables without SQL.
 *
 * The cache is filled from topics.topic_meta on a miss (the only place that
 * runs SQL, and never on the hot path).  Entries are never freed, only
 * marked invalid, so callers may keep pointers to them; a relcache
 * invalidation of a topic's tables marks its entry invalid, and the next
 * lookup reloads it.  alter_topic and drop_topic change the tables or send
 * such an invalidation, so every backend sees the change at its next
 * command.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "catalog.h"

static HTAB *topic_cache = NULL;
static Oid	schema_oid = InvalidOid;

static void
invalidate_topics(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS scan;
	TopicInfo  *topic;

	hash_seq_init(&scan, topic_cache);
	while ((topic = hash_seq_search(&scan)) != NULL)
	{
		if (relid == InvalidOid || relid == topic->relid)
			topic->valid = false;
		else
			for (int i = 0; i < topic->partitions && topic->valid; i++)
				if (topic->partition_relids[i] == relid)
					topic->valid = false;
	}
	if (relid == InvalidOid)
		schema_oid = InvalidOid;
}

/* A role or a role membership changed: forget every grant found. */
static void
forget_allowed_users(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	TopicInfo  *topic;

	hash_seq_init(&scan, topic_cache);
	while ((topic = hash_seq_search(&scan)) != NULL)
	{
		topic->insert_allowed_user = InvalidOid;
		topic->select_allowed_user = InvalidOid;
	}
}

static void
init_cache(void)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = TOPIC_NAME_MAX + 1;
	info.entrysize = sizeof(TopicInfo);
	info.hcxt = CacheMemoryContext;
	topic_cache = hash_create("pg_topics topic cache", 64, &info,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(invalidate_topics, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_allowed_users, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, forget_allowed_users, (Datum) 0);
}

Oid
catalog_schema_oid(void)
{
	if (!OidIsValid(schema_oid))
		schema_oid = get_namespace_oid("topics", false);
	return schema_oid;
}

/* A table or index of schema topics, which must exist. */
Oid
catalog_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, catalog_schema_oid());

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"topics.%s\" is missing", name),
				 errhint("The extension's objects were changed by hand; a topic's tables can be recreated by dropping and creating the topic.")));
	return relid;
}

static void
topic_not_found(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("topic \"%s\" does not exist", name),
			 errhint("Create it with topics.create_topic().")));
}

/* Reads the topic's row from topics.topic_meta and finds its tables. */
static void
load_topic(TopicInfo *topic)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	int32		partitions;

	args[0] = CStringGetTextDatum(topic->name);
	SPI_connect();
	if (SPI_execute_with_args("SELECT id, partitions, max_message_bytes"
							  " FROM topics.topic_meta WHERE name = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read topics.topic_meta");
	if (SPI_processed == 0)
	{
		SPI_finish();
		topic_not_found(topic->name);
	}
	topic->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	partitions = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
	topic->max_message_bytes =
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 3, &isnull));
	SPI_finish();

	topic->relid = catalog_relid(psprintf("topic_%d", topic->id));
	if (topic->partition_relids != NULL)
		pfree(topic->partition_relids);
	topic->partition_relids = MemoryContextAlloc(CacheMemoryContext,
												 sizeof(Oid) * partitions);
	topic->partitions = partitions;
	for (int i = 0; i < partitions; i++)
		topic->partition_relids[i] = catalog_relid(psprintf("topic_%d_p%d",
														topic->id, i));
	topic->sticky_lxid = InvalidLocalTransactionId;
	topic->insert_allowed_user = InvalidOid;
	topic->select_allowed_user = InvalidOid;
}

/*
 * Returns the cached metadata of a topic, loading it if needed; raises an
 * error for an unknown topic.
 */
TopicInfo *
catalog_lookup_topic(text *name)
{
	char		key[TOPIC_NAME_MAX + 1];
	int			len = VARSIZE_ANY_EXHDR(name);
	TopicInfo  *topic;
	bool		found;

	if (len == 0 || len > TOPIC_NAME_MAX)
		topic_not_found(text_to_cstring(name));
	memset(key, 0, sizeof(key));
	memcpy(key, VARDATA_ANY(name), len);

	if (topic_cache == NULL)
		init_cache();
	topic = hash_search(topic_cache, key, HASH_ENTER, &found);
	if (!found)
	{
		topic->valid = false;
		topic->id = 0;
		topic->relid = InvalidOid;
		topic->partitions = 0;
		topic->partition_relids = NULL;
	}
	if (!topic->valid)
	{
		/* mark valid first: an invalidation during the load must win */
		topic->valid = true;
		PG_TRY();
		{
			load_topic(topic);
		}
		PG_CATCH();
		{
			/*
			 * A name seen for the first time leaves no entry behind, so that
			 * unknown names do not fill the cache; a known entry stays
			 * (callers may hold it), invalid.
			 */
			topic->valid = false;
			if (!found)
				hash_search(topic_cache, key, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return topic;
}

/* The table that stores one partition; an error when it does not exist. */
Oid
catalog_partition_relid(TopicInfo *topic, int32 partition)
{
	if (partition < 0 || partition >= topic->partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition %d of topic \"%s\" does not exist",
						partition, topic->name),
				 errdetail_plural("The topic has %d partition, numbered from 0.",
								  "The topic has %d partitions, numbered from 0.",
								  topic->partitions, topic->partitions)));
	return topic->partition_relids[partition];
}

/*
 * Producing needs INSERT and fetching SELECT on the topic's table, so that
 * GRANT and REVOKE on topics.topic_<id> govern who may do what.  A grant
 * found is remembered for the user until the topic's entry is reloaded,
 * which a GRANT or REVOKE on the table causes (it invalidates the table's
 * relcache entry), a change of role membership or of a role's attributes.
 */
void
catalog_check_access(TopicInfo *topic, AclMode mode)
{
	Oid			user = GetUserId();
	Oid		   *allowed = mode == ACL_INSERT ? &topic->insert_allowed_user :
		&topic->select_allowed_user;

	if (*allowed == user && topic->valid)
		return;
	if (pg_class_aclcheck(topic->relid, user, mode) == ACLCHECK_OK)
	{
		*allowed = user;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for topic \"%s\"", topic->name),
			 errhint("%s privilege on table topics.topic_%d is needed.",
					 mode == ACL_INSERT ? "INSERT" : "SELECT", topic->id)));
}

PG_FUNCTION_INFO_V1(topics_topic_changed);

/*
 * topics.topic_changed(regclass): tells every backend to reload the
 * metadata of the topic stored in the given table (after alter_topic).
 */
Datum
topics_topic_changed(PG_FUNCTION_ARGS)
{
	CacheInvalidateRelcacheByRelid(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}
