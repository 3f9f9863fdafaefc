/* Unit tests of `store TABLE.COLUMN = EXPR`: the plan's kept pieces, the submit checks (rights, whole rows) and the commit of a job's stores into a table segment, on a temp RocksDB. */
#include "common/err.h"
#include "common/reqsig.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_store.h"
#include "store/catalog.h"
#include "store/db.h"
#include "store/fsm.h"
#include "store/signed_req.h"
#include "store/staging.h"
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
/* clients: alice (submit, create, append:*), eve (submit, append:t only), bob (submit) */
static struct mpc_cluster cluster;
/* every entry applied so far, for a replay on another party's db */
static json_t *applied_log;
static uint8_t sign_sk[3][crypto_sign_SECRETKEYBYTES];
/* the three parties' box keys; this FSM is party 0 */
static uint8_t box_pk[3][crypto_box_PUBLICKEYBYTES], box_sk[3][crypto_box_SECRETKEYBYTES];

static void put(const char *key, const char *json)
{
	sched_fixture_put(db, key, json);
}

/* Table t (a int64, h fixed 16) with segments of 3 and 2 rows. */
static void setup(void)
{
	static const char *const names[3] = {"alice", "eve", "bob"};
	db = sched_fixture_open(dir, "test_sched_store");
	cr_assert(sodium_init() >= 0);
	memset(&f, 0, sizeof f);
	f.db = db;
	f.n_parties = 3;
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, SCHED_FIXTURE_CLUSTER_ID);
	cluster.n_parties = 3;
	cluster.n_clients = 3;
	for (int k = 0; k < 3; k++) {
		uint8_t sk[crypto_box_SECRETKEYBYTES];
		strcpy(cluster.clients[k].name, names[k]);
		crypto_sign_keypair(cluster.clients[k].sign_pk, sign_sk[k]);
		crypto_box_keypair(cluster.clients[k].box_pk, sk);
		crypto_box_keypair(box_pk[k], box_sk[k]);
	}
	cluster.clients[0].rights = MPC_RIGHT_SUBMIT | MPC_RIGHT_CREATE | MPC_RIGHT_APPEND;
	strcpy(cluster.clients[0].append_tables, "*");
	cluster.clients[1].rights = MPC_RIGHT_SUBMIT | MPC_RIGHT_APPEND;
	strcpy(cluster.clients[1].append_tables, "t");
	cluster.clients[2].rights = MPC_RIGHT_SUBMIT;
	cluster.n_queues = 1;
	strcpy(cluster.queues[0].name, "default");
	cluster.queues[0].weight = 1;
	f.cluster = &cluster;
	f.me.party = 0;
	f.me.box_sk = box_sk[0];
	put("tbl/t", "{\"name\":\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\",\"frac\":0},"
		     "{\"name\":\"h\",\"type\":\"fixed\",\"frac\":16}],\"rows\":5,\"version\":2,"
		     "\"segments\":2,\"created_revision\":1,\"revision\":3}");
	put("seg/t/00000000", "{\"id\":0,\"txn\":\"x1\",\"rows\":3,\"revision\":2}");
	put("seg/t/00000001", "{\"id\":1,\"txn\":\"x2\",\"rows\":2,\"revision\":3}");
	next_index = 10;
}

static void teardown(void)
{
	json_decref(applied_log);
	applied_log = NULL;
	sched_fixture_close(db, dir);
}

TestSuite(sched_store, .init = setup, .fini = teardown);

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

static int apply_json(json_t *e)
{
	char err[MPC_ERRMSG_SIZE];
	int outcome = -1;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	if (applied_log == NULL)
		applied_log = json_array();
	json_array_append_new(applied_log, json_deep_copy(e));
	cr_assert_eq(sched_fsm_apply(&f, wb, e, next_index++, &outcome), 0);
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	return outcome;
}

