/*
 * The runtime directory: where the children's sockets live, owned by the
 * unprivileged user, locked by one sensor at a time.
 */
#ifndef SG_RUNDIR_H
#define SG_RUNDIR_H

#include <sys/types.h>

/* Create dir (0700) if needed and give it to uid:gid; -1 (logged) when it
 * is not a directory or cannot be made ours. */
int  rundir_make(const char *dir, uid_t uid, gid_t gid);
/* Take the directory's lock, writing our pid for a second sensor's
 * message; the lock's descriptor, or -1 (logged) when another sensor
 * holds it. */
int  rundir_lock(const char *dir);
/* Remove the socket files of child pid, which is gone (the children may
 * not unlink: seccomp). */
void rundir_forget(const char *dir, pid_t pid);
/* Remove the lock file and release the lock (lock_fd from rundir_lock,
 * or -1). */
void rundir_unlock(const char *dir, int lock_fd);

#endif
