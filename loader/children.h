/*
 * The two unprivileged children: fork+exec, restart with backoff, stop.
 * In the child between fork and exec only async-signal-safe calls are
 * made (the loader may have threads by then): switch to the service uid,
 * clear ambient capabilities, PR_SET_NO_NEW_PRIVS, close inherited fds
 * but the collector's channel, exec.  The loader's bounding set is already empty, so nothing can be
 * regained.
 */
#ifndef SG_CHILDREN_H
#define SG_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum sg_child { SG_CHILD_COLLECTOR = 0, SG_CHILD_EXPORTER, SG_CHILD_MAX };

struct sg_children_opts {
	const char *helper_dir;     /* where spyglass-collector/-exporter are */
	const char *runtime_dir;
	const char *log_level;      /* passed as -l until the config arrives */
	bool        sandbox_debug;  /* passed as -S */
	const char *ca_file;        /* OTLP CA bundle, passed as -C */
	bool        otlp;           /* OTLP export configured: -O */
	uid_t       uid;            /* switch to these when running as root */
	gid_t       gid;
	int         collector_fds[2]; /* its channel (chan.h): the memory and
	                               * the wake-up, its descriptors 3 and 4 */
};

void     children_init(const struct sg_children_opts *o);
/* Start one child now.  Returns its pid or -1. */
pid_t    children_spawn(enum sg_child which);
/* Reap exited children (call on SIGCHLD); a child that died while not
 * stopping is scheduled for restart with exponential backoff (0.1 s
 * doubling to 10 s, reset after 30 s of good running). */
void     children_reap(uint64_t now_ms);
/* Restart children whose backoff has expired. */
void     children_tick(uint64_t now_ms);
uint64_t children_restarts(enum sg_child which);
pid_t    children_pid(enum sg_child which);
const char *children_name(enum sg_child which);
/* From now on start the exporter with -O (it then loads libcurl) or
 * without.  True when on and the running exporter was started without
 * it: it cannot export until restarted. */
bool     children_exporter_otlp(bool on);
/* Stop a running child and start it again at once, with the current
 * options: not counted as a restart, no backoff. */
void     children_restart(enum sg_child which);
/* SIGTERM both, wait up to timeout_ms, then SIGKILL. */
void     children_stop(int timeout_ms);
/* Wait, at most timeout_ms, for that child to exit by itself; none is
 * restarted any more. */
void     children_wait(enum sg_child which, int timeout_ms);

#endif