static int applyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int applyf(const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	json_t *e;
	int rv;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	e = json_loads(text, 0, NULL);
	cr_assert_not_null(e, "bad test JSON %s", text);
	rv = apply_json(e);
	json_decref(e);
	return rv;
}

/* A job_submit of program signed by client k, as the API proposes it. */
static int submit(int k, const char *file, const char *program)
{
	json_t *e = sched_fixture_submit_entry(sign_sk[k], cluster.clients[k].name, file, program);
	int rv = apply_json(e);
	json_decref(e);
	return rv;
}

static struct sched_plan *plan_of(const char *program, struct sched_ir **ir)
{
	struct sched_plan *p = NULL;
	char err[1024] = "";
	cr_assert_eq(sched_compile(db, 0, "s.mpc", program, NULL, ir, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sched_plan_build(*ir, db, 0, "s.mpc", &p, err, sizeof err), 0, "%s", err);
	return p;
}

#define PROGRAM "a = load t.a\nh = load t.h\nstore n.a = a * 2\nstore n.h = h\nstore s.total = sum(a)\n"

Test(sched_store, the_plan_keeps_each_stored_value_in_its_task)
{
	struct sched_ir *ir = NULL;
	struct sched_plan *p = plan_of(PROGRAM, &ir);
	json_t *stores = sched_plan_stores(p), *n, *s, *part;
	char *ops;

	cr_assert_eq(sched_plan_n_tasks(p), 3); /* 2 MAP (one per segment), COMBINE */
	cr_assert_eq(json_array_size(stores), 2);
	n = json_array_get(stores, 0);
	s = json_array_get(stores, 1);
	cr_assert_str_eq(str(n, "table"), "n");
	cr_assert(json_is_true(json_object_get(n, "vector")));
	cr_assert_eq(json_integer_value(json_object_get(n, "line")), 3);
	cr_assert_str_eq(str(json_array_get(json_object_get(n, "columns"), 1), "type"), "fixed");
	/* one part per segment, in segment order, each from its MAP task */
	cr_assert_eq(json_array_size(json_object_get(n, "parts")), 2);
	for (int k = 0; k < 2; k++) {
		part = json_array_get(json_object_get(n, "parts"), (size_t)k);
		cr_assert_eq(json_integer_value(json_object_get(part, "n")), k == 0 ? 3 : 2);
		cr_assert_eq(json_integer_value(json_object_get(
				 json_object_get(json_object_get(part, "cols"), "h"), "task")),
			     k);
	}
	/* the scalar: one row, kept by the COMBINE task */
	cr_assert(json_is_false(json_object_get(s, "vector")));
	part = json_array_get(json_object_get(s, "parts"), 0);
	cr_assert_eq(json_array_size(json_object_get(s, "parts")), 1);
	cr_assert_eq(json_integer_value(json_object_get(part, "n")), 1);
	cr_assert_eq(json_integer_value(json_object_get(
			 json_object_get(json_object_get(part, "cols"), "total"), "task")),
		     2);
	ops = json_dumps(sched_plan_task_ops(p, 0), JSON_COMPACT);
	cr_assert(strstr(ops, "[\"keep\",\"st") != NULL, "%s", ops);
	free(ops);
	json_decref(stores);
	sched_plan_free(p);
	sched_ir_free(ir);
}

Test(sched_store, submit_checks_rights_and_whole_rows)
{
	struct sched_ir *ir = NULL;
	char err[1024] = "";
	/* eve may append to t but not create n */
	cr_assert_eq(sched_compile(db, 0, "s.mpc", PROGRAM, NULL, &ir, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "alice", "s.mpc", err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "eve", "s.mpc", err, sizeof err),
		     MPC_EPERM);
	cr_assert(strstr(err, "s.mpc:3:1: store into table n: client 'eve' may not append") == err,
		  "%s", err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "nobody", "s.mpc", err, sizeof err),
		     MPC_EPERM);
	sched_ir_free(ir);
	/* an existing table gets whole rows only */
	cr_assert_eq(sched_compile(db, 0, "p.mpc", "a = load t.a\nstore t.a = a + 1\n", NULL, &ir,
				   err, sizeof err),
		     0, "%s", err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "eve", "p.mpc", err, sizeof err),
		     MPC_EINVAL);
	cr_assert(strstr(err, "p.mpc:2:1: store into table t: a job appends whole rows: store every "
			      "column of table 't' (missing: h)") == err,
		  "%s", err);
	sched_ir_free(ir);
	cr_assert_eq(sched_compile(db, 0, "w.mpc", "a = load t.a\nh = load t.h\nstore t.a = a + 1\n"
						   "store t.h = h\n",
				   NULL, &ir, err, sizeof err),
		     0, "%s", err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "eve", "w.mpc", err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(sched_store_check(ir, db, &cluster, "bob", "w.mpc", err, sizeof err), MPC_EPERM);
	cr_assert(strstr(err, "may not append to table 't'") != NULL, "%s", err);
	sched_ir_free(ir);
	/* at apply: the job FAILED with AccessDenied, no task */
	cr_assert_eq(submit(2, "w.mpc", "a = load t.a\nh = load t.h\nstore t.a = a\nstore t.h = h\n"),
		     0);
	json_t *job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "AccessDenied");
	cr_assert_eq(json_array_size(json_object_get(job, "tasks")), 0);
	json_decref(job);
}

