/* Client side of the job API: one REST call per operation, to the first party that answers. */
#include "client/mpcjobs.h"

#include "client/internal.h"
#include "common/err.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int mpc_job_state_final(const char *state)
{
	return state != NULL && (strcmp(state, "COMPLETED") == 0 || strcmp(state, "FAILED") == 0 ||
				 strcmp(state, "CANCELLED") == 0 || strcmp(state, "TIMEOUT") == 0);
}

int mpc_job_submit(struct mpc_client *cl, const char *file_name, const char *program,
		   const char *name, const char *queue, int priority, json_t *args, json_t **job,
		   char *errmsg)
{
	return mpc_job_submit_limit(cl, file_name, program, name, queue, priority, 0, args, job,
				    errmsg);
}

int mpc_job_submit_limit(struct mpc_client *cl, const char *file_name, const char *program,
			 const char *name, const char *queue, int priority, unsigned time_limit_s,
			 json_t *args, json_t **job, char *errmsg)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:i}",
				 "file", file_name ? file_name : "job.mpc", "program", program,
				 "name", name ? name : "job", "queue", queue ? queue : "default",
				 "priority", priority);
	if (body != NULL && time_limit_s > 0)
		json_object_set_new(body, "time_limit_s", json_integer(time_limit_s));
	char *text;
	int rv;
	if (body == NULL)
		return MPC_EINVAL;
	json_object_set_new(body, "args", args ? json_incref(args) : json_object());
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MPC_ENOMEM;
	rv = mpc_client_call_any(cl, "POST", "/v1/jobs", text, strlen(text), job, errmsg);
	free(text);
	if (rv == MPC_EINVAL) {
		/* "party N (host:port): FILE:LINE:COL: ..." -> the program error alone */
		const char *p = strstr(errmsg, "): ");
		if (strncmp(errmsg, "party ", 6) == 0 && p != NULL)
			memmove(errmsg, p + 3, strlen(p + 3) + 1);
	}
	return rv;
}

int mpc_job_list(struct mpc_client *cl, const char *states, const char *client, json_t **jobs,
		 char *errmsg)
{
	char path[512];
	json_t *resp = NULL;
	int rv;
	snprintf(path, sizeof path, "/v1/jobs?state=%s&client=%s", states ? states : "",
		 client ? client : "");
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == 0) {
		*jobs = json_incref(json_object_get(resp, "jobs"));
		json_decref(resp);
		if (*jobs == NULL)
			*jobs = json_array();
	}
	return rv;
}

int mpc_job_get(struct mpc_client *cl, uint64_t id, json_t **job, char *errmsg)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64, id);
	return mpc_client_call_any(cl, "GET", path, NULL, 0, job, errmsg);
}

static uint64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* One long poll: the job once its state differs from since (NULL: any
 * state), it is final, or wait_ms passed (the server's bound); with
 * until_final (since is then NULL), once it is final or wait_ms passed. */
static int job_get_wait(struct mpc_client *cl, uint64_t id, const char *since, int until_final,
			unsigned wait_ms, json_t **job, char *errmsg)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64 "?wait_ms=%u%s%s%s", id, wait_ms,
		 since ? "&since=" : "", since ? since : "", until_final ? "&until=final" : "");
	return mpc_client_call_any(cl, "GET", path, NULL, 0, job, errmsg);
}

int mpc_job_wait(struct mpc_client *cl, uint64_t id, unsigned timeout_ms,
		 void (*progress)(void *ctx, json_t *job), void *ctx, json_t **job, char *errmsg)
{
	uint64_t start = now_ms(), answered = start;
	char since[32] = "";
	unsigned pause = 20;
	for (;;) {
		json_t *j = NULL;
		uint64_t t0 = now_ms(), spent = t0 - start;
		unsigned wait = MPC_JOB_WAIT_POLL_MS, nap = 0;
		int rv;
		if (timeout_ms && timeout_ms - spent < wait)
			wait = spent >= timeout_ms ? 0 : (unsigned)(timeout_ms - spent);
		/* without progress, only the final state matters: one request per
		 * job rather than one per state change */
		rv = progress == NULL
			 ? job_get_wait(cl, id, NULL, 1, wait, &j, errmsg)
			 : job_get_wait(cl, id, since[0] ? since : NULL, 0, wait, &j, errmsg);
		if (rv == MPC_EUNAVAIL && now_ms() - answered > MPC_JOB_WAIT_UNREACHABLE_MS) {
			mpc_errmsg_wrapf(errmsg, "job %" PRIu64 ": no party answered for %u s",
					 id, MPC_JOB_WAIT_UNREACHABLE_MS / 1000);
			return rv;
		}
		if (rv == 0) {
			const char *state = json_string_value(json_object_get(j, "state"));
			int same = state != NULL && strcmp(state, since) == 0;
			answered = now_ms();
			if (progress != NULL)
				progress(ctx, j);
			if (mpc_job_state_final(state)) {
				*job = j;
				return 0;
			}
			snprintf(since, sizeof since, "%s", state ? state : "");
			json_decref(j);
			/* unchanged, and answered well before wait_ms: a party that
			 * does not long-poll; pause as a plain poll would */
			if (same && answered - t0 < wait / 2)
				nap = pause;
		} else if (rv != MPC_EUNAVAIL)
			return rv;
		else
			nap = pause;
		if (timeout_ms && now_ms() - start >= timeout_ms) {
			mpc_errmsg_printf(errmsg, "job %" PRIu64 " not finished within %u ms", id,
					  timeout_ms);
			return MPC_ETIMEDOUT;
		}
		if (nap > 0) {
			usleep(nap * 1000);
			if (pause < 200)
				pause *= 2;
		}
	}
}

