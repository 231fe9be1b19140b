/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  The produce functions: topics.produce (bytea, text and jsonb),
 *	  topics.produce_batch and the topics.produce_all aggregate.
 *
 * This file reads the arguments, checks a record against the topic's
 * limits and chooses its partition; buffer.c takes its offset and writes
 * it.  The single-record functions are set-returning (so that a call is
 * never repeated per output column) and cheap per call: they keep their
 * topic and result row type between calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "fetch.h"
#include "partitioner.h"
#include "buffer.h"

PG_FUNCTION_INFO_V1(topics_produce);
PG_FUNCTION_INFO_V1(topics_produce_text);
PG_FUNCTION_INFO_V1(topics_produce_jsonb);
PG_FUNCTION_INFO_V1(topics_produce_batch);
PG_FUNCTION_INFO_V1(topics_produce_all_step);

/* Input of one record, as the SQL functions receive it. */
typedef struct RecordInput
{
	int32		partition;		/* -1: choose by key, or stick when keyless */
	const char *key;
	int32		key_len;
	const char *value;
	int32		value_len;
	const char *headers;
	int32		headers_len;
	TimestampTz ts;
} RecordInput;

static BatchRecord
as_batch_record(const RecordInput *in)
{
	BatchRecord record;

	record.offset = -1;			/* buffer_add takes it */
	record.ts = in->ts;
	record.key = in->key;
	record.key_len = in->key_len;
	record.value = in->value;
	record.value_len = in->value_len;
	record.headers = in->headers;
	record.headers_len = in->headers_len;
	return record;
}

/*
 * Explicit partitions are checked, keyed records go where Kafka's default
 * partitioner puts them, and keyless records stick to one partition until
 * its batch is full, as Kafka's sticky partitioner does, so that they still
 * form full batches.
 */
static int32
choose_partition(TopicInfo *topic, const RecordInput *in,
				 const BatchRecord *record)
{
	if (in->partition >= 0)
	{
		(void) catalog_partition_relid(topic, in->partition);
		return in->partition;
	}
	if (in->key != NULL)
		return partition_for_key(in->key, in->key_len, topic->partitions);
	if (topic->sticky_lxid != MyProc->lxid ||
		topic->sticky_partition >= topic->partitions)
	{
		topic->sticky_partition = (int32) (pg_prng_uint32(&pg_global_prng_state) %
										   (uint32) topic->partitions);
		topic->sticky_lxid = MyProc->lxid;
	}
	else if (!buffer_has_room(topic, topic->sticky_partition, record))
		topic->sticky_partition = (topic->sticky_partition + 1) % topic->partitions;
	return topic->sticky_partition;
}

static void
check_record_size(TopicInfo *topic, const RecordInput *in)
{
	int64		size = (int64) Max(in->key_len, 0) + Max(in->value_len, 0) +
		Max(in->headers_len, 0);

	if (size > topic->max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record of " INT64_FORMAT " bytes exceeds the maximum message size of topic \"%s\"",
						size, topic->name),
				 errdetail("The topic's max_message_bytes is %d; key, value and headers count.",
						   topic->max_message_bytes),
				 errhint("Raise it with topics.alter_topic(name, max_message_bytes => ...).")));
}

/*
 * Produces one record: chooses its partition, takes its offset and
 * buffers it.  Returns the partition and sets *offset.
 */
static int32
produce_record(TopicInfo *topic, const RecordInput *in, int64 *offset)
{
	BatchRecord record = as_batch_record(in);
	int32		partition;

	check_record_size(topic, in);
	partition = choose_partition(topic, in, &record);
	*offset = buffer_add(topic, partition, &record);
	return partition;
}

/* ---- SQL-callable functions ---- */

/* Per-call-site state of the single-record produce functions. */
typedef struct ProduceCallState
{
	TopicInfo  *topic;			/* the topic named last */
	bool		row_returned;	/* the next call ends the one-row set */
	ExprContext *registered_in;
} ProduceCallState;

static void
reset_call_state(Datum arg)
{
	ProduceCallState *cs = (ProduceCallState *) DatumGetPointer(arg);

	cs->row_returned = false;
	cs->registered_in = NULL;
}

/*
 * The row type (partition int, offset bigint) every produce function
 * returns, built once per backend: looking the declared type up costs more
 * than producing a record, and every execution of a prepared statement
 * would pay it again.
 */