/* b64 of v (n values) sealed to party p. Caller frees. */
static char *seal_to(int p, const uint64_t *v, size_t n)
{
	size_t slen = n * 8 + crypto_box_SEALBYTES;
	size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
	uint8_t *sealed = malloc(slen);
	char *b64 = malloc(blen);
	crypto_box_seal(sealed, (const uint8_t *)v, n * 8, box_pk[p]);
	sodium_bin2base64(b64, blen, sealed, slen, sodium_base64_VARIANT_ORIGINAL);
	free(sealed);
	return b64;
}

/* Runs task k (attempt 1) of job 1: every party keeps rows [row0, row0 + n) of share[p]
 * under each key of keys (NULL-terminated); n_bad > 0 makes party 2's piece that long instead. */
static void run_task(int k, const char *const *keys, uint64_t share[3][8], size_t row0, size_t n,
		     size_t n_bad)
{
	cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":%d,\"attempt\":1,\"n\":9,"
			    "\"expiry_ms\":9000,\"time_ms\":2000}",
			    k),
		     0);
	for (int p = 0; p < 3; p++) {
		json_t *shares = json_object();
		for (int j = 0; keys[j] != NULL; j++) {
			char *b = seal_to(p, share[p] + row0, p == 2 && n_bad ? n_bad : n);
			json_object_set_new(shares, keys[j], json_string(b));
			free(b);
		}
		json_t *e = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:{}, s:o}", "op", "task_done",
				      "job", 1, "task", k, "attempt", 1, "party", p, "digest", "d",
				      "outputs", "shares", shares);
		cr_assert_eq(apply_json(e), 0);
		json_decref(e);
	}
	cr_assert_eq(applyf("{\"op\":\"task_commit\",\"job\":1,\"task\":%d,\"attempt\":1,"
			    "\"time_ms\":3000}",
			    k),
		     0);
}

/* The keys (st<column>) the plan gave to n.a and s.total. */
static void keys_of(const char *program, char *key_vec, char *key_sum)
{
	struct sched_ir *ir = NULL;
	struct sched_plan *p = plan_of(program, &ir);
	json_t *stores = sched_plan_stores(p);
	json_t *c0 = json_object_get(json_array_get(json_object_get(json_array_get(stores, 0),
								     "parts"),
						     0),
				     "cols");
	json_t *c1 = json_object_get(json_array_get(json_object_get(json_array_get(stores, 1),
								     "parts"),
						     0),
				     "cols");
	strcpy(key_vec, str(json_object_get(c0, "a"), "key"));
	strcpy(key_sum, str(json_object_get(c1, "total"), "key"));
	json_decref(stores);
	sched_plan_free(p);
	sched_ir_free(ir);
}

