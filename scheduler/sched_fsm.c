/* Replicated job state: applies the scheduler's Raft log entries (submit, lease, done, commit, abort, expiry, cancel). */
#include "scheduler/sched_fsm.h"

#include "common/err.h"
#include "common/log.h"
#include "scheduler/lang.h"
#include "scheduler/sched_index.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_plancache.h"
#include "scheduler/sched_record.h"
#include "store/catalog.h"
#include "store/json_canon.h"
#include "store/signed_req.h"
#include "store/staging.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"PENDING",   "RUNNING", "COMPLETING", "COMPLETED",
					  "FAILED",    "CANCELLED", "TIMEOUT"};

const char *sched_job_state_name(int state)
{
	return state >= 0 && state <= SCHED_JOB_TIMEOUT ? state_names[state] : "UNKNOWN";
}

int sched_job_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i <= SCHED_JOB_TIMEOUT; i++)
		if (strcasecmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

int sched_job_state_final(int state)
{
	return state >= SCHED_JOB_COMPLETED;
}

/* ---- keys ---- */

static void job_key(char *out, size_t size, uint64_t id)
{
	snprintf(out, size, "job/%012" PRIu64, id);
}

static json_t *meta_json(struct store_db *db, const char *key)
{
	return store_db_get_json(db, STORE_CF_META, key);
}

/* Writes j as sorted compact JSON (the bytes of json_dumps, store/json_canon.h). */
static void meta_put(struct store_db *db, rocksdb_writebatch_t *wb, const char *key, json_t *j)
{
	char *text;
	size_t len;
	int rv = store_json_canon(j, &text, &len);
	if (rv != 0) { /* a string that is not UTF-8 (jansson's json_dumps gave NULL too) */
		LOG_ERROR("sched: %s: cannot write the record: %s", key, mpc_strerror(rv));
		return;
	}
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], key, strlen(key), text, len);
	free(text);
}

json_t *sched_job_get(struct store_db *db, uint64_t id)
{
	char key[64];
	job_key(key, sizeof key, id);
	return meta_json(db, key);
}

uint64_t sched_job_by_req(struct store_db *db, const char *req)
{
	char key[160], *val = NULL;
	uint64_t id = 0;
	snprintf(key, sizeof key, "jobreq/%.100s", req);
	if (store_db_get(db, STORE_CF_META, key, strlen(key), &val, NULL, NULL) == 0) {
		id = strtoull(val, NULL, 10);
		free(val);
	}
	return id;
}

struct ids_ctx {
	uint64_t *ids;
	size_t n, cap;
};

static int active_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct ids_ctx *c = vctx;
	(void)val;
	(void)vlen;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		uint64_t *ids = realloc(c->ids, cap * sizeof *ids);
		if (ids == NULL)
			return MPC_ENOMEM;
		c->ids = ids;
		c->cap = cap;
	}
	c->ids[c->n++] = strtoull(key + 7, NULL, 10); /* "jobact/" */
	(void)klen;
	return 0;
}

int sched_jobs_active(struct store_db *db, uint64_t **ids, size_t *n)
{
	struct ids_ctx c = {NULL, 0, 0};
	int rv = store_db_scan(db, STORE_CF_META, NULL, "jobact/", 7, active_one, &c);
	*ids = c.ids;
	*n = c.n;
	return rv;
}

static int all_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	json_t *j = json_loadb(val, vlen, 0, NULL);
	(void)key;
	(void)klen;
	if (j != NULL)
		json_array_append_new(vctx, j);
	return 0;
}

json_t *sched_jobs_all(struct store_db *db)
{
	json_t *arr = json_array();
	store_db_scan(db, STORE_CF_META, NULL, "job/", 4, all_one, arr);
	return arr;
}

unsigned sched_retry_backoff_ms(int attempts)
{
	unsigned ms = 500;
	for (int i = 1; i < attempts && ms < 8000; i++)
		ms *= 2;
	return ms < 8000 ? ms : 8000;
}

/* ---- schema and compile ---- */

int sched_schema_lookup(void *vctx, const char *table, const char *column,
			struct sched_lang_column *out)
{
	struct sched_schema_ctx *ctx = vctx;
	json_t *t, *cols;
	int rv = store_catalog_table(ctx->db, table, ctx->revision, 0, &t);
	if (rv == MPC_ENOENT) {
		out->table_exists = 0;
		return MPC_ENOENT;
	}
	if (rv != 0)
		return rv;
	cols = json_object_get(t, "columns");
	for (size_t i = 0; i < json_array_size(cols); i++) {
		json_t *c = json_array_get(cols, i);
		if (strcmp(json_string_value(json_object_get(c, "name")), column) != 0)
			continue;
		const char *type = json_string_value(json_object_get(c, "type"));
		unsigned frac = (unsigned)json_integer_value(json_object_get(c, "frac"));
		if (type != NULL && strncmp(type, "fixed", 5) == 0) {
			out->num = SCHED_IR_FIXED;
			out->frac_bits = frac ? frac : SCHED_LANG_FRAC_BITS;
		} else {
			out->num = SCHED_IR_INT;
			out->frac_bits = 0;
		}
		json_decref(t);
		return 0;
	}
	json_decref(t);
	out->table_exists = 1;
	return MPC_ENOENT;
}

