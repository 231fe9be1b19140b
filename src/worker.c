/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background workers: a launcher, and one worker per database that
 *	  has the extension, which runs the periodic jobs.
 *
 * The launcher looks at the list of databases every few seconds and starts
 * a worker for each one that has none.  A worker that finds no pg_topics in
 * its database exits at once and is started again only after
 * WORKER_RECHECK_SECONDS, or at once by topics.start_worker() (CREATE
 * EXTENSION calls it).  A worker that stops or fails in a database that has
 * the extension is started again at the launcher's next look; a crash
 * restarts everything.  The launcher is a static worker the postmaster
 * restarts; it alone restarts database workers, so that the worker of a
 * dropped database is not restarted.
 *
 * DROP DATABASE, CREATE DATABASE from a template, and ALTER DATABASE's
 * RENAME TO and SET TABLESPACE refuse to run while another session is
 * connected to the database.  A utility hook therefore stops the database's
 * worker before such a statement and keeps the launcher from starting
 * another for WORKER_STAND_ASIDE_MS, long enough for the statement to lock
 * the database against new connections.  It does so only for the
 * database's owner (or a superuser) and where the statement may run, so
 * that nobody else can keep a database's worker down by issuing
 * statements that fail.
 *
 * Each database has at most one worker: a worker claims its database's
 * slot in shared memory first and leaves if another live worker holds it.
 * Every job is one transaction and idempotent, so a worker can be stopped
 * between any two statements and the next pass repairs the state.
 *
 * Jobs: expire group members whose session timed out, which rebalances
 * their groups (topics.expire_members).  The pause between passes is
 * pg_topics.worker_naptime, shortened so that a member is expired soon
 * after its session timeout.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pg_topics.h"
#include "worker.h"

PGDLLEXPORT void pg_topics_launcher_main(Datum arg);
PGDLLEXPORT void pg_topics_worker_main(Datum arg);

PG_FUNCTION_INFO_V1(topics_start_worker);

#define MAX_WORKER_DATABASES 256
#define LAUNCHER_NAPTIME_MS 5000
#define WORKER_RECHECK_SECONDS 30
#define WORKER_MIN_PAUSE_MS 100
/* a new worker waits this long for a CREATE EXTENSION still committing */
#define WORKER_GRACE_MS 10000
/* no worker starts in a database for this long after a statement needed it gone */
#define WORKER_STAND_ASIDE_MS 10000

typedef struct WorkerSlot
{
	Oid			dbid;
	pid_t		pid;
	TimestampTz started_at;		/* when the launcher last started one */
	TimestampTz stand_aside_until;	/* no worker before then */
	bool		has_extension;	/* its last worker found pg_topics there */
} WorkerSlot;

typedef struct WorkerShared
{
	LWLock	   *lock;
	WorkerSlot	slots[MAX_WORKER_DATABASES];
} WorkerShared;

int			pg_topics_worker_naptime = 1000;

static WorkerShared *worker_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static void stop_workers_for_database_commands(PlannedStmt *pstmt,
											   const char *queryString,
											   bool readOnlyTree,
											   ProcessUtilityContext context,
											   ParamListInfo params,
											   QueryEnvironment *queryEnv,
											   DestReceiver *dest,
											   QueryCompletion *qc);

static void
worker_request_memory(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
	RequestNamedLWLockTranche("pg_topics_worker", 1);
}