#define PROGRAM2 "a = load t.a\nstore n.a = a * 2\nstore s.total = sum(a)\n"

/* Alice submits PROGRAM2 (job 1); kv, ks get its stores' keys, share random pieces. */
static void submit_program2(char *kv, char *ks, uint64_t share[3][8])
{
	keys_of(PROGRAM2, kv, ks);
	randombytes_buf(share, 3 * 8 * sizeof share[0][0]);
	cr_assert_eq(submit(0, "s.mpc", PROGRAM2), 0);
}

Test(sched_store, the_last_commit_writes_one_segment_with_this_partys_shares)
{
	uint64_t share[3][8];
	char kv[16], ks[16];
	const char *vec[2] = {kv, NULL}, *sum[2] = {ks, NULL};
	uint64_t *got = NULL, rows = 0;
	char msg[MPC_ERRMSG_SIZE] = "";
	json_t *job, *tbl;

	submit_program2(kv, ks, share);
	run_task(0, vec, share, 0, 3, 0);
	run_task(1, vec, share, 3, 2, 0);
	/* nothing is visible before the job completes */
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), MPC_ENOENT);
	run_task(2, sum, share, 5, 1, 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "COMPLETED", "%s", str(job, "error"));
	/* the job record says where its values went */
	json_t *st = json_array_get(json_object_get(job, "stored"), 0);
	cr_assert_eq(json_array_size(json_object_get(job, "stored")), 2);
	cr_assert_str_eq(str(st, "table"), "n");
	cr_assert_eq(json_integer_value(json_object_get(st, "rows")), 5);
	cr_assert_eq(json_integer_value(json_object_get(st, "segment")), 0);
	json_decref(job);
	/* the catalog: one new version of each table; the rows: this party's own shares */
	cr_assert_eq(store_catalog_table(db, "n", 0, 1, &tbl), 0);
	cr_assert_eq(json_integer_value(json_object_get(tbl, "rows")), 5);
	cr_assert_eq(json_integer_value(json_object_get(tbl, "version")), 1);
	cr_assert_str_eq(str(json_array_get(json_object_get(tbl, "segment_list"), 0), "txn"),
			 "job-000000000001-n");
	json_decref(tbl);
	cr_assert_eq(store_catalog_read_column(db, "n", "a", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 5);
	cr_assert_eq(memcmp(got, share[0], 5 * 8), 0);
	free(got);
	cr_assert_eq(store_catalog_read_column(db, "s", "total", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 1);
	cr_assert_eq(got[0], share[0][5]);
	free(got);
	/* a re-applied commit changes nothing; the kept pieces are gone with the job */
	cr_assert_eq(applyf("{\"op\":\"task_commit\",\"job\":1,\"task\":2,\"attempt\":1,"
			    "\"time_ms\":3000}"),
		     MPC_ESTATE);
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), 0);
	cr_assert_eq(json_integer_value(json_object_get(tbl, "segments")), 1);
	json_decref(tbl);
	cr_assert_null(sched_task_shares(db, 1, 0, 1, 0));
}

Test(sched_store, a_piece_of_the_wrong_size_fails_the_job_and_writes_nothing)
{
	uint64_t share[3][8];
	char kv[16], ks[16];
	const char *vec[2] = {kv, NULL}, *sum[2] = {ks, NULL};
	json_t *job, *tbl;

	submit_program2(kv, ks, share);
	run_task(0, vec, share, 0, 3, 0);
	run_task(1, vec, share, 3, 2, 1); /* party 2 kept 1 row instead of 2 */
	run_task(2, sum, share, 5, 1, 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "StoreFailed");
	cr_assert(strstr(str(job, "error"), "s.mpc:2:1: store into table n: party 2 kept a piece of "
					    "the wrong size") == str(job, "error"),
		  "%s", str(job, "error"));
	json_decref(job);
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), MPC_ENOENT);
	cr_assert_eq(store_catalog_table(db, "s", 0, 0, &tbl), MPC_ENOENT);
}

