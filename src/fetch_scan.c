/*-------------------------------------------------------------------------
 *
 * fetch_scan.c
 *	  A streaming scan for topics.fetch in a query's FROM clause.
 *
 * PostgreSQL runs a set-returning function in FROM through a tuplestore:
 * every row is formed, stored and read back before the query sees the
 * first, and for a fetch that costs more than reading the records.  When
 * the planner meets topics.fetch as the only function of a FROM item, this
 * file offers a custom scan ("TopicFetch") that hands the query one record
 * at a time, straight from the FetchCursor that the function itself uses
 * (fetch.c), so both return the same rows and raise the same errors.  The
 * scan fills only the key, value and headers columns the query reads, and
 * is not offered when the query reads the whole row.
 *
 * A rescan without new arguments replays the same read (same snapshot,
 * same stable offset), so it returns the same rows, as a function scan
 * re-reading its tuplestore does.  Arguments that refer to other FROM
 * items (LATERAL) make the path parameterized by them, as the function
 * scan's is; the planner turns those references into executor parameters.
 * The scan is not offered in statements that may recheck rows (UPDATE,
 * DELETE, MERGE, FOR UPDATE), whose rechecks a scan without a relation
 * cannot answer.  It cannot move backwards: a cursor that fetches
 * backwards must be declared SCROLL (the planner then stores the rows), as
 * PostgreSQL asks of every cursor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "compat.h"
#include "fetch.h"
#include "fetch_scan.h"

bool		pg_topics_enable_fetch_scan = true;

typedef struct FetchScanState
{
	CustomScanState css;
	FuncExpr   *call;
	List	   *arg_states;
	Bitmapset  *arg_params;		/* executor parameters the arguments use */
	int			columns;		/* of topics.record, as fetch.h's bits */
	MemoryContext read_context; /* arguments and cursor of the current read */
	bool		started;
	FetchCursor cursor;
} FetchScanState;

static set_rel_pathlist_hook_type previous_pathlist_hook = NULL;

static Plan *plan_fetch_scan(PlannerInfo *root, RelOptInfo *rel,
							 CustomPath *best_path, List *tlist,
							 List *clauses, List *custom_plans);
static Node *create_fetch_scan_state(CustomScan *cscan);
static void begin_fetch_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *exec_fetch_scan(CustomScanState *node);
static void end_fetch_scan(CustomScanState *node);
static void rescan_fetch_scan(CustomScanState *node);
static void explain_fetch_scan(CustomScanState *node, List *ancestors,
							   ExplainState *es);

static const CustomPathMethods fetch_path_methods = {
	.CustomName = "TopicFetch",
	.PlanCustomPath = plan_fetch_scan,
};

static const CustomScanMethods fetch_scan_methods = {
	.CustomName = "TopicFetch",
	.CreateCustomScanState = create_fetch_scan_state,
};

static const CustomExecMethods fetch_exec_methods = {
	.CustomName = "TopicFetch",
	.BeginCustomScan = begin_fetch_scan,
	.ExecCustomScan = exec_fetch_scan,
	.EndCustomScan = end_fetch_scan,
	.ReScanCustomScan = rescan_fetch_scan,
	.ExplainCustomScan = explain_fetch_scan,
};

/* The column types of topics.record, in order. */
static const Oid record_types[RECORD_NATTS] = {
	TEXTOID, INT4OID, INT8OID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID, JSONBOID
};

/*
 * Whether the function is pg_topics' topics.fetch, as a plain C function
 * that no security definer, SET clause or fmgr hook wraps and that is not
 * STRICT: the scan calls its code directly and must not skip any of those.
 */
static bool
is_topics_fetch(Oid funcid)
{
	HeapTuple	tuple;
	Form_pg_proc proc;
	bool		found = false;

	if (FmgrHookIsNeeded(funcid))
		return false;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tuple))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	if (proc->prolang == ClanguageId && proc->proretset && !proc->prosecdef &&
		!proc->proisstrict && proc->pronargs == FETCH_NARGS &&
		heap_attisnull(tuple, Anum_pg_proc_proconfig, NULL))
	{
		bool		src_null;
		bool		bin_null;
		Datum		src = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &src_null);
		Datum		bin = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_probin, &bin_null);

		found = !src_null && !bin_null &&
			strcmp(TextDatumGetCString(src), "topics_fetch") == 0 &&
			strstr(TextDatumGetCString(bin), "pg_topics") != NULL;
	}
	ReleaseSysCache(tuple);
	return found;
}

/* Whether the call returns rows shaped as the scan fills them. */
static bool
returns_topic_records(FuncExpr *call)
{
	TupleDesc	desc;

	if (get_expr_result_type((Node *) call, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != RECORD_NATTS)
		return false;
	for (int i = 0; i < RECORD_NATTS; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped || attr->atttypid != record_types[i])
			return false;
	}
	return true;
}