int sched_compile(struct store_db *db, uint64_t revision, const char *file, const char *program,
		  json_t *args, struct sched_ir **ir, char *err, size_t cap)
{
	struct sched_schema_ctx ctx = {db, revision};
	struct sched_lang_schema schema = {&ctx, sched_schema_lookup};
	return sched_compile_schema(&schema, file, program, args, ir, err, cap);
}

int sched_compile_schema(struct sched_lang_schema *schema, const char *file, const char *program,
			 json_t *args, struct sched_ir **ir, char *err, size_t cap)
{
	struct sched_lang_arg av[64];
	struct sched_lang_options opt = {.schema = schema, .args = av, .max_errors = 10};
	const char *k;
	json_t *v;
	json_object_foreach(args, k, v)
	{
		if (opt.n_args == 64 || !json_is_string(v))
			break;
		av[opt.n_args].key = k;
		av[opt.n_args].value = json_string_value(v);
		opt.n_args++;
	}
	return sched_lang_compile(file, program, strlen(program), &opt, ir, err, cap);
}

/* ---- apply ---- */

static json_t *sched_state_db(struct store_db *db)
{
	json_t *s = meta_json(db, "sched/state");
	if (s == NULL)
		s = json_pack("{s:I, s:s}", "next_job", (json_int_t)1, "next_triple", "");
	if (json_string_length(json_object_get(s, "next_triple")) == 0) {
		char num[24];
		snprintf(num, sizeof num, "%" PRIu64, SCHED_TRIPLE_BASE);
		json_object_set_new(s, "next_triple", json_string(num));
	}
	return s;
}

/* The scheduler's counters (new reference, the caller's to change): inside a
 * sched_multi what an earlier entry of it wrote, else the db's. */
static json_t *sched_state(struct sched_fsm *f)
{
	return f->multi_state != NULL ? json_deep_copy(f->multi_state) : sched_state_db(f->db);
}

static void put_state(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *st)
{
	meta_put(f->db, wb, "sched/state", st);
	if (f->multi_jobs != NULL) {
		json_decref(f->multi_state);
		f->multi_state = json_incref(st);
	}
}

static void set_state(json_t *job, int state, const char *reason)
{
	json_object_set_new(job, "state", json_string(sched_job_state_name(state)));
	json_object_set_new(job, "reason", json_string(reason ? reason : ""));
}

static int job_state(json_t *job)
{
	return sched_job_state_parse(json_string_value(json_object_get(job, "state")));
}

static void share_key(char *out, size_t size, uint64_t job, json_int_t task, json_int_t attempt,
		      int party)
{
	snprintf(out, size, "jobshare/%012" PRIu64 "/%06d/%d/%d", job, (int)task, (int)attempt,
		 party);
}

json_t *sched_task_shares(struct store_db *db, uint64_t job, json_int_t task, json_int_t attempt,
			  int party)
{
	char key[96];
	share_key(key, sizeof key, job, task, attempt, party);
	return meta_json(db, key);
}

/* Deletes the kept shares of attempt a (all parties), and this party's kept
 * record of its stored pieces in its staging CF (sched_store_stage). */
static void drop_shares(struct sched_fsm *f, rocksdb_writebatch_t *wb, uint64_t job, json_t *a)
{
	char key[96];
	for (int p = 0; p < f->n_parties; p++) {
		share_key(key, sizeof key, job, json_integer_value(json_object_get(a, "task")),
			  json_integer_value(json_object_get(a, "attempt")), p);
		rocksdb_writebatch_delete_cf(wb, f->db->cf[STORE_CF_META], key, strlen(key));
	}
	store_staging_kept_batch_drop(f->db, wb, job, (int)json_integer_value(json_object_get(a, "task")),
				      (int)json_integer_value(json_object_get(a, "attempt")));
}

/* How many attempts job has, and how many of them are leased. */
static void attempt_counts(json_t *job, size_t *n, size_t *leased)
{
	json_t *attempts = json_object_get(job, "attempts"), *a;
	size_t i;
	*n = json_array_size(attempts);
	*leased = 0;
	json_array_foreach(attempts, i, a)
	{
		const char *st = json_string_value(json_object_get(a, "state"));
		*leased += st != NULL && strcmp(st, "leased") == 0;
	}
}

