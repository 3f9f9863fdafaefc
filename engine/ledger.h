/* Fuel ledger: which triple index ranges were handed out to which computation, and counters, kept in RocksDB. */
#ifndef MPC_ENGINE_LEDGER_H
#define MPC_ENGINE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

/*
 * DESIGN §4 "Fuel". prss derives triple t from its index, so nothing of the
 * triples is stored: only the ledger. Keys in STORE_CF_FUEL (values are
 * little-endian u64s):
 *
 *   <gen>/hwm                   high-water mark: 1 + the highest index
 *                               ever handed out (0 if none)
 *   <gen>/range/<t0 %016x>      t0, n, session id, used (indices of the
 *                               range consumed so far, a prefix)
 *   <gen>/stats                 produced, consumed
 *
 * A range is handed out to exactly one computation (session): a claim
 * overlapping any earlier range is refused with MPC_EOVERLAP, never
 * silently; re-claiming the identical range for the same session (a driver
 * that re-posts a start after a restart) is allowed. "produced" counts
 * every triple derived (replays after a resume derive again), "consumed"
 * the indices a session moved past for the first time.
 *
 * Thread-safe (one mutex).
 */

struct engine_ledger;

struct engine_ledger_range {
	uint64_t t0, n, session, used;
};

struct engine_ledger_status {
	uint64_t hwm, produced, consumed, ranges;
	double rate; /* triples produced per second of generation, this process */
};

/* Opens the ledger of generator gen ("prss") in db (which must outlive it). */
int engine_ledger_open(struct store_db *db, const char *gen, struct engine_ledger **out,
		       char *errmsg);
void engine_ledger_close(struct engine_ledger *l);

/*
 * Hands [t0, t0 + n) to session. Returns 0; MPC_EOVERLAP (errmsg names the
 * range it overlaps); MPC_ERANGE (past 2^64, n = 0); MPC_EIO.
 */
int engine_ledger_claim(struct engine_ledger *l, uint64_t t0, uint64_t n, uint64_t session,
			char *errmsg);
/* The same, and the puts of with (the caller's, which it keeps and frees)
 * go into the same write, after the claim's: a session's start is one
 * write, not one for the claim and one for its spec. with is written also
 * when the range was claimed by session before. sync 0: the write is not
 * synced, and the caller must make it durable (store_db_sync) before any
 * triple of the range is used (engine/session.c does before its first
 * message); the claim is refused or granted the same either way. */
int engine_ledger_claim_with(struct engine_ledger *l, uint64_t t0, uint64_t n, uint64_t session,
			     rocksdb_writebatch_t *with, int sync, char *errmsg);

/* The range claimed by session starting at t0: MPC_ENOENT if none. */
int engine_ledger_get(struct engine_ledger *l, uint64_t t0, struct engine_ledger_range *out);

/*
 * Records that session has consumed the first `used` indices of its range
 * starting at t0 (monotonic: a smaller value is ignored). MPC_ERANGE if
 * used exceeds the range (a bug: the index would belong to no range).
 */
int engine_ledger_use(struct engine_ledger *l, uint64_t t0, uint64_t used, char *errmsg);

/* Counts n triples derived taking ns nanoseconds (in memory; saved by _use). */
void engine_ledger_produced(struct engine_ledger *l, uint64_t n, uint64_t ns);

void engine_ledger_status(struct engine_ledger *l, struct engine_ledger_status *st);

/* Calls fn for every range in index order; fn returns non-zero to stop. */
int engine_ledger_ranges(struct engine_ledger *l,
			 int (*fn)(void *ctx, const struct engine_ledger_range *r), void *ctx);

#endif
