/* Benchmark of committed append transactions against a running local cluster; prints JSON lines. */
#include "client/mpcclient.h"
#include "common/err.h"

#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *conf_path;
static atomic_long committed, failed;
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *columns(int n)
{
	json_t *cols = json_array();
	for (int c = 0; c < n; c++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", c);
		json_array_append_new(cols, json_pack("{s:s,s:s,s:i}", "name", name, "type", "int64",
						      "frac", 0));
	}
	return cols;
}

static uint64_t commit_index(struct mpc_client *cl)
{
	char err[MPC_ERRMSG_SIZE];
	json_t *j = NULL;
	uint64_t v = 0;
	if (mpc_client_call(cl, 0, "GET", "/v1/raft", NULL, 0, &j, err) == 0)
		v = (uint64_t)json_integer_value(json_object_get(j, "commit_index"));
	json_decref(j);
	return v;
}

static void *small_worker(void *arg)
{
	struct mpc_client *cl;
	char err[MPC_ERRMSG_SIZE];
	uint64_t values[2] = {1, 2};
	json_t *cols = columns(2);
	if (mpc_client_open(conf_path, &cl, err) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return NULL;
	}
	while (now() < deadline) {
		struct mpc_append req = {"bench_small", cols, 1, values, 1, 2, 0, 0};
		struct mpc_append_result res;
		if (mpc_client_append(cl, &req, &res, err) == 0)
			committed++;
		else
			failed++;
	}
	json_decref(cols);
	mpc_client_close(cl);
	return NULL;
}

int main(int argc, char **argv)
{
	char err[MPC_ERRMSG_SIZE];
	struct mpc_client *cl;
	int threads = argc > 2 ? atoi(argv[2]) : 16;
	double secs = argc > 3 ? atof(argv[3]) : 5;
	pthread_t th[256];

	if (argc < 2) {
		fprintf(stderr, "usage: bench_store CLIENT.CONF [THREADS] [SECONDS] [small]\n");
		return 2;
	}
	conf_path = argv[1];
	if (mpc_client_open(conf_path, &cl, err) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	int parties = mpc_client_cluster(cl)->n_parties;

	/* small transactions, many clients in parallel */
	{
		uint64_t c0 = commit_index(cl);
		double t0 = now();
		deadline = t0 + secs;
		for (int i = 0; i < threads && i < 256; i++)
			pthread_create(&th[i], NULL, small_worker, NULL);
		for (int i = 0; i < threads && i < 256; i++)
			pthread_join(th[i], NULL);
		double dt = now() - t0;
		uint64_t c1 = commit_index(cl);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru); /* this client's CPU (compare per append, not wall time) */
		printf("{\"bench\":\"store.append_small\",\"parties\":%d,\"clients\":%d,\"rows\":1,"
		       "\"committed\":%ld,\"failed\":%ld,\"seconds\":%.2f,\"txn_per_s\":%.0f,"
		       "\"raft_entries_per_s\":%.0f,\"client_cpu_s\":%.3f}\n",
		       parties, threads, (long)committed, (long)failed, dt, committed / dt,
		       (c1 - c0) / dt,
		       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
		fflush(stdout);
	}
	if (argc > 4 && strcmp(argv[4], "small") == 0) { /* bench/bench_append_cpu.sh */
		mpc_client_close(cl);
		return 0;
	}
	/* large segments: share data per party */
	for (uint64_t rows = 100000; rows <= 1000000; rows *= 10) {
		size_t ncols = 4;
		uint64_t *values = malloc(rows * ncols * 8);
		json_t *cols = columns((int)ncols);
		struct mpc_append_result res;
		for (uint64_t i = 0; i < rows * ncols; i++)
			values[i] = i * 2654435761u;
		struct mpc_append req = {"bench_large", cols, 1, values, rows, ncols, 0, 0};
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		double t0 = now();
		int rv = mpc_client_append(cl, &req, &res, err);
		double dt = now() - t0;
		double mb = rows * ncols * 8 / 1e6;
		getrusage(RUSAGE_SELF, &ru1); /* the client's CPU for this append */
		printf("{\"bench\":\"store.append\",\"parties\":%d,\"rows\":%llu,\"columns\":%zu,"
		       "\"ok\":%s,\"seconds\":%.3f,\"txn_per_s\":%.2f,\"mb_per_s\":%.1f,"
		       "\"rows_per_s\":%.0f,\"client_cpu_s\":%.3f}\n",
		       parties, (unsigned long long)rows, ncols, rv == 0 ? "true" : "false", dt,
		       1 / dt, mb / dt, rows / dt,
		       (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
			   (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			   (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
			    ru0.ru_stime.tv_usec) /
			       1e6);
		fflush(stdout);
		if (rv != 0)
			fprintf(stderr, "bench_store: %s\n", err);
		json_decref(cols);
		free(values);
	}
	mpc_client_close(cl);
	return 0;
}