static void
worker_init_memory(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("pg_topics workers", sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		worker_shared->lock = &(GetNamedLWLockTranche("pg_topics_worker"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_topics");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pg_topics_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_topics launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_topics launcher");
	RegisterBackgroundWorker(&worker);
}

/* Called from _PG_init when preloading: settings, memory, the launcher. */
void
worker_install(void)
{
	DefineCustomIntVariable("pg_topics.worker_naptime",
							"Pause between two passes of the pg_topics background worker.",
							"A pass expires group members whose session timed out.",
							&pg_topics_worker_naptime,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_request_memory;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_init_memory;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = stop_workers_for_database_commands;
	register_launcher();
}

static WorkerSlot *
find_slot(Oid dbid, bool create)
{
	WorkerSlot *free_slot = NULL;

	for (int i = 0; i < MAX_WORKER_DATABASES; i++)
	{
		WorkerSlot *slot = &worker_shared->slots[i];

		if (slot->dbid == dbid)
			return slot;
		if (slot->dbid == InvalidOid && free_slot == NULL)
			free_slot = slot;
	}
	if (create && free_slot != NULL)
	{
		free_slot->dbid = dbid;
		free_slot->pid = 0;
		free_slot->started_at = 0;
		free_slot->stand_aside_until = 0;
		free_slot->has_extension = false;
	}
	return create ? free_slot : NULL;
}

/*
 * Starts a worker for the database; false if none could be registered.
 * With wait_for_extension, the worker gives a CREATE EXTENSION that is
 * still committing WORKER_GRACE_MS to appear.
 */
static bool
start_database_worker(Oid dbid, bool wait_for_extension)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher does */
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	worker.bgw_notify_pid = 0;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_topics");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pg_topics_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_topics worker for database %u", dbid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_topics worker");
	memcpy(worker.bgw_extra, &wait_for_extension, sizeof(bool));
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/*
 * Starts a worker for the database unless one runs, or one was started
 * within recheck_seconds and found no pg_topics there.  A worker that was
 * working (it found the extension) is replaced at once.
 */
static void
ensure_database_worker(Oid dbid, int recheck_seconds, bool wait_for_extension)
{
	WorkerSlot *slot;
	bool		start = false;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dbid, true);
	if (slot != NULL && slot->pid == 0 && slot->stand_aside_until <= now &&
		(slot->has_extension ||
		 TimestampDifferenceExceeds(slot->started_at, now, recheck_seconds * 1000)))
	{
		slot->started_at = now;
		start = true;
	}
	LWLockRelease(worker_shared->lock);
	if (start && !start_database_worker(dbid, wait_for_extension))
		ereport(LOG,
				(errmsg("pg_topics could not start a worker for database %u", dbid),
				 errhint("Raise max_worker_processes.")));
}

/* The databases that allow connections, in the caller's memory context. */
/* Frees the slots of databases that no longer exist. */
static void
forget_dropped_databases(List *databases)
{
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < MAX_WORKER_DATABASES; i++)
	{
		WorkerSlot *slot = &worker_shared->slots[i];

		if (slot->dbid != InvalidOid && slot->pid == 0 &&
			!list_member_oid(databases, slot->dbid))
			slot->dbid = InvalidOid;
	}
	LWLockRelease(worker_shared->lock);
}

static List *
list_databases(void)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *databases = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext outer = MemoryContextSwitchTo(caller);

			databases = lappend_oid(databases, db->oid);
			MemoryContextSwitchTo(outer);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return databases;
}

void
pg_topics_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pg_topics launcher");

	for (;;)
	{
		List	   *databases;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		databases = list_databases();
		forget_dropped_databases(databases);
		foreach(lc, databases)
			ensure_database_worker(lfirst_oid(lc), WORKER_RECHECK_SECONDS, false);
		list_free(databases);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_NAPTIME_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
release_slot(int code, Datum arg)
{
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < MAX_WORKER_DATABASES; i++)
		if (worker_shared->slots[i].pid == MyProcPid)
			worker_shared->slots[i].pid = 0;
	LWLockRelease(worker_shared->lock);
}

/* Claims the database's slot; false when another live worker holds it. */
static bool
claim_slot(Oid dbid)
{
	WorkerSlot *slot;
	bool		claimed = false;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dbid, true);
	if (slot != NULL && slot->stand_aside_until <= GetCurrentTimestamp() &&
		(slot->pid == 0 || (kill(slot->pid, 0) != 0 && errno == ESRCH)))
	{
		slot->pid = MyProcPid;
		claimed = true;
	}
	LWLockRelease(worker_shared->lock);
	if (claimed)
		before_shmem_exit(release_slot, (Datum) 0);
	return claimed;
}

static void
set_has_extension(Oid dbid, bool has_extension)
{
	WorkerSlot *slot;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dbid, false);
	if (slot != NULL)
		slot->has_extension = has_extension;
	LWLockRelease(worker_shared->lock);
}

/*
 * One pass of the jobs, in a transaction of its own.  Returns the pause
 * before the next pass in milliseconds, or -1 when the extension is not
 * installed in this database.
 */
