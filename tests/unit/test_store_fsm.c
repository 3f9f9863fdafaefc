/* Unit tests of the store FSM: deterministic apply of begin/prepared/commit/abort on a temp RocksDB. */
#include "common/chunkbox.h"
#include "store/catalog.h"
#include "store/fsm.h"
#include "store/json_canon.h"
#include "store/shares.h"
#include "store/signed_req.h"
#include "store/staging.h"
#include "tests/unit/test_rng.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct store_db *db;
static struct store_fsm fsm;
static struct mpc_cluster cluster;
static uint8_t sign_sk[3][crypto_sign_SECRETKEYBYTES];
static uint8_t client_sk[2][crypto_sign_SECRETKEYBYTES]; /* admin, bob */
static uint64_t next_index;

static void setup(void)
{
	char err[MPC_ERRMSG_SIZE];
	cr_assert(sodium_init() >= 0);
	strcpy(dir, "/tmp/test_store_fsm.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	cluster.txn_timeout_ms = 30000;
	for (int i = 0; i < 3; i++)
		crypto_sign_keypair(cluster.parties[i].sign_pk, sign_sk[i]);
	cluster.n_clients = 2;
	strcpy(cluster.clients[0].name, "admin");
	cluster.clients[0].rights = MPC_RIGHT_ADMIN | MPC_RIGHT_CREATE | MPC_RIGHT_APPEND;
	strcpy(cluster.clients[0].append_tables, "*");
	strcpy(cluster.clients[1].name, "bob");
	cluster.clients[1].rights = MPC_RIGHT_APPEND;
	strcpy(cluster.clients[1].append_tables, "t1");
	for (int i = 0; i < 2; i++)
		crypto_sign_keypair(cluster.clients[i].sign_pk, client_sk[i]);
	cr_assert_eq(store_db_open(dir, cluster.id_hex, 0, 0, &db, err), 0, "%s", err);
	store_fsm_init(&fsm, db, &cluster, 0);
	next_index = 1;
}

static void teardown(void)
{
	char cmd[128];
	store_fsm_close(&fsm);
	store_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store_fsm, .init = setup, .fini = teardown);

/* Signs a begin entry as its client would (client/http.c): the body holds
 * the begin's parameters, the nonce is the txn id. An unknown client signs
 * with a fresh key. */
static void sign_begin(json_t *e, const uint8_t *force_sk)
{
	const char *client = json_string_value(json_object_get(e, "client"));
	const char *txn = json_string_value(json_object_get(e, "txn"));
	json_t *body = json_object();
	uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
	char canon[1024], *text;
	struct mpc_reqsig rs;
	size_t n;

	crypto_sign_keypair(pk, sk);
	for (int i = 0; i < 2; i++)
		if (strcmp(client, cluster.clients[i].name) == 0)
			memcpy(sk, client_sk[i], sizeof sk);
	if (force_sk != NULL)
		memcpy(sk, force_sk, sizeof sk);
	json_object_set(body, "table", json_object_get(e, "table"));
	json_object_set(body, "create", json_object_get(e, "create"));
	if (json_object_get(e, "columns"))
		json_object_set(body, "columns", json_object_get(e, "columns"));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	memset(&rs, 0, sizeof rs);
	snprintf(rs.client, sizeof rs.client, "%s", client);
	snprintf(rs.nonce, sizeof rs.nonce, "%s", txn);
	rs.time_ms = 1700000000000;
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster.id_hex, "POST", "/v1/txns", rs.time_ms,
				 rs.nonce, text, strlen(text));
	crypto_sign_detached(sig, NULL, (uint8_t *)canon, n, sk);
	mpc_key_encode(sig, sizeof sig, rs.sig, sizeof rs.sig);
	json_object_set_new(e, "auth", store_signed_req_pack(&rs, "POST", "/v1/txns", text,
							     strlen(text)));
	free(text);
}

static int apply(json_t *e)
{
	if (strcmp(json_string_value(json_object_get(e, "op")), "begin") == 0 &&
	    json_object_get(e, "auth") == NULL)
		sign_begin(e, NULL);
	char *text = json_dumps(e, JSON_COMPACT);
	int outcome = 0;
	cr_assert_eq(store_fsm_apply(&fsm, next_index++, text, strlen(text), &outcome), 0);
	free(text);
	json_decref(e);
	return outcome;
}

static const char *T1 = "0123456789abcdef0123456789abcdef";
static const char *T2 = "fedcba9876543210fedcba9876543210";

static json_t *cols2(void)
{
	return json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i}]", "name", "a", "type", "int64", "frac", 0,
			 "name", "b", "type", "fixed", "frac", 16);
}

static int begin(const char *txn, const char *table, const char *client, int create)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", txn, "table", table,
			      "client", client, "create", create);
	json_object_set_new(e, "columns", cols2());
	return apply(e);
}

static json_t *prepared_entry(const char *txn, int party, uint64_t rows, const char *digest)
{
	char msg[512], sig64[128];
	uint8_t sig[crypto_sign_BYTES];
	size_t n = store_prepared_message(msg, cluster.id_hex, txn, party, rows, rows * 16, digest, 0);
	crypto_sign_detached(sig, NULL, (uint8_t *)msg, n, sign_sk[party]);
	mpc_key_encode(sig, sizeof sig, sig64, sizeof sig64);
	return json_pack("{s:s,s:s,s:i,s:I,s:I,s:s,s:s}", "op", "prepared", "txn", txn, "party",
			 party, "rows", (json_int_t)rows, "bytes", (json_int_t)(rows * 16), "digest",
			 digest, "sig", sig64);
}

static const char *state_of(const char *txn)
{
	static char state[32];
	json_t *t;
	cr_assert_eq(store_catalog_txn(db, txn, &t), 0);
	snprintf(state, sizeof state, "%s", json_string_value(json_object_get(t, "state")));
	json_decref(t);
	return state;
}

static const char *reason_of(const char *txn)
{
	static char reason[512];
	json_t *t;
	cr_assert_eq(store_catalog_txn(db, txn, &t), 0);
	snprintf(reason, sizeof reason, "%s",
		 json_string_value(json_object_get(t, "reason")) ?: "");
	json_decref(t);
	return reason;
}

static void stage(const char *txn, uint64_t rows)
{
	char err[MPC_ERRMSG_SIZE];
	uint64_t *v = calloc(rows * 2, 8);
	for (uint64_t i = 0; i < rows * 2; i++)
		v[i] = i + 1;
	store_staging_lock(db);
	cr_assert_eq(store_staging_put(db, txn, 0, v, rows * 16, err), 0, "%s", err);
	store_staging_unlock(db);
	free(v);
}

static int64_t table_rows(const char *table)
{
	json_t *t;
	int64_t rows;
	if (store_catalog_table(db, table, 0, 0, &t) != 0)
		return -1;
	rows = json_integer_value(json_object_get(t, "rows"));
	json_decref(t);
	return rows;
}

static int staging_left(const char *txn)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	return store_staging_get(db, txn, &si, err) == 0;
}

static void prepare_all(const char *txn, uint64_t rows)
{
	for (int p = 0; p < 3; p++)
		cr_assert_eq(apply(prepared_entry(txn, p, rows, "aa")), 0);
}

