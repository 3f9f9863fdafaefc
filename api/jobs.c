/* REST routes of the scheduler (/v1/jobs...): submit, list, show, cancel, results. */
#include "api/internal.h"
#include "api/request.h"

#include "common/err.h"
#include "scheduler/lang.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_plancache.h"
#include "scheduler/sched_service.h"
#include "scheduler/sched_store.h"
#include "store/signed_req.h"

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
/* The job record as the API shows it: values revealed to a client are
 * shown as {"to": CLIENT} (their sealed parts only through its /result). */
static json_t *job_view(json_t *job, int full)
{
	json_t *v = json_deep_copy(job), *x;
	const char *k;
	size_t i;
	json_object_del(v, "req");
	json_array_foreach(json_object_get(v, "tasks"), i, x)
		json_object_del(x, "sealed");
	json_array_foreach(json_object_get(v, "attempts"), i, x)
		json_object_del(x, "sealed");
	json_object_foreach(json_object_get(v, "results"), k, x)
	{
		if (json_object_get(x, "to") != NULL) {
			json_object_del(x, "values");
			json_object_del(x, "post");
			json_object_del(x, "int");
			json_object_del(x, "vector");
		}
	}
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
	json_t *entry, *job, *auth;
	const char *client = q->who.sig.client;
	char *err = NULL, errmsg[MPC_ERRMSG_SIZE] = "";
	/* the job's req is the signed nonce: one signed submit makes at most one
	 * job, also when it is replayed to another party */
	const char *req = q->who.sig.nonce;
	uint64_t index = 0, id;
	int rv, outcome = 0;

	rv = api_submit_parse(q->body, q->len, client, &sub, errmsg);
	if (rv != 0) {
		api_set_error(r, rv, "%s", errmsg);
		goto out;
	}
	if (q->who.ci == NULL) {
		api_set_error(r, MPC_EPERM, "'%s' is not a client: only clients submit jobs", client);
		goto out;
	}
	if (!api_require(q, r, MPC_RIGHT_SUBMIT, "submit jobs"))
		goto out;
	if (mpc_cluster_queue(s->conf->cluster, sub.queue) == NULL) {
		char known[MPC_MAX_QUEUES * (MPC_NAME_MAX + 2)];
		mpc_cluster_queue_names(s->conf->cluster, known, sizeof known);
		api_set_error(r, MPC_EINVAL, "unknown queue '%s' (known: %s)", sub.queue, known);
		goto out;
	}
	/* compile first: a program error is the client's, and nothing is queued */
	err = calloc(1, SCHED_ERR_MAX);
	if (err == NULL) {
		api_set_error(r, MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		struct sched_plan_hold *hold = NULL;
		rv = sched_plan_cache_get(sched_service_plans(s->sched), s->db, 0, sub.file,
					  sub.program, sub.args, &hold, err, SCHED_ERR_MAX);
		if (rv == 0)
			rv = sched_plan_check_recipients(sched_plan_hold_ir(hold), s->conf->cluster,
							 sub.file, err, SCHED_ERR_MAX);
		if (rv == 0) /* the append (and create) right on every stored table */
			rv = sched_store_check(sched_plan_hold_ir(hold), s->db, s->conf->cluster,
					       client, sub.file, err, SCHED_ERR_MAX);
		sched_plan_cache_release(sched_service_plans(s->sched), hold);
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
	/* the job's fields travel only inside the signed body: every party's
	 * apply takes them from there after checking the signature */
	auth = store_signed_req_pack(&q->who.sig, "POST", q->uri, q->body, q->len);
	if (auth == NULL) {
		api_set_error(r, MPC_EINVAL, "submit: body must be UTF-8 JSON");
		goto out;
	}
	entry = json_pack("{s:s, s:s, s:s, s:I, s:o}", "op", "job_submit", "req", req, "client",
			  client, "time_ms", now_ms(), "auth", auth);
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

/* Without the read right a client lists its own jobs only. */
static void h_list(struct api_server *s, struct MHD_Connection *c, struct api_req *q,
		   struct api_resp *r)
{
	const char *states = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
	const char *client = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "client");
	json_t *all, *out, *job;
	size_t i;
	if (!(q->who.rights & (MPC_RIGHT_READ | MPC_RIGHT_ADMIN))) {
		if (client != NULL && *client && strcmp(client, q->who.sig.client) != 0) {
			api_set_error(r, MPC_EPERM,
				      "client '%s' lacks the 'read' right (list the jobs of client "
				      "'%s')",
				      q->who.sig.client, client);
			return;
		}
		client = q->who.sig.client;
	}
	all = sched_jobs_all(s->db);
	out = json_array();
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
	json_t *job = NULL;
	/* an active job: the scheduler's index has its record (the callers only
	 * read it), no RocksDB read and parse; a final one is read from the db */
	if (*end == '\0' && id > 0 && (job = sched_service_active_job(s->sched, id)) == NULL)
		job = sched_job_get(s->db, id);
	if (job == NULL)
		api_set_error(r, MPC_ENOENT, "no such job: %s", id_text);
	return job;
}

/* The job if the sender may see it: its own, or any with right. */
static json_t *load_job_for(struct api_server *s, const char *id_text, struct api_req *q,
			    unsigned right, const char *what, struct api_resp *r)
{
	json_t *job = load_job(s, id_text, r);
	if (job != NULL &&
	    !api_require_owner(q, r, json_string_value(json_object_get(job, "client")), right,
			       what)) {
		json_decref(job);
		return NULL;
	}
	return job;
}

static void h_cancel(struct api_server *s, const char *id_text, struct api_req *q,
		     struct api_resp *r)
{
	json_t *job = load_job_for(s, id_text, q, MPC_RIGHT_ADMIN, "cancel this job", r), *entry;
	char errmsg[MPC_ERRMSG_SIZE] = "";
	uint64_t index = 0;
	int rv, outcome = 0;
	if (job == NULL)
		return;
	entry = json_pack("{s:s, s:O, s:s, s:I}", "op", "job_cancel", "job",
			  json_object_get(job, "id"), "client", q->who.sig.client, "time_ms",
			  now_ms());
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

/* The results for the sender: the public values, and the sealed parts of the
 * values revealed to it; 403 when all values are revealed to other clients. */
static void result_view(json_t *job, struct api_req *q, struct api_resp *r)
{
	json_t *res = json_object(), *v;
	const char *k, *to, *other = NULL;
	json_object_foreach(json_object_get(job, "results"), k, v)
	{
		to = json_string_value(json_object_get(v, "to"));
		if (to != NULL && strcmp(to, q->who.sig.client) != 0)
			other = to;
		else
			json_object_set(res, k, v);
	}
	if (other != NULL && json_object_size(res) == 0) {
		api_set_error(r, MPC_EPERM,
			      "the results of job %" JSON_INTEGER_FORMAT
			      " are revealed to client '%s', not to '%s'",
			      json_integer_value(json_object_get(job, "id")), other,
			      q->who.sig.client);
		json_decref(res);
		return;
	}
	api_set_json(r, json_pack("{s:O, s:O, s:o}", "id", json_object_get(job, "id"), "state",
				  json_object_get(job, "state"), "results", res));
}

/* Results: the submitter's with the output right, anyone's with the read right. */
static void h_result(struct api_server *s, const char *id_text, struct api_req *q,
		     struct api_resp *r)
{
	json_t *job = load_job(s, id_text, r), *v;
	const char *state, *k;
	int recipient = 0;
	if (job == NULL)
		return;
	/* a client a value is revealed to may fetch it, whoever submitted the job */
	json_object_foreach(json_object_get(job, "results"), k, v)
	{
		if (json_is_string(json_object_get(v, "to")) &&
		    strcmp(json_string_value(json_object_get(v, "to")), q->who.sig.client) == 0 &&
		    (q->who.rights & MPC_RIGHT_OUTPUT))
			recipient = 1;
	}
	if (!recipient &&
	    !api_require_owner(q, r, json_string_value(json_object_get(job, "client")),
			       MPC_RIGHT_READ, "read this job's results")) {
		json_decref(job);
		return;
	}
	if (!recipient && !(q->who.rights & MPC_RIGHT_READ) &&
	    !api_require(q, r, MPC_RIGHT_OUTPUT, "receive the outputs of its jobs")) {
		json_decref(job);
		return;
	}
	state = json_string_value(json_object_get(job, "state"));
	if (strcmp(state, "COMPLETED") != 0)
		api_set_error(r, MPC_ESTATE, "job %s is %s%s%s: no results", id_text, state,
			      json_string_length(json_object_get(job, "reason")) ? ": " : "",
			      json_string_value(json_object_get(job, "reason")));
	else
		result_view(job, q, r);
	json_decref(job);
}

#define WAIT_MS_MAX 60000u

static json_int_t time_left(json_int_t deadline)
{
	json_int_t left = deadline - now_ms();
	return left > 0 ? left : 0;
}

/* GET /v1/jobs/ID[?wait_ms=N[&since=STATE|&until=final]]: with wait_ms, a long
 * poll: answers when the job's state differs from since (default: its state when
 * the request arrived), is final, or after N ms (at most WAIT_MS_MAX) with the
 * current state. until=final answers only when the job is final (or after N ms):
 * one request per job for a client that waits for the end only, instead of one
 * per state change, each with its signature check and job record. */
static void h_show(struct api_server *s, struct MHD_Connection *c, const char *id_text,
		   struct api_req *q, struct api_resp *r)
{
	const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait_ms");
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	const char *until = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "until");
	int until_final = 0;
	unsigned long wait_ms = 0;
	uint64_t seen = 0;
	char *from = NULL;
	json_t *job;

	if (wait != NULL) {
		char *end;
		wait_ms = strtoul(wait, &end, 10);
		if (*wait == '\0' || *wait == '-' || *end != '\0' || wait_ms > WAIT_MS_MAX) {
			api_set_error(r, MPC_EINVAL,
				      "GET /v1/jobs/%s: wait_ms must be 0..%u milliseconds, not '%s'",
				      id_text, WAIT_MS_MAX, wait);
			return;
		}
	}
	if (until != NULL) {
		if (strcmp(until, "final") != 0 || since != NULL) {
			api_set_error(r, MPC_EINVAL,
				      "GET /v1/jobs/%s: until must be 'final', without since, not '%s'",
				      id_text, until);
			return;
		}
		until_final = 1;
	}
	sched_service_mark(s->sched, &seen); /* before reading: no change is missed */
	job = load_job_for(s, id_text, q, MPC_RIGHT_READ, "read this job", r);
	if (job == NULL)
		return;
	from = strdup(since != NULL && *since ? since
					      : json_string_value(json_object_get(job, "state")));
	for (json_int_t deadline = now_ms() + (json_int_t)wait_ms; from != NULL;) {
		const char *state = json_string_value(json_object_get(job, "state"));
		json_int_t left = time_left(deadline);
		json_t *next;
		if (left == 0 || (!until_final && strcmp(state, from) != 0) ||
		    sched_job_state_final(sched_job_state_parse(state)))
			break;
		if (sched_service_wait(s->sched, strtoull(id_text, NULL, 10), &seen,
				       (unsigned)left) != 0)
			break;
		/* most wake-ups are other jobs' entries: while the job is active its
		 * state is in the scheduler's index, read without RocksDB (a job in
		 * the index is not final) */
		next = sched_service_active_job(s->sched, strtoull(id_text, NULL, 10));
		if (next != NULL &&
		    (until_final ||
		     strcmp(json_string_value(json_object_get(next, "state")), from) == 0) &&
		    time_left(deadline) > 0) {
			json_decref(next);
			continue;
		}
		json_decref(next);
		next = load_job(s, id_text, r);
		if (next == NULL) { /* r has the error */
			json_decref(job);
			free(from);
			return;
		}
		json_decref(job);
		job = next;
	}
	free(from);
	api_set_json(r, job_view(job, 1));
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
			return h_list(s, c, q, r);
	} else if (sscanf(rest, "/%31[^/]/%31s", id, tail) >= 1) {
		if (tail[0] == '\0' && get)
			return h_show(s, c, id, q, r);
		if (post && strcmp(tail, "cancel") == 0)
			return h_cancel(s, id, q, r);
		if (get && strcmp(tail, "result") == 0)
			return h_result(s, id, q, r);
	}
	api_set_error(r, MPC_ENOENT, "no such endpoint: %s /v1/jobs%s", method, rest);
}
