/* Unit tests of appends without a begin entry: uploads the log does not know, their deadlines, the
 * commit that carries the begin. */
#include "store/catalog.h"
#include "store/entry_bin.h"
#include "store/fsm.h"
#include "store/signed_req.h"
#include "store/staging.h"
#include "store/upload.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two parties' state machines (party 0 and 1 of 3), each on its own db: the
 * same log applied to both must decide alike. */
#define NP 2
static char dir[NP][64];
static struct store_db *db[NP];
static struct store_fsm fsm[NP];
static struct mpc_cluster cluster;
static uint8_t sign_sk[3][crypto_sign_SECRETKEYBYTES];
static uint8_t client_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t box_sk[3][crypto_box_SECRETKEYBYTES];
static struct mpc_pairkeys pairkeys[3]; /* each party's, as mpcd derives them */
static uint64_t next_index;

static const char *T1 = "0123456789abcdef0123456789abcdef";
#define TIMEOUT_MS 30000
#define T0         1700000000000ull /* the upload's start (ms) */

static void open_party(int p)
{
	char err[MPC_ERRMSG_SIZE];
	cr_assert_eq(store_db_open(dir[p], cluster.id_hex, 0, 0, &db[p], err), 0, "%s", err);
	cr_assert_eq(store_fsm_init(&fsm[p], db[p], &cluster, p), 0);
	fsm[p].pairkeys = &pairkeys[p];
}

static void close_party(int p)
{
	store_fsm_close(&fsm[p]);
	store_db_close(db[p]);
}

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	cluster.txn_timeout_ms = TIMEOUT_MS;
	for (int i = 0; i < 3; i++) {
		crypto_sign_keypair(cluster.parties[i].sign_pk, sign_sk[i]);
		crypto_box_keypair(cluster.parties[i].box_pk, box_sk[i]);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mpc_pairkeys_derive(&pairkeys[i], &cluster, i, box_sk[i]), 0);
	cluster.n_clients = 1;
	strcpy(cluster.clients[0].name, "alice");
	cluster.clients[0].rights = MPC_RIGHT_CREATE | MPC_RIGHT_APPEND;
	strcpy(cluster.clients[0].append_tables, "*");
	crypto_sign_keypair(cluster.clients[0].sign_pk, client_sk);
	for (int p = 0; p < NP; p++) {
		strcpy(dir[p], "/tmp/test_store_upload.XXXXXX");
		cr_assert_not_null(mkdtemp(dir[p]));
		open_party(p);
	}
	next_index = 1;
}

static void teardown(void)
{
	char cmd[128];
	for (int p = 0; p < NP; p++) {
		close_party(p);
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir[p]);
		cr_assert_eq(system(cmd), 0);
	}
	for (int i = 0; i < 3; i++)
		mpc_pairkeys_free(&pairkeys[i]);
}

TestSuite(store_upload, .init = setup, .fini = teardown);

/* The client's signed begin of txn (client/append.c) of table, signed at
 * time_ms: the "auth" object. */
static json_t *signed_begin_of(const char *txn, const uint8_t *sk, const char *table,
			       int64_t time_ms)
{
	char text[256];
	uint8_t sig[crypto_sign_BYTES];
	char canon[1024];
	struct mpc_reqsig rs;
	size_t n;

	snprintf(text, sizeof text,
		 "{\"table\":\"%s\",\"create\":true,\"columns\":[{\"name\":\"a\","
		 "\"type\":\"int64\"},{\"name\":\"b\",\"type\":\"int64\"}]}",
		 table);
	memset(&rs, 0, sizeof rs);
	strcpy(rs.client, "alice");
	snprintf(rs.nonce, sizeof rs.nonce, "%s", txn);
	rs.time_ms = time_ms;
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster.id_hex, "POST", "/v1/txns",
				 rs.time_ms, rs.nonce, text, strlen(text));
	crypto_sign_detached(sig, NULL, (uint8_t *)canon, n, sk);
	mpc_key_encode(sig, sizeof sig, rs.sig, sizeof rs.sig);
	return store_signed_req_pack(&rs, "POST", "/v1/txns", text, strlen(text));
}

/* The client's signed begin of txn (client/append.c): the "auth" object. */
static json_t *signed_begin(const char *txn, const uint8_t *sk)
{
	const char *text = "{\"table\":\"t1\",\"create\":true,\"columns\":[{\"name\":\"a\","
			   "\"type\":\"int64\"},{\"name\":\"b\",\"type\":\"int64\"}]}";
	uint8_t sig[crypto_sign_BYTES];
	char canon[1024];
	struct mpc_reqsig rs;
	size_t n;

	memset(&rs, 0, sizeof rs);
	strcpy(rs.client, "alice");
	snprintf(rs.nonce, sizeof rs.nonce, "%s", txn);
	rs.time_ms = (int64_t)T0;
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster.id_hex, "POST", "/v1/txns",
				 rs.time_ms, rs.nonce, text, strlen(text));
	crypto_sign_detached(sig, NULL, (uint8_t *)canon, n, sk);
	mpc_key_encode(sig, sizeof sig, rs.sig, sizeof rs.sig);
	return store_signed_req_pack(&rs, "POST", "/v1/txns", text, strlen(text));
}

/* Party p receives rows rows of txn (its first chunk carries the begin) at
 * time now, and seals them as its prepare does. Returns its keep_until_ms. */
static uint64_t upload_begin(int p, const char *txn, json_t *auth, int by_signer, uint64_t rows,
			     uint64_t now);

static uint64_t upload(int p, const char *txn, uint64_t rows, uint64_t now)
{
	return upload_begin(p, txn, signed_begin(txn, client_sk), 0, rows, now);
}

/* The same with the begin auth (taken), carried by a request its client
 * signed when by_signer (its own signature is then not checked). */