static void put_job(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *job)
{
	char key[64];
	uint64_t id = (uint64_t)json_integer_value(json_object_get(job, "id"));
	job_key(key, sizeof key, id);
	meta_put(f->db, wb, key, job);
	snprintf(key, sizeof key, "jobact/%012" PRIu64, id);
	if (sched_job_state_final(job_state(job))) {
		json_t *a;
		size_t i;
		rocksdb_writebatch_delete_cf(wb, f->db->cf[STORE_CF_META], key, strlen(key));
		/* a final job's shares are not read again */
		json_array_foreach(json_object_get(job, "attempts"), i, a)
			drop_shares(f, wb, id, a);
	} else {
		rocksdb_writebatch_put_cf(wb, f->db->cf[STORE_CF_META], key, strlen(key), "1", 1);
	}
	/* the record as written: apply never changes job after put_job */
	if (f->multi_jobs != NULL) {
		char ik[24];
		snprintf(ik, sizeof ik, "%" PRIu64, id);
		json_object_set(f->multi_jobs, ik, job);
	}
	if (f->index != NULL) {
		json_t *prev = sched_index_get(f->index, id);
		size_t n0 = 0, l0 = 0, n1, l1;
		if (prev != NULL)
			attempt_counts(prev, &n0, &l0);
		attempt_counts(job, &n1, &l1);
		if (n0 != n1 || l0 != l1 || sched_job_state_final(job_state(job)))
			f->runner_changes++;
		if (prev == NULL || job_state(prev) != job_state(job)) {
			f->state_changes++;
			if (f->n_changed < SCHED_FSM_CHANGED_MAX)
				f->changed[f->n_changed] = id;
			if (f->n_changed <= SCHED_FSM_CHANGED_MAX)
				f->n_changed++;
		}
		json_decref(prev);
		if (sched_index_put(f->index, job) != 0)
			LOG_WARN("sched: job %" PRIu64 ": out of memory in the active job index", id);
	}
}

static void finish(json_t *job, int state, const char *reason, json_t *e)
{
	set_state(job, state, reason);
	json_object_set(job, "end_ms", json_object_get(e, "time_ms"));
}

/* The job's queue must be one of cluster.conf's [queue.NAME] (else FAILED
 * "BadQueue"); its priority is lowered to the queue's max_priority. */
static const char *submit_queue(const struct mpc_cluster *c, json_t *e, char *why, size_t size)
{
	const char *name = json_string_value(json_object_get(e, "queue")) ?: "default";
	const struct mpc_queue_info *q = mpc_cluster_queue(c, name);
	char known[MPC_MAX_QUEUES * (MPC_NAME_MAX + 2)];
	if (q == NULL) {
		mpc_cluster_queue_names(c, known, sizeof known);
		snprintf(why, size, "unknown queue '%.64s' (known: %.300s)", name, known);
		return "BadQueue";
	}
	if (q->has_max_priority &&
	    json_integer_value(json_object_get(e, "priority")) > q->max_priority)
		json_object_set_new(e, "priority", json_integer(q->max_priority));
	return NULL;
}

/* The job comes from the client's signed request (DESIGN.md §6): its
 * fields replace the entry's, so the proposing party cannot change them,
 * and the client must hold the submit right. 0, or the FAILED reason
 * ("BadSignature", "AccessDenied") with the details in why. */
static const char *submit_signed(struct sched_fsm *f, json_t *e, char *why, size_t size)
{
	static const char *const fields[] = {"name",	"queue", "priority",	 "file",
					     "program", "args",	 "time_limit_s", NULL};
	const struct mpc_client_info *ci;
	json_t *body;
	if (f->cluster == NULL ||
	    store_signed_req_open(f->cluster, e, "POST", "/v1/jobs", "req", &ci, &body, why,
				  size) != 0)
		return "BadSignature";
	for (int i = 0; fields[i]; i++) {
		json_t *v = json_object_get(body, fields[i]);
		if (v != NULL)
			json_object_set(e, fields[i], v);
		else
			json_object_del(e, fields[i]);
	}
	json_decref(body);
	if (!(ci->rights & (MPC_RIGHT_SUBMIT | MPC_RIGHT_ADMIN))) {
		snprintf(why, size, "client '%s' lacks the 'submit' right", ci->name);
		return "AccessDenied";
	}
	return submit_queue(f->cluster, e, why, size);
}

