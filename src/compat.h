/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every difference between the PostgreSQL versions pg_topics builds
 *	  against, in one place.  Version 15 is the baseline; 16 to 18 follow
 *	  through the branches here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_COMPAT_H
#define PG_TOPICS_COMPAT_H

#include "postgres.h"

#include "access/xlog.h"
#include "storage/proc.h"
#include "utils/acl.h"

#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#include "catalog/pg_proc.h"
#endif

#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

#if PG_VERSION_NUM < 150000
#error "pg_topics requires PostgreSQL 15 or later"
#endif

/* The WAL position known to be flushed to disk on this server. */
static inline XLogRecPtr
compat_flushed_lsn(void)
{
	return GetFlushRecPtr(NULL);
}

/* This backend's index among the PGPROC slots. */
#if PG_VERSION_NUM >= 170000
#define COMPAT_MY_PROC_NUMBER MyProcNumber
#else
#define COMPAT_MY_PROC_NUMBER (MyProc->pgprocno)
#endif

/* Whether the role has the privilege on the function. */
static inline AclResult
compat_function_aclcheck(Oid funcid, Oid roleid, AclMode mode)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ProcedureRelationId, funcid, roleid, mode);
#else
	return pg_proc_aclcheck(funcid, roleid, mode);
#endif
}

/* Whether the role owns the database (or is a superuser). */
static inline bool
compat_database_ownercheck(Oid dbid, Oid roleid)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(DatabaseRelationId, dbid, roleid);
#else
	return pg_database_ownercheck(dbid, roleid);
#endif
}

#endif							/* PG_TOPICS_COMPAT_H */
