/* Logging to stderr with the process role and a level. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdarg.h>

enum sg_log_level { SG_LOG_DEBUG = 0, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERR };

void sg_log_init(const char *role, enum sg_log_level level);
void sg_log_set_level(enum sg_log_level level);
enum sg_log_level sg_log_get_level(void);
int  sg_log_level_parse(const char *s, enum sg_log_level *out);
const char *sg_log_level_name(enum sg_log_level level);
void sg_log(enum sg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Log and exit(1).  For broken invariants and hostile peers. */
_Noreturn void sg_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
