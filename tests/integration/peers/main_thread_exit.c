/*
 * An HTTP client whose main thread leaves (pthread_exit) before its one
 * other thread makes N keep-alive GET /ok requests to 127.0.0.1:PORT.
 * WHO says which thread waits for a line on stdin, the test's go:
 *   main    the main thread, before it leaves (the test sees the
 *           process selected first);
 *   thread  the other thread, after the main one has left at once (the
 *           sensor meets a process whose leader is gone).
 * Prints "ok K" (the 200 responses) and exits when the thread ends.
 *   main_thread_exit PORT N main|thread
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, n;
static pid_t tgid;
static int thread_waits;   /* WHO is "thread" */

/* The test's go: a line on stdin. */
static int
wait_go(void)
{
	char line[16];

	return fgets(line, sizeof(line), stdin) != NULL ? 0 : -1;
}

/* Whether the main thread has ended (a zombie thread, or reaped). */
static int
leader_gone(void)
{
	char path[64], buf[256], *rp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tgid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	rp = fgets(buf, sizeof(buf), f) != NULL ? strrchr(buf, ')') : NULL;
	fclose(f);
	return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

static void *
client(void *arg)
{
	static const char req[] = "GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char buf[4096];
	int fd, ok = 0;

	(void)arg;
	for (int i = 0; i < 3000 && !leader_gone(); i++)
		nanosleep(&pause, NULL);
	if (!leader_gone()) {
		fprintf(stderr, "the main thread did not end\n");
		exit(2);
	}
	if (thread_waits && wait_go() < 0)
		exit(2);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		size_t got = 0;
		ssize_t r;

		if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
			break;
		/* nginx's answer to /ok ends with its 3-byte body */
		while (got < sizeof(buf) - 1 &&
		    (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)r;
			buf[got] = '\0';
			if (got >= 3 && strcmp(buf + got - 3, "ok\n") == 0)
				break;
		}
		ok += strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
	}
	close(fd);
	printf("ok %d\n", ok);
	fflush(stdout);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	if (argc != 4 || (strcmp(argv[3], "main") != 0 &&
	    strcmp(argv[3], "thread") != 0))
		return 2;
	port = atoi(argv[1]);
	n = atoi(argv[2]);
	thread_waits = strcmp(argv[3], "thread") == 0;
	tgid = getpid();
	if (pthread_create(&t, NULL, client, NULL) != 0)
		return 2;
	if (!thread_waits && wait_go() < 0)
		return 2;
	pthread_exit(NULL);
}
