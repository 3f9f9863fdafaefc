/* Fuzz harness of the Raft FSM (store/fsm.c with the scheduler's extension): apply of arbitrary entry buffers on a temp RocksDB. */
#include "common/log.h"
#include "scheduler/sched_fsm.h"
#include "store/catalog.h"
#include "store/entry_bin.h"
#include "store/fsm.h"

#include <ftw.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Input: Raft log entries separated by '\n' (entries are compact JSON, so a
 * real one never holds a raw newline; a line that starts with the binary
 * frame's magic byte 0xB1 is a binary frame, store/entry_bin.h, that runs
 * to the end of the input), applied at indexes 1, 2, ... as
 * party 0 of a 3-party cluster; an input that starts with "MPCSNAP1" is
 * given to store_fsm_restore() instead. The FSM is wired as in mpcd: the
 * scheduler's entries go to sched_fsm_apply(). Apply must return 0 (only a
 * local I/O failure may fail it) whatever the entry, and its outcome must be
 * 0 or a negative MPC_E* code. The scheduler's triple counter (next_triple
 * in sched/state) never goes back: a triple index handed out twice would
 * reuse a Beaver triple, which leaks the difference of two masked inputs.
 * An input that ends with an empty line also checks snapshots: the state
 * after its entries, snapshotted, restored into an empty store and
 * snapshotted again, gives the same bytes (only then: a restore fsyncs).
 *
 * Every input starts from an empty store: one RocksDB per process, emptied
 * between inputs by deleting its keys (the data dir's stamp stays), and
 * replaced by a fresh one every RESET_EVERY inputs so tombstones do not
 * pile up. Party signing keys are derived from fixed seeds (party i: 32
 * bytes of i + 1), so seeds can carry valid Prepared votes.
 */

#define RESET_EVERY 5000
#define MAX_ENTRIES 64

static char dir[64];
static struct store_db *db;
static struct store_fsm fsm;
static struct sched_fsm sfsm;
static struct mpc_cluster cluster;
static unsigned long runs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void close_db(void)
{
	if (db == NULL)
		return;
	store_fsm_close(&fsm);
	store_db_close(db);
	db = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void open_db(void)
{
	static int registered;
	char err[MPC_ERRMSG_SIZE] = "";
	strcpy(dir, "/tmp/fuzz_fsm.XXXXXX");
	if (mkdtemp(dir) == NULL || store_db_open(dir, cluster.id_hex, 0, 0, &db, err) != 0) {
		fprintf(stderr, "fuzz_fsm: %s: %s\n", dir, err);
		abort();
	}
	/* A throwaway store needs no fsync (restores and FSM init sync their writes). */
	rocksdb_writeoptions_set_sync(db->wo_sync, 0);
	/* after RocksDB's own exit handlers (registered at the first open): ours runs first */
	if (!registered++)
		atexit(close_db);
}

static void setup_cluster(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
	if (sodium_init() < 0)
		abort();
	/* above ERROR: quiet (apply logs what it refuses; millions of lines otherwise) */
	mpc_log_init((enum mpc_log_level)(MPC_LOG_ERROR + 1), "fuzz_fsm");
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	cluster.txn_timeout_ms = 30000;
	for (int i = 0; i < 3; i++) {
		memset(seed, i + 1, sizeof seed);
		crypto_sign_seed_keypair(cluster.parties[i].sign_pk, sk, seed);
		cluster.parties[i].id = i;
	}
	sodium_memzero(sk, sizeof sk);
	cluster.n_clients = 3;
	strcpy(cluster.clients[0].name, "admin");
	cluster.clients[0].rights = MPC_RIGHT_ADMIN | MPC_RIGHT_CREATE | MPC_RIGHT_APPEND |
				    MPC_RIGHT_SUBMIT | MPC_RIGHT_READ;
	strcpy(cluster.clients[0].append_tables, "*");
	strcpy(cluster.clients[1].name, "bob");
	cluster.clients[1].rights = MPC_RIGHT_APPEND;
	strcpy(cluster.clients[1].append_tables, "t1");
	strcpy(cluster.clients[2].name, "carol");
	cluster.clients[2].rights = MPC_RIGHT_SUBMIT | MPC_RIGHT_OUTPUT;
}

static int keep_stamp(const char *key, size_t klen)
{
	return (klen == 16 && memcmp(key, "local/cluster_id", 16) == 0) ||
	       (klen == 14 && memcmp(key, "local/party_id", 14) == 0);
}

static int delete_meta(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	if (!keep_stamp(key, klen))
		rocksdb_writebatch_delete_cf(ctx, db->cf[STORE_CF_META], key, klen);
	return 0;
}

/* An empty store and a fresh FSM over it, as after `mpcd` first starts. */
static void reset(void)
{
	char err[MPC_ERRMSG_SIZE];
	if (db != NULL && runs % RESET_EVERY == 0)
		close_db();
	if (db == NULL) {
		open_db();
	} else {
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		store_fsm_close(&fsm);
		store_db_scan(db, STORE_CF_META, NULL, "", 0, delete_meta, wb);
		for (int cf = STORE_CF_SHARES; cf < STORE_CF_COUNT; cf++)
			store_db_batch_delete_prefix(db, wb, cf, "", 0);
		if (store_db_write(db, wb, 0, err) != 0)
			abort();
		rocksdb_writebatch_destroy(wb);
	}
	if (store_fsm_init(&fsm, db, &cluster, 0) != 0 || store_fsm_applied(&fsm) != 0)
		abort();
	sfsm.db = db;
	sfsm.n_parties = cluster.n_parties;
	fsm.ext_apply = sched_fsm_apply;
	fsm.ext_data = &sfsm;
}

static void snapshot_round_trip(void)
{
	void *before, *after;
	size_t before_len, after_len;
	if (store_fsm_snapshot(&fsm, &before, &before_len) != 0)
		abort();
	reset();
	if (store_fsm_restore(&fsm, before, before_len) != 0 ||
	    store_fsm_snapshot(&fsm, &after, &after_len) != 0)
		abort();
	if (before_len != after_len || memcmp(before, after, before_len) != 0) {
		fprintf(stderr, "fuzz_fsm: snapshot changed by a restore (%zu -> %zu bytes)\n",
			before_len, after_len);
		abort();
	}
	free(before);
	free(after);
}

/* The scheduler's next triple index (0 before the first lease). */
static uint64_t next_triple(void)
{
	json_t *st = store_db_get_json(db, STORE_CF_META, "sched/state");
	const char *v = json_string_value(json_object_get(st, "next_triple"));
	uint64_t t = v ? strtoull(v, NULL, 10) : 0;
	json_decref(st);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	uint64_t index = 1, triples = 0;

	if (cluster.n_parties == 0)
		setup_cluster();
	runs++;
	reset();
	if (size >= 8 && memcmp(data, "MPCSNAP1", 8) == 0) {
		store_fsm_restore(&fsm, data, size);
		return 0;
	}
	while (p < end && index <= MAX_ENTRIES) {
		const char *nl = (uint8_t)*p == STORE_ENTRY_FRAME_MAGIC
				     ? NULL
				     : memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int outcome = 1;
		if (store_fsm_apply(&fsm, index, p, len, &outcome) != 0) {
			fprintf(stderr, "fuzz_fsm: apply failed: %s\n", fsm.errmsg);
			abort(); /* only local I/O may fail an apply */
		}
		if (outcome > 0 || store_fsm_applied(&fsm) != index)
			abort();
		if (next_triple() < triples) {
			fprintf(stderr, "fuzz_fsm: next_triple went back from %llu to %llu\n",
				(unsigned long long)triples, (unsigned long long)next_triple());
			abort();
		}
		triples = next_triple();
		index++;
		p += len + 1;
	}
	if (index > 1 && size >= 2 && memcmp(data + size - 2, "\n\n", 2) == 0)
		snapshot_round_trip();
	return 0;
}