Test(store_fsm, commit_makes_rows_visible_and_drops_staging)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	cr_assert_str_eq(state_of(T1), "pending");
	cr_assert_eq(table_rows("t1"), -1, "a table appears only at commit");
	stage(T1, 4);
	prepare_all(T1, 4);
	cr_assert_str_eq(state_of(T1), "prepared");
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_str_eq(state_of(T1), "committed");
	cr_assert_eq(table_rows("t1"), 4);
	cr_assert_not(staging_left(T1));
	/* the shares are reachable: segment 0 names T1, whose data is in the shares CF */
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	size_t vlen = 0, n = store_share_key(key, T1, 0);
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, n, &val, &vlen, err), 0);
	cr_assert_eq(vlen, 64);
	uint64_t first;
	memcpy(&first, val, 8);
	cr_assert_eq(first, 1);
	free(val);
}

Test(store_fsm, unknown_table_aborts_with_reason)
{
	cr_assert_eq(begin(T1, "nosuch", "admin", 0), MPC_ENOENT);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert(strstr(reason_of(T1), "unknown table 'nosuch'") != NULL, "%s", reason_of(T1));
}

Test(store_fsm, client_without_right_is_refused)
{
	cr_assert_eq(begin(T1, "t2", "bob", 1), MPC_EPERM);
	cr_assert(strstr(reason_of(T1), "may not append") != NULL);
	cr_assert_eq(begin(T2, "t1", "mallory", 1), MPC_EPERM);
	cr_assert(strstr(reason_of(T2), "not in the cluster config") != NULL);
}

Test(store_fsm, schema_mismatch_aborts)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 1);
	prepare_all(T1, 1);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b,s:[{s:s,s:s,s:i}]}", "op", "begin", "txn", T2,
			      "table", "t1", "client", "admin", "create", 1, "columns", "name", "z",
			      "type", "int64", "frac", 0);
	cr_assert_eq(apply(e), MPC_ECONFLICT);
	cr_assert(strstr(reason_of(T2), "schema mismatch") != NULL, "%s", reason_of(T2));
}

Test(store_fsm, row_count_mismatch_aborts_and_drops_staging)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 3);
	cr_assert_eq(apply(prepared_entry(T1, 0, 3, "aa")), 0);
	cr_assert_eq(apply(prepared_entry(T1, 1, 2, "bb")), MPC_ECONFLICT);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert(strstr(reason_of(T1), "row count mismatch") != NULL);
	cr_assert_not(staging_left(T1));
	/* a commit after the abort changes nothing */
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), MPC_ESTATE);
	cr_assert_eq(table_rows("t1"), -1);
}

Test(store_fsm, second_different_prepared_aborts_identical_is_idempotent)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	cr_assert_eq(apply(prepared_entry(T1, 0, 3, "aa")), 0);
	cr_assert_eq(apply(prepared_entry(T1, 0, 3, "aa")), 0);
	cr_assert_str_eq(state_of(T1), "pending");
	cr_assert_eq(apply(prepared_entry(T1, 0, 3, "cc")), MPC_ECONFLICT);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert(strstr(reason_of(T1), "second Prepared") != NULL);
}

Test(store_fsm, forged_prepared_is_ignored)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	json_t *e = prepared_entry(T1, 0, 3, "aa");
	json_object_set_new(e, "party", json_integer(1)); /* party 0 votes in party 1's name */
	cr_assert_eq(apply(e), MPC_ECRYPTO);
	cr_assert_str_eq(state_of(T1), "pending");
	json_t *t;
	store_catalog_txn(db, T1, &t);
	cr_assert_eq(json_object_size(json_object_get(t, "prepared")), 0);
	json_decref(t);
}

/* A commit carrying the parties' votes (the client collected them from the prepare answers). */
static json_t *commit_with_votes(const char *txn, int n, const uint64_t *rows)
{
	json_t *votes = json_array();
	for (int p = 0; p < n; p++) {
		json_t *v = prepared_entry(txn, p, rows[p], "aa");
		json_object_del(v, "op");
		json_object_del(v, "txn");
		json_array_append_new(votes, v);
	}
	return json_pack("{s:s,s:s,s:o}", "op", "commit", "txn", txn, "votes", votes);
}

Test(store_fsm, commit_with_votes_commits_in_one_entry)
{
	uint64_t rows[3] = {4, 4, 4};
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 4);
	cr_assert_eq(apply(commit_with_votes(T1, 3, rows)), 0);
	cr_assert_str_eq(state_of(T1), "committed");
	cr_assert_eq(table_rows("t1"), 4);
	cr_assert_not(staging_left(T1));
	json_t *t;
	store_catalog_txn(db, T1, &t);
	cr_assert_eq(json_object_size(json_object_get(t, "prepared")), 3, "the votes are recorded");
	json_decref(t);
	/* the same commit again (a replay, or a retried proposal) is refused and changes nothing */
	cr_assert_eq(apply(commit_with_votes(T1, 3, rows)), MPC_ESTATE);
	cr_assert_eq(table_rows("t1"), 4);
}

Test(store_fsm, commit_with_a_forged_vote_changes_nothing)
{
	uint64_t rows[3] = {4, 4, 4};
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 4);
	json_t *e = commit_with_votes(T1, 3, rows);
	/* party 0's vote relabelled as party 2's: the signature is not party 2's */
	json_object_set_new(json_array_get(json_object_get(e, "votes"), 2), "sig",
			    json_copy(json_object_get(json_array_get(json_object_get(e, "votes"), 0),
						      "sig")));
	cr_assert_eq(apply(e), MPC_ECRYPTO);
	cr_assert_str_eq(state_of(T1), "pending");
	cr_assert(staging_left(T1));
	json_t *t;
	store_catalog_txn(db, T1, &t);
	cr_assert_eq(json_object_size(json_object_get(t, "prepared")), 0, "no vote of the entry counts");
	json_decref(t);
	cr_assert_eq(table_rows("t1"), -1);
}

Test(store_fsm, commit_with_mismatching_votes_aborts_and_drops_staging)
{
	uint64_t rows[3] = {4, 4, 3};
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 4);
	cr_assert_eq(apply(commit_with_votes(T1, 3, rows)), MPC_ECONFLICT);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert(strstr(reason_of(T1), "row count mismatch") != NULL, "%s", reason_of(T1));
	cr_assert_not(staging_left(T1));
	cr_assert_eq(table_rows("t1"), -1);
}

Test(store_fsm, commit_with_some_votes_records_them_and_waits)
{
	uint64_t rows[3] = {2, 2, 2};
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 2);
	cr_assert_eq(apply(commit_with_votes(T1, 2, rows)), MPC_ESTATE);
	cr_assert_str_eq(state_of(T1), "pending");
	cr_assert_eq(table_rows("t1"), -1);
	cr_assert_eq(apply(prepared_entry(T1, 2, 2, "aa")), 0);
	cr_assert_str_eq(state_of(T1), "prepared");
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_eq(table_rows("t1"), 2);
}

Test(store_fsm, commit_with_votes_after_abort_is_refused)
{
	uint64_t rows[3] = {2, 2, 2};
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 2);
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "timeout")), 0);
	cr_assert_eq(apply(commit_with_votes(T1, 3, rows)), MPC_ESTATE);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert_eq(table_rows("t1"), -1);
	cr_assert_eq(apply(commit_with_votes(T2, 3, rows)), MPC_ENOENT, "unknown txn");
}

Test(store_fsm, reapplied_entries_are_skipped)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 2);
	prepare_all(T1, 2);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	cr_assert_eq(table_rows("t1"), 2);
	/* raft re-applies its log after a restart: same indexes are no-ops */
	json_t *again = json_pack("{s:s,s:s}", "op", "commit", "txn", T1);
	char *text = json_dumps(again, JSON_COMPACT);
	int outcome;
	json_decref(again);
	cr_assert_eq(store_fsm_apply(&fsm, 5, text, strlen(text), &outcome), 0);
	free(text);
	cr_assert_eq(table_rows("t1"), 2);
	cr_assert_eq(store_catalog_applied(db), 5);
}

