/* Unit tests of the scheduler FSM: per-segment tasks, leases with disjoint triple ranges and sessions, done/commit/abort per task, retries with backoff, reasons, on a temp RocksDB. */
#include "common/err.h"
#include "common/reqsig.h"
#include "scheduler/lang.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_index.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_plancache.h"
#include "store/db.h"
#include "store/signed_req.h"
#include "tests/unit/sched_fixture.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store_db *db;
static struct sched_fsm f;
static uint64_t next_index;
/* clients alice (submit, output) and eve (submit): submits are signed */
static struct mpc_cluster cluster;
static uint8_t sign_sk[2][crypto_sign_SECRETKEYBYTES];

static void put(const char *key, const char *json)
{
	sched_fixture_put(db, key, json);
}

/* Table t (a int64, h fixed 16) with segments of 300 and 200 rows, as the store commits them. */
static void setup(void)
{
	db = sched_fixture_open(dir, "test_sched_fsm");
	f.db = db;
	f.n_parties = 3;
	/* as in mpcd: apply keeps the index of active jobs */
	cr_assert_eq(sched_index_new(&f.index), 0);
	cr_assert_eq(sched_index_rebuild(f.index, db), 0);
	/* and the cache of compiled programs: a resubmit, the completion hit it */
	f.plans = sched_plan_cache_new(8);
	cr_assert_not_null(f.plans);
	cr_assert(sodium_init() >= 0);
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, SCHED_FIXTURE_CLUSTER_ID);
	cluster.n_parties = 3;
	cluster.n_clients = 2;
	for (int k = 0; k < 2; k++) {
		strcpy(cluster.clients[k].name, k == 0 ? "alice" : "eve");
		uint8_t box_sk[crypto_box_SECRETKEYBYTES];
		crypto_sign_keypair(cluster.clients[k].sign_pk, sign_sk[k]);
		crypto_box_keypair(cluster.clients[k].box_pk, box_sk);
		cluster.clients[k].rights = MPC_RIGHT_SUBMIT | (k == 0 ? MPC_RIGHT_OUTPUT : 0);
	}
	cluster.n_queues = 2;
	strcpy(cluster.queues[0].name, "default");
	cluster.queues[0].weight = 1;
	strcpy(cluster.queues[1].name, "batch");
	cluster.queues[1].weight = 2;
	cluster.queues[1].max_priority = 5;
	cluster.queues[1].has_max_priority = 1;
	f.cluster = &cluster;
	f.cluster = &cluster;
	put("tbl/t", "{\"name\":\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\",\"frac\":0},"
		     "{\"name\":\"h\",\"type\":\"fixed\",\"frac\":16}],\"rows\":500,\"version\":2,"
		     "\"segments\":2,\"created_revision\":1,\"revision\":3}");
	put("seg/t/00000000", "{\"txn\":\"x1\",\"rows\":300,\"revision\":2}");
	put("seg/t/00000001", "{\"txn\":\"x2\",\"rows\":200,\"revision\":3}");
	next_index = 10;
}

static void teardown(void)
{
	sched_index_free(f.index);
	f.index = NULL;
	sched_plan_cache_free(f.plans);
	f.plans = NULL;
	sched_fixture_close(db, dir);
}

TestSuite(sched_fsm, .init = setup, .fini = teardown);

static int count_one(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	++*(size_t *)ctx;
	return 0;
}

/* The index holds exactly the jobs of jobact/, each equal to its job/ record,
 * and a rebuild from the db gives the same. */
static void check_index(void)
{
	json_t **jobs;
	size_t n, n_act = 0;
	cr_assert_eq(store_db_scan(db, STORE_CF_META, NULL, "jobact/", 7, count_one, &n_act), 0);
	for (int pass = 0; pass < 2; pass++) {
		cr_assert_eq(sched_index_active(f.index, &jobs, &n), 0);
		cr_assert_eq(n, n_act, "index has %zu jobs, jobact/ %zu (pass %d)", n, n_act, pass);
		for (size_t i = 0; i < n; i++) {
			uint64_t id = (uint64_t)json_integer_value(json_object_get(jobs[i], "id"));
			json_t *stored = sched_job_get(db, id);
			cr_assert(i == 0 || id > (uint64_t)json_integer_value(
						     json_object_get(jobs[i - 1], "id")));
			cr_assert(json_equal(stored, jobs[i]), "job %" PRIu64 ": index != db (pass %d)",
				  id, pass);
			json_decref(stored);
		}
		sched_index_release(jobs, n);
		cr_assert_eq(sched_index_rebuild(f.index, db), 0);
	}
}

static char *dump_sorted(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_not_null(text);
	return text;
}

/* Every job/ record is exactly what json_dumps(JSON_COMPACT | JSON_SORT_KEYS)
 * writes of it (sched_record_dump: the bytes of the format before it). */