static uint64_t upload_begin(int p, const char *txn, json_t *auth, int by_signer, uint64_t rows,
			     uint64_t now)
{
	char err[MPC_ERRMSG_SIZE];
	struct store_staging_info si;
	uint64_t *v = calloc(rows * 2, 8), keep;
	json_t *meta = NULL;

	for (uint64_t i = 0; i < rows * 2; i++)
		v[i] = i + 1 + (uint64_t)p;
	store_staging_lock(db[p]);
	cr_assert_eq(store_upload_open(&fsm[p], txn, auth, by_signer, now, &meta, err), 0, "%s",
		     err);
	cr_assert_eq(store_staging_put(db[p], txn, 0, v, rows * 16, err), 0, "%s", err);
	cr_assert_eq(store_staging_seal(db[p], txn, &si, err), 0, "%s", err);
	store_staging_unlock(db[p]);
	cr_assert_eq(store_db_sync(db[p], err), 0, "%s", err);
	keep = (uint64_t)json_integer_value(json_object_get(meta, "keep_until_ms"));
	cr_assert_eq(keep, now + TIMEOUT_MS);
	json_decref(auth);
	json_decref(meta);
	free(v);
	return keep;
}

/* Party's signed vote (api/server.c do_prepare), promising keep. */
static json_t *vote(const char *txn, int party, uint64_t rows, uint64_t keep)
{
	char msg[512], sig64[128];
	uint8_t sig[crypto_sign_BYTES];
	size_t n =
	    store_prepared_message(msg, cluster.id_hex, txn, party, rows, rows * 16, "aa", keep);
	crypto_sign_detached(sig, NULL, (uint8_t *)msg, n, sign_sk[party]);
	mpc_key_encode(sig, sizeof sig, sig64, sizeof sig64);
	return json_pack("{s:i, s:I, s:I, s:s, s:I, s:s}", "party", party, "rows", (json_int_t)rows,
			 "bytes", (json_int_t)(rows * 16), "digest", "aa", "keep_until_ms",
			 (json_int_t)keep, "sig", sig64);
}

/* The commit entry the leader proposes: begin and the votes of all parties. */
static json_t *commit_entry(const char *txn, uint64_t rows, const uint64_t keep[3])
{
	json_t *votes = json_array();
	for (int p = 0; p < 3; p++)
		json_array_append_new(votes, vote(txn, p, rows, keep[p]));
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "op", "commit", "txn", txn, "client", "alice",
			 "auth", signed_begin(txn, client_sk), "votes", votes);
}

/* Applies e stamped ts (0: no stamp) at the next index on both parties;
 * both outcomes must agree. Takes e. */
static int apply_ts(json_t *e, uint64_t ts)
{
	int outcome[NP];
	char *text;
	if (ts != 0)
		json_object_set_new(e, "ts", json_integer((json_int_t)ts));
	text = json_dumps(e, JSON_COMPACT);
	for (int p = 0; p < NP; p++)
		cr_assert_eq(store_fsm_apply(&fsm[p], next_index, text, strlen(text), &outcome[p]),
			     0);
	next_index++;
	free(text);
	json_decref(e);
	for (int p = 1; p < NP; p++)
		cr_assert_eq(outcome[p], outcome[0], "parties decided differently");
	return outcome[0];
}

static const char *state_of(int p, const char *txn)
{
	static char state[32];
	json_t *t;
	if (store_catalog_txn(db[p], txn, &t) != 0)
		return "unknown";
	snprintf(state, sizeof state, "%s", json_string_value(json_object_get(t, "state")));
	json_decref(t);
	return state;
}

static int64_t table_rows(int p)
{
	json_t *t;
	int64_t rows;
	if (store_catalog_table(db[p], "t1", 0, 0, &t) != 0)
		return -1;
	rows = json_integer_value(json_object_get(t, "rows"));
	json_decref(t);
	return rows;
}

/* Whether party p still holds an upload (record or begin record) of txn. */
static int upload_left(int p, const char *txn)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	json_t *m = NULL;
	int left =
	    store_staging_get(db[p], txn, &si, err) == 0 || store_upload_get(db[p], txn, &m) == 0;
	json_decref(m);
	return left;
}

static void same_catalog(void)
{
	char h0[65], h1[65];
	uint64_t a0, a1;
	store_catalog_digest(db[0], &a0, h0);
	store_catalog_digest(db[1], &a1, h1);
	cr_assert_eq(a0, a1);
	cr_assert_str_eq(h0, h1, "the parties' catalogs differ");
}

static json_t *tick(void)
{
	return json_pack("{s:s}", "op", "tick");
}

Test(store_upload, commit_carrying_the_begin_commits_in_one_entry)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_str_eq(state_of(0, T1), "unknown", "no entry before the commit");
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 100), 0);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "committed");
		cr_assert_eq(table_rows(p), 4);
		cr_assert_not(upload_left(p, T1), "the upload became the segment");
	}
	same_catalog();
}

/* Deletes in the meta column family's memtable (tombstones). */
static long meta_deletes(int p)
{
	char *v = rocksdb_property_value_cf(db[p]->db, db[p]->cf[STORE_CF_META],
					    "rocksdb.num-deletes-active-mem-table");
	long n;
	cr_assert_not_null(v);
	n = atol(v);
	free(v);
	return n;
}

Test(store_upload, txns_never_listed_open_leave_no_open_list_tombstone)
{
	uint64_t keep[3];
	long before[NP];
	for (int p = 0; p < NP; p++) {
		keep[p] = upload(p, T1, 4, T0);
		before[p] = meta_deletes(p);
	}
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 100), 0);
	/* an abort of a txn the log does not know */
	cr_assert_eq(apply_ts(json_pack("{s:s, s:s, s:s}", "op", "abort", "txn",
					"fedcba9876543210fedcba9876543210", "reason", "gave up"),
			      T0 + 110),
		     0);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "committed");
		cr_assert_str_eq(state_of(p, "fedcba9876543210fedcba9876543210"), "aborted");
		cr_assert_eq(meta_deletes(p), before[p],
			     "party %d: no delete of an open/ key that never existed", p);
	}
	same_catalog();
}

Test(store_upload, commit_past_the_deadline_is_void_on_every_party)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + 1000; /* party 2 promised less */
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 1001), MPC_ETIMEDOUT);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "aborted");
		cr_assert_eq(table_rows(p), -1, "nothing visible");
		cr_assert_not(upload_left(p, T1), "the void commit's uploads are dropped");
	}
	same_catalog();
}