static TupleDesc
result_desc(void)
{
	static TupleDesc desc = NULL;

	if (desc == NULL)
	{
		MemoryContext outer = MemoryContextSwitchTo(TopMemoryContext);
		TupleDesc	template = CreateTemplateTupleDesc(2);

		TupleDescInitEntry(template, 1, "partition", INT4OID, -1, 0);
		TupleDescInitEntry(template, 2, "offset", INT8OID, -1, 0);
		desc = BlessTupleDesc(template);
		MemoryContextSwitchTo(outer);
	}
	return desc;
}

static ProduceCallState *
call_state(FunctionCallInfo fcinfo)
{
	ProduceCallState *cs = fcinfo->flinfo->fn_extra;
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsi == NULL || !IsA(rsi, ReturnSetInfo) ||
		(rsi->allowedModes & SFRM_ValuePerCall) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (cs == NULL)
	{
		cs = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									sizeof(ProduceCallState));
		fcinfo->flinfo->fn_extra = cs;
	}
	/* a rescan abandons a set half-read: start over then */
	if (cs->registered_in != rsi->econtext)
	{
		RegisterExprContextCallback(rsi->econtext, reset_call_state,
									PointerGetDatum(cs));
		cs->registered_in = rsi->econtext;
	}
	return cs;
}

static void
read_bytes(Datum d, const char **data, int32 *len)
{
	bytea	   *b = DatumGetByteaPP(d);

	*data = VARDATA_ANY(b);
	*len = VARSIZE_ANY_EXHDR(b);
}

static void
read_headers(Datum d, RecordInput *in)
{
	Jsonb	   *headers = DatumGetJsonbP(d);
	char	   *text = JsonbToCString(NULL, &headers->root, VARSIZE(headers));

	in->headers = text;
	in->headers_len = strlen(text);
}

static TimestampTz
read_timestamp(FunctionCallInfo fcinfo, int argno)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		return GetCurrentTransactionStartTimestamp();
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record timestamp must be finite")));
	return ts;
}