Test(store_fsm, abort_drops_staging)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 2);
	cr_assert(staging_left(T1));
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "test")), 0);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert_not(staging_left(T1));
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	size_t n = store_share_key(key, T1, 0);
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, n, &val, NULL, err), MPC_ENOENT,
		     "the aborted upload's bytes are deleted");
	/* an abort after commit is refused */
	cr_assert_eq(begin(T2, "t1", "admin", 1), 0);
	stage(T2, 1);
	prepare_all(T2, 1);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T2));
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T2, "reason", "late")),
		     MPC_ESTATE);
	cr_assert_str_eq(state_of(T2), "committed");
}

Test(store_fsm, chunk_at_wrong_offset_refused)
{
	char err[MPC_ERRMSG_SIZE];
	uint64_t v[2] = {1, 2};
	store_staging_lock(db);
	cr_assert_eq(store_staging_put(db, T1, 0, v, 16, err), 0);
	cr_assert_eq(store_staging_put(db, T1, 0, v, 16, err), MPC_ECONFLICT);
	cr_assert(strstr(err, "expects offset 16") != NULL, "%s", err);
	cr_assert_eq(store_staging_put(db, T1, 16, v, 12, err), MPC_EINVAL);
	store_staging_unlock(db);
}

Test(store_fsm, malformed_entry_changes_nothing_but_index)
{
	char hex[65], hex2[65];
	uint64_t a1, a2;
	store_catalog_digest(db, &a1, hex);
	int outcome;
	cr_assert_eq(store_fsm_apply(&fsm, next_index++, "{not json", 9, &outcome), 0);
	cr_assert_eq(outcome, MPC_EINVAL);
	store_catalog_digest(db, &a2, hex2);
	cr_assert_str_eq(hex, hex2);
	cr_assert_eq(a2, 1);
}

static void count_restored(void *data)
{
	++*(int *)data;
}

Test(store_fsm, snapshot_restore_roundtrip_and_reconciles_staging)
{
	void *buf;
	size_t len;
	char d1[65], d2[65], err[MPC_ERRMSG_SIZE], dir2[64], cmd[128];
	uint64_t a1, a2;
	struct store_db *db2;
	struct store_fsm fsm2;

	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	prepare_all(T1, 2);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	cr_assert_eq(store_fsm_snapshot(&fsm, &buf, &len), 0);
	store_catalog_digest(db, &a1, d1);

	/* A party that staged T1's shares and crashed before applying the commit. */
	strcpy(dir2, "/tmp/test_store_fsm2.XXXXXX");
	cr_assert_not_null(mkdtemp(dir2));
	cr_assert_eq(store_db_open(dir2, cluster.id_hex, 0, 0, &db2, err), 0);
	store_fsm_init(&fsm2, db2, &cluster, 0);
	uint64_t v[4] = {7, 8, 9, 10};
	store_staging_lock(db2);
	cr_assert_eq(store_staging_put(db2, T1, 0, v, 32, err), 0);
	store_staging_unlock(db2);
	int restored = 0; /* the extension is told, to rebuild what it keeps in memory */
	fsm2.ext_restored = count_restored;
	fsm2.ext_data = &restored;
	cr_assert_eq(store_fsm_restore(&fsm2, buf, len), 0);
	cr_assert_eq(restored, 1);
	store_catalog_digest(db2, &a2, d2);
	cr_assert_str_eq(d1, d2);
	cr_assert_eq(a1, a2);
	char key[128], *val = NULL;
	size_t vlen, n = store_share_key(key, T1, 0);
	cr_assert_eq(store_db_get(db2, STORE_CF_SHARES, key, n, &val, &vlen, err), 0,
		     "uploaded shares of a committed txn stay published after restore");
	cr_assert_eq(vlen, 32);
	free(val);
	struct store_staging_info si;
	cr_assert_neq(store_staging_get(db2, T1, &si, err), 0);
	/* an older snapshot does not roll state back (nor calls the extension) */
	fsm.ext_restored = count_restored;
	fsm.ext_data = &restored;
	cr_assert_eq(store_fsm_restore(&fsm, buf, len), 0);
	cr_assert_eq(restored, 1);
	fsm.ext_restored = NULL;
	fsm.ext_data = NULL;
	free(buf);
	store_fsm_close(&fsm2);
	store_db_close(db2);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
	cr_assert_eq(system(cmd), 0);
}

Test(store_fsm, corrupt_snapshot_refused)
{
	cr_assert_eq(store_fsm_restore(&fsm, "garbage!garbage!", 16), MPC_ECORRUPT);
	char snap[24] = "MPCSNAP1";
	uint64_t idx = 99;
	memcpy(snap + 8, &idx, 8);
	memcpy(snap + 16, "\x05\0\0\0ab", 6);
	cr_assert_eq(store_fsm_restore(&fsm, snap, 22), MPC_ECORRUPT);
	cr_assert_eq(store_catalog_applied(db), 0);
}

Test(store_db, other_cluster_refused)
{
	char err[MPC_ERRMSG_SIZE];
	struct store_db *other;
	/* a second open of a live data dir is refused by RocksDB's lock */
	cr_assert_neq(store_db_open(dir, cluster.id_hex, 0, 0, &other, err), 0);
	store_fsm_close(&fsm);
	store_db_close(db);
	cr_assert_eq(store_db_open(dir, "ffffffffffffffffffffffffffffffff", 0, 0, &other, err),
		     MPC_ECONFIG);
	cr_assert(strstr(err, "belongs to cluster") != NULL, "%s", err);
	cr_assert_eq(store_db_open(dir, cluster.id_hex, 1, 0, &other, err), MPC_ECONFIG);
	cr_assert(strstr(err, "belongs to party 0") != NULL, "%s", err);
	cr_assert_eq(store_db_open(dir, cluster.id_hex, 0, 0, &db, err), 0, "%s", err);
	store_fsm_init(&fsm, db, &cluster, 0);
}

TestSuite(store_db, .init = setup, .fini = teardown);

/* Writers that each sync their own writes, as concurrent prepares do. */
static void *write_and_sync(void *arg)
{
	char err[MPC_ERRMSG_SIZE], key[32];
	long id = (long)arg;
	for (int i = 0; i < 200; i++) {
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		int n = snprintf(key, sizeof key, "sync/%ld/%d", id, i);
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], key, (size_t)n, "x", 1);
		if (store_db_write(db, wb, 0, err) != 0 || store_db_sync(db, err) != 0) {
			rocksdb_writebatch_destroy(wb);
			return (void *)1;
		}
		rocksdb_writebatch_destroy(wb);
	}
	return NULL;
}

/* The group sync: every caller returns with its writes covered, none waits
 * forever for a sync nobody runs (the timeout fails a lost wake-up). */
Test(store_db, concurrent_syncs_all_return_covered, .timeout = 60)
{
	pthread_t th[8];
	void *rv;
	for (long i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, write_and_sync, (void *)i), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(pthread_join(th[i], &rv), 0);
		cr_assert_null(rv, "writer %d: a write or sync failed", i);
	}
	cr_assert_eq(db->synced_seq, __atomic_load_n(&db->write_seq, __ATOMIC_SEQ_CST));
	cr_assert(db->sync_gen >= 1 && db->sync_gen <= 8 * 200, "%llu syncs",
		  (unsigned long long)db->sync_gen);
	cr_assert_eq(db->next_waiters, 0);
}