Test(store_upload, commit_at_the_deadline_commits)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + 1000;
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 1000), 0);
	cr_assert_str_eq(state_of(1, T1), "committed");
}

Test(store_upload, the_clock_never_goes_back)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + 1000;
	/* a later leader with a slower clock stamps less: the clock stays */
	cr_assert_eq(apply_ts(tick(), T0 + 2000), 0);
	cr_assert_eq(store_fsm_clock(&fsm[0]), T0 + 2000);
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 500), MPC_ETIMEDOUT);
	cr_assert_str_eq(state_of(0, T1), "aborted");
	cr_assert_eq(store_fsm_clock(&fsm[1]), T0 + 2000);
}

Test(store_upload, abort_of_an_unknown_txn_then_its_commit_is_refused)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_ts(json_pack("{s:s, s:s, s:s}", "op", "abort", "txn", T1, "reason",
					"client gave up"),
			      T0 + 10),
		     0);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "aborted");
		cr_assert_not(upload_left(p, T1), "the abort drops the upload");
	}
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 20), MPC_ESTATE);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "aborted");
		cr_assert_eq(table_rows(p), -1);
	}
	same_catalog();
}

Test(store_upload, commit_replay_is_refused)
{
	uint64_t keep[3];
	json_t *e;
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	e = commit_entry(T1, 4, keep);
	json_incref(e);
	cr_assert_eq(apply_ts(e, T0 + 100), 0);
	cr_assert_eq(apply_ts(e, T0 + 200), MPC_ESTATE, "the same commit again is refused");
	cr_assert_eq(table_rows(0), 4, "one segment, not two");
	cr_assert_eq(table_rows(1), 4);
	same_catalog();
}

Test(store_upload, unclaimed_upload_dropped_after_the_deadline_tick_not_before)
{
	uint64_t keep = upload(0, T1, 4, T0);
	upload(1, T1, 4, T0 + 5000); /* party 1 promised 5 s longer */
	cr_assert(store_upload_tick_due(&fsm[0], keep + 1), "overdue by party 0's clock");
	cr_assert_not(store_upload_tick_due(&fsm[0], keep), "not before");
	cr_assert_eq(apply_ts(tick(), keep), 0);
	cr_assert(upload_left(0, T1), "kept at its deadline");
	cr_assert(upload_left(1, T1));
	cr_assert_eq(apply_ts(tick(), keep + 1), 0);
	cr_assert_not(upload_left(0, T1), "dropped once an entry is stamped past it");
	cr_assert(upload_left(1, T1), "party 1's deadline is later");
	cr_assert_not(store_upload_tick_due(&fsm[0], keep + 10000), "nothing left to tick for");
	cr_assert_eq(apply_ts(tick(), keep + 5001), 0);
	cr_assert_not(upload_left(1, T1));
	cr_assert_str_eq(state_of(0, T1), "unknown", "an unclaimed upload leaves no record");
	same_catalog();
}

Test(store_upload, party_restarted_between_its_vote_and_the_commit_still_commits)
{
	uint64_t keep[3], *col = NULL, rows = 0;
	char err[MPC_ERRMSG_SIZE];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	/* party 1 voted (its upload is sealed and synced), then restarts: the
	 * start-up reconcile keeps an upload the log does not know */
	close_party(1);
	open_party(1);
	cr_assert(upload_left(1, T1), "the upload survives the restart");
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 100), 0);
	cr_assert_str_eq(state_of(1, T1), "committed");
	cr_assert_eq(store_catalog_read_column(db[1], "t1", "a", 0, &col, &rows, err), 0, "%s",
		     err);
	cr_assert_eq(rows, 4);
	cr_assert_eq(col[0], 2, "party 1's own shares (1 + party)");
	free(col);
	same_catalog();
}

Test(store_upload, commit_with_a_forged_begin_or_missing_votes_records_nothing)
{
	uint64_t keep[3];
	uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES];
	json_t *e;
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	crypto_sign_keypair(pk, sk);
	e = commit_entry(T1, 4, keep);
	json_object_set_new(e, "auth", signed_begin(T1, sk)); /* not alice's key */
	cr_assert_eq(apply_ts(e, T0 + 100), MPC_EPERM);
	cr_assert_str_eq(state_of(0, T1), "unknown", "nothing recorded: a true commit may follow");
	e = commit_entry(T1, 4, keep);
	json_array_remove(json_object_get(e, "votes"), 2);
	cr_assert_eq(apply_ts(e, T0 + 100), MPC_EINVAL);
	cr_assert_str_eq(state_of(0, T1), "unknown");
	cr_assert(upload_left(0, T1));
	cr_assert_eq(apply_ts(commit_entry(T1, 4, keep), T0 + 200), 0);
	cr_assert_str_eq(state_of(0, T1), "committed");
}

Test(store_upload, chunk_of_a_finished_txn_or_without_begin_is_refused)
{
	char err[MPC_ERRMSG_SIZE];
	json_t *meta = NULL, *auth = signed_begin(T1, client_sk);
	store_staging_lock(db[0]);
	cr_assert_eq(store_upload_open(&fsm[0], T1, NULL, 0, T0, &meta, err), MPC_ENOENT);
	cr_assert(strstr(err, "signed begin") != NULL, "%s", err);
	store_staging_unlock(db[0]);
	cr_assert_eq(
	    apply_ts(json_pack("{s:s, s:s, s:s}", "op", "abort", "txn", T1, "reason", "x"), T0), 0);
	store_staging_lock(db[0]);
	cr_assert_eq(store_upload_open(&fsm[0], T1, auth, 0, T0, &meta, err), MPC_ESTATE);
	cr_assert(strstr(err, "aborted") != NULL, "%s", err);
	store_staging_unlock(db[0]);
	cr_assert_null(meta);
	json_decref(auth);
}

static void begin_hash(json_t *auth, char *hex);

/* The API's last chunk (api/server.c h_txn_chunk): the begin record handed
 * back, not written, then written with the shares and the seal in one batch;
 * the upload ends as after open, put and seal done one by one. */