static int32
read_partition(FunctionCallInfo fcinfo, int argno)
{
	int32		partition;

	if (PG_ARGISNULL(argno))
		return -1;
	partition = PG_GETARG_INT32(argno);
	if (partition < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition must not be negative")));
	return partition;
}

static bool
topic_is_named(TopicInfo *topic, text *name)
{
	int			len = VARSIZE_ANY_EXHDR(name);

	/* strncmp first: it stops at the end of a shorter cached name */
	return len <= TOPIC_NAME_MAX &&
		strncmp(topic->name, VARDATA_ANY(name), len) == 0 &&
		topic->name[len] == '\0';
}

/*
 * The topic named by argument argno, checked for a transaction that may
 * write.  A call site names the same topic on every row, so *cached keeps
 * the last one and the cache look-up is skipped while it is valid.
 */
static TopicInfo *
topic_argument(FunctionCallInfo fcinfo, int argno, const char *function,
			   TopicInfo **cached)
{
	fetch_require_argument(fcinfo, argno, "topic name");
	if (*cached == NULL || !(*cached)->valid || XactReadOnly ||
		!topic_is_named(*cached, PG_GETARG_TEXT_PP(argno)))
	{
		PreventCommandIfReadOnly(function);
		PreventCommandDuringRecovery(function);
		*cached = catalog_lookup_topic(PG_GETARG_TEXT_PP(argno));
	}
	return *cached;
}

/* A record with no key, value or headers yet. */
static void
init_input(RecordInput *in)
{
	memset(in, 0, sizeof(*in));
	in->partition = -1;
	in->key_len = in->value_len = in->headers_len = -1;
}

/*
 * The body shared by the produce overloads: arguments are (topic, value,
 * key, headers, partition, ts); value and key arrive as bytea here.
 */
static Datum
produce_common(FunctionCallInfo fcinfo, Datum value, bool value_null,
			   Datum key, bool key_null)
{
	ProduceCallState *cs = call_state(fcinfo);
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	TopicInfo  *topic;
	RecordInput in;
	int64		offset;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (cs->row_returned)
	{
		cs->row_returned = false;
		rsi->isDone = ExprEndResult;
		PG_RETURN_NULL();
	}

	topic = topic_argument(fcinfo, 0, "topics.produce()", &cs->topic);
	init_input(&in);
	if (!value_null)
		read_bytes(value, &in.value, &in.value_len);
	if (!key_null)
		read_bytes(key, &in.key, &in.key_len);
	if (!PG_ARGISNULL(3))
		read_headers(PG_GETARG_DATUM(3), &in);
	in.partition = read_partition(fcinfo, 4);
	in.ts = read_timestamp(fcinfo, 5);

	values[0] = Int32GetDatum(produce_record(topic, &in, &offset));
	values[1] = Int64GetDatum(offset);

	cs->row_returned = true;
	rsi->isDone = ExprMultipleResult;
	return HeapTupleGetDatum(heap_form_tuple(result_desc(), values, nulls));
}

Datum
topics_produce(PG_FUNCTION_ARGS)
{
	return produce_common(fcinfo, PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

/* Text values and keys are stored as their bytes (server encoding). */
Datum
topics_produce_text(PG_FUNCTION_ARGS)
{
	return produce_common(fcinfo, PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

/* A jsonb value is stored as its JSON text; the key is text. */
Datum
topics_produce_jsonb(PG_FUNCTION_ARGS)
{
	Datum		value = (Datum) 0;

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *json = PG_GETARG_JSONB_P(1);

		value = CStringGetTextDatum(JsonbToCString(NULL, &json->root,
												   VARSIZE(json)));
	}
	return produce_common(fcinfo, value, PG_ARGISNULL(1),
						  PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

static Datum *
array_elements(FunctionCallInfo fcinfo, int argno, Oid elemtype, int expected,
			   bool **nulls, int *count)
{
	ArrayType  *array;
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*nulls = NULL;
	*count = 0;
	if (PG_ARGISNULL(argno))
		return NULL;
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("arrays of records must be one-dimensional")));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, nulls, count);
	if (expected >= 0 && *count != expected)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys and headers arrays must be as long as the values array"),
				 errdetail("There are %d values and %d elements in argument %d.",
						   expected, *count, argno + 1)));
	return elems;
}

/*
 * topics.produce_batch(topic, values bytea[], keys bytea[], headers jsonb[],
 * partition, ts): many records in one call; one result row per record.
 */
Datum
topics_produce_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	TopicInfo  *topic = NULL;
	Datum	   *values;
	Datum	   *keys;
	Datum	   *headers;
	bool	   *value_nulls;
	bool	   *key_nulls;
	bool	   *header_nulls;
	int			count;
	int			nkeys;
	int			nheaders;
	RecordInput in;

	topic_argument(fcinfo, 0, "topics.produce()", &topic);
	InitMaterializedSRF(fcinfo, 0);
	values = array_elements(fcinfo, 1, BYTEAOID, -1, &value_nulls, &count);
	keys = array_elements(fcinfo, 2, BYTEAOID, count, &key_nulls, &nkeys);
	headers = array_elements(fcinfo, 3, JSONBOID, count, &header_nulls, &nheaders);

	init_input(&in);
	in.partition = read_partition(fcinfo, 4);
	in.ts = read_timestamp(fcinfo, 5);
	for (int i = 0; i < count; i++)
	{
		Datum		result[2];
		bool		result_nulls[2] = {false, false};
		int64		offset;

		CHECK_FOR_INTERRUPTS();
		in.value = in.key = in.headers = NULL;
		in.value_len = in.key_len = in.headers_len = -1;
		if (!value_nulls[i])
			read_bytes(values[i], &in.value, &in.value_len);
		if (keys != NULL && !key_nulls[i])
			read_bytes(keys[i], &in.key, &in.key_len);
		if (headers != NULL && !header_nulls[i])
			read_headers(headers[i], &in);

		result[0] = Int32GetDatum(produce_record(topic, &in, &offset));
		result[1] = Int64GetDatum(offset);
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, result, result_nulls);
	}
	return (Datum) 0;
}

/*
 * Transition function of the aggregate topics.produce_all(topic, value
 * [, key [, headers]]): produces one record per input row and counts them.
 * A set goes straight from the scan into batches, without building an
 * array or returning a row per record.
 */
Datum
topics_produce_all_step(PG_FUNCTION_ARGS)
{
	int64		count = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	TopicInfo  *topic;
	RecordInput in;
	int64		offset;
	int			nargs = PG_NARGS();

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("topics.produce_all_step can only be called by the aggregate topics.produce_all")));
	topic = topic_argument(fcinfo, 1, "topics.produce_all()",
						   (TopicInfo **) &fcinfo->flinfo->fn_extra);
	init_input(&in);
	in.ts = GetCurrentTransactionStartTimestamp();
	if (!PG_ARGISNULL(2))
		read_bytes(PG_GETARG_DATUM(2), &in.value, &in.value_len);
	if (nargs > 3 && !PG_ARGISNULL(3))
		read_bytes(PG_GETARG_DATUM(3), &in.key, &in.key_len);
	if (nargs > 4 && !PG_ARGISNULL(4))
		read_headers(PG_GETARG_DATUM(4), &in);

	(void) produce_record(topic, &in, &offset);
	PG_RETURN_INT64(count + 1);
}
