/*
 * Which /proc directory shows a process.  /proc/PID is the view of the
 * process's leader, its main thread.  A main thread may end
 * (pthread_exit) while the others run on; the leader is then a zombie,
 * and its exe, cmdline, environ, maps, root, fd and ns read empty,
 * though the process lives.  Any live thread's /proc/TID shows the
 * process whole, and the kernel answers /proc/TID though it does not
 * list it.  Its stat is the thread's own, so identity (the start time)
 * stays with /proc/PID.
 */
#ifndef SG_PROCVIEW_H
#define SG_PROCVIEW_H

#include <sys/types.h>

/* The id whose /proc directory shows pid's process: pid, unless its
 * leader has ended while other threads live; then the first of those
 * that still shows an executable.  pid when none does (a kernel thread,
 * a process that is gone or going). */
pid_t procview_thread(pid_t pid);

#endif