Test(store_fsm, columns_compare_in_canonical_form)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 1);
	prepare_all(T1, 1);
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	/* the same schema with int64's frac left out: no mismatch */
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b,s:[{s:s,s:s},{s:s,s:s,s:i}]}", "op", "begin",
			      "txn", T2, "table", "t1", "client", "admin", "create", 0, "columns",
			      "name", "a", "type", "int64", "name", "b", "type", "fixed", "frac", 16);
	cr_assert_eq(apply(e), 0, "%s", reason_of(T2));
	cr_assert_str_eq(state_of(T2), "pending");
}

Test(store_fsm, startup_settles_staging_of_finished_txns)
{
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 2);
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "x")), 0);
	/* a chunk staged by a crashed process after the abort (the window the lock closes) */
	stage(T1, 2);
	cr_assert(staging_left(T1));
	store_fsm_close(&fsm);
	store_fsm_init(&fsm, db, &cluster, 0);
	cr_assert_not(staging_left(T1), "staging of an aborted txn is dropped at start-up");
}

static char *batch_text(json_t **entries, size_t n)
{
	json_t *b = json_pack("{s:s,s:[]}", "op", "batch", "entries");
	for (size_t i = 0; i < n; i++)
		json_array_append_new(json_object_get(b, "entries"), entries[i]);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return text;
}

Test(store_fsm, batch_applies_entries_in_order_with_outcomes)
{
	json_t *e[6];
	e[0] = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", T1, "table", "t1", "client",
			 "admin", "create", 1);
	json_object_set_new(e[0], "columns", cols2());
	sign_begin(e[0], NULL);
	stage(T1, 2);
	for (int p = 0; p < 3; p++)
		e[1 + p] = prepared_entry(T1, p, 2, "aa");
	e[4] = json_pack("{s:s,s:s}", "op", "commit", "txn", T1);
	e[5] = json_pack("{s:s,s:s,s:s,s:s}", "op", "begin", "txn", T2, "table", "nosuch", "client",
			 "admin");
	sign_begin(e[5], NULL);
	char *text = batch_text(e, 6);
	int outcome, o;
	uint64_t idx = next_index++;
	cr_assert_eq(store_fsm_apply(&fsm, idx, text, strlen(text), &outcome), 0);
	cr_assert_str_eq(state_of(T1), "committed", "later sub-entries see earlier ones");
	cr_assert_eq(table_rows("t1"), 2);
	cr_assert_eq(store_fsm_batch_outcome(&fsm, idx, 4, &o), 0);
	cr_assert_eq(o, 0);
	cr_assert_eq(store_fsm_batch_outcome(&fsm, idx, 5, &o), 0);
	cr_assert_eq(o, MPC_ENOENT, "the unknown table's begin was refused: %d", o);
	cr_assert_eq(store_catalog_applied(db), idx);

	/* A crash after some sub-entries were written but before the last one
	 * recorded the index: raft re-applies the whole batch; nothing changes twice. */
	char d1[65], d2[65];
	uint64_t a1, a2;
	store_catalog_digest(db, &a1, d1);
	fsm.applied = idx - 1;
	cr_assert_eq(store_fsm_apply(&fsm, idx, text, strlen(text), &outcome), 0);
	store_catalog_digest(db, &a2, d2);
	cr_assert_str_eq(d1, d2);
	cr_assert_eq(table_rows("t1"), 2);
	free(text);
}

static int ext_calls, ext_after;

static int ext_apply(void *data, rocksdb_writebatch_t *wb, json_t *entry, uint64_t index,
		     int *outcome)
{
	struct store_fsm *f = data;
	ext_calls++;
	rocksdb_writebatch_put_cf(wb, f->db->cf[STORE_CF_META], "job/x", 5, "1", 1);
	*outcome = MPC_ECONFLICT;
	return 0;
}

static void ext_applied(void *data, json_t *entry, uint64_t index, int outcome)
{
	ext_after += outcome == MPC_ECONFLICT;
}

Test(store_fsm, unknown_ops_go_to_the_extension_in_the_same_batch)
{
	int outcome;
	fsm.ext_apply = ext_apply;
	fsm.ext_applied = ext_applied;
	fsm.ext_data = &fsm;
	cr_assert_eq(apply(json_pack("{s:s}", "op", "job_submit")), MPC_ECONFLICT);
	cr_assert_eq(ext_calls, 1);
	cr_assert_eq(ext_after, 1);
	char *val = NULL, err[MPC_ERRMSG_SIZE];
	cr_assert_eq(store_db_get(db, STORE_CF_META, "job/x", 5, &val, NULL, err), 0);
	free(val);
	cr_assert_eq(store_catalog_applied(db), next_index - 1);
	fsm.ext_apply = NULL;
	cr_assert_eq(store_fsm_apply(&fsm, next_index++, "{\"op\":\"job_submit\"}", 19, &outcome), 0);
	cr_assert_eq(outcome, MPC_EINVAL, "without an extension the op is malformed");
}

Test(store_catalog, read_column_in_segment_order_at_a_revision)
{
	uint64_t *col, rows;
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 3); /* values 1..6 row-major: column a = 1,3,5; b = 2,4,6 */
	prepare_all(T1, 3);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	uint64_t rev1 = store_catalog_applied(db);
	cr_assert_eq(begin(T2, "t1", "admin", 0), 0);
	stage(T2, 1);
	prepare_all(T2, 1);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T2));
	cr_assert_eq(store_catalog_read_column(db, "t1", "b", 0, &col, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, 4);
	cr_assert(col[0] == 2 && col[1] == 4 && col[2] == 6 && col[3] == 2);
	free(col);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", rev1, &col, &rows, err), 0);
	cr_assert_eq(rows, 3, "at the first commit's revision the second segment is not there");
	free(col);
	cr_assert_eq(store_catalog_read_column(db, "t1", "zz", 0, &col, &rows, err), MPC_ENOENT);
	cr_assert(strstr(err, "no column 'zz'") != NULL, "%s", err);
}
TestSuite(store_catalog, .init = setup, .fini = teardown);

/* DESIGN.md §6: a begin proposed in a client's name without its valid
 * signature is refused by apply on every party. */
Test(store_fsm, begin_without_client_signature_is_refused)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", T1, "table", "t1",
			      "client", "admin", "create", 1);
	json_object_set_new(e, "columns", cols2());
	json_object_set_new(e, "auth", json_object()); /* present but empty */
	cr_assert_eq(apply(e), MPC_EPERM);
	cr_assert(strstr(reason_of(T1), "BadSignature: no client signature") != NULL, "%s",
		  reason_of(T1));
}

Test(store_fsm, begin_signed_with_another_key_is_refused)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", T1, "table", "t1",
			      "client", "admin", "create", 1);
	json_object_set_new(e, "columns", cols2());
	sign_begin(e, client_sk[1]); /* bob's key, admin's name */
	cr_assert_eq(apply(e), MPC_EPERM);
	cr_assert(strstr(reason_of(T1), "BadSignature: bad signature for client 'admin'") != NULL,
		  "%s", reason_of(T1));
}

Test(store_fsm, begin_takes_parameters_from_the_signed_body)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", T1, "table", "t1",
			      "client", "bob", "create", 0);
	sign_begin(e, NULL);
	/* the proposing party changes the table after bob signed: apply ignores it */
	json_object_set_new(e, "table", json_string("t2"));
	cr_assert_eq(apply(e), MPC_ENOENT);
	cr_assert(strstr(reason_of(T1), "unknown table 't1'") != NULL, "%s", reason_of(T1));
}

