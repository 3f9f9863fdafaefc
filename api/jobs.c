/* REST routes of the scheduler (/v1/jobs...): submit, list, show, cancel, results. */
#include "api/internal.h"
#include "api/request.h"

#include "common/err.h"
#include "scheduler/lang.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_service.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static json_int_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The job as clients see it: the record without internals. */
static json_t *job_view(json_t *job, int full)
{
	json_t *v = json_deep_copy(job);
	json_object_del(v, "req");
	if (!full) {
		json_object_del(v, "program");
		json_object_del(v, "attempts");
		json_object_set_new(v, "attempts_count",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(job, "attempts"))));
	}
	return v;
}

static void h_submit(struct api_server *s, struct api_req *q, struct api_resp *r)
{
	struct api_submit sub;
	json_t *entry, *job;
	const struct mpc_client_info *ci;
	struct sched_ir *ir = NULL;
	struct sched_plan *plan = NULL;
	char *err = NULL, errmsg[MPC_ERRMSG_SIZE] = "", req[33];
	uint8_t rnd[16];
	uint64_t index = 0, id;
	int rv, outcome = 0;

	rv = api_submit_parse(q->body, q->len, &sub, errmsg);
	if (rv != 0) {
		api_set_error(r, rv, "%s", errmsg);
		return;
	}
	ci = mpc_cluster_client(s->conf->cluster, sub.client);
	if (ci == NULL || !(ci->rights & (MPC_RIGHT_SUBMIT | MPC_RIGHT_ADMIN))) {
		api_set_error(r, MPC_EPERM, "client '%s' may not submit jobs", sub.client);
		goto out;
	}
	/* compile first: a program error is the client's, and nothing is queued */
	err = calloc(1, SCHED_ERR_MAX);
	if (err == NULL) {
		api_set_error(r, MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		rv = sched_compile(s->db, 0, sub.file, sub.program, sub.args, &ir, err,
				   SCHED_ERR_MAX);
		if (rv == 0)
			rv = sched_plan_build(ir, s->db, 0, sub.file, &plan, err, SCHED_ERR_MAX);
		sched_plan_free(plan);
		sched_ir_free(ir);
		plan = NULL;
		ir = NULL;
		if (rv == 0 || pass == 1)
			break;
		/* this party may lag behind (a table committed a moment ago): a no-op
		 * entry through the leader, applied here, brings it up to date */
		{
			json_t *noop = json_pack("{s:s}", "op", "sched_noop");
			uint64_t ni = 0;
			int no = 0;
			if (api_propose(s, noop, 1, &no, &ni, errmsg) != 0)
				pass = 1;
			json_decref(noop);
			errmsg[0] = '\0';
		}
		err[0] = '\0';
	}
	if (rv != 0) {
		api_set_error(r, rv == MPC_EINVAL || rv == MPC_ENOENT ? MPC_EINVAL : rv, "%s",
			      err[0] ? err : mpc_strerror(rv));
		goto out;
	}
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(req, sizeof req, rnd, sizeof rnd);
	entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:O}", "op", "job_submit",
			  "req", req, "client", sub.client, "name", sub.name, "queue", sub.queue,
			  "priority", sub.priority, "file", sub.file, "program", sub.program,
			  "time_ms", now_ms(), "args", sub.args);
	rv = api_propose(s, entry, 1, &outcome, &index, errmsg);
	json_decref(entry);
	if (rv != 0) {
		api_set_error(r, rv, "submit: %s", errmsg[0] ? errmsg : mpc_strerror(rv));
		goto out;
	}
	id = sched_job_by_req(s->db, req);
	job = id ? sched_job_get(s->db, id) : NULL;
	if (job == NULL) {
		api_set_error(r, outcome ? outcome : MPC_EIO, "submit: the job was not recorded (%s)",
			      mpc_strerror(outcome));
		goto out;
	}
	api_set_json(r, job_view(job, 0));
	json_decref(job);
out:
	free(err);
	api_submit_clear(&sub);
}