static int bytes_one(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	json_t *j = json_loadb(val, vlen, 0, NULL);
	char *text;
	(void)ctx;
	cr_assert_not_null(j, "%.*s is not JSON", (int)klen, key);
	text = dump_sorted(j);
	cr_assert(strlen(text) == vlen && memcmp(text, val, vlen) == 0,
		  "%.*s: written %.*s, json_dumps %s", (int)klen, key, (int)vlen, val, text);
	free(text);
	json_decref(j);
	return 0;
}

/* Applies the entry (JSON text) as the next log index; returns its outcome.
 * Also checks that apply changed none of the index's records in place (its
 * copies share their unchanged parts with them: sched_record_copy) and that
 * the records are written byte for byte as before. */
static int apply(const char *text)
{
	char err[MPC_ERRMSG_SIZE];
	json_t *e = json_loads(text, 0, NULL), **held;
	char **before;
	size_t n_held;
	int outcome = -1;
	cr_assert_not_null(e, "bad test JSON %s", text);
	cr_assert_eq(sched_index_active(f.index, &held, &n_held), 0);
	before = calloc(n_held + 1, sizeof *before);
	for (size_t i = 0; i < n_held; i++)
		before[i] = dump_sorted(held[i]);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	cr_assert_eq(sched_fsm_apply(&f, wb, e, next_index++, &outcome), 0);
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	for (size_t i = 0; i < n_held; i++) {
		char *after = dump_sorted(held[i]);
		cr_assert_str_eq(after, before[i], "entry %s changed an index record in place", text);
		free(after);
		free(before[i]);
	}
	free(before);
	sched_index_release(held, n_held);
	json_decref(e);
	cr_assert_eq(store_db_scan(db, STORE_CF_META, NULL, "job/", 4, bytes_one, NULL), 0);
	check_index();
	return outcome;
}

static int applyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int applyf(const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return apply(text);
}

static json_t *task_of(json_t *job, int k)
{
	return json_array_get(json_object_get(job, "tasks"), (size_t)k);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

/* A job_submit entry of body (JSON text) signed by alice, as api/jobs.c makes it. */
static int submit_signed(const char *body)
{
	struct mpc_reqsig sig;
	json_t *e;
	char *entry;
	int rv;
	cr_assert_eq(mpc_reqsig_sign(sign_sk[0], "alice", cluster.id_hex, "POST", "/v1/jobs", body,
				     strlen(body), &sig),
		     0);
	e = json_pack("{s:s, s:s, s:s, s:i, s:o}", "op", "job_submit", "req", sig.nonce, "client",
		      "alice", "time_ms", 1000,
		      "auth", store_signed_req_pack(&sig, "POST", "/v1/jobs", body, strlen(body)));
	cr_assert_not_null(e);
	entry = json_dumps(e, JSON_COMPACT);
	rv = apply(entry);
	free(entry);
	json_decref(e);
	return rv;
}

/* A job_submit entry of program signed by client k (0 alice, 1 eve), as the API proposes it. */
static int submit(int k, const char *file, const char *program)
{
	json_t *e = sched_fixture_submit_entry(sign_sk[k], cluster.clients[k].name, file, program);
	char *entry = json_dumps(e, JSON_COMPACT);
	int rv = apply(entry);
	free(entry);
	json_decref(e);
	return rv;
}

static void submit_var(void)
{
	cr_assert_eq(submit(0, "v.mpc", "x = load t.a\nv = var(x)\nreveal v to public\n"), 0);
}

static void done_all(int task, int attempt, const char *d0, const char *d1, const char *d2)
{
	const char *d[3] = {d0, d1, d2};
	for (int p = 0; p < 3; p++)
		cr_assert_eq(applyf("{\"op\":\"task_done\",\"job\":1,\"task\":%d,\"attempt\":%d,"
				    "\"party\":%d,\"digest\":\"%s\",\"outputs\":{},\"shares\":"
				    "{\"k3\":\"sealed-by-%d\"}}",
				    task, attempt, p, d[p], p),
			     0);
}

Test(sched_fsm, submit_makes_one_map_task_per_segment_and_stage)
{
	submit_var();
	json_t *job = sched_job_get(db, 1);
	cr_assert_not_null(job);
	cr_assert_str_eq(str(job, "state"), "PENDING");
	json_t *tasks = json_object_get(job, "tasks");
	cr_assert_eq(json_array_size(tasks), 6, "%s", json_dumps(tasks, 0));
	const char *kinds[] = {"map", "map", "combine", "map", "map", "combine"};
	const int rows[] = {300, 200, 0, 300, 200, 0};
	for (int k = 0; k < 6; k++) {
		cr_assert_str_eq(str(task_of(job, k), "kind"), kinds[k]);
		cr_assert_str_eq(str(task_of(job, k), "state"), "PENDING");
		cr_assert_eq(json_integer_value(json_object_get(task_of(job, k), "rows")), rows[k]);
	}
	/* the second stage's MAPs need the first COMBINE; the COMBINE both MAPs */
	cr_assert_eq(json_array_size(json_object_get(task_of(job, 2), "deps")), 2);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(task_of(job, 3), "deps"), 0)),
		     2);
	/* (x - a)² per row: one triple per row of the segment */
	cr_assert_eq(json_integer_value(json_object_get(task_of(job, 4), "fuel")), 200);
	cr_assert_eq(json_integer_value(json_object_get(task_of(job, 0), "fuel")), 0);
	json_decref(job);
}