static int apply_submit(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e, uint64_t index)
{
	const char *req = json_string_value(json_object_get(e, "req"));
	const char *program, *client, *file, *refused;
	json_t *args, *st, *job;
	struct sched_plan_hold *hold = NULL;
	const struct sched_ir *ir = NULL;
	const struct sched_plan *plan = NULL;
	char key[160], num[24], *err, why[400] = "";
	uint64_t id;
	int rv;

	if (req == NULL || strlen(req) > 100 || !json_is_string(json_object_get(e, "client")))
		return MPC_EINVAL;
	if (sched_job_by_req(f->db, req) != 0)
		return 0; /* re-applied, or the same request twice: one job */
	refused = submit_signed(f, e, why, sizeof why);
	program = json_string_value(json_object_get(e, "program"));
	client = json_string_value(json_object_get(e, "client"));
	file = json_string_value(json_object_get(e, "file"));
	args = json_object_get(e, "args");
	if (program == NULL)
		program = "";
	if (!json_is_object(args)) {
		json_object_set_new(e, "args", json_object());
		args = json_object_get(e, "args");
	}
	err = calloc(1, SCHED_ERR_MAX);
	if (err == NULL)
		return MPC_ENOMEM;
	st = sched_state(f);
	id = (uint64_t)json_integer_value(json_object_get(st, "next_job"));
	json_object_set_new(st, "next_job", json_integer((json_int_t)(id + 1)));
	put_state(f, wb, st);
	json_decref(st);

	job = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:O, s:I, s:I, s:n, s:n, s:[], s:{}}",
			"id", (json_int_t)id, "name",
			json_string_value(json_object_get(e, "name")) ?: "job", "client", client,
			"queue", json_string_value(json_object_get(e, "queue")) ?: "default",
			"priority", (int)json_integer_value(json_object_get(e, "priority")),
			"file", file ? file : "job.mpc", "program", program, "args",
			args, "submit_ms",
			json_integer_value(json_object_get(e, "time_ms")), "input_revision",
			(json_int_t)index, "start_ms", "end_ms", "attempts", "results");
	if (job == NULL) {
		free(err);
		return MPC_EINVAL;
	}
	json_object_set_new(job, "req", json_string(req));
	if (json_integer_value(json_object_get(e, "time_limit_s")) > 0)
		json_object_set(job, "time_limit_s", json_object_get(e, "time_limit_s"));
	if (refused != NULL) {
		json_object_set_new(job, "error", json_string(why));
		finish(job, SCHED_JOB_FAILED, refused, e);
		goto record;
	}
	/* compile against the catalog as applied so far: the same on every party */
	rv = sched_plan_cache_get(f->plans, f->db, 0, file ? file : "job.mpc", program, args, &hold,
				  err, SCHED_ERR_MAX);
	if (rv == 0) {
		ir = sched_plan_hold_ir(hold);
		plan = sched_plan_hold_plan(hold);
	}
	if (rv == 0 && f->cluster != NULL)
		rv = sched_plan_check_recipients(ir, f->cluster, file ? file : "job.mpc", err,
						 SCHED_ERR_MAX);
	if (rv == 0)
		rv = sched_store_check(ir, f->db, f->cluster, client, file, err, SCHED_ERR_MAX);
	if (rv == 0) {
		json_object_set_new(job, "fuel", json_integer((json_int_t)sched_plan_fuel(plan)));
		json_object_set_new(job, "tasks", sched_plan_tasks_json(plan));
		set_state(job, SCHED_JOB_PENDING, "Priority");
	} else {
		json_object_set_new(job, "error", json_string(err[0] ? err : mpc_strerror(rv)));
		finish(job, SCHED_JOB_FAILED, rv == MPC_EPERM ? "AccessDenied" : "CompileError", e);
	}
	sched_plan_cache_release(f->plans, hold);
record:
	put_job(f, wb, job);
	snprintf(key, sizeof key, "jobreq/%s", req);
	snprintf(num, sizeof num, "%" PRIu64, id);
	rocksdb_writebatch_put_cf(wb, f->db->cf[STORE_CF_META], key, strlen(key), num, strlen(num));
	json_decref(job);
	free(err);
	return 0;
}

/* The entry's job record (new reference, the caller's to change): a
 * copy-on-write copy of the index's record of an active job (what put_job
 * last wrote; sched_record_copy: only the containers apply changes are new,
 * the rest is shared with the index and never changed), else read from
 * RocksDB (a final job: its entries are refused). */
static json_t *entry_job(struct sched_fsm *f, json_t *e)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(e, "job"));
	json_t *job = NULL, *copy;
	if (f->multi_jobs != NULL) { /* written by an earlier entry of this sched_multi */
		char ik[24];
		snprintf(ik, sizeof ik, "%" PRIu64, id);
		job = json_incref(json_object_get(f->multi_jobs, ik));
	}
	if (job == NULL && f->index != NULL)
		job = sched_index_get(f->index, id);
	if (job == NULL)
		return sched_job_get(f->db, id);
	copy = sched_record_copy(job);
	json_decref(job);
	return copy != NULL ? copy : sched_job_get(f->db, id);
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The entry's task of job, or NULL. Borrowed. */
static json_t *entry_task(json_t *job, json_t *e)
{
	json_t *k = json_object_get(e, "task");
	if (!json_is_integer(k) || json_integer_value(k) < 0)
		return NULL;
	return json_array_get(json_object_get(job, "tasks"), (size_t)json_integer_value(k));
}

/* Takes n values from the counter `name` of the state st (base when unset). */
static uint64_t take_counter(json_t *st, const char *name, uint64_t base, uint64_t n)
{
	const char *s = json_string_value(json_object_get(st, name));
	uint64_t v = s != NULL && *s ? strtoull(s, NULL, 10) : base;
	char num[24];
	snprintf(num, sizeof num, "%" PRIu64, v + n);
	json_object_set_new(st, name, json_string(num));
	return v;
}

