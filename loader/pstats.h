/*
 * Resource use of the selected processes for the application_process
 * metrics: the loader reads /proc/PID/stat and /proc/PID/io (the latter
 * needs ptrace access: CAP_SYS_PTRACE, which discovery holds anyway) and
 * the collector turns the samples into metric families.
 */
#ifndef SG_PSTATS_H
#define SG_PSTATS_H

#include <stdint.h>
#include <sys/types.h>

#include "msg.h"

/* Sample pid, which must still be the process that started at
 * start_time (a reused pid is someone else).  /proc/PID/io unreadable:
 * the sample has no SG_PSTAT_IO.  Returns 0, or -1 when the process is
 * gone, another, or its stat unreadable. */
int pstats_sample(pid_t pid, uint64_t start_time, struct sg_pstat *out);

/* How a round's messages leave: 0 when sent. */
typedef int (*pstats_send_fn)(uint16_t type, const void *payload,
    size_t len);

/* One round: every selected process sampled, the samples sent as
 * SG_MSG_PSTATS messages, as many as they take.  Utilisation is the CPU
 * time between two samples over the time between them, so they carry
 * the loader's clock.  Returns how many messages send refused. */
uint64_t pstats_round(pstats_send_fn send);

#endif
