/*-------------------------------------------------------------------------
 *
 * pg_topics.c
 *	  Entry point of pg_topics: settings, shared memory and the hooks the
 *	  other files need, installed when the library is preloaded.
 *
 * Everything that keeps offsets lives in shared memory, so the library
 * must be in shared_preload_libraries; loaded any other way, it defines
 * its settings and leaves every function to report that it is not
 * preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "buffer.h"
#include "fetch_scan.h"
#include "groups.h"
#include "offsets.h"
#include "pg_topics.h"
#include "worker.h"

PG_MODULE_MAGIC;

int			pg_topics_max_partitions = 4096;
int			pg_topics_auto_offset_reset = AUTO_OFFSET_RESET_LATEST;

static const struct config_enum_entry auto_offset_reset_options[] = {
	{"latest", AUTO_OFFSET_RESET_LATEST, false},
	{"earliest", AUTO_OFFSET_RESET_EARLIEST, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* Settings that need shared memory exist only when the library is preloaded. */
static void
define_settings(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pg_topics.max_partitions",
								"Partitions whose offsets can be tracked in shared memory at once.",
								"Idle partitions give their slot up when it is needed; "
								"every partition with a producing transaction in flight holds one.",
								&pg_topics_max_partitions,
								4096, 16, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	DefineCustomEnumVariable("pg_topics.auto_offset_reset",
							 "Where a consumer group starts in a partition it has no committed offset for.",
							 "'latest' (Kafka's default) starts at the end, 'earliest' at the log start offset.",
							 &pg_topics_auto_offset_reset,
							 AUTO_OFFSET_RESET_LATEST,
							 auto_offset_reset_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("pg_topics.enable_fetch_scan",
							 "Lets the planner stream topics.fetch in FROM instead of materialising it.",
							 "The streaming scan returns the same rows; turning it off is for comparisons.",
							 &pg_topics_enable_fetch_scan,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

void
_PG_init(void)
{
	define_settings();
	if (process_shared_preload_libraries_in_progress)
	{
		offsets_install_hooks();
		buffer_register_callbacks();
		fetch_scan_install();
		groups_register_callbacks();
		worker_install();
	}
	/* after every pg_topics.* setting is defined */
	MarkGUCPrefixReserved("pg_topics");
}
