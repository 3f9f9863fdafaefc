/* Unit tests of the scheduler FSM: per-segment tasks, leases with disjoint triple ranges and sessions, done/commit/abort per task, retries with backoff, reasons, on a temp RocksDB. */
#include "common/err.h"
#include "common/reqsig.h"
#include "scheduler/sched_fsm.h"
#include "store/db.h"
#include "store/signed_req.h"

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
static struct mpc_cluster cluster;		       /* one client, alice, who may submit */
static uint8_t alice_sk[crypto_sign_SECRETKEYBYTES];

static void put(const char *key, const char *json)
{
	char err[MPC_ERRMSG_SIZE];
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], key, strlen(key), json, strlen(json));
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
}

/* Table t (a int64, h fixed 16) with segments of 300 and 200 rows, as the store commits them. */
static void setup(void)
{
	char err[MPC_ERRMSG_SIZE];
	strcpy(dir, "/tmp/test_sched_fsm.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_db_open(dir, "00112233445566778899aabbccddeeff", 0, 0, &db, err), 0, "%s",
		     err);
	cr_assert(sodium_init() >= 0);
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	cluster.n_clients = 1;
	strcpy(cluster.clients[0].name, "alice");
	cluster.clients[0].rights = MPC_RIGHT_SUBMIT;
	crypto_sign_keypair(cluster.clients[0].sign_pk, alice_sk);
	f.db = db;
	f.n_parties = 3;
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
	char cmd[128];
	store_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(sched_fsm, .init = setup, .fini = teardown);

/* Signs a job_submit entry as alice's client would (client/http.c): the body
 * holds the job's fields, the nonce is the entry's req. */
static void sign_submit(json_t *e)
{
	static const char *const fields[] = {"name", "queue", "priority", "file", "program", "args",
					     NULL};
	json_t *body = json_object();
	uint8_t sig[crypto_sign_BYTES];
	char canon[4096], *text;
	struct mpc_reqsig rs;
	size_t n;
	for (int i = 0; fields[i]; i++)
		if (json_object_get(e, fields[i]))
			json_object_set(body, fields[i], json_object_get(e, fields[i]));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	memset(&rs, 0, sizeof rs);
	snprintf(rs.client, sizeof rs.client, "%s", json_string_value(json_object_get(e, "client")));
	{ /* a signed nonce is 32 hex digits: the test's req names one */
		const char *req = json_string_value(json_object_get(e, "req"));
		uint8_t h[16];
		crypto_generichash(h, sizeof h, (const uint8_t *)req, strlen(req), NULL, 0);
		sodium_bin2hex(rs.nonce, sizeof rs.nonce, h, sizeof h);
		json_object_set_new(e, "req", json_string(rs.nonce));
	}
	rs.time_ms = 1700000000000;
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster.id_hex, "POST", "/v1/jobs", rs.time_ms,
				 rs.nonce, text, strlen(text));
	crypto_sign_detached(sig, NULL, (uint8_t *)canon, n, alice_sk);
	mpc_key_encode(sig, sizeof sig, rs.sig, sizeof rs.sig);
	json_object_set_new(e, "auth",
			    store_signed_req_pack(&rs, "POST", "/v1/jobs", text, strlen(text)));
	free(text);
}

/* Applies the entry (JSON text) as the next log index; returns its outcome. */
static int apply(const char *text)
{
	char err[MPC_ERRMSG_SIZE];
	json_t *e = json_loads(text, 0, NULL);
	int outcome = -1;
	cr_assert_not_null(e, "bad test JSON %s", text);
	if (strcmp(json_string_value(json_object_get(e, "op")), "job_submit") == 0 &&
	    json_object_get(e, "auth") == NULL)
		sign_submit(e);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	cr_assert_eq(sched_fsm_apply(&f, wb, e, next_index++, &outcome), 0);
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	json_decref(e);
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

static void submit_var(void)
{
	cr_assert_eq(apply("{\"op\":\"job_submit\",\"req\":\"r1\",\"client\":\"alice\",\"file\":"
			   "\"v.mpc\",\"program\":\"x = load t.a\\nv = var(x)\\nreveal v to public\\n\","
			   "\"time_ms\":1000}"),
		     0);
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