/*
 * Whether this query level or one it is part of may recheck rows after a
 * concurrent update (EvalPlanQual): plain SELECT and INSERT never do.
 */
static bool
query_may_recheck_rows(PlannerInfo *root)
{
	for (; root != NULL; root = root->parent_root)
	{
		Query	   *query = root->parse;

		if ((query->commandType != CMD_SELECT &&
			 query->commandType != CMD_INSERT) || query->rowMarks != NIL)
			return true;
	}
	return false;
}

/*
 * The columns of topics.record that the query reads from the FROM item, or
 * -1 for the whole row, which the scan does not form.
 */
static int
columns_read(RelOptInfo *rel)
{
	Bitmapset  *attrs = NULL;
	int			columns = 0;
	ListCell   *lc;

	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   rel->relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
		return -1;
	for (int i = 0; i < RECORD_NATTS; i++)
		if (bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, attrs))
			columns |= 1 << i;
	return columns;
}

/* The topics.fetch call the scan can stream, or NULL. */
static FuncExpr *
streamable_fetch_call(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *call;

	if (rte->rtekind != RTE_FUNCTION || !IS_SIMPLE_REL(rel) ||
		IS_DUMMY_REL(rel) || list_length(rte->functions) != 1 ||
		rte->funcordinality)
		return NULL;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr))
		return NULL;
	call = (FuncExpr *) rtfunc->funcexpr;
	if (list_length(call->args) != FETCH_NARGS || !is_topics_fetch(call->funcid) ||
		!returns_topic_records(call) || query_may_recheck_rows(root))
		return NULL;
	return call;
}

/*
 * Costs the scan as a function scan without the function's up-front cost:
 * computing the arguments once, then per record the decoding (one operator)
 * and the row, plus the quals and the target list.
 */
static void
cost_fetch_scan(PlannerInfo *root, RelOptInfo *rel, FuncExpr *call, Path *path)
{
	QualCost	args_cost;
	QualCost	quals_cost;
	Cost		per_record;
	List	   *quals = rel->baserestrictinfo;

	if (path->param_info)
		quals = list_concat_copy(quals, path->param_info->ppi_clauses);
	cost_qual_eval_node(&args_cost, (Node *) call->args, root);
	cost_qual_eval(&quals_cost, quals, root);
	per_record = cpu_operator_cost + cpu_tuple_cost + quals_cost.per_tuple;

	path->rows = path->param_info ? path->param_info->ppi_rows : rel->rows;
	path->startup_cost = args_cost.startup + args_cost.per_tuple +
		quals_cost.startup + rel->reltarget->cost.startup;
	path->total_cost = path->startup_cost + rel->tuples * per_record +
		rel->rows * rel->reltarget->cost.per_tuple;
}

static List *
without_function_scans(List *paths)
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, paths)
		if (((Path *) lfirst(lc))->pathtype != T_FunctionScan)
			kept = lappend(kept, lfirst(lc));
	return kept;
}

static void
offer_fetch_scan(PlannerInfo *root, RelOptInfo *rel, Index rti,
				 RangeTblEntry *rte)
{
	FuncExpr   *call;
	CustomPath *path;
	int			columns;

	if (previous_pathlist_hook)
		previous_pathlist_hook(root, rel, rti, rte);
	if (!pg_topics_enable_fetch_scan ||
		(call = streamable_fetch_call(root, rel, rte)) == NULL ||
		(columns = columns_read(rel)) < 0)
		return;

	path = makeNode(CustomPath);
	path->path.pathtype = T_CustomScan;
	path->path.parent = rel;
	path->path.pathtarget = rel->reltarget;
	path->path.param_info = get_baserel_parampathinfo(root, rel,
													   rel->lateral_relids);
	path->path.pathkeys = NIL;
	path->flags = CUSTOMPATH_SUPPORT_PROJECTION;
	path->custom_private = list_make1_int(columns);
	path->methods = &fetch_path_methods;
	cost_fetch_scan(root, rel, call, &path->path);

	/*
	 * The function scan's cost leaves out its tuplestore, so the costs
	 * cannot choose between the two: the streaming scan replaces it (and
	 * leaves the paths other extensions may have added).
	 */
	rel->pathlist = without_function_scans(rel->pathlist);
	add_path(rel, &path->path);
}

/*
 * The scan has no relation (scanrelid 0): its tuples are described by a
 * target list of the FROM item's columns, which the plan's Vars are matched
 * against.
 */
static List *
record_scan_tlist(Index rti, FuncExpr *call)
{
	TupleDesc	desc;
	List	   *tlist = NIL;

	(void) get_expr_result_type((Node *) call, NULL, &desc);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		Var		   *var = makeVar(rti, i + 1, attr->atttypid, attr->atttypmod,
								  attr->attcollation, 0);

		tlist = lappend(tlist, makeTargetEntry((Expr *) var, i + 1,
											   pstrdup(NameStr(attr->attname)),
											   false));
	}
	return tlist;
}