Test(sched_fsm, leases_take_disjoint_ranges_and_need_committed_deps)
{
	submit_var();
	/* the COMBINE waits for its MAPs */
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":2,\"attempt\":1,\"n\":4,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":5,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":1,\"n\":7,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);
	/* a duplicate lease changes nothing */
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":5,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     MPC_ESTATE);
	json_t *job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "RUNNING");
	json_t *a0 = sched_task_attempt(job, 0), *a1 = sched_task_attempt(job, 1);
	cr_assert_str_eq(str(a0, "t0"), "1099511627776");
	cr_assert_str_eq(str(a1, "t0"), "1099511627781");
	cr_assert_eq(json_integer_value(json_object_get(a0, "session")), (json_int_t)1 << 30);
	cr_assert_eq(json_integer_value(json_object_get(a1, "session")), ((json_int_t)1 << 30) + 1);
	cr_assert_str_eq(str(task_of(job, 0), "state"), "LEASED");
	json_decref(job);
}

Test(sched_fsm, a_task_commits_alone_and_a_failed_one_is_retried_alone)
{
	submit_var();
	apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":5,\"expiry_ms\":9000,"
	      "\"time_ms\":2000}");
	apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":1,\"n\":7,\"expiry_ms\":9000,"
	      "\"time_ms\":2000}");
	/* a commit before every party reported is refused */
	done_all(0, 1, "d", "d", "d");
	cr_assert_eq(apply("{\"op\":\"task_commit\",\"job\":1,\"task\":1,\"attempt\":1,"
			   "\"time_ms\":3000}"),
		     MPC_ESTATE);
	json_t *job = sched_job_get(db, 1);
	cr_assert_str_eq(str(task_of(job, 0), "state"), "PREPARED");
	json_decref(job);
	json_t *kept = sched_task_shares(db, 1, 0, 1, 1);
	cr_assert_str_eq(str(kept, "k3"), "sealed-by-1");
	json_decref(kept);
	cr_assert_eq(apply("{\"op\":\"task_commit\",\"job\":1,\"task\":0,\"attempt\":1,"
			   "\"time_ms\":3000}"),
		     0);
	/* task 1's lease expires: only task 1 goes back, after a backoff */
	cr_assert_eq(apply("{\"op\":\"lease_expired\",\"job\":1,\"task\":1,\"attempt\":1,"
			   "\"time_ms\":10000}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(task_of(job, 0), "state"), "COMMITTED");
	cr_assert_eq(json_integer_value(json_object_get(task_of(job, 0), "committed_attempt")), 1);
	cr_assert_str_eq(str(task_of(job, 1), "state"), "PENDING");
	cr_assert_eq(json_integer_value(json_object_get(task_of(job, 1), "retry_after_ms")), 10500);
	cr_assert_str_eq(str(sched_task_attempt(job, 1), "reason"), "lease expired");
	cr_assert_str_eq(str(job, "state"), "RUNNING");
	cr_assert_str_eq(str(job, "reason"), "Retry");
	json_decref(job);
	/* a committed task is never leased again */
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":2,\"n\":5,"
			   "\"expiry_ms\":20000,\"time_ms\":11000}"),
		     MPC_ESTATE);
	/* attempt 2 gets a fresh range; parties that disagree abort it */
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":2,\"n\":7,"
			   "\"expiry_ms\":20000,\"time_ms\":11000}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(sched_task_attempt(job, 1), "t0"), "1099511627788");
	json_decref(job);
	done_all(1, 2, "d", "d", "other");
	cr_assert_eq(apply("{\"op\":\"task_commit\",\"job\":1,\"task\":1,\"attempt\":2,"
			   "\"time_ms\":12000}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(sched_task_attempt(job, 1), "reason"), "parties disagree on the outputs");
	cr_assert_eq(json_integer_value(json_object_get(task_of(job, 1), "retry_after_ms")), 13000);
	json_decref(job);
	kept = sched_task_shares(db, 1, 1, 2, 0);
	cr_assert_null(kept, "an aborted attempt's shares are deleted");
	/* attempts 3 and 4 fail: the task is ABORTED and the job FAILED */
	for (int a = 3; a <= 4; a++) {
		cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":%d,"
				    "\"n\":7,\"expiry_ms\":30000,\"time_ms\":20000}",
				    a),
			     0);
		cr_assert_eq(applyf("{\"op\":\"task_abort\",\"job\":1,\"task\":1,\"attempt\":%d,"
				    "\"reason\":\"engine session failed: x\",\"time_ms\":21000}",
				    a),
			     0);
	}
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(task_of(job, 1), "state"), "ABORTED");
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "task 1 attempt 4 of 4: engine session failed: x");
	json_decref(job);
	kept = sched_task_shares(db, 1, 0, 1, 1);
	cr_assert_null(kept, "a final job's shares are deleted");
	cr_assert_eq(apply("{\"op\":\"job_reason\",\"job\":1,\"reason\":\"Parties\",\"time_ms\":1}"),
		     MPC_ESTATE);
}