static long
run_jobs(void)
{
	long		pause = pg_topics_worker_naptime;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "expiring group members");
	if (!OidIsValid(get_extension_oid("pg_topics", true)))
		pause = -1;
	else
	{
		bool		isnull;
		Datum		until_next;

		SPI_connect();
		if (SPI_execute("SELECT (extract(epoch FROM topics.expire_members()) * 1000)::bigint",
						false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not expire group members");
		until_next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								   1, &isnull);
		/*
		 * Wake up just after the next member could expire; not sooner than
		 * WORKER_MIN_PAUSE_MS, since an overdue member whose row a poll holds
		 * is alive and stays overdue until the poll ends.
		 */
		if (!isnull)
			pause = Min(pause, Max(DatumGetInt64(until_next) + 10, WORKER_MIN_PAUSE_MS));
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return pause;
}

void
pg_topics_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	TimestampTz started = GetCurrentTimestamp();
	bool		wait_for_extension;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&wait_for_extension, MyBgworkerEntry->bgw_extra, sizeof(bool));
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	pgstat_report_appname("pg_topics worker");
	if (!claim_slot(dbid))
		proc_exit(0);

	for (;;)
	{
		long		pause;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		pause = run_jobs();
		set_has_extension(dbid, pause >= 0);
		if (pause < 0 && (!wait_for_extension ||
						  TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
													 WORKER_GRACE_MS)))
			proc_exit(0);		/* no pg_topics here: nothing to do */
		if (pause < 0)
			pause = pg_topics_worker_naptime;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pause, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* The value of option name, or NULL when it is not given. */
static const char *
option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *option = lfirst_node(DefElem, lc);

		if (strcmp(option->defname, name) == 0 && option->arg != NULL)
			return defGetString(option);
	}
	return NULL;
}

/*
 * The database a statement needs no other session in, or NULL.  All but
 * RENAME TO refuse to run inside a transaction block or a function.
 */
static const char *
database_needing_no_sessions(Node *stmt, bool top_level)
{
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return top_level ? ((DropdbStmt *) stmt)->dbname : NULL;
		case T_CreatedbStmt:
			return top_level ?
				option_value(((CreatedbStmt *) stmt)->options, "template") : NULL;
		case T_RenameStmt:
			return ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE ?
				((RenameStmt *) stmt)->subname : NULL;
		case T_AlterDatabaseStmt:
			return top_level &&
				option_value(((AlterDatabaseStmt *) stmt)->options, "tablespace") ?
				((AlterDatabaseStmt *) stmt)->dbname : NULL;
		default:
			return NULL;
	}
}

/*
 * Stops the database's worker and keeps a new one from starting for a
 * while, if the user owns the database.  The signal is sent under the lock
 * that a worker takes to clear its pid on exit, so it cannot reach a
 * process that took over the pid of a worker that has gone.
 */
static void
stand_aside(const char *dbname, Node *stmt)
{
	Oid			dbid = get_database_oid(dbname, true);
	WorkerSlot *slot;
	pid_t		pid = 0;

	if (!OidIsValid(dbid) || dbid == MyDatabaseId ||
		!compat_database_ownercheck(dbid, GetUserId()))
		return;
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dbid, true);
	if (slot != NULL)
	{
		slot->stand_aside_until =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), WORKER_STAND_ASIDE_MS);
		pid = slot->pid;
		if (pid != 0)
			kill(pid, SIGTERM);
	}
	LWLockRelease(worker_shared->lock);
	if (pid != 0)
		ereport(LOG,
				(errmsg("pg_topics stopped the worker of database \"%s\" for %s",
						dbname, GetCommandTagName(CreateCommandTag(stmt)))));
}

static void
stop_workers_for_database_commands(PlannedStmt *pstmt, const char *queryString,
								   bool readOnlyTree, ProcessUtilityContext context,
								   ParamListInfo params, QueryEnvironment *queryEnv,
								   DestReceiver *dest, QueryCompletion *qc)
{
	bool		top_level = context == PROCESS_UTILITY_TOPLEVEL && !IsTransactionBlock();
	const char *dbname = database_needing_no_sessions(pstmt->utilityStmt, top_level);

	if (dbname != NULL && worker_shared != NULL)
		stand_aside(dbname, pstmt->utilityStmt);
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * topics.start_worker(): starts this database's worker now rather than at
 * the launcher's next look (CREATE EXTENSION calls it).  Returns false when
 * pg_topics is not preloaded, so that no worker can run.
 */
Datum
topics_start_worker(PG_FUNCTION_ARGS)
{
	if (worker_shared == NULL)
		PG_RETURN_BOOL(false);
	ensure_database_worker(MyDatabaseId, 0, true);
	PG_RETURN_BOOL(true);
}