Test(store_upload, last_chunk_writes_begin_shares_and_seal_in_one_batch)
{
	const char *T2 = "fedcba9876543210fedcba9876543210";
	char err[MPC_ERRMSG_SIZE], *text = NULL, hex[65];
	uint64_t v[4] = {1, 2, 3, 4};
	struct store_staging_info one, two;
	json_t *meta = NULL, *stored = NULL, *auth = signed_begin(T1, client_sk);
	json_t *auth2 = signed_begin(T2, client_sk);

	store_staging_lock(db[0]);
	cr_assert_eq(store_upload_open_text(&fsm[0], T1, auth, 0, T0, &meta, &text, err), 0, "%s",
		     err);
	cr_assert_not_null(text);
	cr_assert_eq(store_upload_get(db[0], T1, &stored), MPC_ENOENT, "record written early");
	cr_assert_eq(
	    store_staging_put_last(db[0], T1, 0, v, sizeof v, NULL, 0, text, strlen(text), 1, err),
	    0, "%s", err);
	cr_assert_eq(store_staging_get(db[0], T1, &one, err), 0, "%s", err);
	cr_assert(one.sealed);
	cr_assert_eq(store_staging_put(db[0], T1, sizeof v, v, 8, err), MPC_ESTATE);
	/* the same upload done step by step */
	cr_assert_eq(store_upload_open(&fsm[0], T2, auth2, 0, T0, &stored, err), 0, "%s", err);
	json_decref(stored);
	cr_assert_eq(store_staging_put(db[0], T2, 0, v, sizeof v, err), 0, "%s", err);
	cr_assert_eq(store_staging_seal(db[0], T2, &two, err), 0, "%s", err);
	store_staging_unlock(db[0]);
	cr_assert_eq(memcmp(one.digest, two.digest, sizeof one.digest), 0);
	cr_assert_eq(one.received, two.received);
	/* the record as written, with the hash of its begin for the vote */
	cr_assert_eq(store_upload_get(db[0], T1, &stored), 0);
	begin_hash(auth, hex);
	cr_assert_str_eq(json_string_value(json_object_get(stored, "begin_hash")), hex);
	cr_assert(json_equal(json_object_get(stored, "auth"), auth));
	json_decref(stored);
	json_decref(meta);
	json_decref(auth);
	json_decref(auth2);
	free(text);
}

/* ---- votes with pairwise tags and the begin they bind ---- */

enum { VOTE_SIGNED = 1, VOTE_TAGGED = 2, VOTE_BAD_TAGS = 4 };

/* Party's vote of version 3 binding begin_hex (api/server.c do_prepare):
 * signed with its key (else with another: a bad signature), with its tags
 * for every party (VOTE_BAD_TAGS: each altered). */
static json_t *vote_bound(const char *txn, int party, uint64_t rows, uint64_t keep,
			  const char *begin_hex, int how)
{
	char msg[512], sig64[128], tag[MPC_PAIRKEY_TAG_HEX + 1];
	uint8_t sig[crypto_sign_BYTES], opk[32], osk[crypto_sign_SECRETKEYBYTES];
	size_t n = store_prepared_message_bound(msg, cluster.id_hex, txn, party, rows, rows * 16,
						"aa", keep, begin_hex);
	json_t *v, *macs = json_array();

	crypto_sign_keypair(opk, osk);
	crypto_sign_detached(sig, NULL, (uint8_t *)msg, n,
			     how & VOTE_SIGNED ? sign_sk[party] : osk);
	mpc_key_encode(sig, sizeof sig, sig64, sizeof sig64);
	v = json_pack("{s:i, s:I, s:I, s:s, s:I, s:s, s:s}", "party", party, "rows",
		      (json_int_t)rows, "bytes", (json_int_t)(rows * 16), "digest", "aa",
		      "keep_until_ms", (json_int_t)keep, "sig", sig64, "begin", begin_hex);
	for (int j = 0; j < 3 && (how & VOTE_TAGGED); j++) {
		mpc_pairkeys_tag(&pairkeys[party], j, msg, n, tag);
		if (how & VOTE_BAD_TAGS)
			tag[0] = tag[0] == '0' ? '1' : '0';
		json_array_append_new(macs, json_string(tag));
	}
	json_object_set_new(v, "macs", macs);
	return v;
}

static void begin_hash(json_t *auth, char *hex)
{
	cr_assert_eq(store_signed_req_hash(&cluster, auth, hex), 0);
}

/* A commit carrying auth (taken) with party p's vote binding hex[p], made as how[p]. */
static json_t *commit_bound(const char *txn, uint64_t rows, const uint64_t keep[3], json_t *auth,
			    char hex[3][65], const int how[3])
{
	json_t *votes = json_array();
	for (int p = 0; p < 3; p++)
		json_array_append_new(votes, vote_bound(txn, p, rows, keep[p], hex[p], how[p]));
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "op", "commit", "txn", txn, "client", "alice",
			 "auth", auth, "votes", votes);
}

/* A commit of T1 whose 3 votes are tagged (no valid signature) and bind a
 * begin with a bad signature of its own, applied by apply (a JSON entry or
 * a binary frame): each party got the begin in a request alice signed
 * (by_signer), and every vote binds its hash, so it commits everywhere
 * without any Ed25519 check. */
static void tagged_votes_binding_the_begin_commit(int (*apply)(json_t *e, uint64_t ts))
{
	uint64_t keep[3];
	uint8_t opk[32], osk[crypto_sign_SECRETKEYBYTES];
	char hex[3][65];
	const int how[3] = {VOTE_TAGGED, VOTE_TAGGED, VOTE_TAGGED}; /* no valid signature */
	json_t *auth;

	crypto_sign_keypair(opk, osk);
	auth = signed_begin(T1, osk);
	begin_hash(auth, hex[0]);
	strcpy(hex[1], hex[0]);
	strcpy(hex[2], hex[0]);
	for (int p = 0; p < NP; p++)
		keep[p] = upload_begin(p, T1, json_deep_copy(auth), 1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply(commit_bound(T1, 4, keep, auth, hex, how), T0 + 100), 0);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "committed");
		cr_assert_eq(table_rows(p), 4);
	}
	same_catalog();
}

Test(store_upload, tagged_votes_binding_the_begin_commit_without_any_ed25519_check)
{
	tagged_votes_binding_the_begin_commit(apply_ts);
}