static Plan *
plan_fetch_scan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				List *tlist, List *clauses, List *custom_plans)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	FuncExpr   *call = (FuncExpr *) linitial_node(RangeTblFunction, rte->functions)->funcexpr;
	CustomScan *scan = makeNode(CustomScan);
	List	   *quals = extract_actual_clauses(clauses, false);

	scan->scan.plan.targetlist = tlist;
	scan->scan.plan.qual = quals;
	scan->scan.scanrelid = 0;
	scan->flags = best_path->flags;
	scan->custom_scan_tlist = record_scan_tlist(rel->relid, call);
	scan->custom_exprs = list_make1(call);
	scan->custom_private = best_path->custom_private;
	scan->methods = &fetch_scan_methods;
	return &scan->scan.plan;
}

static Node *
create_fetch_scan_state(CustomScan *cscan)
{
	FetchScanState *state = palloc0(sizeof(FetchScanState));

	NodeSetTag(state, T_CustomScanState);
	state->css.methods = &fetch_exec_methods;
	return (Node *) state;
}

static bool
collect_exec_params(Node *node, Bitmapset **params)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
		*params = bms_add_member(*params, ((Param *) node)->paramid);
	return expression_tree_walker(node, collect_exec_params, params);
}

/* As a function scan does: the caller must be allowed to run the function. */
static void
begin_fetch_scan(CustomScanState *node, EState *estate, int eflags)
{
	FetchScanState *state = (FetchScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;

	state->call = linitial_node(FuncExpr, cscan->custom_exprs);
	state->columns = linitial_int(cscan->custom_private);
	if (compat_function_aclcheck(state->call->funcid, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION,
					   get_func_name(state->call->funcid));
	InvokeFunctionExecuteHook(state->call->funcid);
	state->arg_states = ExecInitExprList(state->call->args, &node->ss.ps);
	collect_exec_params((Node *) state->call->args, &state->arg_params);
	state->read_context = AllocSetContextCreate(CurrentMemoryContext,
												"pg_topics fetch scan",
												ALLOCSET_SMALL_SIZES);
}

/* Computes the arguments and starts the read, at the first row wanted. */
static void
start_read(FetchScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	Datum		args[FETCH_NARGS];
	bool		argnulls[FETCH_NARGS];
	MemoryContext outer;
	ListCell   *lc;

	MemoryContextReset(state->read_context);
	outer = MemoryContextSwitchTo(state->read_context);
	foreach(lc, state->arg_states)
		args[foreach_current_index(lc)] =
			ExecEvalExpr(lfirst(lc), econtext, &argnulls[foreach_current_index(lc)]);
	fetch_begin(&state->cursor, args, argnulls, state->columns);
	MemoryContextSwitchTo(outer);
	state->started = true;
}

static TupleTableSlot *
next_record(ScanState *node)
{
	FetchScanState *state = (FetchScanState *) node;
	TupleTableSlot *slot = node->ss_ScanTupleSlot;

	if (!state->started)
		start_read(state);
	ExecClearTuple(slot);
	if (fetch_cursor_next(&state->cursor, slot->tts_values, slot->tts_isnull))
		ExecStoreVirtualTuple(slot);
	return slot;
}

/* Never called: the scan is not offered where rows may be rechecked. */
static bool
recheck_record(ScanState *node, TupleTableSlot *slot)
{
	elog(ERROR, "a TopicFetch scan cannot recheck a row");
	return false;
}

static TupleTableSlot *
exec_fetch_scan(CustomScanState *node)
{
	return ExecScan(&node->ss, next_record, recheck_record);
}

static void
end_fetch_scan(CustomScanState *node)
{
	FetchScanState *state = (FetchScanState *) node;

	if (state->started)
		fetch_finish(&state->cursor);
	state->started = false;
}

/*
 * When a parameter of the arguments changed, the next row starts a new
 * read; otherwise (also when only parameters of the quals changed) the
 * same read starts over and returns the same rows.
 */
static void
rescan_fetch_scan(CustomScanState *node)
{
	FetchScanState *state = (FetchScanState *) node;

	if (state->started && !bms_overlap(node->ss.ps.chgParam, state->arg_params))
		fetch_cursor_rewind(&state->cursor);
	else
		end_fetch_scan(node);
	ExecScanReScan(&node->ss);
}

static void
explain_fetch_scan(CustomScanState *node, List *ancestors, ExplainState *es)
{
	FetchScanState *state = (FetchScanState *) node;
	List	   *context;

	if (!es->verbose)
		return;
	context = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan,
									   ancestors);
	ExplainPropertyText("Function Call",
						deparse_expression((Node *) state->call, context,
										   false, false),
						es);
}

void
fetch_scan_install(void)
{
	RegisterCustomScanMethods(&fetch_scan_methods);
	previous_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = offer_fetch_scan;
}