Test(store_fsm, begin_txn_id_must_be_the_signed_nonce)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "begin", "txn", T1, "table", "t1",
			      "client", "admin", "create", 1);
	json_object_set_new(e, "columns", cols2());
	sign_begin(e, NULL);
	json_object_set_new(e, "txn", json_string(T2)); /* a second txn from one signature */
	cr_assert_eq(apply(e), MPC_EPERM);
	cr_assert(strstr(reason_of(T2), "is not the signed nonce") != NULL, "%s", reason_of(T2));
}

/* ---- large chunks: staged as SST files, ingested at Commit (store/staging.c) ---- */

#define BIG_ROWS (STORE_STAGING_SST_MIN / 16) /* one chunk of 2 columns at the file threshold */

static void stage_big(const char *txn, uint64_t chunk)
{
	char err[MPC_ERRMSG_SIZE];
	uint64_t *v = malloc(BIG_ROWS * 16);
	for (uint64_t i = 0; i < BIG_ROWS * 2; i++)
		v[i] = chunk * BIG_ROWS * 2 + i + 1;
	store_staging_lock(db);
	cr_assert_eq(store_staging_put(db, txn, chunk * BIG_ROWS * 16, v, BIG_ROWS * 16, err), 0,
		     "%s", err);
	store_staging_unlock(db);
	free(v);
}

static int chunk_file_exists(const char *txn, uint64_t chunk)
{
	char path[256];
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016" PRIx64 ".sst", dir, txn,
		 chunk * BIG_ROWS * 16);
	return access(path, F_OK) == 0;
}

/* The shares of chunk as stage_big() wrote them are readable under their key. */
static void assert_big_chunk(const char *txn, uint64_t chunk)
{
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	size_t vlen = 0, n = store_share_key(key, txn, chunk * BIG_ROWS * 16);
	uint64_t first, last;
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, n, &val, &vlen, err), 0, "%s", err);
	cr_assert_eq(vlen, BIG_ROWS * 16);
	memcpy(&first, val, 8);
	memcpy(&last, val + vlen - 8, 8);
	cr_assert_eq(first, chunk * BIG_ROWS * 2 + 1);
	cr_assert_eq(last, chunk * BIG_ROWS * 2 + BIG_ROWS * 2);
	free(val);
}

static void seal(const char *txn, int want)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE] = "";
	store_staging_lock(db);
	cr_assert_eq(store_staging_seal(db, txn, &si, err), want, "%s", err);
	store_staging_unlock(db);
}

/* ---- seed chunks kept as seed records, expanded on read (store/shares.h) ---- */

static const uint8_t SEED_A[32] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t SEED_B[32] = {9, 9, 9};

/* Stages a seed chunk at offset: bytes [skip, skip + len) of seed's stream. */
static void stage_seed(const char *txn, uint64_t offset, const uint8_t *seed, uint64_t skip,
		       uint64_t len, int want)
{
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t msg[MPC_CHUNKSEED_BYTES];
	mpc_chunkseed_pack(msg, seed, skip, len);
	store_staging_lock(db);
	cr_assert_eq(store_staging_put_seed(db, txn, offset, msg, sizeof msg, NULL, 0, 0, err), want,
		     "%s", err);
	store_staging_unlock(db);
}

/* The shares a seed chunk stands for, as the client computed them. */
static uint64_t *expanded(const uint8_t *seed, uint64_t skip, uint64_t len)
{
	uint64_t *v = malloc(len);
	cr_assert_eq(mpc_chunkseed_expand(seed, skip, v, len), 0);
	return v;
}

static void commit_rows(const char *txn, uint64_t rows)
{
	seal(txn, 0);
	prepare_all(txn, rows);
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", txn)), 0);
	cr_assert_str_eq(state_of(txn), "committed");
}

/* column col (of 2) of the row-major words v, rows of them, equals got from index at */
static void assert_column(const uint64_t *got, uint64_t at, const uint64_t *v, uint64_t rows,
			  int col)
{
	for (uint64_t r = 0; r < rows; r++)
		cr_assert_eq(got[at + r], v[r * 2 + col], "row %" PRIu64 " of column %d", at + r,
			     col);
}

Test(store_fsm, seed_chunk_committed_reads_back_as_its_expansion)
{
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE] = "";
	uint64_t *a, *b, rows, len = BIG_ROWS * 16, *v = expanded(SEED_A, 0, len);
	size_t vlen = 0;
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_seed(T1, 0, SEED_A, 0, len, 0);
	cr_assert_not(chunk_file_exists(T1, 0), "a seed record is 48 bytes: never a chunk file");
	commit_rows(T1, BIG_ROWS);
	cr_assert_eq(table_rows("t1"), BIG_ROWS);
	/* stored as the seed message under its own key, not as shares */
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, store_share_key(key, T1, 0), &val,
				  NULL, err),
		     MPC_ENOENT);
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, store_share_seed_key(key, T1, 0), &val,
				  &vlen, err),
		     0, "%s", err);
	cr_assert_eq(vlen, MPC_CHUNKSEED_BYTES);
	sodium_memzero(val, vlen);
	free(val);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", 0, &a, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, BIG_ROWS);
	cr_assert_eq(store_catalog_read_segment(db, "t1", "b", 0, &b, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, BIG_ROWS);
	assert_column(a, 0, v, BIG_ROWS, 0);
	assert_column(b, 0, v, BIG_ROWS, 1);
	cr_assert(store_shares_present(db, T1));
	free(a);
	free(b);
	free(v);
}

Test(store_fsm, seed_and_boxed_chunks_mix_in_one_column)
{
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t small[6] = {11, 12, 13, 14, 15, 16}, *a, *b, rows;
	uint64_t big = BIG_ROWS * 16, slen = 4096 * 16;
	uint64_t *s1 = expanded(SEED_A, 0, slen), *s2 = expanded(SEED_B, 4096, big);
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);					      /* raw, a chunk file */
	stage_seed(T1, big, SEED_A, 0, slen, 0);		      /* seed, small */
	store_staging_lock(db);					      /* raw, 48 bytes: */
	cr_assert_eq(store_staging_put(db, T1, big + slen, small, sizeof small, err), 0, "%s", err);
	store_staging_unlock(db);				      /* the seed message's size */
	stage_seed(T1, big + slen + sizeof small, SEED_B, 4096, big, 0); /* seed, skip, large */
	commit_rows(T1, 2 * BIG_ROWS + 4096 + 3);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", 0, &a, &rows, err), 0, "%s", err);
	cr_assert_eq(store_catalog_read_column(db, "t1", "b", 0, &b, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, 2 * BIG_ROWS + 4096 + 3);
	for (uint64_t r = 0; r < BIG_ROWS; r++)
		cr_assert(a[r] == 2 * r + 1 && b[r] == 2 * r + 2, "raw chunk, row %" PRIu64, r);
	assert_column(a, BIG_ROWS, s1, 4096, 0);
	assert_column(b, BIG_ROWS, s1, 4096, 1);
	cr_assert(a[BIG_ROWS + 4096] == 11 && b[BIG_ROWS + 4096 + 2] == 16,
		  "a 48-byte raw chunk is shares, not a seed message");
	assert_column(a, BIG_ROWS + 4096 + 3, s2, BIG_ROWS, 0);
	assert_column(b, BIG_ROWS + 4096 + 3, s2, BIG_ROWS, 1);
	free(a);
	free(b);
	free(s1);
	free(s2);
}

/* A data dir of the version before seed records: chunks are raw bytes under
 * "<txn>/<offset>", written here directly as that version did. */