Test(store_upload, forged_vote_tag_falls_back_to_the_signature)
{
	uint64_t keep[3];
	char hex[3][65];
	const int how[3] = {VOTE_SIGNED | VOTE_TAGGED, VOTE_SIGNED | VOTE_TAGGED | VOTE_BAD_TAGS,
			    VOTE_SIGNED | VOTE_TAGGED | VOTE_BAD_TAGS};
	json_t *auth = signed_begin(T1, client_sk);

	begin_hash(auth, hex[0]);
	strcpy(hex[1], hex[0]);
	strcpy(hex[2], hex[0]);
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_ts(commit_bound(T1, 4, keep, auth, hex, how), T0 + 100), 0,
		     "votes with bad tags but good signatures count");
	for (int p = 0; p < NP; p++)
		cr_assert_str_eq(state_of(p, T1), "committed");
	same_catalog();
}

Test(store_upload, vote_with_neither_valid_tag_nor_signature_is_refused_by_every_party)
{
	uint64_t keep[3];
	char hex[3][65];
	int how[3] = {VOTE_SIGNED | VOTE_TAGGED, VOTE_SIGNED | VOTE_TAGGED,
		      VOTE_TAGGED | VOTE_BAD_TAGS}; /* party 2's vote forged */
	json_t *auth = signed_begin(T1, client_sk);

	begin_hash(auth, hex[0]);
	strcpy(hex[1], hex[0]);
	strcpy(hex[2], hex[0]);
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_ts(commit_bound(T1, 4, keep, json_deep_copy(auth), hex, how), T0 + 100),
		     MPC_ECRYPTO); /* apply_ts: both parties decide alike */
	how[2] = 0;                /* no tags, bad signature */
	cr_assert_eq(apply_ts(commit_bound(T1, 4, keep, json_deep_copy(auth), hex, how), T0 + 110),
		     MPC_ECRYPTO);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "unknown", "nothing recorded");
		cr_assert(upload_left(p, T1));
	}
	how[2] = VOTE_SIGNED | VOTE_TAGGED;
	cr_assert_eq(apply_ts(commit_bound(T1, 4, keep, auth, hex, how), T0 + 200), 0,
		     "the true votes still commit");
	cr_assert_str_eq(state_of(1, T1), "committed");
	same_catalog();
}

Test(store_upload, different_begins_under_one_txn_id_are_refused_by_every_party)
{
	static const char *T2 = "fedcba9876543210fedcba9876543210";
	const char *ids[2] = {T1, T2};
	const int how[3] = {VOTE_SIGNED | VOTE_TAGGED, VOTE_SIGNED | VOTE_TAGGED,
			    VOTE_SIGNED | VOTE_TAGGED};

	/* alice sends party 0 a begin of table t1, parties 1 and 2 one of t2,
	 * each validly signed with the same txn id; the commit carries the
	 * first (T1) or the second (T2): refused either way, on every party */
	for (int k = 0; k < 2; k++) {
		const char *id = ids[k];
		json_t *a = signed_begin_of(id, client_sk, "t1", (int64_t)T0);
		json_t *b = signed_begin_of(id, client_sk, "t2", (int64_t)T0);
		uint64_t keep[3];
		char hex[3][65];

		begin_hash(a, hex[0]);
		begin_hash(b, hex[1]);
		begin_hash(b, hex[2]);
		cr_assert_str_neq(hex[0], hex[1]);
		keep[0] = upload_begin(0, id, json_deep_copy(a), 1, 4, T0);
		keep[1] = upload_begin(1, id, json_deep_copy(b), 1, 4, T0);
		keep[2] = T0 + TIMEOUT_MS;
		cr_assert_eq(apply_ts(commit_bound(id, 4, keep, k == 0 ? a : b, hex, how),
				      T0 + 100 + (uint64_t)k),
			     MPC_ECONFLICT);
		json_decref(k == 0 ? b : a);
		for (int p = 0; p < NP; p++) {
			cr_assert_str_eq(state_of(p, id), "aborted");
			cr_assert_not(upload_left(p, id), "the refused txn's uploads are dropped");
		}
	}
	for (int p = 0; p < NP; p++) {
		json_t *t;
		cr_assert_eq(store_catalog_table(db[p], "t1", 0, 0, &t), MPC_ENOENT);
		cr_assert_eq(store_catalog_table(db[p], "t2", 0, 0, &t), MPC_ENOENT);
	}
	same_catalog();
}

