/*
 * The runtime directory (rundir.h).
 */
#include "rundir.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define SG_LOCK_FILE "spyglass.lock"

int
rundir_make(const char *dir, uid_t uid, gid_t gid)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		sg_log(SG_LOG_ERR, "runtime_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		sg_log(SG_LOG_ERR, "runtime_dir %s is not a directory", dir);
		return -1;
	}
	if (geteuid() == 0 && (chown(dir, uid, gid) < 0 || chmod(dir, 0700) < 0)) {
		sg_log(SG_LOG_ERR, "runtime_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* One sensor per runtime directory: a second one would take over the
 * first one's channels.  The lock lives as long as the loader. */
int
rundir_lock(const char *dir)
{
	char path[PATH_MAX], other[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/" SG_LOCK_FILE, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		sg_log(SG_LOG_ERR, "runtime_dir %s: %s: %s", dir, path,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if ((n = pread(fd, other, sizeof(other) - 1, 0)) > 0)
			other[n] = '\0';
		other[strcspn(other, "\n")] = '\0';
		sg_log(SG_LOG_ERR, "runtime_dir %s is in use by another "
		    "spyglass (pid %s): stop it, or give this one another "
		    "runtime_dir", dir, other[0] ? other : "unknown");
		close(fd);
		return -1;
	}
	n = snprintf(other, sizeof(other), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, other, (size_t)n, 0) != n)
		sg_log(SG_LOG_WARN, "runtime_dir %s: cannot write %s", dir,
		    path);
	return fd;
}

void
rundir_forget(const char *dir, pid_t pid)
{
	static const char *const bases[] = { SG_IPC_SPANS, SG_IPC_EXPORTER };
	char path[PATH_MAX];

	for (size_t i = 0; pid > 0 && i < sizeof(bases) / sizeof(bases[0]);
	    i++)
		if (sg_ipc_path(path, sizeof(path), dir, bases[i], pid) == 0)
			(void)unlink(path);
}

void
rundir_unlock(const char *dir, int lock_fd)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" SG_LOCK_FILE, dir);
	(void)unlink(path);
	if (lock_fd >= 0)
		close(lock_fd);
}