static int deps_committed(json_t *job, json_t *task)
{
	json_t *d;
	size_t i;
	json_array_foreach(json_object_get(task, "deps"), i, d)
	{
		json_t *t = json_array_get(json_object_get(job, "tasks"), (size_t)json_integer_value(d));
		if (t == NULL || strcmp(str_of(t, "state"), "COMMITTED") != 0)
			return 0;
	}
	return 1;
}

static int apply_lease(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e)
{
	json_t *job = entry_job(f, e), *task, *att;
	json_int_t attempt = json_integer_value(json_object_get(e, "attempt"));
	json_int_t n_req = json_integer_value(json_object_get(e, "n"));
	uint64_t n = n_req > 0 ? (uint64_t)n_req : 0, t0, session;
	char num[24];
	int rv = 0;

	if (job == NULL)
		return MPC_ENOENT;
	if (n_req < 0) {
		rv = MPC_EINVAL; /* as uint64_t it would move next_triple back: triples reused */
		goto out;
	}
	task = entry_task(job, e);
	if (sched_job_state_final(job_state(job)) || task == NULL ||
	    strcmp(str_of(task, "state"), "PENDING") != 0 ||
	    attempt != json_integer_value(json_object_get(task, "attempts")) + 1 || n == 0 ||
	    !deps_committed(job, task)) {
		rv = MPC_ESTATE; /* stale or duplicate lease */
		goto out;
	}
	/* one read-modify-write: reads do not see this entry's batch */
	json_t *st = sched_state(f);
	{
		const char *s = json_string_value(json_object_get(st, "next_triple"));
		uint64_t next = s != NULL && *s ? strtoull(s, NULL, 10) : SCHED_TRIPLE_BASE;
		if (n > UINT64_MAX - next) {
			json_decref(st);
			rv = MPC_ERANGE; /* the index space is exhausted: never wrap around */
			goto out;
		}
	}
	t0 = take_counter(st, "next_triple", SCHED_TRIPLE_BASE, n);
	session = take_counter(st, "next_session", SCHED_SESSION_BASE, 1);
	put_state(f, wb, st);
	json_decref(st);
	snprintf(num, sizeof num, "%" PRIu64, t0);
	att = json_pack("{s:I, s:O, s:s, s:I, s:I, s:s, s:s, s:O, s:O, s:{}}", "attempt", attempt,
			"task", json_object_get(e, "task"), "t0", num, "n", (json_int_t)n,
			"session", (json_int_t)session, "state", "leased", "reason", "",
			"expiry_ms", json_object_get(e, "expiry_ms"), "leased_ms",
			json_object_get(e, "time_ms"), "done");
	if (att == NULL) {
		rv = MPC_EINVAL;
		goto out;
	}
	json_array_append_new(json_object_get(job, "attempts"), att);
	json_object_set_new(task, "attempts", json_integer(attempt));
	json_object_set_new(task, "state", json_string("LEASED"));
	if (json_is_null(json_object_get(job, "start_ms")))
		json_object_set(job, "start_ms", json_object_get(e, "time_ms"));
	set_state(job, SCHED_JOB_RUNNING, "");
	put_job(f, wb, job);
out:
	json_decref(job);
	return rv;
}

json_t *sched_task_attempt(json_t *job, json_int_t task)
{
	json_t *atts = json_object_get(job, "attempts");
	for (size_t i = json_array_size(atts); i-- > 0;) {
		json_t *a = json_array_get(atts, i);
		if (json_integer_value(json_object_get(a, "task")) == task)
			return a;
	}
	return NULL;
}

/* The entry's attempt if it is its task's current one and in state want. */
static json_t *current_attempt(json_t *job, json_t *e, const char *want)
{
	json_t *a = sched_task_attempt(job, json_integer_value(json_object_get(e, "task")));
	if (a == NULL || entry_task(job, e) == NULL ||
	    json_integer_value(json_object_get(a, "attempt")) !=
		    json_integer_value(json_object_get(e, "attempt")))
		return NULL;
	if (want != NULL && strcmp(str_of(a, "state"), want) != 0)
		return NULL;
	return a;
}

/* Every task committed but one PREPARED: the job is COMPLETING. */
static int last_to_commit(json_t *job)
{
	json_t *t;
	size_t i;
	int prepared = 0;
	json_array_foreach(json_object_get(job, "tasks"), i, t)
	{
		if (strcmp(str_of(t, "state"), "PREPARED") == 0)
			prepared++;
		else if (strcmp(str_of(t, "state"), "COMMITTED") != 0)
			return 0;
	}
	return prepared == 1;
}

