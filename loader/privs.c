/*
 * Capabilities and the service user (see privs.h).
 *
 * As root: empty the bounding set while CAP_SETPCAP is still there, switch
 * groups and uids with PR_SET_KEEPCAPS so the permitted set survives, then
 * cut permitted and effective down to what the features need.  Every step
 * is checked afterwards: a drop that half happened is worse than none,
 * because it looks like it worked.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

#ifndef SG_SERVICE_USER
#define SG_SERVICE_USER "spyglass"
#endif

/* Capability numbers are below 64 for the foreseeable future; the
 * kernel answers EINVAL past the last one it knows. */
#define SG_CAP_MAX 64

uint64_t
privs_needed(const struct sg_config *c, bool admin_uprobes)
{
	/* Loading maps and programs, and the ring buffer. */
	uint64_t caps = SG_CAPBIT(CAP_BPF) |
	    /* Tracepoint, raw tracepoint and uprobe attachment (perf events)
	     * and the kernel data tracing programs read. */
	    SG_CAPBIT(CAP_PERFMON) |
	    /* /proc/PID/exe, environ and the fd table of processes of other
	     * users (ptrace_may_access). */
	    SG_CAPBIT(CAP_SYS_PTRACE) |
	    /* Searching /proc/PID/fd (mode 0500, owned by the target) and
	     * reading tracefs files after the uid switch. */
	    SG_CAPBIT(CAP_DAC_READ_SEARCH);

	/* Uprobes go on libraries as selected processes load them: for as
	 * long as the sensor runs. */
	if (c->ebpf.tls && admin_uprobes)
		caps |= SG_CAPBIT(CAP_SYS_ADMIN);
	/* Propagation's programs (sockops, sk_msg) are networking ones. */
	if (sg_config_propagation(c) != SG_PROPAGATION_DISABLED)
		caps |= SG_CAPBIT(CAP_NET_ADMIN);
	return caps;
}

/* One of the sets of this process as a bit mask. */
static uint64_t
privs_get(cap_flag_t flag)
{
	cap_flag_value_t v;
	uint64_t set = 0;
	cap_t caps;

	if ((caps = cap_get_proc()) == NULL)
		return 0;
	for (int i = 0; i < SG_CAP_MAX; i++)
		if (cap_get_flag(caps, i, flag, &v) == 0 && v == CAP_SET)
			set |= SG_CAPBIT(i);
	cap_free(caps);
	return set;
}

uint64_t
privs_held(void)
{
	return privs_get(CAP_EFFECTIVE);
}

static uint64_t
privs_bounding(void)
{
	uint64_t set = 0;
	int r;

	for (int i = 0; i < SG_CAP_MAX; i++) {
		if ((r = prctl(PR_CAPBSET_READ, i, 0, 0, 0)) < 0)
			break;
		if (r == 1)
			set |= SG_CAPBIT(i);
	}
	return set;
}

static uint64_t
privs_ambient(void)
{
	uint64_t set = 0;
	int r;

	for (int i = 0; i < SG_CAP_MAX; i++) {
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0);
		if (r < 0)
			break;
		if (r == 1)
			set |= SG_CAPBIT(i);
	}
	return set;
}