Test(sched_fsm, pending_reasons_and_backoff)
{
	submit_var();
	cr_assert_eq(apply("{\"op\":\"job_reason\",\"job\":1,\"reason\":\"Parties\",\"time_ms\":1}"),
		     0);
	json_t *job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "reason"), "Parties");
	json_decref(job);
	cr_assert_eq(apply("{\"op\":\"job_reason\",\"job\":1,\"reason\":\"Bogus\",\"time_ms\":1}"),
		     MPC_EINVAL);
	cr_assert_eq(sched_retry_backoff_ms(1), 500);
	cr_assert_eq(sched_retry_backoff_ms(2), 1000);
	cr_assert_eq(sched_retry_backoff_ms(4), 4000);
	cr_assert_eq(sched_retry_backoff_ms(5), 8000);
	cr_assert_eq(sched_retry_backoff_ms(30), 8000);
}

Test(sched_fsm, reveal_to_a_client_needs_the_output_right)
{
	json_t *job;
	cr_assert_eq(submit(0, "e.mpc", "x = load t.a\ns = sum(x)\nreveal s to eve\n"), 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "CompileError");
	cr_assert(strstr(str(job, "error"), "e.mpc:3:") == str(job, "error") &&
		      strstr(str(job, "error"), "lacks the 'output' right") != NULL,
		  "%s", str(job, "error"));
	json_decref(job);
	cr_assert_eq(submit(1, "n.mpc", "x = load t.a\ns = sum(x)\nreveal s to nobody\n"), 0);
	job = sched_job_get(db, 2);
	cr_assert(strstr(str(job, "error"), "no such client") != NULL, "%s", str(job, "error"));
	json_decref(job);
}

/* task k attempt 1 of job 1: leased, done by every party with its sealed part, committed */
static void run_task(int k, int with_sealed)
{
	cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":%d,\"attempt\":1,\"n\":9,"
			    "\"expiry_ms\":9000,\"time_ms\":2000}",
			    k),
		     0);
	for (int p = 0; p < 3; p++) {
		char sealed[64] = "";
		if (with_sealed)
			snprintf(sealed, sizeof sealed, "\"s0_0\":{\"n\":1,\"sealed\":\"box-%d\"}",
				 p);
		cr_assert_eq(
		    applyf("{\"op\":\"task_done\",\"job\":1,\"task\":%d,\"attempt\":1,"
			   "\"party\":%d,\"digest\":\"d\",\"outputs\":{},\"shares\":{\"k\":"
			   "\"s%d\"},\"sealed\":{%s}}",
			   k, p, p, sealed),
		    0);
	}
	cr_assert_eq(applyf("{\"op\":\"task_commit\",\"job\":1,\"task\":%d,\"attempt\":1,"
			    "\"time_ms\":3000}",
			    k),
		     0);
}

Test(sched_fsm, reveal_to_a_client_keeps_every_partys_sealed_part_in_the_results)
{
	json_t *job, *r, *v;
	cr_assert_eq(submit(1, "a.mpc", "x = load t.a\ns = sum(x)\nm = s / 4\nreveal m to alice\n"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "PENDING", "%s", str(job, "error"));
	cr_assert_eq(json_array_size(json_object_get(job, "tasks")), 3);
	json_decref(job);
	/* the digests agree although the sealed parts differ */
	run_task(0, 0);
	run_task(1, 0);
	run_task(2, 1);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "COMPLETED", "%s", str(job, "error"));
	r = json_object_get(json_object_get(job, "results"), "m");
	cr_assert_str_eq(str(r, "to"), "alice");
	cr_assert_str_eq(str(r, "post"), "value");
	v = json_array_get(json_object_get(r, "values"), 0);
	/* the division by the public 4 is a step for the client; the sum is sealed */
	cr_assert_str_eq(
	    json_string_value(json_array_get(json_array_get(json_object_get(v, "steps"), 0), 0)),
	    "div");
	cr_assert_float_eq(
	    json_real_value(json_array_get(json_array_get(json_object_get(v, "steps"), 0), 1)), 4.0,
	    1e-12);
	json_t *part = json_array_get(json_object_get(v, "parts"), 0);
	cr_assert_eq(json_array_size(json_object_get(v, "parts")), 1);
	cr_assert_str_eq(str(json_object_get(part, "sealed"), "0"), "box-0");
	cr_assert_str_eq(str(json_object_get(part, "sealed"), "2"), "box-2");
	/* only in the results: not left in the tasks */
	for (int k = 0; k < 3; k++)
		cr_assert_null(json_object_get(task_of(job, k), "sealed"));
	json_decref(job);
}