int mpc_job_cancel(struct mpc_client *cl, uint64_t id, char *errmsg)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64 "/cancel", id);
	return mpc_client_call_any(cl, "POST", path, "{}", 2, NULL, errmsg);
}

int mpc_job_result(struct mpc_client *cl, uint64_t id, json_t **results, char *errmsg)
{
	char path[64];
	json_t *resp = NULL;
	int rv;
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64 "/result", id);
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == 0) {
		*results = json_incref(json_object_get(resp, "results"));
		json_decref(resp);
		if (*results == NULL)
			*results = json_object();
		/* values revealed to this client (a party's admin receives none) */
		if (cl->conf != NULL) {
			const struct mpc_client_info *ci =
			    mpc_cluster_client(cl->cluster, cl->conf->name);
			rv = ci == NULL
				 ? MPC_EINVAL
				 : mpc_job_results_open(*results, ci->box_pk, cl->conf->box_sk,
							cl->cluster->n_parties, errmsg);
			if (ci == NULL)
				mpc_errmsg_printf(errmsg, "client %s is not in cluster.conf",
						  cl->conf->name);
			if (rv != 0) {
				json_decref(*results);
				*results = NULL;
			}
		}
	}
	return rv;
}

/* Opens one party's box of n shares and adds them to sum (mod 2^64). */
static int add_part(uint64_t *sum, size_t n, const char *b64, const uint8_t *pk, const uint8_t *sk)
{
	size_t blen = b64 ? strlen(b64) : 0, len;
	uint8_t *box = malloc(blen + 1), *plain = malloc(n * 8 + 1);
	int rv = MPC_EPROTO;
	if (box == NULL || plain == NULL) {
		rv = MPC_ENOMEM;
		goto out;
	}
	if (b64 == NULL ||
	    sodium_base642bin(box, blen + 1, b64, blen, NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != n * 8 + crypto_box_SEALBYTES)
		goto out;
	rv = MPC_ECRYPTO;
	if (crypto_box_seal_open(plain, box, len, pk, sk) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, plain + 8 * i, 8); /* little-endian, as the engine's registers */
		sum[i] += v;
	}
	rv = 0;
out:
	if (plain != NULL)
		sodium_memzero(plain, n * 8);
	free(plain);
	free(box);
	return rv;
}

/* The joined vector of one sealed value (*out malloc'd, *n elements). */
static int join_value(json_t *v, const uint8_t *pk, const uint8_t *sk, int n_parties,
		      uint64_t **out, size_t *n)
{
	json_t *part;
	size_t i, total = 0;
	uint64_t *all = NULL;
	json_array_foreach(json_object_get(v, "parts"), i, part)
	{
		json_int_t m = json_integer_value(json_object_get(part, "n"));
		json_t *sealed = json_object_get(part, "sealed");
		uint64_t *grown;
		int rv;
		if (m < 1 || m > (1 << 30) || (int)json_object_size(sealed) != n_parties) {
			free(all);
			return MPC_EPROTO;
		}
		grown = realloc(all, (total + (size_t)m) * 8);
		if (grown == NULL) {
			free(all);
			return MPC_ENOMEM;
		}
		all = grown;
		memset(all + total, 0, (size_t)m * 8);
		for (int p = 0; p < n_parties; p++) {
			char key[16];
			snprintf(key, sizeof key, "%d", p);
			rv = add_part(all + total, (size_t)m,
				      json_string_value(json_object_get(sealed, key)), pk, sk);
			if (rv != 0) {
				sodium_memzero(all, (total + (size_t)m) * 8);
				free(all);
				return rv;
			}
		}
		total += (size_t)m;
	}
	if (total == 0)
		return MPC_EPROTO;
	*out = all;
	*n = total;
	return 0;
}