Test(store_fsm, old_raw_format_still_reads)
{
	char err[MPC_ERRMSG_SIZE] = "", key[128];
	uint64_t old[6] = {101, 102, 103, 104, 105, 106}, *a, rows;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage(T1, 1); /* the upload's record, and a first chunk (the commit then logs
		       * that it has fewer bytes than prepared: the rest is written
		       * behind staging's back) */
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key, store_share_key(key, T1, 16),
				  (const char *)old, sizeof old);
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	prepare_all(T1, 4);
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", 0, &a, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, 4);
	cr_assert(a[0] == 1 && a[1] == 101 && a[2] == 103 && a[3] == 105);
	free(a);
}

Test(store_fsm, abort_drops_seed_records)
{
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_seed(T1, 0, SEED_A, 0, 4096, 0);
	stage_seed(T1, 4096, SEED_B, 0, BIG_ROWS * 16, 0);
	cr_assert(store_shares_present(db, T1));
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "test")), 0);
	cr_assert_str_eq(state_of(T1), "aborted");
	cr_assert_not(staging_left(T1));
	cr_assert_not(store_shares_present(db, T1), "no seed record of the aborted txn is left");
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, store_share_seed_key(key, T1, 4096),
				  &val, NULL, err),
		     MPC_ENOENT);
}

/* The staging digest (what the vote signs) of a seed chunk covers its seed
 * message, as when the party expanded it before storing: votes unchanged. */
Test(store_fsm, seed_record_digest_is_the_expanding_partys_digest)
{
	char err[MPC_ERRMSG_SIZE] = "";
	struct store_staging_info s1, s2;
	uint8_t msg[MPC_CHUNKSEED_BYTES];
	uint64_t len = 8192 * 16, *v = expanded(SEED_A, 64, len);
	mpc_chunkseed_pack(msg, SEED_A, 64, len);
	stage_seed(T1, 0, SEED_A, 64, len, 0);
	store_staging_lock(db);
	cr_assert_eq(store_staging_put_digest(db, T2, 0, v, len, msg, sizeof msg, err), 0, "%s",
		     err);
	cr_assert_eq(store_staging_seal(db, T1, &s1, err), 0, "%s", err);
	cr_assert_eq(store_staging_seal(db, T2, &s2, err), 0, "%s", err);
	store_staging_unlock(db);
	cr_assert_eq(s1.received, len);
	cr_assert_eq(s2.received, len);
	cr_assert_eq(memcmp(s1.digest, s2.digest, sizeof s1.digest), 0);
	free(v);
}

Test(store_fsm, bad_seed_chunk_is_refused_and_stages_nothing)
{
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t msg[MPC_CHUNKSEED_BYTES];
	mpc_chunkseed_pack(msg, SEED_A, 0, 4096);
	store_staging_lock(db);
	cr_assert_eq(store_staging_put_seed(db, T1, 0, msg, sizeof msg - 1, NULL, 0, 0, err),
		     MPC_EINVAL);
	cr_assert(strstr(err, "seed chunk at offset 0 of 47 bytes") != NULL, "%s", err);
	store_staging_unlock(db);
	stage_seed(T1, 0, SEED_A, 0, 12, MPC_EINVAL);   /* not whole words */
	stage_seed(T1, 0, SEED_A, 0, 0, MPC_EINVAL);    /* empty */
	stage_seed(T1, 0, SEED_A, 0, (uint64_t)STORE_CHUNK_MAX + 8, MPC_EINVAL);
	cr_assert_not(staging_left(T1));
	cr_assert_not(store_shares_present(db, T1));
	stage_seed(T1, 0, SEED_A, 0, 4096, 0);
	stage_seed(T1, 0, SEED_A, 0, 4096, MPC_ECONFLICT); /* offset already received */
}

/* The one check of a seed message (API, staging, reads): its size, then the
 * length it stands for, with the message's fields handed back. */
Test(store_fsm, seed_message_check_names_size_and_length)
{
	uint8_t msg[MPC_CHUNKSEED_BYTES];
	const uint8_t *seed = NULL;
	uint64_t skip = 0, len = 0;
	static const uint64_t bad[] = {0, 12, (uint64_t)STORE_CHUNK_MAX + 8, UINT64_MAX - 7};

	mpc_chunkseed_pack(msg, SEED_A, 24, 4096);
	cr_assert_eq(store_share_seed_parse(msg, sizeof msg, &seed, &skip, &len), 0);
	cr_assert_eq(seed, msg, "the seed is the message's first bytes, not a copy");
	cr_assert_eq(skip, 24);
	cr_assert_eq(len, 4096);
	cr_assert_eq(store_share_seed_parse(msg, sizeof msg - 1, NULL, NULL, &len), -1);
	cr_assert_eq(store_share_seed_parse(msg, sizeof msg + 1, NULL, NULL, &len), -1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mpc_chunkseed_pack(msg, SEED_A, 0, bad[i]);
		len = 1;
		cr_assert_eq(store_share_seed_parse(msg, sizeof msg, NULL, NULL, &len), -2,
			     "length %" PRIu64, bad[i]);
		cr_assert_eq(len, bad[i], "the refused length is handed back for the error");
	}
	mpc_chunkseed_pack(msg, SEED_A, 0, STORE_CHUNK_MAX);
	cr_assert_eq(store_share_seed_parse(msg, sizeof msg, NULL, NULL, &len), 0);
}

Test(store_fsm, corrupt_seed_record_fails_the_read_naming_its_key)
{
	char err[MPC_ERRMSG_SIZE] = "", key[128];
	uint64_t *a = NULL, rows;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_seed(T1, 0, SEED_A, 0, 4096, 0);
	commit_rows(T1, 256);
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key,
				  store_share_seed_key(key, T1, 0), "short", 5);
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", 0, &a, &rows, err), MPC_ECORRUPT);
	cr_assert(strstr(err, "/0000000000000000/seed' is corrupt") != NULL, "%s", err);
}

/* Seed records are durable data: after a restart (start-up reconcile) they
 * read back the same. */