void
privs_format(uint64_t caps, char *buf, size_t sz)
{
	size_t len = 0;
	char *name;
	int n;

	if (sz == 0)
		return;
	buf[0] = '\0';
	if (caps == 0) {
		snprintf(buf, sz, "none");
		return;
	}
	for (int i = 0; i < SG_CAP_MAX && len < sz; i++) {
		if ((caps & SG_CAPBIT(i)) == 0)
			continue;
		name = cap_to_name(i);
		n = snprintf(buf + len, sz - len, "%s%s", len ? "," : "",
		    name ? name : "?");
		cap_free(name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static struct passwd *
privs_lookup(const char *user)
{
	char *end;
	unsigned long id;

	errno = 0;
	id = strtoul(user, &end, 10);
	if (*user != '\0' && *end == '\0' && errno == 0)
		return getpwuid((uid_t)id);
	return getpwnam(user);
}

int
privs_resolve_user(const struct sg_config *c, uid_t *uid, gid_t *gid,
    char *name, size_t namesz, char *err, size_t errsz)
{
	struct passwd *pw;

	if (c->user[0] != '\0') {
		if ((pw = privs_lookup(c->user)) == NULL) {
			snprintf(err, errsz, "user = %s: no such user", c->user);
			return -1;
		}
	} else if ((pw = getpwnam(SG_SERVICE_USER)) == NULL &&
	    (pw = getpwnam("nobody")) == NULL) {
		snprintf(err, errsz, "neither the service user %s nor nobody "
		    "exists: set user", SG_SERVICE_USER);
		return -1;
	}
	/* Running the loader and the children as root after start-up is
	 * exactly what the privilege separation is there to avoid. */
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "user %s has uid 0: choose an unprivileged "
		    "user", pw->pw_name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	snprintf(name, namesz, "%s", pw->pw_name);
	return 0;
}

/* Without CAP_SETPCAP this fails; the caller decides whether it may. */
static int
privs_drop_bounding(void)
{
	int r;

	for (int i = 0; i < SG_CAP_MAX; i++) {
		if ((r = prctl(PR_CAPBSET_READ, i, 0, 0, 0)) < 0)
			break;   /* EINVAL: past the last capability */
		if (r == 1 && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0) {
			sg_log(SG_LOG_ERR, "privs: PR_CAPBSET_DROP %d: %s", i,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* permitted = effective = keep, inheritable empty. */
static int
privs_set(uint64_t keep)
{
	cap_value_t list[SG_CAP_MAX];
	int n = 0, rc = 0;
	cap_t caps;

	for (int i = 0; i < SG_CAP_MAX; i++)
		if (keep & SG_CAPBIT(i))
			list[n++] = i;
	if ((caps = cap_init()) == NULL) {
		sg_log(SG_LOG_ERR, "privs: cap_init: %s", strerror(errno));
		return -1;
	}
	if (n > 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, n, list, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, list, CAP_SET) < 0))
		rc = -1;
	if (rc == 0 && cap_set_proc(caps) < 0)
		rc = -1;
	if (rc < 0)
		sg_log(SG_LOG_ERR, "privs: cap_set_proc: %s", strerror(errno));
	cap_free(caps);
	return rc;
}

static int
privs_clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {   /* EINVAL: a kernel without ambient sets */
		sg_log(SG_LOG_ERR, "privs: PR_CAP_AMBIENT_CLEAR_ALL: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
privs_check_set(const char *what, uint64_t have, uint64_t want)
{
	char h[512], w[512];

	if (have == want)
		return 0;
	privs_format(have, h, sizeof(h));
	privs_format(want, w, sizeof(w));
	sg_log(SG_LOG_ERR, "privs: %s capabilities are %s, expected %s", what,
	    h, w);
	return -1;
}

/* Read the ids back after a switch.  Any difference is an error. */
static int
privs_verify_ids(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int rc = 0, ng;

	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid ||
	    su != uid) {
		sg_log(SG_LOG_ERR, "privs: uids are %d/%d/%d, expected %d",
		    (int)ru, (int)eu, (int)su, (int)uid);
		rc = -1;
	}
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid ||
	    sg != gid) {
		sg_log(SG_LOG_ERR, "privs: gids are %d/%d/%d, expected %d",
		    (int)rg, (int)eg, (int)sg, (int)gid);
		rc = -1;
	}
	ng = getgroups(2, groups);
	if (ng < 0 || ng > 1 || (ng == 1 && groups[0] != gid)) {
		sg_log(SG_LOG_ERR, "privs: supplementary groups remain");
		rc = -1;
	}
	return rc;
}

/* Read the capability sets back.  Any difference is an error. */
static int
privs_verify_caps(uint64_t keep, bool bounding)
{
	int rc = 0;

	if (privs_check_set("effective", privs_get(CAP_EFFECTIVE), keep) < 0 ||
	    privs_check_set("permitted", privs_get(CAP_PERMITTED), keep) < 0 ||
	    privs_check_set("inheritable", privs_get(CAP_INHERITABLE), 0) < 0 ||
	    privs_check_set("ambient", privs_ambient(), 0) < 0 ||
	    (bounding &&
	    privs_check_set("bounding", privs_bounding(), 0) < 0))
		rc = -1;
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) {
		sg_log(SG_LOG_ERR, "privs: PR_SET_KEEPCAPS still set");
		rc = -1;
	}
	return rc;
}

static int
privs_drop_root(uid_t uid, gid_t gid, uint64_t keep)
{
	bool setpcap = privs_held() & SG_CAPBIT(CAP_SETPCAP);

	if (uid == 0) {
		sg_log(SG_LOG_ERR, "privs: refusing to keep running as uid 0");
		return -1;
	}
	/* Keep the permitted set across the uid change; cut it below. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		sg_log(SG_LOG_ERR, "privs: PR_SET_KEEPCAPS: %s",
		    strerror(errno));
		return -1;
	}
	/* Now, while CAP_SETPCAP is held: afterwards nothing executed by
	 * this process can gain a capability back.  A container's root may
	 * lack CAP_SETPCAP; the children still get no_new_privs. */
	if (!setpcap)
		sg_log(SG_LOG_WARN, "privs: no CAP_SETPCAP, the bounding set "
		    "stays as it is");
	else if (privs_drop_bounding() < 0)
		return -1;
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		sg_log(SG_LOG_ERR, "privs: switching to uid %d gid %d: %s",
		    (int)uid, (int)gid, strerror(errno));
		return -1;
	}
	if (privs_set(keep) < 0 || privs_clear_ambient() < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		sg_log(SG_LOG_ERR, "privs: PR_SET_KEEPCAPS 0: %s",
		    strerror(errno));
		return -1;
	}
	if (privs_verify_ids(uid, gid) < 0 ||
	    privs_verify_caps(keep, setpcap) < 0)
		return -1;
	/* Without CAP_SETUID there is no way back to root. */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0) {
		sg_log(SG_LOG_ERR, "privs: root could be regained after the "
		    "drop");
		return -1;
	}
	return 0;
}

/* Under systemd (User= plus AmbientCapabilities=): no uid switch, keep
 * the needed part of what was granted. */
static int
privs_drop_user(uint64_t keep)
{
	bool setpcap = privs_held() & SG_CAPBIT(CAP_SETPCAP);

	if (privs_clear_ambient() < 0)
		return -1;
	if (setpcap && privs_drop_bounding() < 0)
		return -1;
	if (privs_set(keep) < 0)
		return -1;
	return privs_verify_caps(keep, setpcap);
}

int
privs_drop(uid_t uid, gid_t gid, uint64_t keep)
{
	uint64_t permitted = privs_get(CAP_PERMITTED);
	uid_t ru, eu, su;
	char buf[512];

	/* What was never granted cannot be kept. */
	if ((keep & ~permitted) != 0) {
		privs_format(keep & ~permitted, buf, sizeof(buf));
		sg_log(SG_LOG_WARN, "privs: not held, cannot keep: %s", buf);
		keep &= permitted;
	}
	if (getresuid(&ru, &eu, &su) < 0) {
		sg_log(SG_LOG_ERR, "privs: getresuid: %s", strerror(errno));
		return -1;
	}
	if (ru == 0 || eu == 0 || su == 0) {
		if (privs_drop_root(uid, gid, keep) < 0)
			return -1;
	} else {
		if (ru != uid)
			sg_log(SG_LOG_INFO, "privs: running as uid %d, not "
			    "switching to %d", (int)ru, (int)uid);
		if (privs_drop_user(keep) < 0)
			return -1;
	}
	privs_format(keep, buf, sizeof(buf));
	sg_log(SG_LOG_INFO, "privs: running as uid %d gid %d with %s",
	    (int)getuid(), (int)getgid(), buf);
	return 0;
}

