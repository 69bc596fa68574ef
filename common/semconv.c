#include "semconv.h"

#include <string.h>

#include "msg.h"

const char *
semconv_http_method(const char *m, size_t max)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };
	size_t n = strnlen(m, max);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0)
			return known[i];
	return NULL;
}

bool
semconv_grpc_server_error(uint32_t code)
{
	switch (code) {
	case 2:		/* UNKNOWN */
	case 4:		/* DEADLINE_EXCEEDED */
	case 12:	/* UNIMPLEMENTED */
	case 13:	/* INTERNAL */
	case 14:	/* UNAVAILABLE */
	case 15:	/* DATA_LOSS */
		return true;
	default:
		return false;
	}
}

bool
semconv_grpc_split(const char *target, size_t max, const char **service,
    size_t *service_len, const char **method, size_t *method_len)
{
	size_t n = strnlen(target, max);
	const char *slash;

	if (n < 4 || target[0] != '/')
		return false;
	slash = memchr(target + 1, '/', n - 1);
	if (slash == NULL || slash == target + 1 || slash == target + n - 1 ||
	    memchr(slash + 1, '/', (size_t)(target + n - slash - 1)) != NULL)
		return false;
	*service = target + 1;
	*service_len = (size_t)(slash - target - 1);
	*method = slash + 1;
	*method_len = (size_t)(target + n - slash - 1);
	return true;
}

const char *
semconv_db_system(uint8_t app)
{
	switch (app) {
	case SG_APP_POSTGRESQL:
		return "postgresql";
	case SG_APP_MYSQL:
		return "mysql";
	case SG_APP_REDIS:
		return "redis";
	case SG_APP_MEMCACHED:
		return "memcached";
	default:
		return NULL;
	}
}

const char *
semconv_messaging_system(uint8_t app)
{
	return app == SG_APP_KAFKA ? "kafka" : NULL;
}

bool
semconv_app_is_sql(uint8_t app)
{
	return app == SG_APP_POSTGRESQL || app == SG_APP_MYSQL;
}