Test(sched_fsm, queues_priority_cap_and_unknown_queue)
{
	json_t *job;
	cr_assert_eq(submit_signed("{\"queue\":\"batch\",\"priority\":9,\"program\":\"x = load t.a\\n"
				   "s = sum(x)\\nreveal s to public\\n\"}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "PENDING", "%s", str(job, "error"));
	cr_assert_str_eq(str(job, "queue"), "batch");
	cr_assert_eq(json_integer_value(json_object_get(job, "priority")), 5, "max_priority caps it");
	json_decref(job);
	cr_assert_eq(submit_signed("{\"queue\":\"nope\",\"program\":\"x = load t.a\\n"
				   "s = sum(x)\\nreveal s to public\\n\"}"),
		     0);
	job = sched_job_get(db, 2);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "BadQueue");
	cr_assert(strstr(str(job, "error"), "unknown queue 'nope' (known: default, batch)") != NULL,
		  "%s", str(job, "error"));
	cr_assert_eq(json_array_size(json_object_get(job, "tasks")), 0);
	json_decref(job);
	cr_assert_eq(apply("{\"op\":\"job_reason\",\"job\":1,\"reason\":\"Fuel\",\"time_ms\":1}"), 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "reason"), "Fuel");
	json_decref(job);
}

Test(sched_fsm, time_limit_gives_timeout_and_aborts_running_attempts)
{
	json_t *job, *a;
	cr_assert_eq(submit_signed("{\"time_limit_s\":2,\"program\":\"x = load t.a\\n"
				   "s = sum(x)\\nreveal s to public\\n\"}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_eq(json_integer_value(json_object_get(job, "time_limit_s")), 2);
	json_decref(job);
	/* not started: no timeout */
	cr_assert_eq(apply("{\"op\":\"job_timeout\",\"job\":1,\"time_ms\":99000}"), MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":5,"
			   "\"expiry_ms\":90000,\"time_ms\":2000}"),
		     0);
	/* started at 2000 with 2 s: not yet at 4000 */
	cr_assert_eq(apply("{\"op\":\"job_timeout\",\"job\":1,\"time_ms\":4000}"), MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"job_timeout\",\"job\":1,\"time_ms\":4001}"), 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "TIMEOUT");
	cr_assert_str_eq(str(job, "reason"), "TimeLimit");
	a = sched_task_attempt(job, 0);
	cr_assert_str_eq(str(a, "state"), "aborted");
	json_decref(job);
	/* nothing more is committed or leased */
	for (int p = 0; p < 3; p++)
		cr_assert_eq(applyf("{\"op\":\"task_done\",\"job\":1,\"task\":0,\"attempt\":1,"
				    "\"party\":%d,\"digest\":\"d\",\"outputs\":{},\"shares\":{}}",
				    p),
			     MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":1,\"n\":5,"
			   "\"expiry_ms\":90000,\"time_ms\":5000}"),
		     MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"job_timeout\",\"job\":1,\"time_ms\":9000}"), MPC_ESTATE);
}

Test(sched_fsm, completing_while_the_last_commit_is_pending)
{
	json_t *job;
	size_t n;
	cr_assert_eq(submit_signed("{\"time_limit_s\":1,\"program\":\"x = load t.a\\ns = sum(x)\\n"
				   "reveal s to public\\n\"}"),
		     0);
	job = sched_job_get(db, 1);
	n = json_array_size(json_object_get(job, "tasks"));
	json_decref(job);
	cr_assert_gt(n, 1);
	for (size_t k = 0; k < n; k++) {
		cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":%zu,\"attempt\":1,"
				    "\"n\":5,\"expiry_ms\":90000,\"time_ms\":2000}",
				    k),
			     0, "lease of task %zu", k);
		done_all((int)k, 1, "d", "d", "d");
		job = sched_job_get(db, 1);
		cr_assert_str_eq(str(job, "state"), k + 1 == n ? "COMPLETING" : "RUNNING",
				 "after task %zu of %zu prepared", k, n);
		json_decref(job);
		if (k + 1 == n) /* its work is done: no timeout any more */
			cr_assert_eq(apply("{\"op\":\"job_timeout\",\"job\":1,\"time_ms\":99000}"),
				     MPC_ESTATE);
		cr_assert_eq(applyf("{\"op\":\"task_commit\",\"job\":1,\"task\":%zu,\"attempt\":1,"
				    "\"time_ms\":3000}",
				    k),
			     0);
	}
	job = sched_job_get(db, 1);
	cr_assert_neq(strcmp(str(job, "state"), "COMPLETING"), 0);
	json_decref(job);
}

#define LEASE(task, att, n)                                                                        \
	"{\"op\":\"task_lease\",\"job\":1,\"task\":" #task ",\"attempt\":" #att ",\"n\":" #n       \
	",\"expiry_ms\":9000,\"time_ms\":2000}"
#define DONE(task, att, party)                                                                     \
	"{\"op\":\"task_done\",\"job\":1,\"task\":" #task ",\"attempt\":" #att                   \
	",\"party\":" #party ",\"digest\":\"d\",\"outputs\":{},\"shares\":{\"k\":\"s" #party "\"}}"