Test(store_upload, begin_with_a_bad_signature_needs_its_client_request_and_binding_votes)
{
	char err[MPC_ERRMSG_SIZE], hex[3][65];
	uint8_t opk[32], osk[crypto_sign_SECRETKEYBYTES];
	uint64_t keep[3];
	json_t *auth, *meta = NULL, *e;
	const int how[3] = {VOTE_SIGNED | VOTE_TAGGED, VOTE_SIGNED | VOTE_TAGGED,
			    VOTE_SIGNED | VOTE_TAGGED};

	crypto_sign_keypair(opk, osk);
	auth = signed_begin(T1, osk); /* not alice's signature */
	store_staging_lock(db[0]);
	cr_assert_eq(store_upload_open(&fsm[0], T1, auth, 0, T0, &meta, err), MPC_EPERM,
		     "sent by another than its client: its signature is checked");
	cr_assert(strstr(err, "bad signature") != NULL, "%s", err);
	store_staging_unlock(db[0]);
	for (int p = 0; p < NP; p++)
		keep[p] = upload_begin(p, T1, json_deep_copy(auth), 1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	/* votes of the older format bind no begin: its signature is checked */
	e = json_pack("{s:s, s:s, s:s, s:O, s:[ooo]}", "op", "commit", "txn", T1, "client", "alice",
		      "auth", auth, "votes", vote(T1, 0, 4, keep[0]), vote(T1, 1, 4, keep[1]),
		      vote(T1, 2, 4, keep[2]));
	cr_assert_eq(apply_ts(e, T0 + 100), MPC_EPERM);
	cr_assert_str_eq(state_of(0, T1), "unknown");
	/* one vote binding nothing among binding ones: still checked */
	begin_hash(auth, hex[0]);
	strcpy(hex[1], hex[0]);
	strcpy(hex[2], hex[0]);
	e = commit_bound(T1, 4, keep, json_deep_copy(auth), hex, how);
	json_array_set_new(json_object_get(e, "votes"), 2, vote(T1, 2, 4, keep[2]));
	cr_assert_eq(apply_ts(e, T0 + 110), MPC_EPERM);
	cr_assert_eq(apply_ts(commit_bound(T1, 4, keep, auth, hex, how), T0 + 200), 0);
	cr_assert_str_eq(state_of(1, T1), "committed");
	same_catalog();
}

/* ---- binary commit entries (store/entry_bin.h) ---- */

/* Applies buf (len bytes) at the next index on every party; they must
 * decide alike and all record the index as applied. */
static int apply_raw(const void *buf, size_t len)
{
	int outcome[NP];
	for (int p = 0; p < NP; p++) {
		cr_assert_eq(store_fsm_apply(&fsm[p], next_index, buf, len, &outcome[p]), 0);
		cr_assert_eq(store_fsm_applied(&fsm[p]), next_index);
	}
	next_index++;
	for (int p = 1; p < NP; p++)
		cr_assert_eq(outcome[p], outcome[0], "parties decided differently");
	return outcome[0];
}

/* A frame of kind around n sub-entries (caller frees). */
static uint8_t *frame_of(int kind, uint64_t ts, size_t n, const char *const *subs,
			 const size_t *lens, size_t *len)
{
	uint8_t *f;
	*len = store_entry_frame_size(n, lens);
	f = malloc(*len);
	cr_assert_not_null(f);
	store_entry_frame_write(f, kind, ts, n, subs, lens);
	return f;
}

/* e (taken) encoded as a commit record (caller frees). */
static char *record_of(json_t *e, size_t *len)
{
	char *rec;
	cr_assert_eq(store_entry_commit_encode(e, &rec, len), 0);
	json_decref(e);
	return rec;
}

/* e (taken) applied as a binary frame of one entry stamped ts. */
static int apply_bin(json_t *e, uint64_t ts)
{
	size_t rlen, flen;
	char *rec = record_of(e, &rlen);
	const char *sub = rec;
	uint8_t *f = frame_of(STORE_ENTRY_FRAME_ONE, ts, 1, &sub, &rlen, &flen);
	int outcome = apply_raw(f, flen);
	free(f);
	free(rec);
	return outcome;
}

/* The txn is not known and every party still has its upload. */
static void nothing_changed(const char *txn)
{
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, txn), "unknown", "party %d recorded the txn", p);
		cr_assert(upload_left(p, txn));
		cr_assert_eq(table_rows(p), -1, "no table created");
	}
	same_catalog();
}

static json_t *tagged_commit(uint64_t keep[3], int forge_party2)
{
	char hex[3][65];
	int how[3] = {VOTE_SIGNED | VOTE_TAGGED, VOTE_SIGNED | VOTE_TAGGED,
		      forge_party2 ? VOTE_TAGGED | VOTE_BAD_TAGS : VOTE_SIGNED | VOTE_TAGGED};
	json_t *auth = signed_begin(T1, client_sk);
	begin_hash(auth, hex[0]);
	strcpy(hex[1], hex[0]);
	strcpy(hex[2], hex[0]);
	return commit_bound(T1, 4, keep, auth, hex, how);
}

/* T1 uploaded to every party (party 2 promising only up to T0 + TIMEOUT_MS)
 * and its commit with tagged votes: the record (*rec, *rlen; caller frees) in
 * a frame of one entry stamped T0 + 100 (returned, *flen; caller frees). */
static uint8_t *uploaded_commit_frame(char **rec, size_t *rlen, size_t *flen)
{
	uint64_t keep[3];
	const char *sub;

	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	*rec = record_of(tagged_commit(keep, 0), rlen);
	sub = *rec;
	return frame_of(STORE_ENTRY_FRAME_ONE, T0 + 100, 1, &sub, rlen, flen);
}

Test(store_upload, binary_commit_decodes_to_the_tree_of_its_json_entry)
{
	uint64_t keep[3] = {T0 + 1, T0 + 2, T0 + 3};
	json_t *entries[2] = {tagged_commit(keep, 0), commit_entry(T1, 4, keep)};
	char why[256];

	for (int i = 0; i < 2; i++) {
		char *text = json_dumps(entries[i], JSON_COMPACT), *rec;
		json_t *from_json = json_loads(text, 0, NULL), *from_bin;
		size_t len;
		cr_assert_eq(store_entry_commit_encode(entries[i], &rec, &len), 0);
		cr_assert_lt(len, strlen(text), "the record is smaller than its JSON");
		from_bin = store_entry_sub_decode(rec, len, why, sizeof why);
		cr_assert_not_null(from_bin, "%s", why);
		cr_assert(json_equal(from_bin, from_json), "binary and JSON decode alike");
		/* a JSON sub-entry decodes through the old parser */
		json_decref(from_bin);
		from_bin = store_entry_sub_decode(text, strlen(text), why, sizeof why);
		cr_assert(json_equal(from_bin, from_json));
		json_decref(from_bin);
		json_decref(from_json);
		free(rec);
		free(text);
	}
	/* what the layout cannot carry stays JSON */
	{
		char *rec;
		size_t len;
		json_object_set_new(entries[0], "extra", json_true());
		cr_assert_eq(store_entry_commit_encode(entries[0], &rec, &len), MPC_EINVAL);
		json_object_del(entries[0], "extra");
		json_object_set_new(json_array_get(json_object_get(entries[0], "votes"), 1), "rows",
				    json_string("4"));
		cr_assert_eq(store_entry_commit_encode(entries[0], &rec, &len), MPC_EINVAL);
		json_object_set_new(json_object_get(entries[1], "auth"), "body",
				    json_stringn("a\0b", 3));
		cr_assert_eq(store_entry_commit_encode(entries[1], &rec, &len), MPC_EINVAL);
		json_t *abort_e = json_pack("{s:s, s:s}", "op", "abort", "txn", T1);
		cr_assert_eq(store_entry_commit_encode(abort_e, &rec, &len), MPC_EINVAL);
		json_decref(abort_e);
	}
	json_decref(entries[0]);
	json_decref(entries[1]);
}