static int apply_done(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e)
{
	json_t *job = entry_job(f, e), *a, *done, *shares;
	json_int_t party = json_integer_value(json_object_get(e, "party"));
	const char *digest = json_string_value(json_object_get(e, "digest"));
	char pk[16];
	int rv = 0;

	if (job == NULL)
		return MPC_ENOENT;
	a = current_attempt(job, e, "leased");
	if (a == NULL || party < 0 || party >= f->n_parties || digest == NULL ||
	    sched_job_state_final(job_state(job))) {
		rv = MPC_ESTATE;
		goto out;
	}
	done = json_object_get(a, "done");
	snprintf(pk, sizeof pk, "%d", (int)party);
	if (json_object_get(done, pk) == NULL) {
		json_object_set_new(done, pk, json_string(digest));
		if (json_object_get(a, "outputs") == NULL)
			json_object_set(a, "outputs", json_object_get(e, "outputs"));
		/* this party's shares of the values revealed to a client, sealed to
		 * that client by the engine: they differ per party (not in the digest) */
		if (json_is_object(json_object_get(e, "sealed")) &&
		    json_object_size(json_object_get(e, "sealed")) > 0) {
			if (json_object_get(a, "sealed") == NULL)
				json_object_set_new(a, "sealed", json_object());
			json_object_set(json_object_get(a, "sealed"), pk,
					json_object_get(e, "sealed"));
		}
		/* this party's kept shares, sealed to itself by its engine: next to
		 * the job record (which the API shows), not in it */
		shares = json_object_get(e, "shares");
		if (json_is_object(shares) && json_object_size(shares) > 0) {
			char key[96];
			share_key(key, sizeof key,
				  (uint64_t)json_integer_value(json_object_get(job, "id")),
				  json_integer_value(json_object_get(e, "task")),
				  json_integer_value(json_object_get(e, "attempt")), (int)party);
			meta_put(f->db, wb, key, shares);
		}
		if ((int)json_object_size(done) == f->n_parties) {
			json_object_set_new(a, "state", json_string("prepared"));
			json_object_set_new(entry_task(job, e), "state", json_string("PREPARED"));
			if (last_to_commit(job))
				set_state(job, SCHED_JOB_COMPLETING, "");
		}
		put_job(f, wb, job);
	}
out:
	json_decref(job);
	return rv;
}

/* Every task committed: the results from their public outputs, and the
 * stored values into their tables (in wb, the commit's batch). */
static void complete_job(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *job, json_t *e,
			 uint64_t index)
{
	json_t *outs = json_array(), *sealed = json_array(), *t, *res = NULL;
	struct sched_plan_hold *hold = NULL;
	const struct sched_plan *plan = NULL;
	char *err = calloc(1, SCHED_ERR_MAX);
	const char *failed = "results";
	size_t i;
	int rv = err == NULL ? MPC_ENOMEM : 0;
	json_array_foreach(json_object_get(job, "tasks"), i, t)
	{
		json_array_append(outs, json_object_get(t, "outputs") ?: json_null());
		json_array_append(sealed, json_object_get(t, "sealed") ?: json_null());
	}
	if (rv == 0)
		rv = sched_plan_cache_get_job(
		    f->plans, f->db,
		    (uint64_t)json_integer_value(json_object_get(job, "input_revision")),
		    str_of(job, "file"), str_of(job, "program"), json_object_get(job, "args"),
		    json_array_size(json_object_get(job, "tasks")), &hold, err, SCHED_ERR_MAX);
	if (rv == 0)
		plan = sched_plan_hold_plan(hold);
	if (rv == 0)
		rv = sched_plan_results(plan, outs, sealed, &res, err, SCHED_ERR_MAX);
	if (rv == 0) {
		json_t *stores = sched_plan_stores(plan);
		if (f->multi_jobs != NULL && json_array_size(stores) > 0) {
			/* the catalog read below would miss what earlier entries of
			 * this sched_multi wrote; leaders propose task_commit alone */
			snprintf(err, SCHED_ERR_MAX,
				 "a task_commit that stores must be its own log entry, not in a "
				 "sched_multi");
			rv = MPC_EINVAL;
		} else {
			rv = sched_store_commit(f->db, wb, f->cluster, f->n_parties, &f->me, job,
						stores, index, err, SCHED_ERR_MAX);
		}
		json_decref(stores);
		if (rv != 0) {
			json_decref(res);
			failed = rv == MPC_EPERM ? "AccessDenied" : "StoreFailed";
		}
	}
	/* the sealed parts live on in the results only */
	json_array_foreach(json_object_get(job, "tasks"), i, t)
		json_object_del(t, "sealed");
	if (rv == 0) {
		json_object_set_new(job, "results", res);
		finish(job, SCHED_JOB_COMPLETED, "", e);
	} else {
		json_object_set_new(job, "error",
				    json_string(err && err[0] ? err : mpc_strerror(rv)));
		finish(job, SCHED_JOB_FAILED, failed, e);
	}
	sched_plan_cache_release(f->plans, hold);
	json_decref(outs);
	json_decref(sealed);
	free(err);
}

