/*-------------------------------------------------------------------------
 *
 * batch_unit.c
 *	  Unit tests of the record-batch codec (src/batch.c) and of Kafka's
 *	  murmur2 (src/partitioner.c), in plain C, outside the server.
 *
 * Every batch is also encoded by an independent reference encoder written
 * here from the format description in batch.h (with its own CRC-32C), and
 * the writer's output must match it byte for byte.  Crafted batches carry a
 * valid checksum, so that only the reader's structural checks stand between
 * them and the caller.
 *
 * Usage: batch_unit [--seed N] [--iterations N] [--write-seeds DIR]
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "port/pg_crc32c.h"

#include "batch.h"
#include "partitioner.h"

static int	n_passed;
static int	n_failed;

/* Records one check; prints at most the first 50 failures. */
static void pg_attribute_printf(4, 5)
check_at(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	if (n_failed > 50)
		return;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

#define CHECK(cond, ...) check_at((cond), __FILE__, __LINE__, __VA_ARGS__)

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static void
print_hex(FILE *f, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

/* ---------- deterministic random numbers (splitmix64) ---------- */

static uint64 rng_state;

static uint64
rnd(void)
{
	uint64		z = (rng_state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [0, n) for n > 0 */
static uint64
rnd_below(uint64 n)
{
	return rnd() % n;
}

/* uniform in [lo, hi] */
static int64
rnd_range(int64 lo, int64 hi)
{
	return lo + (int64) rnd_below((uint64) (hi - lo) + 1);
}

/* ---------- independent CRC-32C (Castagnoli, reflected 0x82F63B78) ---------- */

static uint32 crc_table[256];

static void
crc_init(void)
{
	for (uint32 i = 0; i < 256; i++)
	{
		uint32		c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78 : c >> 1;
		crc_table[i] = c;
	}
}

static uint32
ref_crc32c(const unsigned char *p, size_t len)
{
	uint32		c = 0xFFFFFFFF;

	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFF;
}

/*
 * Recomputes the checksum of a (possibly tampered) batch: CRC-32C of the
 * bytes from position 8 to the end, stored little-endian at position 4.
 */
static void
restamp_crc(unsigned char *buf, size_t len)
{
	uint32		c;

	if (len < 8)
		return;
	c = ref_crc32c(buf + 8, len - 8);
	for (int i = 0; i < 4; i++)
		buf[4 + i] = (unsigned char) (c >> (8 * i));
}

/* ---------- a growable byte buffer and a reference encoder ---------- */

typedef struct Buf
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra > b->cap)
	{
		size_t		cap = Max(b->cap * 2, b->len + extra + 64);
		unsigned char *d = xmalloc(cap);

		if (b->len > 0)
			memcpy(d, b->data, b->len);
		free(b->data);
		b->data = d;
		b->cap = cap;
	}
}

static void
buf_put(Buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
buf_u8(Buf *b, unsigned v)
{
	unsigned char c = (unsigned char) v;

	buf_put(b, &c, 1);
}

static void
buf_le(Buf *b, uint64 v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		buf_u8(b, (unsigned) ((v >> (8 * i)) & 0xFF));
}

/* Canonical unsigned LEB128 varint. */
static void
buf_varint(Buf *b, uint64 v)
{
	while (v >= 0x80)
	{
		buf_u8(b, (unsigned) ((v & 0x7F) | 0x80));
		v >>= 7;
	}
	buf_u8(b, (unsigned) v);
}

/* A varint padded to exactly nbytes bytes (continuation bits on all but the last). */
static void
buf_varint_n(Buf *b, uint64 v, int nbytes)
{
	for (int i = 0; i < nbytes - 1; i++)
	{
		buf_u8(b, (unsigned) ((v & 0x7F) | 0x80));
		v >>= 7;
	}
	buf_u8(b, (unsigned) (v & 0x7F));
}

static uint64
zz(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

typedef struct Hdr
{
	unsigned char magic0;
	unsigned char magic1;
	unsigned char version;
	unsigned char attributes;
	int64		base_offset;
	int32		last_delta;
	int64		first_ts;
	int64		max_ts;
	int32		count;
} Hdr;

static Hdr
default_hdr(void)
{
	Hdr			h = {'P', 'T', 1, 0, 0, 0, 0, 0, 0};

	return h;
}

/* Header + already framed record bytes, with a valid checksum. */
static void
assemble(Buf *out, const Hdr *h, const Buf *records)
{
	out->len = 0;
	buf_u8(out, h->magic0);
	buf_u8(out, h->magic1);
	buf_u8(out, h->version);
	buf_u8(out, h->attributes);
	buf_le(out, 0, 4);			/* checksum, stamped below */
	buf_le(out, (uint64) h->base_offset, 8);
	buf_le(out, (uint64) (uint32) h->last_delta, 4);
	buf_le(out, (uint64) h->first_ts, 8);
	buf_le(out, (uint64) h->max_ts, 8);
	buf_le(out, (uint64) (uint32) h->count, 4);
	if (records != NULL)
		buf_put(out, records->data, records->len);
	restamp_crc(out->data, out->len);
}

static void
body_bytes(Buf *body, const char *data, int32 len)
{
	buf_varint(body, zz(len));
	if (len > 0)
		buf_put(body, data, len);
}

/* Reference encoding of a whole batch, from the format in batch.h. */
static void
ref_encode(Buf *out, const BatchRecord *recs, int n, int64 base, int64 first_ts)
{
	Buf			records = {0};
	Buf			body = {0};
	Hdr			h = default_hdr();

	h.base_offset = base;
	h.first_ts = first_ts;
	h.max_ts = first_ts;
	h.count = n;
	h.last_delta = n > 0 ? (int32) (recs[n - 1].offset - base) : 0;
	for (int i = 0; i < n; i++)
	{
		body.len = 0;
		buf_varint(&body, zz(recs[i].ts - first_ts));
		buf_varint(&body, (uint64) (recs[i].offset - base));
		body_bytes(&body, recs[i].key, recs[i].key_len);
		body_bytes(&body, recs[i].value, recs[i].value_len);
		body_bytes(&body, recs[i].headers, recs[i].headers_len);
		buf_varint(&records, body.len);
		buf_put(&records, body.data, body.len);
		h.max_ts = Max(h.max_ts, recs[i].ts);
	}
	assemble(out, &h, &records);
	buf_free(&records);
	buf_free(&body);
}

/* ---------- decoding ---------- */

#define MAX_DECODED 100000

typedef struct Decoded
{
	BatchStatus open_status;
	BatchStatus status;			/* BATCH_OK only if every step was OK and done */
	BatchReader reader;
	int			n;
	BatchRecord *recs;
} Decoded;

/*
 * Decodes a batch completely.  The bytes are first copied into a buffer of
 * exactly their length, so that valgrind sees any read past the end.  The
 * copy stays alive (in *copy) while the caller inspects the records.
 */
static void
decode(const unsigned char *data, size_t len, Decoded *d, char **copy)
{
	bool		done = false;

	*copy = xmalloc(len);
	if (len > 0)
		memcpy(*copy, data, len);
	if (d->recs == NULL)
		d->recs = xmalloc(sizeof(BatchRecord) * MAX_DECODED);
	d->n = 0;
	d->open_status = batch_reader_open(&d->reader, *copy, len);
	d->status = d->open_status;
	if (d->status != BATCH_OK)
		return;
	for (;;)
	{
		BatchRecord r;
		BatchStatus st;

		memset(&r, 0, sizeof(r));
		st = batch_reader_next(&d->reader, &r, &done);
		if (st != BATCH_OK)
		{
			d->status = st;
			return;
		}
		if (done)
			return;
		if (d->n >= MAX_DECODED)
		{
			/* more OK records than any test batch holds: never done */
			d->status = BATCH_BAD_RECORD;
			CHECK(false, "reader returned more than %d records", MAX_DECODED);
			return;
		}
		/* every OK record must point inside the batch */
		CHECK((r.key_len <= 0 ||
			   (r.key >= *copy && r.key + r.key_len <= *copy + len)) &&
			  (r.value_len <= 0 ||
			   (r.value >= *copy && r.value + r.value_len <= *copy + len)) &&
			  (r.headers_len <= 0 ||
			   (r.headers >= *copy && r.headers + r.headers_len <= *copy + len)) &&
			  r.key_len >= -1 && r.value_len >= -1 && r.headers_len >= -1,
			  "record %d returned as OK points outside the batch", d->n);
		/* and respect the header, before the batch is known to be whole */
		CHECK(d->n < d->reader.count &&
			  r.offset >= d->reader.base_offset &&
			  r.offset <= d->reader.last_offset &&
			  (d->n == 0 || r.offset > d->recs[d->n - 1].offset),
			  "record %d (offset %lld) returned as OK contradicts the header "
			  "(base %lld, last %lld, count %d)", d->n, (long long) r.offset,
			  (long long) d->reader.base_offset, (long long) d->reader.last_offset,
			  d->reader.count);
		d->recs[d->n++] = r;
	}
}

/* Whether a batch is rejected at some point; the decoded copy is freed. */
static bool
rejected(const unsigned char *data, size_t len, BatchStatus *why)
{
	static Decoded d;
	char	   *copy;

	decode(data, len, &d, &copy);
	free(copy);
	if (why)
		*why = d.status;
	return d.status != BATCH_OK;
}

static bool
same_bytes(const char *a, int32 alen, const char *b, int32 blen)
{
	if (alen != blen)
		return false;
	return alen <= 0 || memcmp(a, b, alen) == 0;
}

static bool
same_record(const BatchRecord *a, const BatchRecord *b)
{
	return a->offset == b->offset && a->ts == b->ts &&
		same_bytes(a->key, a->key_len, b->key, b->key_len) &&
		same_bytes(a->value, a->value_len, b->value, b->value_len) &&
		same_bytes(a->headers, a->headers_len, b->headers, b->headers_len);
}

/* ---------- random records ---------- */

static int32
random_len(int32 max_len)
{
	uint64		c = rnd_below(100);

	if (c < 10)
		return -1;
	if (c < 20)
		return 0;
	if (c < 75)
		return (int32) rnd_range(1, 64);
	if (c < 97)
		return (int32) rnd_range(1, 1024);
	return (int32) rnd_range(1, max_len);
}

static char *
random_bytes(int32 len, bool text)
{
	char	   *p = xmalloc(Max(len, 1));

	for (int32 i = 0; i < len; i++)
		p[i] = text ? (char) (' ' + rnd_below(95)) : (char) rnd();
	if (text && len >= 2)
	{
		p[0] = '{';
		p[len - 1] = '}';
	}
	return p;
}

static void
random_record(BatchRecord *r, int64 offset, int64 ts, int32 max_len)
{
	r->offset = offset;
	r->ts = ts;
	r->key_len = random_len(max_len);
	r->key = r->key_len >= 0 ? random_bytes(r->key_len, false) : NULL;
	r->value_len = random_len(max_len);
	r->value = r->value_len >= 0 ? random_bytes(r->value_len, false) : NULL;
	r->headers_len = random_len(max_len);
	r->headers = r->headers_len >= 0 ? random_bytes(r->headers_len, true) : NULL;
}

static void
free_record(BatchRecord *r)
{
	free((char *) r->key);
	free((char *) r->value);
	free((char *) r->headers);
	r->key = r->value = r->headers = NULL;
}

static int64
random_ts_delta(void)
{
	switch (rnd_below(6))
	{
		case 0:
			return 0;
		case 1:
			return rnd_range(-1000, 1000);
		case 2:
			return rnd_range(-INT64CONST(86400000000), INT64CONST(86400000000));
		case 3:
			return -rnd_range(1, INT64CONST(1) << 40);
		case 4:
			return rnd_range(-(INT64CONST(1) << 52), INT64CONST(1) << 52);
		default:
			return rnd_range(0, 5000000);
	}
}

static int64
random_gap(void)
{
	uint64		c = rnd_below(100);

	if (c < 80)
		return 1;
	if (c < 95)
		return rnd_range(2, 1000);
	return rnd_range(1001, 1 << 20);
}

/* ---------- round trips ---------- */

#define GUARD 64
#define FILL 0xA5

/*
 * Compares a batch the writer produced (n > 0 records) with the reference
 * encoding byte for byte, reads it back and compares every field.
 */
static void
check_encoded(const unsigned char *buf, size_t len, const BatchRecord *recs,
			  int n, int64 base, int64 first_ts, const char *what)
{
	Buf			ref = {0};
	Decoded		d = {0};
	char	   *copy;
	int64		max_ts = first_ts;
	bool		all_same = true;

	ref_encode(&ref, recs, n, base, first_ts);
	CHECK(ref.len == len && memcmp(ref.data, buf, len) == 0,
		  "%s: writer output differs from the reference encoding "
		  "(writer %zu bytes, reference %zu bytes)", what, len, ref.len);

	decode(buf, len, &d, &copy);
	CHECK(d.status == BATCH_OK, "%s: decoding a written batch failed: %s (open: %s)",
		  what, batch_status_message(d.status),
		  batch_status_message(d.open_status));
	if (d.status == BATCH_OK)
	{
		for (int i = 0; i < n; i++)
			max_ts = Max(max_ts, recs[i].ts);
		CHECK(d.reader.base_offset == base &&
			  d.reader.first_ts == first_ts &&
			  d.reader.max_ts == max_ts &&
			  d.reader.count == n &&
			  d.reader.last_offset == recs[n - 1].offset,
			  "%s: header fields differ after the round trip", what);
		CHECK(d.n == n, "%s: %d records written, %d read", what, n, d.n);
		for (int i = 0; i < Min(n, d.n); i++)
		{
			if (!same_record(&recs[i], &d.recs[i]))
			{
				all_same = false;
				CHECK(false, "%s: record %d (offset %lld) differs after the round trip",
					  what, i, (long long) recs[i].offset);
				break;
			}
		}
		if (all_same)
			CHECK(true, "records");
	}
	free(copy);
	free(d.recs);
	buf_free(&ref);
}

static void
test_random_round_trips(int iterations)
{
	int			total_records = 0;

	for (int it = 0; it < iterations; it++)
	{
		size_t		capacity;
		int64		base;
		int64		first_ts;
		int			target;
		unsigned char *buf;
		BatchWriter w;
		BatchRecord *recs;
		int			n = 0;
		int64		offset;
		size_t		len;
		char		what[64];

		switch (rnd_below(4))
		{
			case 0:
				capacity = BATCH_HEADER_SIZE + rnd_range(0, 200);
				break;
			case 1:
				capacity = BATCH_HEADER_SIZE + rnd_range(0, 2000);
				break;
			case 2:
				capacity = 8192;
				break;
			default:
				capacity = BATCH_HEADER_SIZE + rnd_range(0, 70000);
				break;
		}
		switch (rnd_below(4))
		{
			case 0:
				base = 0;
				break;
			case 1:
				base = rnd_range(0, 1000);
				break;
			case 2:
				base = rnd_range(0, INT64CONST(1) << 40);
				break;
			default:
				base = rnd_range(0, PG_INT64_MAX - PG_INT32_MAX);
				break;
		}
		first_ts = rnd_below(2) ? rnd_range(-(INT64CONST(1) << 52), INT64CONST(1) << 52) :
			rnd_range(INT64CONST(700000000000000), INT64CONST(900000000000000));
		target = (int) rnd_range(1, 150);

		buf = xmalloc(capacity + GUARD);
		memset(buf, FILL, capacity + GUARD);
		recs = xmalloc(sizeof(BatchRecord) * (target + 1));
		batch_writer_init(&w, (char *) buf, capacity, base, first_ts);

		offset = base + (rnd_below(5) == 0 ? rnd_range(0, 10) : 0);
		for (int i = 0; i < target; i++)
		{
			BatchRecord *r = &recs[n];
			size_t		size;
			size_t		payload;
			size_t		before = w.len;

			if (i > 0)
				offset += random_gap();
			if (offset - base > PG_INT32_MAX)
				break;
			random_record(r, offset, first_ts + (i == 0 && rnd_below(2) ? 0 : random_ts_delta()),
						  4096);
			size = batch_encoded_size(r, base, first_ts);
			payload = Max(r->key_len, 0) + Max(r->value_len, 0) + Max(r->headers_len, 0);
			CHECK(size - payload <= BATCH_RECORD_OVERHEAD_MAX,
				  "framing of %zu bytes exceeds BATCH_RECORD_OVERHEAD_MAX",
				  size - payload);
			if (w.len + size > capacity)
			{
				BatchWriter saved = w;
				unsigned char *snapshot = xmalloc(capacity + GUARD);
				bool		ok;

				memcpy(snapshot, buf, capacity + GUARD);
				ok = batch_writer_append(&w, r);
				CHECK(!ok, "append of %zu bytes into %zu free bytes succeeded",
					  size, capacity - w.len);
				CHECK(saved.buf == w.buf && saved.capacity == w.capacity &&
					  saved.len == w.len && saved.base_offset == w.base_offset &&
					  saved.last_offset == w.last_offset &&
					  saved.first_ts == w.first_ts && saved.max_ts == w.max_ts &&
					  saved.count == w.count &&
					  memcmp(snapshot, buf, capacity + GUARD) == 0,
					  "a failed append changed the batch");
				free(snapshot);
				free_record(r);
				break;
			}
			CHECK(batch_writer_append(&w, r),
				  "append of %zu bytes into %zu free bytes failed", size,
				  capacity - w.len);
			CHECK(w.len == before + size,
				  "append grew the batch by %zu bytes, batch_encoded_size said %zu",
				  w.len - before, size);
			n++;
		}
		if (n == 0)
		{
			/* the first record did not fit: nothing was written at all */
			for (size_t i = 0; i < capacity + GUARD; i++)
				if (buf[i] != FILL)
				{
					CHECK(false, "a failed append wrote byte %zu", i);
					break;
				}
			free(recs);
			free(buf);
			it--;				/* does not count as a round trip */
			continue;
		}
		len = batch_writer_finish(&w);
		CHECK(len == w.len && len <= capacity, "finish returned %zu, writer len %zu",
			  len, w.len);
		for (size_t i = len; i < capacity + GUARD; i++)
			if (buf[i] != FILL)
			{
				CHECK(false, "the writer wrote byte %zu past the batch end %zu", i, len);
				break;
			}
		snprintf(what, sizeof(what), "round trip %d (%d records)", it, n);
		check_encoded(buf, len, recs, n, base, first_ts, what);
		total_records += n;
		for (int i = 0; i < n; i++)
			free_record(&recs[i]);
		free(recs);
		free(buf);
	}
	CHECK(total_records > iterations, "too few records written: %d", total_records);
}

/* A record of about 1 MB, alone in its batch, and capacity edges. */
static void
test_large_record(void)
{
	BatchRecord r;
	BatchRecord small;
	size_t		size;
	size_t		capacity;
	unsigned char *buf;
	BatchWriter w;
	size_t		len;

	r.offset = 123456789;
	r.ts = INT64CONST(750000000000000);
	r.key_len = 17;
	r.key = random_bytes(r.key_len, false);
	r.value_len = 1024 * 1024 + 3;
	r.value = random_bytes(r.value_len, false);
	r.headers_len = 40;
	r.headers = random_bytes(r.headers_len, true);

	size = batch_encoded_size(&r, r.offset, r.ts);
	capacity = BATCH_HEADER_SIZE + size;
	buf = xmalloc(capacity + GUARD);

	/* one byte short: refused, nothing written */
	memset(buf, FILL, capacity + GUARD);
	batch_writer_init(&w, (char *) buf, capacity - 1, r.offset, r.ts);
	CHECK(!batch_writer_append(&w, &r), "1 MB record fit one byte short of its size");
	CHECK(w.len == BATCH_HEADER_SIZE && w.count == 0, "failed append changed the writer");

	/* exact capacity: accepted; then not even an empty record fits */
	batch_writer_init(&w, (char *) buf, capacity, r.offset, r.ts);
	CHECK(batch_writer_append(&w, &r), "1 MB record did not fit its exact size");
	small.offset = r.offset + 1;
	small.ts = r.ts;
	small.key = small.value = small.headers = NULL;
	small.key_len = small.value_len = small.headers_len = -1;
	CHECK(!batch_writer_append(&w, &small), "a record fit into a full batch");
	len = batch_writer_finish(&w);
	CHECK(len == capacity, "1 MB batch is %zu bytes, expected %zu", len, capacity);
	check_encoded(buf, len, &r, 1, r.offset, r.ts, "1 MB record");
	free_record(&r);
	free(buf);
}

/* Edge values that must round-trip. */
static void
test_edges(void)
{
	static const char k[] = "key";
	BatchRecord recs[4];
	unsigned char buf[512];
	BatchWriter w;
	size_t		len;

	/* null versus empty key, value and headers */
	memset(recs, 0, sizeof(recs));
	recs[0].offset = 0;
	recs[0].ts = 0;
	recs[0].key = NULL;
	recs[0].key_len = -1;
	recs[0].value = NULL;
	recs[0].value_len = -1;
	recs[0].headers = NULL;
	recs[0].headers_len = -1;
	recs[1].offset = 1;
	recs[1].ts = -1;
	recs[1].key = k;
	recs[1].key_len = 0;
	recs[1].value = k;
	recs[1].value_len = 0;
	recs[1].headers = k;
	recs[1].headers_len = 0;
	/* the largest offset delta the header can express */
	recs[2].offset = PG_INT32_MAX;
	recs[2].ts = PG_INT64_MIN / 4;
	recs[2].key = k;
	recs[2].key_len = 3;
	recs[2].value = NULL;
	recs[2].value_len = -1;
	recs[2].headers = NULL;
	recs[2].headers_len = 0;
	batch_writer_init(&w, (char *) buf, sizeof(buf), 0, 0);
	for (int i = 0; i < 3; i++)
		CHECK(batch_writer_append(&w, &recs[i]), "edge record %d did not fit", i);
	len = batch_writer_finish(&w);
	check_encoded(buf, len, recs, 3, 0, 0, "null/empty and max delta");

	/* the largest offsets int64 can hold */
	recs[0].offset = PG_INT64_MAX - PG_INT32_MAX;
	recs[0].ts = PG_INT64_MAX / 4;
	recs[1].offset = PG_INT64_MAX;
	recs[1].ts = PG_INT64_MAX / 4 - 1;
	batch_writer_init(&w, (char *) buf, sizeof(buf), recs[0].offset, recs[0].ts);
	for (int i = 0; i < 2; i++)
		CHECK(batch_writer_append(&w, &recs[i]), "edge record %d did not fit", i);
	len = batch_writer_finish(&w);
	check_encoded(buf, len, recs, 2, recs[0].offset, recs[0].ts, "offset INT64_MAX");

	/* first record above the base offset */
	recs[0].offset = 10;
	recs[0].ts = 5;
	batch_writer_init(&w, (char *) buf, sizeof(buf), 7, 5);
	CHECK(batch_writer_append(&w, &recs[0]), "edge record did not fit");
	len = batch_writer_finish(&w);
	check_encoded(buf, len, recs, 1, 7, 5, "first offset above base");
}

/* A batch the writer finished without records must read back as empty. */
static void
test_empty_batch(void)
{
	unsigned char buf[BATCH_HEADER_SIZE];
	BatchWriter w;
	size_t		len;
	BatchStatus why;
	bool		rej;

	batch_writer_init(&w, (char *) buf, sizeof(buf), 42, 1000);
	len = batch_writer_finish(&w);
	CHECK(len == BATCH_HEADER_SIZE, "empty batch is %zu bytes", len);
	rej = rejected(buf, len, &why);
	CHECK(!rej,
		  "an empty batch written by batch_writer_finish is rejected by the reader: %s",
		  batch_status_message(why));
}

/* ---------- corruption ---------- */

static const char *
status_name(BatchStatus s)
{
	return batch_status_message(s);
}

/* Builds one of the small batches used for corruption tests. */
static size_t
small_batch(int which, unsigned char *buf, size_t capacity)
{
	static const char key[] = "user-42";
	static const char value[] = "{\"amount\": 12.5}";
	static const char headers[] = "{\"trace\":\"ab\"}";
	BatchRecord r[3];
	BatchWriter w;
	int			n = 0;

	memset(r, 0, sizeof(r));
	if (which == 0)
	{
		/* key, value, headers; a gap; a negative timestamp delta; a tombstone */
		r[0] = (BatchRecord) {100, 5000, key, 7, value, 16, headers, 14};
		r[1] = (BatchRecord) {103, 4000, NULL, -1, "", 0, NULL, -1};
		r[2] = (BatchRecord) {104, 90000, key, 7, NULL, -1, "", 0};
		n = 3;
	}
	else if (which == 1)
	{
		/* one record with everything null */
		r[0] = (BatchRecord) {0, -7, NULL, -1, NULL, -1, NULL, -1};
		n = 1;
	}
	else
	{
		/* two records with multi-byte varints everywhere */
		r[0] = (BatchRecord) {INT64CONST(5000000000), INT64CONST(760000000000000),
		key, 7, value, 16, headers, 14};
		r[1] = (BatchRecord) {INT64CONST(5000000000) + 300, INT64CONST(760000000000000) - 86400000000,
		value, 16, key, 7, NULL, -1};
		n = 2;
	}
	batch_writer_init(&w, (char *) buf, capacity, r[0].offset, r[0].ts);
	for (int i = 0; i < n; i++)
		CHECK(batch_writer_append(&w, &r[i]), "small batch %d: record %d did not fit",
			  which, i);
	return batch_writer_finish(&w);
}

/* Every single-byte change anywhere in a small batch is detected. */
static void
test_byte_flips(void)
{
	for (int which = 0; which < 3; which++)
	{
		unsigned char buf[256];
		unsigned char tampered[256];
		size_t		len = small_batch(which, buf, sizeof(buf));
		BatchStatus why;
		bool		rej = rejected(buf, len, &why);

		CHECK(!rej, "small batch %d does not decode: %s", which, status_name(why));
		for (size_t pos = 0; pos < len; pos++)
		{
			int			undetected = 0;
			int			first_mask = 0;

			for (int mask = 1; mask < 256; mask++)
			{
				memcpy(tampered, buf, len);
				tampered[pos] ^= (unsigned char) mask;
				if (!rejected(tampered, len, NULL))
				{
					if (undetected++ == 0)
						first_mask = mask;
				}
			}
			CHECK(undetected == 0,
				  "small batch %d: %d of 255 changes of byte %zu are not detected "
				  "(e.g. xor 0x%02x)", which, undetected, pos, first_mask);
			if (undetected > 0 && n_failed <= 50)
			{
				memcpy(tampered, buf, len);
				tampered[pos] ^= (unsigned char) first_mask;
				fprintf(stderr, "  undetected batch: ");
				print_hex(stderr, tampered, len);
				fprintf(stderr, "\n");
			}
		}
	}
}

/* Every truncation, and every extension, is detected (also with a valid CRC). */
static void
test_truncation(void)
{
	for (int which = 0; which < 3; which++)
	{
		unsigned char buf[256];
		unsigned char tampered[256 + 16];
		size_t		len = small_batch(which, buf, sizeof(buf));

		for (size_t cut = 0; cut < len; cut++)
		{
			BatchStatus why;

			CHECK(rejected(buf, cut, &why),
				  "small batch %d truncated to %zu of %zu bytes is accepted",
				  which, cut, len);
			memcpy(tampered, buf, cut);
			restamp_crc(tampered, cut);
			CHECK(rejected(tampered, cut, &why),
				  "small batch %d truncated to %zu of %zu bytes, CRC restamped, "
				  "is accepted", which, cut, len);
		}
		for (size_t extra = 1; extra <= 16; extra++)
		{
			memcpy(tampered, buf, len);
			memset(tampered + len, (int) extra, extra);
			CHECK(rejected(tampered, len + extra, NULL),
				  "small batch %d with %zu trailing bytes is accepted", which, extra);
			restamp_crc(tampered, len + extra);
			CHECK(rejected(tampered, len + extra, NULL),
				  "small batch %d with %zu trailing bytes, CRC restamped, is accepted",
				  which, extra);
		}
	}
}

/*
 * A hand-built record: every field explicit, so that it can lie.  lengths
 * say what the length varint claims; *_n how many bytes really follow (-1:
 * as claimed).  wide[i] > 0 encodes field i (0 body length, 1 ts delta,
 * 2 offset delta, 3 key length, 4 value length, 5 headers length) as a
 * varint of that many bytes instead of the shortest form.
 */
typedef struct Raw
{
	int64		ts_delta;
	uint64		offset_delta;
	int64		key_len;
	int64		key_n;
	int64		value_len;
	int64		value_n;
	int64		headers_len;
	int64		headers_n;
	int64		body_adjust;	/* added to the true body length */
	bool		body_override;
	uint64		body_len;		/* used instead, when body_override */
	int			trailing;		/* garbage bytes inside the body, after headers */
	int			wide[6];
} Raw;

static const char filler[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static Raw
raw_record(uint64 offset_delta, int64 ts_delta)
{
	Raw			r;

	memset(&r, 0, sizeof(r));
	r.offset_delta = offset_delta;
	r.ts_delta = ts_delta;
	r.key_len = 3;
	r.key_n = -1;
	r.value_len = 5;
	r.value_n = -1;
	r.headers_len = -1;
	r.headers_n = -1;
	return r;
}

static void
put_field(Buf *b, uint64 v, int wide)
{
	if (wide > 0)
		buf_varint_n(b, v, wide);
	else
		buf_varint(b, v);
}

static void
put_raw_bytes(Buf *b, int64 claimed, int64 real, int wide)
{
	int64		n = real >= 0 ? real : Max(claimed, 0);

	put_field(b, zz(claimed), wide);
	while (n > 0)
	{
		int64		chunk = Min(n, (int64) sizeof(filler));

		buf_put(b, filler, chunk);
		n -= chunk;
	}
}

static void
put_raw(Buf *records, const Raw *r)
{
	Buf			body = {0};

	put_field(&body, zz(r->ts_delta), r->wide[1]);
	put_field(&body, r->offset_delta, r->wide[2]);
	put_raw_bytes(&body, r->key_len, r->key_n, r->wide[3]);
	put_raw_bytes(&body, r->value_len, r->value_n, r->wide[4]);
	put_raw_bytes(&body, r->headers_len, r->headers_n, r->wide[5]);
	for (int i = 0; i < r->trailing; i++)
		buf_u8(&body, 0);
	put_field(records, r->body_override ? r->body_len :
			  (uint64) ((int64) body.len + r->body_adjust), r->wide[0]);
	buf_put(records, body.data, body.len);
	buf_free(&body);
}

typedef struct Crafted
{
	Hdr			h;
	int			n;
	Raw			r[4];
	int			trailing;		/* bytes after the last record */
} Crafted;

/* Three records at deltas 0, 2, 4 of base 100, which decode fine. */
static Crafted
baseline(void)
{
	Crafted		c;

	memset(&c, 0, sizeof(c));
	c.h = default_hdr();
	c.h.base_offset = 100;
	c.h.last_delta = 4;
	c.h.first_ts = 1000;
	c.h.max_ts = 2000;
	c.h.count = 3;
	c.n = 3;
	c.r[0] = raw_record(0, 0);
	c.r[1] = raw_record(2, 1000);
	c.r[2] = raw_record(4, -1000);
	return c;
}

static void
build(Buf *out, const Crafted *c)
{
	Buf			records = {0};

	for (int i = 0; i < c->n; i++)
		put_raw(&records, &c->r[i]);
	for (int i = 0; i < c->trailing; i++)
		buf_u8(&records, 0x01);
	assemble(out, &c->h, &records);
	buf_free(&records);
}

static void
expect_crafted(const Crafted *c, bool accept, const char *what)
{
	Buf			b = {0};
	BatchStatus why;
	bool		rej;

	build(&b, c);
	rej = rejected(b.data, b.len, &why);
	if (accept)
		CHECK(!rej, "valid crafted batch rejected (%s): %s", what, status_name(why));
	else
	{
		CHECK(rej, "crafted batch with a valid CRC accepted: %s", what);
		if (!rej && n_failed <= 50)
		{
			fprintf(stderr, "  accepted batch: ");
			print_hex(stderr, b.data, b.len);
			fprintf(stderr, "\n");
		}
	}
	buf_free(&b);
}

#define REJECT(what, ...) \
	do { Crafted c = baseline(); __VA_ARGS__; expect_crafted(&c, false, what); } while (0)
#define ACCEPT(what, ...) \
	do { Crafted c = baseline(); __VA_ARGS__; expect_crafted(&c, true, what); } while (0)

static void
test_structure(void)
{
	/* the baseline and a few valid variants are accepted */
	ACCEPT("baseline",);
	ACCEPT("first offset above base", c.r[0].offset_delta = 1);
	ACCEPT("null and empty fields",
		   c.r[1].key_len = -1, c.r[1].value_len = 0, c.r[1].headers_len = 0);
	ACCEPT("largest offset delta",
		   c.h.last_delta = PG_INT32_MAX, c.r[2].offset_delta = PG_INT32_MAX);
	ACCEPT("offsets up to INT64_MAX",
		   c.h.base_offset = PG_INT64_MAX - 4);
	ACCEPT("extreme first_ts, zero deltas",
		   c.h.first_ts = PG_INT64_MAX, c.h.max_ts = PG_INT64_MAX,
		   c.r[1].ts_delta = 0, c.r[2].ts_delta = 0);
	ACCEPT("empty batch", c.n = 0, c.h.count = 0, c.h.last_delta = 0);

	/* magic, version and attributes (outside the CRC) */
	REJECT("bad magic 0", c.h.magic0 = 'X');
	REJECT("bad magic 1", c.h.magic1 = 'X');
	REJECT("version 0", c.h.version = 0);
	REJECT("version 2", c.h.version = 2);
	REJECT("unknown attributes 0x01", c.h.attributes = 0x01);
	REJECT("unknown attributes 0x80", c.h.attributes = 0x80);

	/* header values */
	REJECT("first_ts above max_ts", c.h.first_ts = 3000);
	REJECT("a record's ts above max_ts", c.h.max_ts = 1000);
	REJECT("negative base offset", c.h.base_offset = -1);
	REJECT("INT64_MIN base offset", c.h.base_offset = PG_INT64_MIN);
	REJECT("negative last offset delta", c.h.last_delta = -1);
	REJECT("INT32_MIN last offset delta", c.h.last_delta = PG_INT32_MIN);
	REJECT("negative count", c.h.count = -1);
	REJECT("count above last delta + 1", c.h.count = 6);
	REJECT("count 0 with a last delta", c.n = 0, c.h.count = 0, c.h.last_delta = 3);
	REJECT("last offset beyond INT64_MAX",
		   c.h.base_offset = PG_INT64_MAX - 2);
	REJECT("last offset beyond INT64_MAX, one record at base",
		   c.h.base_offset = PG_INT64_MAX - 2, c.n = 1, c.h.count = 1);

	/* count against the records present */
	REJECT("count 2, 3 records", c.h.count = 2);
	REJECT("count 4, 3 records", c.h.count = 4);
	REJECT("count 5, 3 records", c.h.count = 5);
	REJECT("count 0, 3 records", c.h.count = 0);
	REJECT("count 0, last delta 0, 3 records", c.h.count = 0, c.h.last_delta = 0);
	REJECT("count 1, 3 records", c.h.count = 1);
	REJECT("count INT32_MAX", c.h.count = PG_INT32_MAX, c.h.last_delta = PG_INT32_MAX);

	/* offsets */
	REJECT("offset delta repeated", c.r[1].offset_delta = 0);
	REJECT("offset delta decreasing", c.r[1].offset_delta = 3, c.r[2].offset_delta = 2);
	REJECT("first delta above second", c.r[0].offset_delta = 3, c.r[1].offset_delta = 2);
	REJECT("offset delta above last delta", c.r[2].offset_delta = 5);
	REJECT("offset delta far above last delta", c.r[2].offset_delta = UINT64CONST(1) << 40);
	REJECT("offset delta 2^64-1", c.r[2].offset_delta = ~UINT64CONST(0));
	REJECT("last record below last delta", c.r[2].offset_delta = 3);
	REJECT("last delta beyond the records", c.h.last_delta = 5);

	/* timestamps */
	REJECT("timestamp beyond INT64_MAX",
		   c.h.first_ts = PG_INT64_MAX, c.r[1].ts_delta = 1, c.r[2].ts_delta = 0);
	REJECT("timestamp below INT64_MIN",
		   c.h.first_ts = PG_INT64_MIN, c.r[1].ts_delta = -1, c.r[2].ts_delta = 0);

	/* body lengths */
	REJECT("last body length +1", c.r[2].body_adjust = 1);
	REJECT("first body length +1", c.r[0].body_adjust = 1);
	REJECT("first body length -1", c.r[0].body_adjust = -1);
	REJECT("last body length -1", c.r[2].body_adjust = -1);
	REJECT("body length 0", c.r[1].body_override = true, c.r[1].body_len = 0);
	REJECT("body length 2^40", c.r[2].body_override = true, c.r[2].body_len = UINT64CONST(1) << 40);
	REJECT("body length 2^64-1", c.r[0].body_override = true, c.r[0].body_len = ~UINT64CONST(0));
	REJECT("garbage inside a body", c.r[1].trailing = 1);
	REJECT("garbage inside the last body", c.r[2].trailing = 3);
	REJECT("garbage after the last record", c.trailing = 1);

	/* field lengths pointing beyond the body or the batch */
	REJECT("key length beyond the body", c.r[1].key_len = 1000, c.r[1].key_n = 3);
	REJECT("key length one beyond the body", c.r[2].key_len = 4, c.r[2].key_n = 3);
	REJECT("value length beyond the body", c.r[0].value_len = 60, c.r[0].value_n = 5);
	REJECT("value length beyond the batch", c.r[2].value_len = 1 << 20, c.r[2].value_n = 5);
	REJECT("headers length beyond the body", c.r[2].headers_len = 2, c.r[2].headers_n = 0);
	REJECT("headers length INT64_MAX", c.r[2].headers_len = PG_INT64_MAX, c.r[2].headers_n = 0);
	REJECT("key length 2^31", c.r[0].key_len = INT64CONST(1) << 31, c.r[0].key_n = 3);
	REJECT("key length shorter than the bytes", c.r[1].key_len = 2, c.r[1].key_n = 3);

	/* negative lengths other than -1 */
	REJECT("key length -2", c.r[0].key_len = -2, c.r[0].key_n = 0);
	REJECT("value length -3", c.r[1].value_len = -3, c.r[1].value_n = 0);
	REJECT("headers length -1000", c.r[2].headers_len = -1000, c.r[2].headers_n = 0);
	REJECT("key length INT32_MIN", c.r[0].key_len = PG_INT32_MIN, c.r[0].key_n = 0);
	REJECT("value length INT64_MIN", c.r[1].value_len = PG_INT64_MIN, c.r[1].value_n = 0);
	REJECT("key length -2 with bytes", c.r[0].key_len = -2, c.r[0].key_n = 3);

	/* varints of more than 10 bytes */
	for (int field = 0; field < 6; field++)
	{
		char		what[64];

		snprintf(what, sizeof(what), "11-byte varint in field %d", field);
		REJECT(what, c.r[1].wide[field] = 11);
		snprintf(what, sizeof(what), "20-byte varint in field %d", field);
		REJECT(what, c.r[2].wide[field] = 20);
	}
}

/* ---------- murmur2 ---------- */

static void
test_murmur2(void)
{
	static const struct
	{
		const char *s;
		int32		h;
	}			v[] = {
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		{"", 275646681},
	};

	for (size_t i = 0; i < lengthof(v); i++)
	{
		int32		h = kafka_murmur2(v[i].s, strlen(v[i].s));

		CHECK(h == v[i].h, "kafka_murmur2(\"%s\") = %d, Kafka says %d", v[i].s, h, v[i].h);
	}
	/* the partition is the positive hash modulo the partition count */
	for (size_t i = 0; i < lengthof(v); i++)
		for (int32 parts = 1; parts <= 13; parts += 3)
		{
			int32		p = partition_for_key(v[i].s, strlen(v[i].s), parts);

			CHECK(p == (int32) (((uint32) v[i].h & 0x7fffffff) % (uint32) parts),
				  "partition_for_key(\"%s\", %d) = %d", v[i].s, parts, p);
		}
}

/* The reference CRC is the one the server uses. */
static void
test_crc(void)
{
	static const char check[] = "123456789";
	pg_crc32c	crc;
	unsigned char buf[1000];

	CHECK(ref_crc32c((const unsigned char *) check, 9) == 0xE3069283,
		  "reference CRC-32C of \"123456789\" is %08x", ref_crc32c((const unsigned char *) check, 9));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char) rnd();
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, sizeof(buf));
	FIN_CRC32C(crc);
	CHECK(crc == ref_crc32c(buf, sizeof(buf)), "pg_crc32c and the reference CRC differ");
}

static void
test_status_messages(void)
{
	for (int s = BATCH_OK; s <= BATCH_BAD_RECORD; s++)
		CHECK(batch_status_message((BatchStatus) s) != NULL &&
			  strcmp(batch_status_message((BatchStatus) s), "unknown batch error") != 0,
			  "status %d has no message", s);
}

/* ---------- seed corpus for the fuzzer ---------- */

static void
write_file(const char *dir, const char *name, const unsigned char *p, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

static void
write_seeds(const char *dir)
{
	unsigned char buf[256];
	char		name[64];
	Buf			b = {0};
	Crafted		c;

	for (int which = 0; which < 3; which++)
	{
		size_t		len = small_batch(which, buf, sizeof(buf));

		snprintf(name, sizeof(name), "small-%d.bin", which);
		write_file(dir, name, buf, len);
	}
	c = baseline();
	build(&b, &c);
	write_file(dir, "crafted-baseline.bin", b.data, b.len);
	c = baseline();
	c.n = 0;
	c.h.count = 0;
	c.h.last_delta = 0;
	build(&b, &c);
	write_file(dir, "crafted-empty.bin", b.data, b.len);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	uint64		seed = UINT64CONST(20240611);
	int			iterations = 2000;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			iterations = atoi(argv[++i]);
		else if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc)
		{
			crc_init();
			write_seeds(argv[++i]);
			return 0;
		}
		else
		{
			fprintf(stderr, "usage: %s [--seed N] [--iterations N] [--write-seeds DIR]\n",
					argv[0]);
			return 2;
		}
	}
	rng_state = seed;
	crc_init();

	test_crc();
	test_murmur2();
	test_status_messages();
	test_edges();
	test_empty_batch();
	test_large_record();
	test_random_round_trips(iterations);
	test_byte_flips();
	test_truncation();
	test_structure();

	if (n_failed > 50)
		fprintf(stderr, "(%d more failures not shown)\n", n_failed - 50);
	printf("batch_unit: %d passed, %d failed (seed %llu, %d iterations)\n",
		   n_passed, n_failed, (unsigned long long) seed, iterations);
	return n_failed == 0 ? 0 : 1;
}