Test(store_upload, binary_commit_carrying_the_begin_commits_and_replays_change_nothing)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_bin(tagged_commit(keep, 0), T0 + 100), 0);
	for (int p = 0; p < NP; p++) {
		cr_assert_str_eq(state_of(p, T1), "committed");
		cr_assert_eq(table_rows(p), 4);
		cr_assert_not(upload_left(p, T1));
	}
	same_catalog();
	cr_assert_eq(apply_bin(tagged_commit(keep, 0), T0 + 200), MPC_ESTATE, "a replay");
	/* and an old JSON commit of it (logs of older versions) is the same replay */
	cr_assert_eq(apply_ts(tagged_commit(keep, 0), T0 + 300), MPC_ESTATE);
	for (int p = 0; p < NP; p++)
		cr_assert_eq(table_rows(p), 4);
	same_catalog();
}

Test(store_upload, binary_commit_with_a_forged_vote_changes_nothing)
{
	uint64_t keep[3];
	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	cr_assert_eq(apply_bin(tagged_commit(keep, 1), T0 + 100), MPC_ECRYPTO,
		     "party 2's vote has neither a valid tag nor a valid signature");
	nothing_changed(T1);
	cr_assert_eq(apply_bin(tagged_commit(keep, 0), T0 + 200), 0, "the true votes commit");
	same_catalog();
}

Test(store_upload, truncated_binary_entries_are_refused_with_nothing_changed)
{
	size_t rlen, flen, sub_len;
	char why[256];
	char *rec;
	uint8_t *f = uploaded_commit_frame(&rec, &rlen, &flen);
	const char *sub = rec;

	/* the frame cut anywhere (a 8-byte-aligned cut of the padding aside) */
	for (size_t cut = 0; cut < flen; cut++) {
		struct store_entry_frame fr;
		if (cut >= STORE_ENTRY_FRAME_HEADER + 4 + rlen)
			continue; /* only padding cut: still the whole entry */
		cr_assert_eq(store_entry_frame_open(f, cut, &fr, why, sizeof why), MPC_EINVAL,
			     "frame cut at %zu", cut);
		cr_assert_neq(why[0], '\0');
		if (cut > 0 && cut % 7 != 0)
			continue; /* through the FSM: every 7th cut is enough */
		cr_assert_eq(apply_raw(f, cut), MPC_EINVAL, "frame cut at %zu", cut);
	}
	/* the record cut anywhere, in a well-formed frame */
	for (sub_len = 1; sub_len < rlen; sub_len++) {
		size_t fl;
		uint8_t *g;
		json_t *e = store_entry_sub_decode(rec, sub_len, why, sizeof why);
		cr_assert_null(e, "record cut at %zu decoded", sub_len);
		cr_assert(strstr(why, "truncated") || strstr(why, "past the record's end"),
			  "cut at %zu: %s", sub_len, why);
		if (sub_len % 11 != 0)
			continue;
		g = frame_of(STORE_ENTRY_FRAME_ONE, T0 + 100, 1, &sub, &sub_len, &fl);
		cr_assert_eq(apply_raw(g, fl), MPC_EINVAL, "record cut at %zu", sub_len);
		free(g);
	}
	nothing_changed(T1);
	cr_assert_eq(apply_raw(f, flen), 0, "the whole entry still commits");
	for (int p = 0; p < NP; p++)
		cr_assert_str_eq(state_of(p, T1), "committed");
	free(f);
	free(rec);
}

/* Sets bytes [off, off+n) of a copy of buf (len bytes) to the little-endian v. */
static uint8_t *patched(const void *buf, size_t len, size_t off, int n, uint64_t v)
{
	uint8_t *c = malloc(len);
	memcpy(c, buf, len);
	for (int i = 0; i < n; i++)
		c[off + (size_t)i] = (uint8_t)(v >> (8 * i));
	return c;
}