/* An attempt ended without a commit: the task is retried, or the job fails. */
static void attempt_failed(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *job, json_t *task,
			   json_t *a, const char *reason, json_t *e)
{
	char why[512];
	json_object_set_new(a, "state", json_string("aborted"));
	json_object_set_new(a, "reason", json_string(reason));
	json_object_del(a, "sealed");
	drop_shares(f, wb, (uint64_t)json_integer_value(json_object_get(job, "id")), a);
	if (json_integer_value(json_object_get(task, "attempts")) >= SCHED_MAX_ATTEMPTS) {
		json_object_set_new(task, "state", json_string("ABORTED"));
		snprintf(why, sizeof why, "task %d attempt %d of %d: %s",
			 (int)json_integer_value(json_object_get(task, "task")),
			 (int)json_integer_value(json_object_get(a, "attempt")), SCHED_MAX_ATTEMPTS,
			 reason);
		finish(job, SCHED_JOB_FAILED, why, e);
	} else {
		json_object_set_new(task, "state", json_string("PENDING"));
		json_object_set_new(task, "retry_after_ms",
				    json_integer(json_integer_value(json_object_get(e, "time_ms")) +
						 sched_retry_backoff_ms((int)json_integer_value(
							 json_object_get(task, "attempts")))));
		set_state(job, SCHED_JOB_RUNNING, "Retry");
	}
}

static int apply_commit(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e, uint64_t index)
{
	json_t *job = entry_job(f, e), *a, *task, *done, *v, *t;
	const char *first = NULL, *k;
	int rv = 0, same = 1, all = 1;
	size_t i;

	if (job == NULL)
		return MPC_ENOENT;
	a = current_attempt(job, e, "prepared");
	task = entry_task(job, e);
	if (a == NULL || sched_job_state_final(job_state(job))) {
		rv = MPC_ESTATE;
		goto out;
	}
	done = json_object_get(a, "done");
	json_object_foreach(done, k, v)
	{
		if (first == NULL)
			first = json_string_value(v);
		else if (strcmp(first, json_string_value(v)) != 0)
			same = 0;
	}
	if (!same) {
		attempt_failed(f, wb, job, task, a, "parties disagree on the outputs", e);
		put_job(f, wb, job);
		goto out;
	}
	json_object_set_new(a, "state", json_string("committed"));
	json_object_set_new(task, "state", json_string("COMMITTED"));
	json_object_set(task, "outputs", json_object_get(a, "outputs") ?: json_object());
	json_object_set(task, "committed_attempt", json_object_get(a, "attempt"));
	if (json_object_get(a, "sealed") != NULL)
		json_object_set(task, "sealed", json_object_get(a, "sealed"));
	json_object_del(a, "outputs");
	json_object_del(a, "sealed");
	json_object_del(task, "retry_after_ms");
	json_array_foreach(json_object_get(job, "tasks"), i, t)
		if (strcmp(str_of(t, "state"), "COMMITTED") != 0)
			all = 0;
	if (all)
		complete_job(f, wb, job, e, index);
	else if (strcmp(str_of(job, "reason"), "Retry") == 0)
		set_state(job, SCHED_JOB_RUNNING, "");
	put_job(f, wb, job);
out:
	json_decref(job);
	return rv;
}

static int apply_abort(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e, int expired)
{
	json_t *job = entry_job(f, e), *a;
	const char *reason = expired ? "lease expired"
				     : json_string_value(json_object_get(e, "reason"));
	int rv = 0;

	if (job == NULL)
		return MPC_ENOENT;
	a = current_attempt(job, e, NULL);
	if (a == NULL || sched_job_state_final(job_state(job)) ||
	    (strcmp(str_of(a, "state"), "leased") != 0 &&
	     strcmp(str_of(a, "state"), "prepared") != 0)) {
		rv = MPC_ESTATE;
		goto out;
	}
	attempt_failed(f, wb, job, entry_task(job, e), a, reason ? reason : "aborted", e);
	put_job(f, wb, job);
out:
	json_decref(job);
	return rv;
}

/* Aborts the job's leased and prepared attempts (nothing more commits). */
static void abort_running(json_t *job, const char *reason)
{
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(job, "attempts"), i, a)
	{
		if (strcmp(str_of(a, "state"), "leased") == 0 ||
		    strcmp(str_of(a, "state"), "prepared") == 0) {
			json_object_set_new(a, "state", json_string("aborted"));
			json_object_set_new(a, "reason", json_string(reason));
		}
	}
}

/* The leader's time_ms is past start_ms + time_limit_s and the job is not
 * COMPLETING (every task's work done): TIMEOUT (reason TimeLimit, as Slurm). The check uses the entry's time only, so every party
 * agrees. */