#define COMMIT(task, att)                                                                          \
	"{\"op\":\"task_commit\",\"job\":1,\"task\":" #task ",\"attempt\":" #att ",\"time_ms\":3000}"
#define ABORT(task, att)                                                                           \
	"{\"op\":\"task_abort\",\"job\":1,\"task\":" #task ",\"attempt\":" #att                  \
	",\"reason\":\"x\",\"time_ms\":4000}"

/* One sched_multi applies its entries in order in one WriteBatch, each as if
 * alone: later ones see the job records and counters earlier ones wrote. */
Test(sched_fsm, a_multi_entry_applies_like_its_entries_one_by_one)
{
	submit_var();
	/* a nested multi is not applied */
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":[{\"op\":\"sched_multi\","
			   "\"entries\":[" LEASE(0, 1, 5) "]}]}"),
		     0);
	json_t *job = sched_job_get(db, 1), *st;
	cr_assert_str_eq(str(task_of(job, 0), "state"), "PENDING", "a nested multi is not applied");
	json_decref(job);
	/* two leases and a duplicate: distinct ranges and sessions, the duplicate refused */
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":[" LEASE(0, 1, 5) "," LEASE(1, 1, 7)
			   "," LEASE(0, 1, 5) "]}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(sched_task_attempt(job, 0), "t0"), "1099511627776");
	cr_assert_str_eq(str(sched_task_attempt(job, 1), "t0"), "1099511627781");
	cr_assert_eq(json_integer_value(json_object_get(sched_task_attempt(job, 1), "session")),
		     ((json_int_t)1 << 30) + 1);
	cr_assert_eq(json_array_size(json_object_get(job, "attempts")), 2);
	json_decref(job);
	st = store_db_get_json(db, STORE_CF_META, "sched/state");
	cr_assert_str_eq(str(st, "next_triple"), "1099511627788");
	json_decref(st);
	/* every party's report and the commit of both MAPs, and the lease of the
	 * COMBINE that needs them, in one entry; a submit inside is refused */
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":[" DONE(0, 1, 0) "," DONE(0, 1, 1)
			   "," DONE(0, 1, 2) "," DONE(1, 1, 0) "," DONE(1, 1, 1) "," DONE(1, 1, 2)
			   "," COMMIT(0, 1) "," COMMIT(1, 1) "," LEASE(2, 1, 4) ","
			   "{\"op\":\"job_submit\",\"req\":\"r\",\"client\":\"alice\"}]}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(task_of(job, 0), "state"), "COMMITTED");
	cr_assert_str_eq(str(task_of(job, 1), "state"), "COMMITTED");
	cr_assert_str_eq(str(task_of(job, 2), "state"), "LEASED");
	cr_assert_str_eq(str(sched_task_attempt(job, 2), "t0"), "1099511627788");
	json_decref(job);
	json_t *kept = sched_task_shares(db, 1, 1, 1, 2);
	cr_assert_str_eq(str(kept, "k"), "s2");
	json_decref(kept);
	cr_assert_null(sched_job_get(db, 2), "no job from a submit inside a sched_multi");
	/* four failed attempts end the job inside the entry: what follows for it is refused */
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":[" ABORT(2, 1) "," LEASE(2, 2, 4)
			   "," ABORT(2, 2) "," LEASE(2, 3, 4) "," ABORT(2, 3) "," LEASE(2, 4, 4)
			   "," ABORT(2, 4) "," LEASE(2, 5, 4) "," DONE(2, 4, 0) "]}"),
		     0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "task 2 attempt 4 of 4: x");
	cr_assert_eq(json_array_size(json_object_get(job, "attempts")), 6);
	cr_assert_str_eq(str(task_of(job, 2), "state"), "ABORTED");
	json_decref(job);
	/* malformed: not a list, empty, too long, nested */
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":{}}"), MPC_EINVAL);
	cr_assert_eq(apply("{\"op\":\"sched_multi\",\"entries\":[]}"), MPC_EINVAL);
	char big[8192] = "{\"op\":\"sched_multi\",\"entries\":[";
	for (int i = 0; i <= SCHED_MULTI_MAX; i++)
		strcat(big, i ? ",{\"op\":\"sched_noop\"}" : "{\"op\":\"sched_noop\"}");
	strcat(big, "]}");
	cr_assert_eq(apply(big), MPC_EINVAL);
}

/* How many of task k's engine ops are of kind. */
static int count_ops(struct sched_plan *plan, size_t k, const char *kind)
{
	json_t *ops = sched_plan_task_ops(plan, k), *o;
	size_t i;
	int n = 0;
	json_array_foreach(ops, i, o)
	{
		n += strcmp(json_string_value(json_array_get(o, 0)), kind) == 0;
	}
	return n;
}

static void put_one_segment_table(void)
{
	put("tbl/u",
	    "{\"name\":\"u\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\",\"frac\":0}],"
	    "\"rows\":40,\"version\":1,\"segments\":1,\"created_revision\":1,\"revision\":2}");
	put("seg/u/00000000", "{\"id\":0,\"txn\":\"x1\",\"rows\":40,\"revision\":2}");
}

