/*
 * Parsers of the /proc files the loader reads for process metrics
 * ([metrics] features = application_process): /proc/PID/stat and
 * /proc/PID/io.  Pure functions over the file's text: the loader reads,
 * these parse, and the unit tests and the fuzz target feed them strings.
 * The text belongs to other processes (a process names itself: comm may
 * hold spaces, parentheses and any byte but NUL), so nothing is trusted:
 * a field that is not there or not a number makes the parse fail.
 */
#ifndef SG_PROCSTAT_H
#define SG_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

#define SG_COMM_MAX 64   /* TASK_COMM_LEN is 16; kernel threads' are longer */

/* The fields of /proc/PID/stat the metrics use (proc(5) numbering). */
struct sg_procstat {
	char     comm[SG_COMM_MAX];  /* field 2, without the parentheses */
	uint32_t ppid;               /* 4 */
	uint64_t utime;              /* 14: clock ticks in user mode */
	uint64_t stime;              /* 15: clock ticks in kernel mode */
	uint64_t start_time;         /* 22: ticks after boot */
	uint64_t vsize;              /* 23: virtual memory, bytes */
	uint64_t rss_pages;          /* 24: resident set, pages */
};

/* Parse len bytes of /proc/PID/stat (need not be NUL-terminated).
 * Fields are counted after the last ')': comm may contain ") (".
 * Returns 0, or -1 when a field is missing or not a number. */
int procstat_parse_stat(const char *text, size_t len, struct sg_procstat *st);

/* The storage I/O of /proc/PID/io: read_bytes and write_bytes (what
 * went to or came from the block layer, not the page cache's reads). */
struct sg_procio {
	uint64_t read_bytes;
	uint64_t write_bytes;
};

/* Parse len bytes of /proc/PID/io.  Returns 0, or -1 unless both lines
 * are there, once each, with decimal values. */
int procstat_parse_io(const char *text, size_t len, struct sg_procio *io);

#endif