static int apply_timeout(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e)
{
	json_t *job = entry_job(f, e), *start;
	json_int_t limit, now = json_integer_value(json_object_get(e, "time_ms"));
	int rv = 0;
	if (job == NULL)
		return MPC_ENOENT;
	limit = json_integer_value(json_object_get(job, "time_limit_s"));
	start = json_object_get(job, "start_ms");
	if (sched_job_state_final(job_state(job)) || job_state(job) == SCHED_JOB_COMPLETING ||
	    limit <= 0 || !json_is_integer(start) || now <= json_integer_value(start) + limit * 1000) {
		rv = MPC_ESTATE;
		goto out;
	}
	abort_running(job, "job time limit");
	finish(job, SCHED_JOB_TIMEOUT, "TimeLimit", e);
	put_job(f, wb, job);
out:
	json_decref(job);
	return rv;
}

static int apply_cancel(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e)
{
	json_t *job = entry_job(f, e);
	int rv = 0;
	if (job == NULL)
		return MPC_ENOENT;
	if (sched_job_state_final(job_state(job))) {
		rv = MPC_ESTATE;
		goto out;
	}
	abort_running(job, "job cancelled");
	finish(job, SCHED_JOB_CANCELLED, "", e);
	json_object_set(job, "cancelled_by", json_object_get(e, "client"));
	put_job(f, wb, job);
out:
	json_decref(job);
	return rv;
}

/* The leader's reason why a PENDING job waits (Slurm's squeue REASON). */
static int apply_reason(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e)
{
	static const char *const reasons[] = {"Priority", "Resources", "Fuel", "Parties", NULL};
	json_t *job = entry_job(f, e);
	const char *reason = json_string_value(json_object_get(e, "reason"));
	int rv = MPC_EINVAL;
	if (job == NULL)
		return MPC_ENOENT;
	for (const char *const *r = reasons; reason != NULL && *r != NULL; r++)
		if (strcmp(*r, reason) == 0)
			rv = 0;
	if (rv == 0 && job_state(job) != SCHED_JOB_PENDING)
		rv = MPC_ESTATE;
	if (rv == 0 && strcmp(str_of(job, "reason"), reason) != 0) {
		set_state(job, SCHED_JOB_PENDING, reason);
		put_job(f, wb, job);
	}
	json_decref(job);
	return rv;
}

static int apply_multi(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *e, uint64_t index)
{
	static const char *const ops[] = {"task_lease",	   "task_done", "task_commit",
					  "task_abort",	   "lease_expired", "job_reason",
					  "job_timeout", NULL};
	json_t *subs = json_object_get(e, "entries"), *sub;
	size_t i;
	int rv = 0;
	if (!json_is_array(subs) || json_array_size(subs) == 0 ||
	    json_array_size(subs) > SCHED_MULTI_MAX || f->multi_jobs != NULL)
		return MPC_EINVAL;
	f->multi_jobs = json_object();
	if (f->multi_jobs == NULL)
		return MPC_ENOMEM;
	json_array_foreach(subs, i, sub)
	{
		const char *op = json_string_value(json_object_get(sub, "op"));
		int ok = 0, outcome = 0;
		for (const char *const *o = ops; op != NULL && *o != NULL; o++)
			ok |= strcmp(op, *o) == 0;
		if (!ok)
			continue; /* refused: no nesting, no submit (jobreq/ is read from the db) */
		rv = sched_fsm_apply(f, wb, sub, index, &outcome);
		if (rv != 0)
			break;
	}
	json_decref(f->multi_jobs);
	json_decref(f->multi_state);
	f->multi_jobs = f->multi_state = NULL;
	return rv;
}

int sched_fsm_apply(void *data, rocksdb_writebatch_t *wb, json_t *e, uint64_t index, int *outcome)
{
	struct sched_fsm *f = data;
	const char *op = json_string_value(json_object_get(e, "op"));
	int rv = MPC_EINVAL;

	if (op == NULL)
		rv = MPC_EINVAL;
	else if (strcmp(op, "job_submit") == 0)
		rv = apply_submit(f, wb, e, index);
	else if (strcmp(op, "task_lease") == 0)
		rv = apply_lease(f, wb, e);
	else if (strcmp(op, "task_done") == 0)
		rv = apply_done(f, wb, e);
	else if (strcmp(op, "task_commit") == 0)
		rv = apply_commit(f, wb, e, index);
	else if (strcmp(op, "task_abort") == 0)
		rv = apply_abort(f, wb, e, 0);
	else if (strcmp(op, "lease_expired") == 0)
		rv = apply_abort(f, wb, e, 1);
	else if (strcmp(op, "job_cancel") == 0)
		rv = apply_cancel(f, wb, e);
	else if (strcmp(op, "job_reason") == 0)
		rv = apply_reason(f, wb, e);
	else if (strcmp(op, "job_timeout") == 0)
		rv = apply_timeout(f, wb, e);
	else if (strcmp(op, "sched_multi") == 0)
		rv = apply_multi(f, wb, e, index);
	else if (strcmp(op, "sched_noop") == 0)
		rv = 0; /* a barrier: its proposer waits until it applied everything before */
	/* a rejected entry changes nothing; only ENOMEM would be a local failure, and
	 * even that is reported as the entry's outcome so that every party agrees */
	*outcome = rv;
	return 0;
}