Test(sched_fsm, one_segment_stage_is_one_fused_task)
{
	put_one_segment_table();
	cr_assert_eq(submit(0, "v.mpc", "x = load u.a\nv = var(x)\nreveal v to public\n"), 0);
	json_t *job = sched_job_get(db, 1);
	cr_assert_not_null(job);
	json_t *tasks = json_object_get(job, "tasks");
	/* MAP and COMBINE of each stage in one task: 2 tasks, not 4 */
	cr_assert_eq(json_array_size(tasks), 2, "%s", json_dumps(tasks, 0));
	for (int k = 0; k < 2; k++) {
		cr_assert_str_eq(str(task_of(job, k), "kind"), "map");
		cr_assert(json_is_true(json_object_get(task_of(job, k), "fused")));
		cr_assert_eq(json_integer_value(json_object_get(task_of(job, k), "stage")), k);
		cr_assert_eq(json_integer_value(json_object_get(task_of(job, k), "rows")), 40);
		cr_assert_eq(json_integer_value(json_object_get(task_of(job, k), "segment")), 0);
	}
	cr_assert_eq(json_array_size(json_object_get(task_of(job, 0), "deps")), 0);
	cr_assert_eq(json_array_size(json_object_get(task_of(job, 1), "deps")), 1);
	cr_assert_eq(
	    json_integer_value(json_array_get(json_object_get(task_of(job, 1), "deps"), 0)), 0);
	/* Σ(x - m)² per row: one triple per row, in the fused task of stage 1 */
	cr_assert_geq(json_integer_value(json_object_get(task_of(job, 1), "fuel")), 40, "%s",
		      json_dumps(tasks, 0));
	/* the second waits for the first to commit */
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":1,\"n\":40,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     MPC_ESTATE);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":2,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);

	struct sched_ir *ir = NULL;
	struct sched_plan *plan = NULL;
	char err[1024] = "";
	cr_assert_eq(sched_compile(db, 0, "v.mpc", str(job, "program"), NULL, &ir, err, sizeof err),
		     0, "%s", err);
	cr_assert_eq(sched_plan_build(ir, db, 0, "v.mpc", &plan, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sched_plan_n_tasks(plan), 2);
	/* task 0 reads its segment, sums it and keeps only the mean for stage
	 * 1 (no partial kept: it is combined in the same session) */
	cr_assert_eq(count_ops(plan, 0, "sum"), 1, "%s",
		     json_dumps(sched_plan_task_ops(plan, 0), 0));
	cr_assert_eq(count_ops(plan, 0, "keep"), 1, "%s",
		     json_dumps(sched_plan_task_ops(plan, 0), 0));
	cr_assert_eq(count_ops(plan, 0, "open"), 0);
	cr_assert_eq(count_ops(plan, 1, "sumsq"), 1);
	cr_assert_eq(count_ops(plan, 1, "open"), 1, "%s",
		     json_dumps(sched_plan_task_ops(plan, 1), 0));
	cr_assert_eq(count_ops(plan, 1, "keep"), 0);
	sched_plan_free(plan);
	/* a record of 4 tasks (made before the fusion) gets the plan it was made with */
	cr_assert_eq(sched_plan_build_job(ir, db, 0, "v.mpc", 4, &plan, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(sched_plan_n_tasks(plan), 4);
	/* the same fuel: a fused task needs its MAP's and its COMBINE's */
	json_t *unfused = sched_plan_tasks_json(plan);
	for (int k = 0; k < 2; k++)
		cr_assert_eq(
		    json_integer_value(json_object_get(task_of(job, k), "fuel")),
		    json_integer_value(json_object_get(json_array_get(unfused, 2 * k), "fuel")) +
			json_integer_value(
			    json_object_get(json_array_get(unfused, 2 * k + 1), "fuel")));
	json_decref(unfused);
	cr_assert_eq(count_ops(plan, 0, "open"), 0);
	cr_assert_eq(count_ops(plan, 0, "keep"), 1);
	cr_assert_eq(count_ops(plan, 3, "open"), 1);
	sched_plan_free(plan);
	cr_assert_eq(sched_plan_build_job(ir, db, 0, "v.mpc", 2, &plan, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(sched_plan_n_tasks(plan), 2);
	sched_plan_free(plan);
	sched_ir_free(ir);
	json_decref(job);
}

Test(sched_fsm, var_reads_its_segment_and_centers_in_one_sumsq)
{
	struct sched_ir *ir = NULL;
	struct sched_plan *plan = NULL;
	char err[1024] = "";
	json_t *in = NULL;
	uint8_t pk[32] = {0};
	/* segment records as store/fsm.c commits them: with their id */
	put("seg/t/00000000", "{\"id\":0,\"txn\":\"x1\",\"rows\":300,\"revision\":2}");
	put("seg/t/00000001", "{\"id\":1,\"txn\":\"x2\",\"rows\":200,\"revision\":3}");
	cr_assert_eq(sched_compile(db, 3, "v.mpc",
				   "x = load t.a\nh = load t.h\nv = var(x)\nc = cov(x, h)\n"
				   "reveal v, c to public\n",
				   NULL, &ir, err, sizeof err),
		     0, "%s", err);
	cr_assert_eq(sched_plan_build(ir, db, 3, "v.mpc", &plan, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sched_plan_n_tasks(plan), 6);
	/* stage 2's MAP over segment 1: Σ(x - m)² is one centered sumsq, Σ(x - m)
	 * is Σx - n·m; cov's Σ(x - m)(h - mh) stays a dot of the two vectors */
	json_t *ops = sched_plan_task_ops(plan, 4);
	int centered = 0;
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o)
	{
		if (strcmp(json_string_value(json_array_get(o, 0)), "sumsq") == 0) {
			cr_assert_eq(json_array_size(o), 4, "%s", json_dumps(o, 0));
			cr_assert_str_eq(json_string_value(json_array_get(o, 2)), "c0");
			centered++;
		}
	}
	cr_assert_eq(centered, 1, "%s", json_dumps(ops, 0));
	cr_assert_eq(count_ops(plan, 4, "dot"), 1, "%s", json_dumps(ops, 0));
	cr_assert_eq(count_ops(plan, 4, "mulc") >= 1, 1);
	/* var alone needs no broadcast vector */
	sched_plan_free(plan);
	sched_ir_free(ir);
	cr_assert_eq(sched_compile(db, 3, "v.mpc", "x = load t.a\nv = var(x)\nreveal v to public\n",
				   NULL, &ir, err, sizeof err),
		     0, "%s", err);
	cr_assert_eq(sched_plan_build(ir, db, 3, "v.mpc", &plan, err, sizeof err), 0, "%s", err);
	ops = sched_plan_task_ops(plan, 4);
	cr_assert_eq(count_ops(plan, 4, "bcast"), 0, "%s", json_dumps(ops, 0));
	cr_assert_eq(count_ops(plan, 4, "sub"), 1, "Σ(x - m) = Σx - n·m: %s", json_dumps(ops, 0));
	cr_assert_eq(count_ops(plan, 4, "sumsq"), 1);
	cr_assert_eq(count_ops(plan, 4, "dot"), 0);
	/* the MAP's input is its own segment, read by the engine at the revision */
	cr_assert_eq(sched_plan_task_inputs(plan, 1, db, 3, pk, NULL, 0, &in, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(json_array_size(in), 1);
	json_t *c = json_array_get(in, 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "table")), "t");
	cr_assert_str_eq(json_string_value(json_object_get(c, "column")), "a");
	cr_assert_eq(json_integer_value(json_object_get(c, "segment")), 1);
	cr_assert_eq(json_integer_value(json_object_get(c, "revision")), 3);
	cr_assert_eq(json_integer_value(json_object_get(c, "n")), 200);
	cr_assert_null(json_object_get(c, "sealed"), "no shares in the spec");
	json_decref(in);
	sched_plan_free(plan);
	sched_ir_free(ir);
}

/* The runner wakes only for entries that lease or end an attempt (or end a
 * job): sched_fsm.runner_changes counts exactly those. */
Test(sched_fsm, runner_changes_count_leases_and_ended_attempts_only)
{
	uint64_t c0 = f.runner_changes;
	submit_var();
	cr_assert_eq(f.runner_changes, c0, "a submit leases nothing");
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":5,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);
	cr_assert_eq(f.runner_changes, c0 + 1, "a lease");
	cr_assert_eq(applyf("{\"op\":\"task_done\",\"job\":1,\"task\":0,\"attempt\":1,"
			    "\"party\":1,\"digest\":\"d\",\"outputs\":{},\"shares\":{}}"),
		     0);
	cr_assert_eq(f.runner_changes, c0 + 1, "a report leaves the attempt leased");
	done_all(0, 1, "d", "d", "d"); /* party 1 again changes nothing; 0 and 2 */
	cr_assert_eq(f.runner_changes, c0 + 2, "all reported: the attempt is prepared");
	cr_assert_eq(apply("{\"op\":\"task_commit\",\"job\":1,\"task\":0,\"attempt\":1,"
			   "\"time_ms\":3000}"),
		     0);
	cr_assert_eq(apply("{\"op\":\"task_lease\",\"job\":1,\"task\":1,\"attempt\":1,\"n\":7,"
			   "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);
	uint64_t c1 = f.runner_changes;
	cr_assert_eq(apply("{\"op\":\"lease_expired\",\"job\":1,\"task\":1,\"attempt\":1,"
			   "\"time_ms\":10000}"),
		     0);
	cr_assert_eq(f.runner_changes, c1 + 1, "an expired lease");
	cr_assert_eq(
	    applyf("{\"op\":\"job_cancel\",\"job\":1,\"client\":\"alice\",\"time_ms\":11000}"), 0);
	cr_assert_eq(f.runner_changes, c1 + 2, "the job ended");
}