Test(store_fsm, seed_records_read_back_after_a_restart)
{
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *a, rows, *v = expanded(SEED_B, 0, 4096);
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_seed(T1, 0, SEED_B, 0, 4096, 0);
	commit_rows(T1, 256);
	store_fsm_close(&fsm);
	store_db_close(db);
	cr_assert_eq(store_db_open(dir, cluster.id_hex, 0, 0, &db, err), 0, "%s", err);
	store_fsm_init(&fsm, db, &cluster, 0);
	cr_assert_eq(store_catalog_read_column(db, "t1", "a", 0, &a, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, 256);
	assert_column(a, 0, v, 256, 0);
	free(a);
	free(v);
}

/* The fixture's party (db, fsm, dir) set aside while a second party, with a
 * fresh data dir, stands in for it (as_second_party), and put back with the
 * second one closed and removed (back_to_first_party). */
struct first_party {
	struct store_db *db;
	struct store_fsm fsm;
	char dir[64];
};

static void as_second_party(struct first_party *first)
{
	char err[MPC_ERRMSG_SIZE] = "";
	first->db = db;
	first->fsm = fsm;
	strcpy(first->dir, dir);
	strcpy(dir, "/tmp/test_store_fsm_second.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_db_open(dir, cluster.id_hex, 0, 0, &db, err), 0, "%s", err);
	store_fsm_init(&fsm, db, &cluster, 0);
}

static void back_to_first_party(const struct first_party *first)
{
	char cmd[160];
	store_fsm_close(&fsm);
	store_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	db = first->db;
	fsm = first->fsm;
	strcpy(dir, first->dir);
}

/* A party that staged seed records and missed the commit publishes them when
 * it restores a snapshot (reconcile), and reads them expanded. */
Test(store_fsm, snapshot_restore_publishes_seed_records_of_committed_txns)
{
	void *buf;
	size_t len;
	struct first_party first;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *a, rows, big = BIG_ROWS * 16, *v = expanded(SEED_B, 0, big);

	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	prepare_all(T1, 2 * BIG_ROWS);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	cr_assert_eq(store_fsm_snapshot(&fsm, &buf, &len), 0);
	as_second_party(&first);
	stage_big(T1, 0);
	stage_seed(T1, big, SEED_B, 0, big, 0);
	cr_assert_eq(store_fsm_restore(&fsm, buf, len), 0);
	cr_assert_not(staging_left(T1));
	cr_assert_eq(store_catalog_read_column(db, "t1", "b", 0, &a, &rows, err), 0, "%s", err);
	cr_assert_eq(rows, 2 * BIG_ROWS);
	cr_assert(a[0] == 2 && a[BIG_ROWS - 1] == 2 * BIG_ROWS, "the raw chunk");
	assert_column(a, BIG_ROWS, v, BIG_ROWS, 1);
	free(a);
	free(v);
	free(buf);
	back_to_first_party(&first);
}

Test(store_fsm, large_chunks_are_files_until_commit_ingests_them)
{
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	stage_big(T1, 1);
	cr_assert(chunk_file_exists(T1, 0) && chunk_file_exists(T1, 1));
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, store_share_key(key, T1, 0), &val,
				  NULL, err),
		     MPC_ENOENT, "a staged file is not in the shares CF before Commit");
	seal(T1, 0);
	prepare_all(T1, 2 * BIG_ROWS);
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_str_eq(state_of(T1), "committed");
	cr_assert_eq(table_rows("t1"), 2 * BIG_ROWS);
	cr_assert_not(staging_left(T1));
	cr_assert_not(chunk_file_exists(T1, 0) || chunk_file_exists(T1, 1), "files are moved");
	assert_big_chunk(T1, 0);
	assert_big_chunk(T1, 1);
}

Test(store_fsm, commit_reapplied_after_a_crash_between_ingest_and_batch)
{
	rocksdb_writebatch_t *lost = rocksdb_writebatch_create();
	uint64_t bytes = 0;
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	stage_big(T1, 1);
	seal(T1, 0);
	prepare_all(T1, 2 * BIG_ROWS);
	/* The first apply of Commit ingests, then the process dies before its
	 * WriteBatch (record, markers, catalog, applied index) is written. */
	store_staging_lock(db);
	cr_assert_eq(store_staging_batch_publish(db, lost, T1, &bytes, err), 0);
	store_staging_unlock(db);
	rocksdb_writebatch_destroy(lost);
	cr_assert_eq(bytes, 2 * BIG_ROWS * 16);
	cr_assert_not(chunk_file_exists(T1, 0));
	cr_assert(staging_left(T1));
	cr_assert_str_eq(state_of(T1), "prepared");
	/* The re-applied Commit finds the chunks as keys, not files: all bytes present. */
	lost = rocksdb_writebatch_create();
	store_staging_lock(db);
	cr_assert_eq(store_staging_batch_publish(db, lost, T1, &bytes, err), 0);
	store_staging_unlock(db);
	rocksdb_writebatch_destroy(lost);
	cr_assert_eq(bytes, 2 * BIG_ROWS * 16, "no chunk counted as lost");
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_str_eq(state_of(T1), "committed");
	cr_assert_eq(table_rows("t1"), 2 * BIG_ROWS);
	cr_assert_not(staging_left(T1));
	assert_big_chunk(T1, 0);
	assert_big_chunk(T1, 1);
}

Test(store_fsm, abort_removes_chunk_files)
{
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	cr_assert(chunk_file_exists(T1, 0));
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "t")), 0);
	cr_assert_not(chunk_file_exists(T1, 0));
	cr_assert_not(staging_left(T1));
	/* a second abort (re-apply) finds nothing and changes nothing */
	cr_assert_eq(apply(json_pack("{s:s,s:s,s:s}", "op", "abort", "txn", T1, "reason", "t")), 0);
	cr_assert_eq(store_db_get(db, STORE_CF_SHARES, key, store_share_key(key, T1, 0), &val,
				  NULL, err),
		     MPC_ENOENT);
}

Test(store_fsm, seal_refuses_a_missing_chunk_file)
{
	char path[256];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016x.sst", dir, T1, 0);
	cr_assert_eq(unlink(path), 0);
	seal(T1, MPC_EIO); /* no vote for data this party does not have */
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(store_staging_get(db, T1, &si, err), 0);
	cr_assert_not(si.sealed);
}

Test(store_fsm, chunk_files_are_synced_at_prepare_not_per_chunk)
{
	char path[256], err[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	stage_big(T1, 1);
	seal(T1, 0);
	cr_assert_eq(store_staging_sync_files(db, T1, err), 0, "%s", err);
	/* a file lost after the seal (e.g. an OS crash): no vote */
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016" PRIx64 ".sst", dir, T1,
		 (uint64_t)BIG_ROWS * 16);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(store_staging_sync_files(db, T1, err), MPC_EIO);
	cr_assert(strstr(err, path) != NULL && strstr(err, "missing") != NULL, "%s", err);
}

/* An OS crash after a chunk was answered and before the prepare synced its
 * file: the marker survived, the file's data did not. */
static void damage_chunk_file(const char *txn, uint64_t chunk, int truncate_it)
{
	char path[256];
	int fd;
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016" PRIx64 ".sst", dir, txn,
		 chunk * BIG_ROWS * 16);
	cr_assert_geq(fd = open(path, O_WRONLY), 0);
	if (truncate_it) {
		cr_assert_eq(ftruncate(fd, 4096), 0);
	} else {
		static const char zeros[4096];
		cr_assert_eq(pwrite(fd, zeros, sizeof zeros, 8192), (ssize_t)sizeof zeros);
	}
	close(fd);
}

static void restart_fsm(void)
{
	store_fsm_close(&fsm);
	store_fsm_init(&fsm, db, &cluster, 0);
}

Test(store_fsm, startup_drops_an_upload_whose_chunk_file_was_lost)
{
	struct store_staging_info si;
	char key[128], *val = NULL, err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	cr_assert_eq(begin(T2, "t2", "admin", 1), 0);
	stage_big(T1, 0);
	stage_big(T1, 1);
	stage_big(T2, 0);
	damage_chunk_file(T1, 1, 0);
	restart_fsm();
	/* T1 lost bytes it had acknowledged: its whole upload is gone, so a
	 * resume finds 0 bytes and fails instead of skipping the lost chunk */
	cr_assert_eq(store_staging_get(db, T1, &si, err), MPC_ENOENT);
	cr_assert_not(chunk_file_exists(T1, 0) || chunk_file_exists(T1, 1));
	cr_assert_not(staging_left(T1));
	cr_assert_eq(
	    store_db_get(db, STORE_CF_SHARES, key, store_share_key(key, T1, 0), &val, NULL, err),
	    MPC_ENOENT);
	/* and its prepare refuses to vote */
	seal(T1, MPC_ESTATE);
	/* T2's whole file stays */
	cr_assert_eq(store_staging_get(db, T2, &si, err), 0, "%s", err);
	cr_assert_eq(si.received, BIG_ROWS * 16);
	cr_assert(chunk_file_exists(T2, 0));
}

Test(store_fsm, startup_drops_an_upload_whose_chunk_file_was_truncated)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	damage_chunk_file(T1, 0, 1);
	restart_fsm();
	cr_assert_eq(store_staging_get(db, T1, &si, err), MPC_ENOENT);
	cr_assert_not(chunk_file_exists(T1, 0));
}