Test(sched_store, a_cancelled_job_writes_nothing)
{
	uint64_t share[3][8];
	char kv[16], ks[16];
	const char *vec[2] = {kv, NULL};
	json_t *tbl;

	submit_program2(kv, ks, share);
	run_task(0, vec, share, 0, 3, 0);
	cr_assert_eq(applyf("{\"op\":\"job_cancel\",\"job\":1,\"client\":\"alice\",\"time_ms\":4000}"),
		     0);
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), MPC_ENOENT);
	cr_assert_null(sched_task_shares(db, 1, 0, 1, 0));
}

Test(sched_store, a_table_created_meanwhile_with_other_columns_fails_the_job_and_writes_nothing)
{
	uint64_t share[3][8];
	char kv[16], ks[16];
	const char *vec[2] = {kv, NULL}, *sum[2] = {ks, NULL};
	json_t *job, *tbl;

	submit_program2(kv, ks, share);
	run_task(0, vec, share, 0, 3, 0);
	run_task(1, vec, share, 3, 2, 0);
	/* an append created table n meanwhile, with a fixed column a */
	put("tbl/n", "{\"name\":\"n\",\"columns\":[{\"name\":\"a\",\"type\":\"fixed\",\"frac\":16}],"
		     "\"rows\":0,\"version\":0,\"segments\":0,\"created_revision\":12}");
	run_task(2, sum, share, 5, 1, 0);
	job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "FAILED");
	cr_assert_str_eq(str(job, "reason"), "StoreFailed");
	cr_assert(strstr(str(job, "error"), "s.mpc:2:1: store into table n: column n.a is (a "
					    "fixed(16)) now, the job stores (a int64)") == str(job, "error"),
		  "%s", str(job, "error"));
	cr_assert_null(json_object_get(job, "stored"));
	json_decref(job);
	/* all or nothing: the other table was not created either */
	cr_assert_eq(store_catalog_table(db, "s", 0, 0, &tbl), MPC_ENOENT);
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), 0);
	cr_assert_eq(json_integer_value(json_object_get(tbl, "segments")), 0);
	json_decref(tbl);
}

/* ---- this party's kept pieces in its staging CF (sched_store_stage, reconcile) ---- */

/* Task k (attempt 1) of job 1 up to PREPARED: every party reports share[p][row0..+n)
 * under key; party 0 (this one) first stages mine[row0..+n) as its runner does. */
static void run_task_staged(struct sched_plan *plan, int k, const char *key, uint64_t share[3][8],
			    const uint64_t *mine, size_t row0, size_t n, int commit)
{
	char err[256] = "";
	cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":%d,\"attempt\":1,\"n\":9,"
			    "\"expiry_ms\":9000,\"time_ms\":2000}",
			    k),
		     0);
	for (int p = 0; p < 3; p++) {
		json_t *shares = json_object();
		char *b = seal_to(p, share[p] + row0, n);
		json_object_set_new(shares, key, json_string(b));
		json_object_set_new(shares, "other", json_string("not a stored piece"));
		free(b);
		if (p == 0) {
			json_t *st = json_object();
			b = seal_to(0, mine + row0, n);
			json_object_set_new(st, key, json_string(b));
			json_object_set_new(st, "other", json_string("not a stored piece"));
			free(b);
			cr_assert_eq(sched_store_stage(db, plan, 1, k, 1, st, err, sizeof err), 0, "%s",
				     err);
			json_decref(st);
		}
		json_t *e = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:{}, s:o}", "op", "task_done",
				      "job", 1, "task", k, "attempt", 1, "party", p, "digest", "d",
				      "outputs", "shares", shares);
		cr_assert_eq(apply_json(e), 0);
		json_decref(e);
	}
	if (commit)
		cr_assert_eq(applyf("{\"op\":\"task_commit\",\"job\":1,\"task\":%d,\"attempt\":1,"
				    "\"time_ms\":3000}",
				    k),
			     0);
}

