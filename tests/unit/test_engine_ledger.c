/* Unit tests of the fuel ledger's claim: overlapping ranges refused, the identical re-claim allowed, checked against a brute-force overlap test. */
#include "common/err.h"
#include "engine/ledger.h"
#include "store/db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store_db *db;
static struct engine_ledger *l;

static void setup(void)
{
	char err[MPC_ERRMSG_SIZE];
	strcpy(dir, "/tmp/test_engine_ledger.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_db_open(dir, "00112233445566778899aabbccddeeff", 0, 0, &db, err), 0, "%s",
		     err);
	cr_assert_eq(engine_ledger_open(db, "prss", &l, err), 0, "%s", err);
}

static void teardown(void)
{
	char cmd[128];
	engine_ledger_close(l);
	store_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(engine_ledger, .init = setup, .fini = teardown);

static int claim(uint64_t t0, uint64_t n, uint64_t session)
{
	char err[MPC_ERRMSG_SIZE] = "";
	int rv = engine_ledger_claim(l, t0, n, session, err);
	cr_assert(rv == 0 || err[0] != '\0', "a refusal says why");
	return rv;
}

Test(engine_ledger, claim_refuses_every_kind_of_overlap)
{
	cr_assert_eq(claim(100, 10, 1), 0);			   /* [100, 110) */
	cr_assert_eq(claim(200, 10, 2), 0);			   /* [200, 210) */
	cr_assert_eq(claim(110, 90, 3), 0, "adjacent on both sides"); /* [110, 200) */
	cr_assert_eq(claim(100, 10, 1), 0, "the identical range of the same session");
	cr_assert_eq(claim(100, 10, 9), MPC_EOVERLAP, "the same range for another session");
	cr_assert_eq(claim(95, 10, 4), MPC_EOVERLAP, "overlaps the start");
	cr_assert_eq(claim(205, 10, 4), MPC_EOVERLAP, "overlaps the end");
	cr_assert_eq(claim(102, 3, 4), MPC_EOVERLAP, "inside");
	cr_assert_eq(claim(50, 500, 4), MPC_EOVERLAP, "around several");
	cr_assert_eq(claim(100, 5, 1), MPC_EOVERLAP, "a part of a range, same session");
	cr_assert_eq(claim(210, 1, 5), 0);
	cr_assert_eq(claim(0, 100, 6), 0);
	cr_assert_eq(claim(UINT64_MAX - 10, 10, 7), 0, "at the top of the index space");
	cr_assert_eq(claim(UINT64_MAX - 11, 2, 8), MPC_EOVERLAP);
	cr_assert_eq(claim(5, 0, 8), MPC_ERANGE, "empty");
}

/* Random claims against a brute-force list of the accepted ranges. */
Test(engine_ledger, claim_agrees_with_brute_force)
{
	uint64_t t0s[400], ns[400];
	int kept = 0;
	srand(7);
	for (int i = 0; i < 2000; i++) {
		uint64_t t0 = (uint64_t)(rand() % 20000), n = 1 + (uint64_t)(rand() % 60);
		int want = 0;
		for (int k = 0; k < kept; k++)
			if (t0 < t0s[k] + ns[k] && t0s[k] < t0 + n)
				want = MPC_EOVERLAP;
		cr_assert_eq(claim(t0, n, 1000 + (uint64_t)i), want, "claim %d [%llu, +%llu)", i,
			     (unsigned long long)t0, (unsigned long long)n);
		if (want == 0 && kept < 400) {
			t0s[kept] = t0;
			ns[kept++] = n;
		} else if (want == 0) {
			break;
		}
	}
	cr_assert_gt(kept, 100);
}

static int has_key(const char *key)
{
	char err[MPC_ERRMSG_SIZE], *val = NULL;
	size_t vlen = 0;
	int rv = store_db_get(db, STORE_CF_FUEL, key, strlen(key), &val, &vlen, err);
	free(val);
	return rv == 0;
}

/* A session's start writes its spec with its claim: both or neither. */
Test(engine_ledger, claim_with_writes_the_callers_puts_only_with_the_claim)
{
	char err[MPC_ERRMSG_SIZE] = "";
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_FUEL], "spec-a", 6, "x", 1);
	cr_assert_eq(engine_ledger_claim_with(l, 100, 10, 1, wb, 1, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	cr_assert(has_key("spec-a"));
	cr_assert_eq(claim(105, 1, 2), MPC_EOVERLAP, "the range was claimed");
	/* refused: nothing of the caller's is written */
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_FUEL], "spec-b", 6, "x", 1);
	cr_assert_eq(engine_ledger_claim_with(l, 95, 10, 2, wb, 1, err), MPC_EOVERLAP);
	rocksdb_writebatch_destroy(wb);
	cr_assert_not(has_key("spec-b"));
	/* the same session's range again: its puts are written */
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_FUEL], "spec-c", 6, "x", 1);
	cr_assert_eq(engine_ledger_claim_with(l, 100, 10, 1, wb, 1, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	cr_assert(has_key("spec-c"));
}

/* A session start claims without a sync (the session syncs before its first
 * message): the claim is granted and refused exactly as a synced one. */
Test(engine_ledger, an_unsynced_claim_refuses_overlaps_as_a_synced_one)
{
	char err[MPC_ERRMSG_SIZE] = "";
	struct engine_ledger_range r;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_FUEL], "spec-u", 6, "x", 1);
	cr_assert_eq(engine_ledger_claim_with(l, 200, 10, 7, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
	cr_assert(has_key("spec-u"));
	cr_assert_eq(claim(209, 1, 8), MPC_EOVERLAP, "the unsynced claim holds");
	cr_assert_eq(claim(190, 11, 8), MPC_EOVERLAP);
	cr_assert_eq(claim(210, 5, 8), 0, "the next range is free");
	cr_assert_eq(store_db_sync(db, err), 0, "%s", err);
	cr_assert_eq(engine_ledger_get(l, 200, &r), 0);
	cr_assert_eq(r.session, 7);
	cr_assert_eq(r.n, 10);
}