Test(store_fsm, startup_keeps_chunks_ingested_before_a_crash)
{
	rocksdb_writebatch_t *lost = rocksdb_writebatch_create();
	uint64_t bytes = 0;
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	stage_big(T1, 1);
	seal(T1, 0);
	prepare_all(T1, 2 * BIG_ROWS);
	/* Commit's ingest ran, the process died before its WriteBatch */
	store_staging_lock(db);
	cr_assert_eq(store_staging_batch_publish(db, lost, T1, &bytes, err), 0, "%s", err);
	store_staging_unlock(db);
	rocksdb_writebatch_destroy(lost);
	restart_fsm(); /* markers without files, chunks as keys: not a loss */
	cr_assert(staging_left(T1));
	cr_assert_eq(apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1)), 0);
	cr_assert_eq(table_rows("t1"), 2 * BIG_ROWS);
	assert_big_chunk(T1, 0);
	assert_big_chunk(T1, 1);
}

Test(store_fsm, startup_removes_chunk_files_without_a_record)
{
	char path[256];
	FILE *f;
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	/* a crash after writing T2's file, before its record */
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016x.sst", dir, T2, 0);
	cr_assert_not_null(f = fopen(path, "w"));
	fclose(f);
	store_fsm_close(&fsm);
	store_fsm_init(&fsm, db, &cluster, 0);
	cr_assert_neq(access(path, F_OK), 0, "orphan file removed");
	cr_assert(chunk_file_exists(T1, 0), "the pending txn's file stays");
	cr_assert(staging_left(T1));
}

Test(store_fsm, snapshot_restore_ingests_chunk_files_of_committed_txns)
{
	void *buf;
	size_t len;
	struct first_party first;

	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	prepare_all(T1, BIG_ROWS);
	apply(json_pack("{s:s,s:s}", "op", "commit", "txn", T1));
	cr_assert_eq(store_fsm_snapshot(&fsm, &buf, &len), 0);
	/* A second party that staged T1's chunk as a file and missed the commit. */
	as_second_party(&first);
	stage_big(T1, 0);
	cr_assert(chunk_file_exists(T1, 0));
	cr_assert_eq(store_fsm_restore(&fsm, buf, len), 0);
	cr_assert_not(chunk_file_exists(T1, 0));
	cr_assert_not(staging_left(T1));
	assert_big_chunk(T1, 0);
	free(buf);
	back_to_first_party(&first);
}

Test(store_fsm, commit_that_cannot_ingest_is_not_applied)
{
	char path[256], *text;
	int outcome = 0;
	uint64_t at;
	cr_assert_eq(begin(T1, "t1", "admin", 1), 0);
	stage_big(T1, 0);
	seal(T1, 0);
	prepare_all(T1, BIG_ROWS);
	/* the disk garbles the staged file after the vote: a local failure, not an outcome */
	snprintf(path, sizeof path, "%s/staging-sst/%s.%016x.sst", dir, T1, 0);
	cr_assert_eq(truncate(path, 100), 0);
	json_t *e = json_pack("{s:s,s:s}", "op", "commit", "txn", T1);
	text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	at = next_index++;
	cr_assert_neq(store_fsm_apply(&fsm, at, text, strlen(text), &outcome), 0);
	free(text);
	cr_assert_str_eq(state_of(T1), "prepared", "nothing of the commit is written");
	cr_assert_eq(store_catalog_applied(db), at - 1, "the entry will be applied again");
	cr_assert(staging_left(T1));
}

/* ---- the records' text (store/json_canon.h) ---- */

static void assert_dumps_as_jansson(json_t *j)
{
	char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY), *got = NULL;
	size_t len = 0;
	cr_assert_not_null(want);
	cr_assert_eq(store_json_canon(j, &got, &len), 0);
	cr_assert_eq(len, strlen(got));
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
}

static uint64_t rng = TEST_RNG_SEED;

static size_t random_text(char *out, size_t max)
{
	static const char *const pieces[] = {"a",
					     "b",
					     "ab",
					     "\"",
					     "\\",
					     "/",
					     "\n",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "\xc3\xa9",
					     "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80",
					     "",
					     "z",
					     "\t\b\f\r",
					     " "};
	size_t n = test_rng_next(&rng) % 6, len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[test_rng_next(&rng) % (sizeof pieces / sizeof pieces[0])];
		if (len + strlen(p) >= max)
			break;
		memcpy(out + len, p, strlen(p));
		len += strlen(p);
	}
	if (test_rng_next(&rng) % 16 == 0 && len + 1 < max)
		out[len++] = '\0'; /* embedded NUL: json_stringn */
	out[len] = '\0';
	return len;
}

static json_t *random_tree(int depth)
{
	static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1795307627851, -1000};
	static const double reals[] = {0.0, 0.5, -2.25, 1e300, 3.141592653589793, 1e-7};
	char text[64];
	size_t len;
	switch (depth <= 0 ? test_rng_next(&rng) % 6 : test_rng_next(&rng) % 8) {
	case 0: return json_integer(ints[test_rng_next(&rng) % 8]);
	case 1: return json_real(reals[test_rng_next(&rng) % 6]);
	case 2: len = random_text(text, sizeof text); return json_stringn(text, len);
	case 3: return json_true();
	case 4: return json_false();
	case 5: return json_null();
	case 6: {
		json_t *a = json_array();
		for (size_t i = test_rng_next(&rng) % 5; i > 0; i--)
			json_array_append_new(a, random_tree(depth - 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		size_t n =
		    test_rng_next(&rng) % 4 == 0 ? 40 + test_rng_next(&rng) % 10 : test_rng_next(&rng) % 8; /* > 32: the qsort path */
		for (size_t i = 0; i < n; i++) {
			len = random_text(text, sizeof text);
			json_object_setn_new(o, text, len, random_tree(depth - 1));
		}
		return o;
	}
	}
}

Test(store_json_canon, equals_json_dumps_on_random_trees)
{
	for (int i = 0; i < 3000; i++) {
		json_t *j = random_tree(4);
		assert_dumps_as_jansson(j);
		json_decref(j);
	}
}

Test(store_json_canon, refuses_a_string_that_is_not_utf8_as_json_dumps_does)
{
	json_t *o = json_pack("{s:o}", "k", json_stringn_nocheck("a\xff", 2));
	char *text = (char *)"untouched";
	size_t len = 7;
	cr_assert_null(json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS));
	cr_assert_eq(store_json_canon(o, &text, &len), MPC_EINVAL);
	cr_assert_str_eq(text, "untouched");
	cr_assert_eq(len, 7);
	json_decref(o);
	o = json_stringn_nocheck("\xed\xa0\x80", 3); /* a surrogate */
	cr_assert_null(json_dumps(o, JSON_ENCODE_ANY));
	cr_assert_eq(store_json_canon(o, &text, &len), MPC_EINVAL);
	json_decref(o);
}

Test(store_json_canon, reals_deep_trees_nul_keys_and_scalars_as_json_dumps_writes_them)
{
	json_t *deep = json_array(), *keynul = json_object();
	json_t *real = json_pack("{s:f}", "x", 1.5), *scalar = json_integer(3);
	for (int i = 0; i < 40; i++)
		deep = json_pack("[o]", deep);
	json_object_setn_new(keynul, "a\0b", 3, json_true());
	json_object_setn_new(keynul, "a", 1, json_false());
	assert_dumps_as_jansson(real);
	assert_dumps_as_jansson(scalar);
	assert_dumps_as_jansson(deep);
	assert_dumps_as_jansson(keynul);
	json_decref(real);
	json_decref(scalar);
	json_decref(deep);
	json_decref(keynul);
}