static int kept(uint64_t job, int task, int attempt)
{
	char *val = NULL, err[MPC_ERRMSG_SIZE];
	size_t len;
	int rv = store_staging_kept_get(db, job, task, attempt, &val, &len, err);
	free(val);
	return rv == 0;
}

Test(sched_store, the_commit_writes_this_partys_rows_from_its_staging_and_drops_it)
{
	uint64_t share[3][8], mine[8], *got = NULL, rows = 0;
	char kv[16], ks[16], msg[MPC_ERRMSG_SIZE] = "";
	struct sched_ir *ir = NULL;
	struct sched_plan *plan;

	keys_of(PROGRAM2, kv, ks);
	plan = plan_of(PROGRAM2, &ir);
	randombytes_buf(share, sizeof share);
	randombytes_buf(mine, sizeof mine); /* differs from the replicated piece: shows the source */
	cr_assert_eq(submit(0, "s.mpc", PROGRAM2), 0);
	run_task_staged(plan, 0, kv, share, mine, 0, 3, 1);
	run_task_staged(plan, 1, kv, share, mine, 3, 2, 1);
	/* only the stored pieces are staged, and they stay until the job ends */
	cr_assert(kept(1, 0, 1) && kept(1, 1, 1));
	{
		char *val = NULL;
		size_t len;
		cr_assert_eq(store_staging_kept_get(db, 1, 0, 1, &val, &len, msg), 0);
		cr_assert_null(strstr(val, "other"), "%s", val);
		free(val);
	}
	run_task_staged(plan, 2, ks, share, mine, 5, 1, 1);
	json_t *job = sched_job_get(db, 1);
	cr_assert_str_eq(str(job, "state"), "COMPLETED", "%s", str(job, "error"));
	json_decref(job);
	cr_assert_eq(store_catalog_read_column(db, "n", "a", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 5);
	cr_assert_eq(memcmp(got, mine, 5 * 8), 0);
	free(got);
	cr_assert_eq(store_catalog_read_column(db, "s", "total", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 1);
	cr_assert_eq(got[0], mine[5]);
	free(got);
	cr_assert(!kept(1, 0, 1) && !kept(1, 1, 1) && !kept(1, 2, 1));
	sched_plan_free(plan);
	sched_ir_free(ir);
}

static int count_shares(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
	(void)k, (void)kl, (void)v, (void)vl;
	++*(int *)ctx;
	return 0;
}

/* Party 0 reported every task of a storing job but went down before the
 * completing commit applied on it; it comes back from a snapshot that a party
 * which applied that commit took: the reconcile writes its rows from its
 * staging (the replicated pieces are gone with the job). */
Test(sched_store, a_snapshot_past_the_commit_gets_this_partys_rows_from_its_staging)
{
	uint64_t share[3][8], *got = NULL, rows = 0;
	char kv[16], ks[16], msg[MPC_ERRMSG_SIZE] = "", dir2[64], cmd[128];
	struct sched_ir *ir = NULL;
	struct sched_plan *plan;
	struct store_db *db2;
	struct sched_fsm f2;
	struct store_fsm other, me;
	json_t *e, *tbl;
	size_t i;
	void *snap;
	size_t snap_len;
	int n_before = 0, n_after = 0;

	keys_of(PROGRAM2, kv, ks);
	plan = plan_of(PROGRAM2, &ir);
	randombytes_buf(share, sizeof share);
	cr_assert_eq(submit(0, "s.mpc", PROGRAM2), 0);
	run_task_staged(plan, 0, kv, share, share[0], 0, 3, 1);
	run_task_staged(plan, 1, kv, share, share[0], 3, 2, 1);
	run_task_staged(plan, 2, ks, share, share[0], 5, 1, 0); /* PREPARED; party 0 goes down */
	cr_assert(kept(1, 2, 1));

	/* party 1 applies the same log and the completing commit, and takes a snapshot */
	strcpy(dir2, "/tmp/test_sched_store2.XXXXXX");
	cr_assert_not_null(mkdtemp(dir2));
	cr_assert_eq(store_db_open(dir2, "00112233445566778899aabbccddeeff", 1, 0, &db2, msg), 0);
	f2 = f;
	f2.db = db2;
	f2.me.party = 1;
	f2.me.box_sk = box_sk[1];
	{
		static const char *const keys[3] = {"tbl/t", "seg/t/00000000", "seg/t/00000001"};
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		for (int k = 0; k < 3; k++) {
			char *v = NULL;
			size_t vl;
			cr_assert_eq(store_db_get(db, STORE_CF_META, keys[k], strlen(keys[k]), &v, &vl,
						  msg),
				     0);
			rocksdb_writebatch_put_cf(wb, db2->cf[STORE_CF_META], keys[k], strlen(keys[k]),
						  v, vl);
			free(v);
		}
		cr_assert_eq(store_db_write(db2, wb, 0, msg), 0);
		rocksdb_writebatch_destroy(wb);
	}
	e = json_pack("{s:s, s:i, s:i, s:i, s:i}", "op", "task_commit", "job", 1, "task", 2,
		      "attempt", 1, "time_ms", 3000);
	json_array_append_new(applied_log, e);
	json_array_foreach(applied_log, i, e)
	{
		int outcome;
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		cr_assert_eq(sched_fsm_apply(&f2, wb, e, 10 + i, &outcome), 0);
		cr_assert_eq(store_db_write(db2, wb, 0, msg), 0);
		rocksdb_writebatch_destroy(wb);
	}
	json_t *job = sched_job_get(db2, 1);
	cr_assert_str_eq(str(job, "state"), "COMPLETED", "%s", str(job, "error"));
	json_decref(job);
	cr_assert_null(sched_task_shares(db2, 1, 2, 1, 0)); /* the replicated pieces are gone */
	cr_assert_eq(store_fsm_init(&other, db2, &cluster, 1), 0);
	other.applied = 10 + json_array_size(applied_log);
	cr_assert_eq(store_fsm_snapshot(&other, &snap, &snap_len), 0);

	/* party 0 restores it: the catalog has the segments, and its rows come from staging */
	cr_assert_eq(store_fsm_init(&me, db, &cluster, 0), 0);
	me.ext_data = &f;
	me.ext_apply = sched_fsm_apply;
	me.ext_reconcile = sched_store_reconcile;
	cr_assert_eq(store_fsm_restore(&me, snap, snap_len), 0);
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), 0);
	cr_assert_eq(json_integer_value(json_object_get(tbl, "rows")), 5);
	json_decref(tbl);
	cr_assert_eq(store_catalog_read_column(db, "n", "a", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 5);
	cr_assert_eq(memcmp(got, share[0], 5 * 8), 0);
	free(got);
	cr_assert_eq(store_catalog_read_column(db, "s", "total", 0, &got, &rows, msg), 0, "%s", msg);
	cr_assert_eq(rows, 1);
	cr_assert_eq(got[0], share[0][5]);
	free(got);
	cr_assert(!kept(1, 0, 1) && !kept(1, 1, 1) && !kept(1, 2, 1));
	/* a second pass (the next start) changes nothing */
	store_db_scan(db, STORE_CF_SHARES, NULL, "", 0, count_shares, &n_before);
	cr_assert_eq(store_fsm_reconcile(&me), 0);
	store_db_scan(db, STORE_CF_SHARES, NULL, "", 0, count_shares, &n_after);
	cr_assert_eq(n_before, n_after);
	cr_assert_eq(n_before, 2); /* one record per stored segment */

	free(snap);
	store_fsm_close(&me);
	store_fsm_close(&other);
	store_db_close(db2);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
	cr_assert_eq(system(cmd), 0);
	sched_plan_free(plan);
	sched_ir_free(ir);
}

Test(sched_store, kept_records_of_aborted_attempts_and_ended_jobs_go)
{
	uint64_t share[3][8];
	char kv[16], ks[16], err[256] = "", msg[MPC_ERRMSG_SIZE];
	struct sched_ir *ir = NULL;
	struct sched_plan *plan;
	json_t *st = json_object(), *tbl;
	char *b;
	rocksdb_writebatch_t *wb;

	keys_of(PROGRAM2, kv, ks);
	plan = plan_of(PROGRAM2, &ir);
	randombytes_buf(share, sizeof share);
	b = seal_to(0, share[0], 3);
	json_object_set_new(st, kv, json_string(b));
	free(b);
	cr_assert_eq(submit(0, "s.mpc", PROGRAM2), 0);
	/* not leased: nothing staged */
	cr_assert_eq(sched_store_stage(db, plan, 1, 0, 1, st, err, sizeof err), MPC_ESTATE);
	cr_assert(!kept(1, 0, 1));
	cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":1,\"n\":9,"
			    "\"expiry_ms\":9000,\"time_ms\":2000}"),
		     0);
	cr_assert_eq(sched_store_stage(db, plan, 1, 0, 1, st, err, sizeof err), 0, "%s", err);
	cr_assert(kept(1, 0, 1));
	/* the attempt expires: its record goes in the same batch */
	cr_assert_eq(applyf("{\"op\":\"lease_expired\",\"job\":1,\"task\":0,\"attempt\":1,"
			    "\"time_ms\":9500}"),
		     0);
	cr_assert(!kept(1, 0, 1));
	cr_assert_eq(sched_store_stage(db, plan, 1, 0, 1, st, err, sizeof err), MPC_ESTATE);
	cr_assert(strstr(err, "no longer leased") != NULL, "%s", err);
	/* leftovers (e.g. of a crash) of that aborted attempt and of an unknown job */
	cr_assert_eq(store_staging_kept_put(db, 1, 0, 1, "{}", 2, msg), 0);
	cr_assert_eq(store_staging_kept_put(db, 7, 0, 1, "{}", 2, msg), 0);
	cr_assert_eq(applyf("{\"op\":\"task_lease\",\"job\":1,\"task\":0,\"attempt\":2,\"n\":9,"
			    "\"expiry_ms\":19000,\"time_ms\":12000}"),
		     0);
	cr_assert_eq(sched_store_stage(db, plan, 1, 0, 2, st, err, sizeof err), 0, "%s", err);
	wb = rocksdb_writebatch_create();
	cr_assert_eq(sched_store_reconcile(&f, wb), 0);
	cr_assert_eq(store_db_write(db, wb, 0, msg), 0);
	rocksdb_writebatch_destroy(wb);
	cr_assert(!kept(1, 0, 1) && !kept(7, 0, 1));
	cr_assert(kept(1, 0, 2)); /* the running attempt's stays */
	/* the job is cancelled: the record goes with it; a leftover goes at the reconcile */
	cr_assert_eq(applyf("{\"op\":\"job_cancel\",\"job\":1,\"client\":\"alice\",\"time_ms\":13000}"),
		     0);
	cr_assert(!kept(1, 0, 2));
	cr_assert_eq(store_staging_kept_put(db, 1, 0, 2, "{}", 2, msg), 0);
	wb = rocksdb_writebatch_create();
	cr_assert_eq(sched_store_reconcile(&f, wb), 0);
	cr_assert_eq(store_db_write(db, wb, 0, msg), 0);
	rocksdb_writebatch_destroy(wb);
	cr_assert(!kept(1, 0, 2));
	cr_assert_eq(store_catalog_table(db, "n", 0, 0, &tbl), MPC_ENOENT); /* cancelled: no store */
	json_decref(st);
	sched_plan_free(plan);
	sched_ir_free(ir);
}
