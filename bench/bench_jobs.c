/* Benchmark of trivial scheduler jobs against a running local cluster: THREADS clients each submit
 * jobs and wait for them (mpc_job_wait); prints one JSON line with jobs completed per second and
 * the submit->COMPLETED latency p50/p99, and this client's CPU per job (user+system, to show
 * that the client is not what limits the rate). Usage: bench_jobs CLIENT.CONF TABLE JOBS THREADS
 * (TABLE: an existing table with an int64 column v; each job reveals sum(v) and checks it
 * equals the first job's). */
#include "client/mpcclient.h"
#include "client/mpcjobs.h"
#include "common/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *conf_path;
static char program[256];
static int n_jobs;
static atomic_int next_job, failed;
static double *lat;
static json_int_t want;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Submits, waits and checks one job; returns its latency in seconds, < 0 on failure. */
static double one_job(struct mpc_client *cl, json_int_t *sum)
{
	char err[MPC_ERRMSG_SIZE] = "";
	json_t *job = NULL, *done = NULL, *res = NULL;
	double t0 = now(), t = -1;
	if (mpc_job_submit(cl, "bench.mpc", program, "bench", NULL, 0, NULL, &job, err) != 0) {
		fprintf(stderr, "bench_jobs: submit: %s\n", err);
		return -1;
	}
	uint64_t id = (uint64_t)json_integer_value(json_object_get(job, "id"));
	json_decref(job);
	if (mpc_job_wait(cl, id, 120000, NULL, NULL, &done, err) != 0) {
		fprintf(stderr, "bench_jobs: job %llu: %s\n", (unsigned long long)id, err);
		return -1;
	}
	if (strcmp(json_string_value(json_object_get(done, "state")), "COMPLETED") == 0)
		t = now() - t0;
	else
		fprintf(stderr, "bench_jobs: job %llu is %s\n", (unsigned long long)id,
			json_string_value(json_object_get(done, "state")));
	json_decref(done);
	if (t >= 0 && mpc_job_result(cl, id, &res, err) == 0) {
		*sum = json_integer_value(json_object_get(res, "s"));
		json_decref(res);
	} else if (t >= 0) {
		fprintf(stderr, "bench_jobs: result of job %llu: %s\n", (unsigned long long)id, err);
		t = -1;
	}
	return t;
}

static void *worker(void *arg)
{
	struct mpc_client *cl = NULL;
	char err[MPC_ERRMSG_SIZE];
	(void)arg;
	if (mpc_client_open(conf_path, &cl, err) != 0) {
		fprintf(stderr, "bench_jobs: %s\n", err);
		failed++;
		return NULL;
	}
	for (int i; (i = atomic_fetch_add(&next_job, 1)) < n_jobs;) {
		json_int_t sum = 0;
		lat[i] = one_job(cl, &sum);
		if (lat[i] < 0 || sum != want)
			failed++;
	}
	mpc_client_close(cl);
	return NULL;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct mpc_client *cl = NULL;
	char err[MPC_ERRMSG_SIZE];
	if (argc != 5) {
		fprintf(stderr, "usage: bench_jobs CLIENT.CONF TABLE JOBS THREADS\n");
		return 2;
	}
	conf_path = argv[1];
	snprintf(program, sizeof program, "x = load %s.v\ns = sum(x)\nreveal s to public\n",
		 argv[2]);
	n_jobs = atoi(argv[3]);
	int threads = atoi(argv[4]);
	if (n_jobs <= 0 || threads <= 0 || threads > 256) {
		fprintf(stderr, "bench_jobs: JOBS and THREADS (1..256) must be positive\n");
		return 2;
	}
	lat = calloc((size_t)n_jobs, sizeof *lat);
	pthread_t *thr = calloc((size_t)threads, sizeof *thr);
	if (lat == NULL || thr == NULL || mpc_client_open(conf_path, &cl, err) != 0) {
		fprintf(stderr, "bench_jobs: %s\n", lat && thr ? err : "out of memory");
		return 1;
	}
	if (one_job(cl, &want) < 0) /* warm-up, and the expected sum */
		return 1;
	mpc_client_close(cl);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&thr[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(thr[i], NULL);
	double secs = now() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
		     (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
		     (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	qsort(lat, (size_t)n_jobs, sizeof *lat, dcmp);
	printf("{\"bench\":\"sched.trivial\",\"jobs\":%d,\"threads\":%d,\"seconds\":%.3f,"
	       "\"jobs_per_s\":%.1f,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"client_cpu_ms_per_job\":%.2f,"
	       "\"ok\":%s}\n",
	       n_jobs, threads, secs, n_jobs / secs, lat[n_jobs / 2] * 1e3,
	       lat[(n_jobs * 99) / 100 < n_jobs ? (n_jobs * 99) / 100 : n_jobs - 1] * 1e3,
	       cpu * 1e3 / n_jobs, failed == 0 ? "true" : "false");
	free(thr);
	free(lat);
	return failed == 0 ? 0 : 1;
}