Test(store_upload, oversized_and_garbage_binary_entries_are_refused_with_a_reason)
{
	size_t rlen, flen, vote0;
	char why[256], *rec;
	uint8_t *f, *bad;
	struct {
		size_t off;
		int n;
		uint64_t v;
		const char *reason;
	} frame_cases[] = {
	    {1, 1, 2, "version"},	 /* a newer frame version */
	    {2, 1, 3, "kind"},		 /* unknown kind */
	    {3, 1, 1, "kind"},		 /* reserved byte */
	    {4, 4, 0, "entries"},	 /* no entry */
	    {4, 4, 2, "entries"},	 /* two entries in a frame of one */
	    {4, 4, STORE_FSM_BATCH_MAX + 1, "entries"},
	    {16, 4, 0xffffffffu, "past the end"}, /* entry length past the buffer */
	};

	f = uploaded_commit_frame(&rec, &rlen, &flen);
	for (size_t i = 0; i < sizeof frame_cases / sizeof frame_cases[0]; i++) {
		struct store_entry_frame fr;
		bad = patched(f, flen, frame_cases[i].off, frame_cases[i].n, frame_cases[i].v);
		cr_assert_eq(store_entry_frame_open(bad, flen, &fr, why, sizeof why), MPC_EINVAL,
			     "case %zu", i);
		cr_assert(strstr(why, frame_cases[i].reason), "case %zu: %s", i, why);
		cr_assert_eq(apply_raw(bad, flen), MPC_EINVAL, "case %zu", i);
		free(bad);
	}
	/* bytes after the entry: 8 or more, or non-zero padding */
	{
		struct store_entry_frame fr;
		uint8_t *longer = calloc(1, flen + 8);
		memcpy(longer, f, flen);
		cr_assert_eq(store_entry_frame_open(longer, flen + 8, &fr, why, sizeof why),
			     MPC_EINVAL);
		cr_assert(strstr(why, "after"), "%s", why);
		cr_assert_eq(apply_raw(longer, flen + 8), MPC_EINVAL);
		if (flen > STORE_ENTRY_FRAME_HEADER + 4 + rlen) {
			longer[flen - 1] = 1;
			cr_assert_eq(store_entry_frame_open(longer, flen, &fr, why, sizeof why),
				     MPC_EINVAL);
			cr_assert(strstr(why, "padding"), "%s", why);
		}
		free(longer);
	}
	/* inside the record: version, flags, too many votes, a string past the
	 * end, a byte after the last vote */
	{
		size_t txn_end = 3 + 1 + 32, body_off, body_len;
		const uint8_t *r = (const uint8_t *)rec;
		char *longer = malloc(rlen + 1);
		json_t *e;
		/* auth: client, method, path, time_ms, nonce, sig, then the body */
		size_t off = txn_end + 1 + r[txn_end]; /* after the entry's client */
		for (int i = 0; i < 3; i++)
			off += 1 + r[off];
		off += 8;
		for (int i = 0; i < 2; i++)
			off += 1 + r[off];
		body_off = off;
		body_len = (size_t)r[off] | (size_t)r[off + 1] << 8;
		vote0 = body_off + 4 + body_len + 1;
		struct {
			size_t off;
			int n;
			uint64_t v;
			const char *reason;
		} rec_cases[] = {
		    {1, 1, 2, "version"},
		    {2, 1, 7, "flags"},
		    {3, 1, 31, "commit record byte"},		 /* txn 1 byte short: all shifts */
		    {body_off, 4, 0x7fffffff, "begin body"},	 /* body past the end */
		    {vote0 - 1, 1, MPC_MAX_PARTIES + 1, "votes"}, /* vote count */
		    {vote0 - 1, 1, 2, "after the last vote"},	 /* one vote left over */
		    {vote0 - 1, 1, 4, "truncated"},		 /* a vote missing */
		    {vote0 + 1 + 32 + 1, 1, 0x00, "NUL"},	 /* NUL in the digest */
		    {vote0 + 1 + 32 + 1, 1, 0xff, "UTF-8"},	 /* not UTF-8 */
		};
		cr_assert_eq(r[vote0 - 1], 3, "the vote count is where the test expects it");
		for (size_t i = 0; i < sizeof rec_cases / sizeof rec_cases[0]; i++) {
			size_t fl;
			uint8_t *g;
			const char *gsub;
			bad = patched(rec, rlen, rec_cases[i].off, rec_cases[i].n, rec_cases[i].v);
			e = store_entry_sub_decode(bad, rlen, why, sizeof why);
			cr_assert_null(e, "case %zu decoded", i);
			cr_assert(strstr(why, rec_cases[i].reason), "case %zu: %s", i, why);
			gsub = (const char *)bad;
			g = frame_of(STORE_ENTRY_FRAME_ONE, T0 + 100, 1, &gsub, &rlen, &fl);
			cr_assert_eq(apply_raw(g, fl), MPC_EINVAL, "case %zu", i);
			free(g);
			free(bad);
		}
		memcpy(longer, rec, rlen);
		longer[rlen] = 0;
		cr_assert_null(store_entry_sub_decode(longer, rlen + 1, why, sizeof why));
		cr_assert(strstr(why, "after the last vote"), "%s", why);
		free(longer);
	}
	/* garbage behind the magic bytes: refused, whatever it is */
	{
		uint8_t junk[600];
		uint32_t seed = 12345;
		for (int round = 0; round < 200; round++) {
			size_t n = 16 + (size_t)(seed % 500), fl;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				junk[i] = (uint8_t)(seed >> 16);
			}
			junk[0] = STORE_ENTRY_COMMIT_MAGIC;
			json_t *e = store_entry_sub_decode(junk, n, why, sizeof why);
			cr_assert_null(e, "garbage round %d decoded", round);
			if (round % 20 == 0) {
				const char *g = (const char *)junk;
				uint8_t *fr = frame_of(STORE_ENTRY_FRAME_ONE, T0 + 100, 1, &g, &n, &fl);
				cr_assert_eq(apply_raw(fr, fl), MPC_EINVAL);
				junk[0] = STORE_ENTRY_FRAME_MAGIC; /* as a frame */
				cr_assert_eq(apply_raw(junk, n), MPC_EINVAL);
				free(fr);
			}
		}
	}
	nothing_changed(T1);
	cr_assert_eq(apply_raw(f, flen), 0, "the intact entry still commits");
	free(f);
	free(rec);
}

Test(store_upload, binary_batch_frame_mixes_json_and_binary_entries)
{
	uint64_t keep[3];
	size_t lens[3], flen;
	const char *subs[3];
	json_t *tk = tick();
	char *rec, *tick_text = json_dumps(tk, JSON_COMPACT);
	uint8_t *f;
	int outcome;
	uint64_t index;

	for (int p = 0; p < NP; p++)
		keep[p] = upload(p, T1, 4, T0);
	keep[2] = T0 + TIMEOUT_MS;
	rec = record_of(tagged_commit(keep, 0), &lens[1]);
	subs[0] = tick_text;
	lens[0] = strlen(tick_text);
	subs[1] = rec;
	subs[2] = "{\"op\":";
	lens[2] = 6;
	f = frame_of(STORE_ENTRY_FRAME_BATCH, T0 + 100, 3, subs, lens, &flen);
	index = next_index;
	cr_assert_eq(apply_raw(f, flen), 0);
	for (int p = 0; p < NP; p++) {
		cr_assert_eq(store_fsm_batch_outcome(&fsm[p], index, 0, &outcome), 0);
		cr_assert_eq(outcome, 0);
		cr_assert_eq(store_fsm_batch_outcome(&fsm[p], index, 1, &outcome), 0);
		cr_assert_eq(outcome, 0, "the binary commit");
		cr_assert_eq(store_fsm_batch_outcome(&fsm[p], index, 2, &outcome), 0);
		cr_assert_eq(outcome, MPC_EINVAL, "the cut JSON entry");
		cr_assert_str_eq(state_of(p, T1), "committed");
	}
	same_catalog();
	free(f);
	free(rec);
	free(tick_text);
	json_decref(tk);
}

/* The same commit in a binary frame (docs/store-performance.md measures both
 * by callgrind). */
Test(store_upload, tagged_votes_binding_the_begin_commit_in_a_binary_frame)
{
	tagged_votes_binding_the_begin_commit(apply_bin);
}
