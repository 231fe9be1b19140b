/*-------------------------------------------------------------------------
 *
 * partitioner.c
 *	  Key to partition, bit for bit as Kafka's default partitioner:
 *	  murmur2 of the key bytes (seed 0x9747b28c), made positive by masking
 *	  the sign bit, modulo the partition count.  A record keyed "k" thus lands
 *	  in the same partition number here as in a Kafka topic with as many
 *	  partitions, which keeps per-key order when data moves between the two.
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include "partitioner.h"

int32
kafka_murmur2(const char *data, size_t len)
{
	const uint32 m = 0x5bd1e995;
	const int	r = 24;
	const unsigned char *p = (const unsigned char *) data;
	uint32		h = 0x9747b28c ^ (uint32) len;
	size_t		quads = len / 4;

	for (size_t i = 0; i < quads; i++)
	{
		uint32		k = (uint32) p[4 * i] |
			((uint32) p[4 * i + 1] << 8) |
			((uint32) p[4 * i + 2] << 16) |
			((uint32) p[4 * i + 3] << 24);

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}

	switch (len % 4)
	{
		case 3:
			h ^= (uint32) p[(len & ~3) + 2] << 16;
			/* FALLTHROUGH */
		case 2:
			h ^= (uint32) p[(len & ~3) + 1] << 8;
			/* FALLTHROUGH */
		case 1:
			h ^= (uint32) p[len & ~3];
			h *= m;
	}

	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32) h;
}

int32
partition_for_key(const char *key, size_t len, int32 partitions)
{
	return (int32) (((uint32) kafka_murmur2(key, len) & 0x7fffffff) %
					(uint32) partitions);
}