/* The public steps after the decoded base (sched_plan.c's apply_steps). */
static double apply_steps(json_t *steps, double x)
{
	json_t *s;
	size_t i;
	json_array_foreach(steps, i, s)
	{
		const char *k = json_string_value(json_array_get(s, 0));
		double p = json_number_value(json_array_get(s, 1));
		if (k == NULL)
			continue;
		if (strcmp(k, "div") == 0)
			x /= p;
		else if (strcmp(k, "mul") == 0)
			x *= p;
		else if (strcmp(k, "add") == 0)
			x += p;
		else if (strcmp(k, "sub_pub") == 0)
			x -= p;
		else if (strcmp(k, "sub_from_pub") == 0)
			x = p - x;
		else if (strcmp(k, "neg") == 0)
			x = -x;
	}
	return x;
}

/* One value revealed to the client as a number or array (new reference). */
static int open_result(json_t *r, const uint8_t *pk, const uint8_t *sk, int n_parties, json_t **out)
{
	json_t *vals = json_object_get(r, "values"), *arr = NULL;
	const char *post = json_string_value(json_object_get(r, "post"));
	int is_int = json_is_true(json_object_get(r, "int"));
	int vector = json_is_true(json_object_get(r, "vector"));
	size_t nv = json_array_size(vals), n = 1;
	uint64_t *joined[3] = {NULL, NULL, NULL};
	size_t len[3] = {1, 1, 1};
	int rv = 0;
	if (post == NULL || nv < 1 || nv > 3 || (strcmp(post, "corr") == 0) != (nv == 3))
		return MPC_EPROTO;
	for (size_t j = 0; j < nv && rv == 0; j++)
		if (json_object_get(json_array_get(vals, j), "public") == NULL)
			rv = join_value(json_array_get(vals, j), pk, sk, n_parties, &joined[j],
					&len[j]);
	if (rv == 0) {
		n = vector ? len[0] : 1;
		arr = vector ? json_array() : NULL;
	}
	for (size_t k = 0; rv == 0 && k < n; k++) {
		double x[3];
		int64_t ex = 0;
		json_t *val;
		int exact = 0;
		for (size_t j = 0; j < nv; j++) {
			json_t *v = json_array_get(vals, j);
			size_t e = vector && k < len[j] ? k : 0;
			if (joined[j] == NULL) {
				x[j] = json_number_value(json_object_get(v, "public"));
				ex = (int64_t)llround(x[j]);
				exact = 1;
			} else {
				int64_t s = (int64_t)joined[j][e];
				ex = s;
				exact = json_array_size(json_object_get(v, "steps")) == 0;
				x[j] = apply_steps(
				    json_object_get(v, "steps"),
				    ldexp((double)s,
					  -(int)json_integer_value(json_object_get(v, "frac"))));
			}
		}
		if (strcmp(post, "sqrt") == 0)
			val = json_real(sqrt(x[0] > 0 ? x[0] : 0));
		else if (strcmp(post, "corr") == 0)
			val = json_real(x[1] * x[2] > 0 ? x[0] / sqrt(x[1] * x[2]) : NAN);
		else if (is_int && exact)
			val = json_integer(ex);
		else if (is_int)
			val = json_integer((json_int_t)llround(x[0]));
		else
			val = json_real(x[0]);
		if (val == NULL)
			val = json_null(); /* NaN */
		if (arr != NULL)
			json_array_append_new(arr, val);
		else
			*out = val;
		sodium_memzero(x, sizeof x);
		ex = 0;
	}
	for (size_t j = 0; j < 3; j++) {
		if (joined[j] != NULL)
			sodium_memzero(joined[j], len[j] * 8);
		free(joined[j]);
	}
	if (rv == 0 && arr != NULL)
		*out = arr;
	return rv;
}

int mpc_job_results_open(json_t *results, const uint8_t *box_pk, const uint8_t *box_sk,
			 int n_parties, char *errmsg)
{
	const char *k;
	json_t *r;
	json_object_foreach(results, k, r)
	{
		json_t *val = NULL;
		int rv;
		if (!json_is_object(r) || json_object_get(r, "to") == NULL)
			continue;
		rv = open_result(r, box_pk, box_sk, n_parties, &val);
		if (rv != 0) {
			mpc_errmsg_printf(errmsg, "result %s (revealed to %s): %s", k,
					  json_string_value(json_object_get(r, "to")),
					  rv == MPC_ECRYPTO ? "a party's sealed shares do not open "
							      "with this client's box key"
					  : rv == MPC_EPROTO ? "malformed or missing parts"
							     : mpc_strerror(rv));
			return rv;
		}
		json_object_set_new(results, k, val);
	}
	return 0;
}

