/*
 * The parsers the collector knows, and the detection of a connection's
 * protocol from its first bytes.
 */
#include "proto.h"

#include "http1.h"
#include "http2.h"
#include "kafka.h"
#include "memcached.h"
#include "redis.h"
#include "mysql.h"
#include "postgres.h"

static const struct sg_proto_ops *const proto_table[SG_PROTO_MAX] = {
	[SG_PROTO_HTTP1] = &http1_ops,
	[SG_PROTO_HTTP2] = &http2_ops,
	[SG_PROTO_POSTGRES] = &postgres_ops,
	[SG_PROTO_MYSQL] = &mysql_ops,
	[SG_PROTO_KAFKA] = &kafka_ops,
	[SG_PROTO_REDIS] = &redis_ops,
	[SG_PROTO_MEMCACHED] = &memcached_ops,
};

static bool proto_sql_any_port;

void
proto_set_sql_heuristic(bool on)
{
	proto_sql_any_port = on;
}

bool
proto_sql_heuristic(void)
{
	return proto_sql_any_port;
}

const struct sg_proto_ops *
proto_ops(uint8_t id)
{
	return id < SG_PROTO_MAX ? proto_table[id] : NULL;
}

uint32_t
proto_for_apps(uint32_t apps)
{
	uint32_t enabled = 0;

	for (uint8_t id = SG_PROTO_NONE + 1; id < SG_PROTO_MAX; id++)
		if (proto_table[id] != NULL && (proto_table[id]->apps & apps))
			enabled |= 1u << id;
	return enabled;
}

uint8_t
proto_detect(uint32_t enabled, const uint8_t *data, size_t captured,
    uint8_t dir, uint16_t port, bool *maybe)
{
	*maybe = false;
	for (uint8_t id = SG_PROTO_NONE + 1; id < SG_PROTO_MAX; id++) {
		const struct sg_proto_ops *ops = proto_table[id];

		if (ops == NULL || !(enabled & (1u << id)))
			continue;
		switch (ops->sniff(data, captured, dir, port)) {
		case SG_SNIFF_YES:
			return id;
		case SG_SNIFF_MAYBE:
			*maybe = true;
			break;
		case SG_SNIFF_NO:
			break;
		}
	}
	return SG_PROTO_NONE;
}
