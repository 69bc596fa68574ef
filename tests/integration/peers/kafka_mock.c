/*
 * A Kafka broker for the integration test: librdkafka's mock cluster (one
 * broker on a random loopback port), which speaks the real protocol.  No
 * broker is packaged for the test machines.
 *
 *   kafka_mock [-e CODE] TOPIC...
 *
 * creates each TOPIC (one partition), prints the bootstrap address
 * ("127.0.0.1:PORT") on a line of its own and serves until killed.  -e
 * makes the next Produce request fail with error CODE, once: an error
 * the test can count exactly.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KM_PRODUCE_API 0

static volatile sig_atomic_t km_stop;

static void
km_on_signal(int sig)
{
	(void)sig;
	km_stop = 1;
}

int
main(int argc, char **argv)
{
	char errstr[256];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	int i = 1, produce_error = 0;

	if (argc > 2 && strcmp(argv[1], "-e") == 0) {
		produce_error = atoi(argv[2]);
		i = 3;
	}
	conf = rd_kafka_conf_new();
	/* no warning that this handle has no bootstrap.servers of its own */
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, 1)) == NULL) {
		fprintf(stderr, "kafka_mock: no mock cluster\n");
		return 1;
	}
	for (; i < argc; i++)
		rd_kafka_mock_topic_create(mc, argv[i], 1, 1);
	if (produce_error != 0)
		rd_kafka_mock_push_request_errors(mc, KM_PRODUCE_API, 1,
		    (rd_kafka_resp_err_t)produce_error);
	signal(SIGTERM, km_on_signal);
	signal(SIGINT, km_on_signal);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!km_stop)
		pause();
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
