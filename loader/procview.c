/*
 * The live thread of a process whose leader has ended (procview.h).
 */
#include "procview.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A process with thousands of threads is looked through this many at
 * most: the first live one usually answers. */
#define PROCVIEW_MAX_TASKS 4096

static bool
procview_has_exe(pid_t id)
{
	char path[64], link[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)id);
	return readlink(path, link, sizeof(link)) > 0;
}

pid_t
procview_thread(pid_t pid)
{
	char path[64];
	struct dirent *de;
	unsigned seen = 0;
	pid_t found = pid;
	DIR *dir;

	if (procview_has_exe(pid))
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return pid;
	while (found == pid && seen++ < PROCVIEW_MAX_TASKS &&
	    (de = readdir(dir)) != NULL) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || tid <= 0 || tid > INT_MAX ||
		    (pid_t)tid == pid)
			continue;
		if (procview_has_exe((pid_t)tid))
			found = (pid_t)tid;
	}
	closedir(dir);
	return found;
}