void mpc_job_runtime(json_t *job, char *out, size_t size)
{
	json_t *s = json_object_get(job, "start_ms"), *e = json_object_get(job, "end_ms");
	int64_t ms = 0, secs;
	if (json_is_integer(s))
		ms = (json_is_integer(e) ? json_integer_value(e) : (int64_t)now_ms()) -
		     json_integer_value(s);
	secs = ms > 0 ? ms / 1000 : 0;
	if (secs >= 3600)
		snprintf(out, size, "%" PRId64 ":%02d:%02d", secs / 3600, (int)(secs / 60 % 60),
			 (int)(secs % 60));
	else
		snprintf(out, size, "%d:%02d", (int)(secs / 60), (int)(secs % 60));
}

static const char *str_or(json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s != NULL && *s != '\0' ? s : dflt;
}

char *mpc_job_report(json_t *job)
{
	json_t *a, *v;
	const char *k;
	char *text = NULL, t[32];
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	mpc_job_runtime(job, t, sizeof t);
	fprintf(f, "JobId=%" PRId64 " JobName=%s Client=%s Queue=%s Priority=%d\n",
		(int64_t)json_integer_value(json_object_get(job, "id")),
		str_or(json_object_get(job, "name"), ""), str_or(json_object_get(job, "client"), ""),
		str_or(json_object_get(job, "queue"), ""),
		(int)json_integer_value(json_object_get(job, "priority")));
	fprintf(f, "   JobState=%s Reason=%s RunTime=%s InputRevision=%" PRId64 " Fuel=%" PRId64 "\n",
		str_or(json_object_get(job, "state"), ""), str_or(json_object_get(job, "reason"), "None"),
		t, (int64_t)json_integer_value(json_object_get(job, "input_revision")),
		(int64_t)json_integer_value(json_object_get(job, "fuel")));
	if (json_is_string(json_object_get(job, "error")))
		fprintf(f, "   Error=%s\n", json_string_value(json_object_get(job, "error")));
	fprintf(f, "   File=%s\n", str_or(json_object_get(job, "file"), ""));
	json_array_foreach(json_object_get(job, "tasks"), i, a)
	{
		fprintf(f, "   Task=%d Kind=%s Stage=%d", (int)json_integer_value(json_object_get(a, "task")),
			str_or(json_object_get(a, "kind"), ""),
			(int)json_integer_value(json_object_get(a, "stage")));
		if (json_is_string(json_object_get(a, "table")))
			fprintf(f, " Table=%s Segment=%d Rows=%" PRId64,
				json_string_value(json_object_get(a, "table")),
				(int)json_integer_value(json_object_get(a, "segment")),
				(int64_t)json_integer_value(json_object_get(a, "rows")));
		fprintf(f, " State=%s Attempts=%d\n", str_or(json_object_get(a, "state"), ""),
			(int)json_integer_value(json_object_get(a, "attempts")));
	}
	json_array_foreach(json_object_get(job, "stored"), i, a) /* store TABLE.COLUMN = ... */
		fprintf(f, "   Stored Table=%s Segment=%d Rows=%" PRId64 " Revision=%" PRId64 "\n",
			str_or(json_object_get(a, "table"), ""),
			(int)json_integer_value(json_object_get(a, "segment")),
			(int64_t)json_integer_value(json_object_get(a, "rows")),
			(int64_t)json_integer_value(json_object_get(a, "revision")));
	json_array_foreach(json_object_get(job, "attempts"), i, a)
	{
		int first = 1;
		fprintf(f, "   Task=%d Attempt=%d State=%s Triples=[%s,+%" PRId64 ") Done=",
			(int)json_integer_value(json_object_get(a, "task")),
			(int)json_integer_value(json_object_get(a, "attempt")),
			str_or(json_object_get(a, "state"), ""), str_or(json_object_get(a, "t0"), ""),
			(int64_t)json_integer_value(json_object_get(a, "n")));
		json_object_foreach(json_object_get(a, "done"), k, v)
		{
			fprintf(f, "%s%s", first ? "" : ",", k);
			first = 0;
		}
		if (first)
			fprintf(f, "-");
		if (json_string_length(json_object_get(a, "reason")))
			fprintf(f, " Reason=\"%s\"", json_string_value(json_object_get(a, "reason")));
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void csv_num(FILE *f, const char *name, json_t *v)
{
	fprintf(f, "%s,", name);
	if (json_is_integer(v))
		fprintf(f, "%" PRId64 "\n", (int64_t)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%.17g\n", json_real_value(v));
	else
		fprintf(f, "NA\n");
}

char *mpc_job_results_csv(json_t *results)
{
	char *text = NULL;
	size_t len = 0, i;
	const char *k;
	json_t *v, *e;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "name,value\n");
	json_object_foreach(results, k, v)
	{
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) csv_num(f, k, e);
		} else {
			csv_num(f, k, v);
		}
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