static int in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncasecmp(p, word, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

static void h_list(struct api_server *s, struct MHD_Connection *c, struct api_resp *r)
{
	const char *states = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
	const char *client = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "client");
	json_t *all = sched_jobs_all(s->db), *out = json_array(), *job;
	size_t i;
	json_array_foreach(all, i, job)
	{
		if (states && *states &&
		    !in_list(states, json_string_value(json_object_get(job, "state"))))
			continue;
		if (client && *client &&
		    strcmp(client, json_string_value(json_object_get(job, "client"))) != 0)
			continue;
		json_array_append_new(out, job_view(job, 0));
	}
	json_decref(all);
	api_set_json(r, json_pack("{s:o}", "jobs", out));
}

static json_t *load_job(struct api_server *s, const char *id_text, struct api_resp *r)
{
	char *end;
	uint64_t id = strtoull(id_text, &end, 10);
	json_t *job = (*end == '\0' && id > 0) ? sched_job_get(s->db, id) : NULL;
	if (job == NULL)
		api_set_error(r, MPC_ENOENT, "no such job: %s", id_text);
	return job;
}

static void h_cancel(struct api_server *s, const char *id_text, struct api_req *q,
		     struct api_resp *r)
{
	json_t *job = load_job(s, id_text, r), *body, *entry;
	char errmsg[MPC_ERRMSG_SIZE] = "";
	uint64_t index = 0;
	int rv, outcome = 0;
	if (job == NULL)
		return;
	body = q->body ? json_loadb(q->body, q->len, 0, NULL) : NULL;
	entry = json_pack("{s:s, s:O, s:s, s:I}", "op", "job_cancel", "job",
			  json_object_get(job, "id"), "client",
			  json_string_value(json_object_get(body, "client")) ?: "", "time_ms",
			  now_ms());
	json_decref(body);
	rv = api_propose(s, entry, 1, &outcome, &index, errmsg);
	json_decref(entry);
	json_decref(job);
	if (rv != 0) {
		api_set_error(r, rv, "cancel: %s", errmsg[0] ? errmsg : mpc_strerror(rv));
		return;
	}
	job = load_job(s, id_text, r);
	if (job == NULL)
		return;
	if (outcome != 0)
		api_set_error(r, MPC_ESTATE, "job %s is already %s", id_text,
			      json_string_value(json_object_get(job, "state")));
	else
		api_set_json(r, job_view(job, 0));
	json_decref(job);
}

static void h_result(struct api_server *s, const char *id_text, struct api_resp *r)
{
	json_t *job = load_job(s, id_text, r);
	const char *state;
	if (job == NULL)
		return;
	state = json_string_value(json_object_get(job, "state"));
	if (strcmp(state, "COMPLETED") != 0)
		api_set_error(r, MPC_ESTATE, "job %s is %s%s%s: no results", id_text, state,
			      json_string_length(json_object_get(job, "reason")) ? ": " : "",
			      json_string_value(json_object_get(job, "reason")));
	else
		api_set_json(r, json_pack("{s:O, s:s, s:O}", "id", json_object_get(job, "id"),
					  "state", state, "results", json_object_get(job, "results")));
	json_decref(job);
}

void api_jobs_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		    const char *rest, struct api_req *q, struct api_resp *r)
{
	char id[32] = "", tail[32] = "";
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (s->sched == NULL) {
		api_set_error(r, MPC_EUNAVAIL, "the scheduler does not run on this party");
		return;
	}
	if (*rest == '\0' || strcmp(rest, "/") == 0) {
		if (post)
			return h_submit(s, q, r);
		if (get)
			return h_list(s, c, r);
	} else if (sscanf(rest, "/%31[^/]/%31s", id, tail) >= 1) {
		if (tail[0] == '\0' && get) {
			json_t *job = load_job(s, id, r);
			if (job != NULL)
				api_set_json(r, job_view(job, 1));
			json_decref(job);
			return;
		}
		if (post && strcmp(tail, "cancel") == 0)
			return h_cancel(s, id, q, r);
		if (get && strcmp(tail, "result") == 0)
			return h_result(s, id, r);
	}
	api_set_error(r, MPC_ENOENT, "no such endpoint: %s /v1/jobs%s", method, rest);
}
