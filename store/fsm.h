/* The replicated state machine of the store: catalog and append transactions, applied from the Raft log. */
#ifndef MPC_STORE_FSM_H
#define MPC_STORE_FSM_H

#include "common/conf.h"
#include "common/err.h"
#include "common/pairkey.h"
#include "store/db.h"

#include <jansson.h>
#include <pthread.h>

/* Entries (JSON objects, field "op"), DESIGN.md §2-3. They carry names, ids,
 * digests and signatures, never shares:
 *   begin    {txn, table, client, create, columns:[{name,type,frac}], timeout_ms}
 *   prepared {txn, party, rows, bytes, digest, sig}   (sig: Ed25519 of the party)
 *   commit   {txn}, or {txn, votes}: the votes a client collected, or
 *            {txn, client, auth, votes}: a commit that carries its begin (the
 *            client's signed begin; the txn existed only as uploads until
 *            then, store/upload.h) and the votes of all parties, each with
 *            the time until which its party keeps its upload, the hash of
 *            the begin its party received ("begin") and a pairwise MAC tag
 *            per party ("macs"; docs/architecture.md §5)
 *   abort    {txn, reason}   (of a txn the log does not know: recorded aborted)
 *   tick     {}   (advances the clock: uploads past their deadline are dropped)
 *   batch    {entries: [entry...]}   (group commit: up to STORE_FSM_BATCH_MAX
 *            entries proposed together by the leader, applied in order)
 * A commit with votes is proposed in a binary layout, and the leader frames
 * proposals holding one in a binary frame (first byte 0xB1, which no JSON
 * text has; store/entry_bin.h): its entries apply as a batch's would.
 * The leader stamps every entry it proposes with "ts" (its clock, ms;
 * store/node.c); the FSM's clock is the highest stamp applied so far, so it
 * never goes back when the leader changes. Begin and prepared entries come
 * from logs of older versions (no route proposes them any more).
 * Apply is deterministic: its effect depends only on the entry and the prior
 * replicated state. Rejections are recorded in the txn record (state
 * "aborted" with a reason), so every party agrees on them. */

#define STORE_TXN_ID_LEN 32 /* hex chars */
#define STORE_NAME_MAX 64
#define STORE_MAX_COLUMNS 256

#define STORE_FSM_BATCH_MAX 128 /* entries in one batch entry */
#define STORE_FSM_BATCH_RING 256

/* Outcomes of the sub-entries of a recent batch entry, for its proposer. */
struct store_fsm_batch {
	uint64_t index;
	size_t n;
	int outcomes[STORE_FSM_BATCH_MAX];
};

struct store_fsm {
	struct store_db *db;
	const struct mpc_cluster *cluster;
	int party_id;
	/* This party's pairwise MAC keys (common/pairkey.h), set by the owner
	 * before the first apply and valid until store_fsm_close; NULL: every
	 * vote is checked by its Ed25519 signature (votes' "macs" ignored). */
	const struct mpc_pairkeys *pairkeys;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast after every apply */
	uint64_t applied;    /* highest index whose effects are in the db */
	pthread_cond_t final_cond; /* broadcast when a txn is committed or aborted */
	uint64_t finals;	   /* count of such events */
	int shutting_down;
	/* Called on the applying thread after a txn changed state ("pending",
	 * "prepared", "committed", "aborted"). May be NULL. */
	void (*on_txn)(void *data, const char *txn, const char *state);
	void *on_txn_data;
	/* Entries with an op the store does not know (e.g. the scheduler's) go to
	 * this handler, on the applying thread, with the entry's WriteBatch: it
	 * writes its replicated state under its own meta key prefix (covered by
	 * snapshots and digests), must be deterministic (DESIGN.md §2) and
	 * idempotent, returns 0 or an I/O error, and sets *outcome. NULL: such
	 * entries are malformed. */
	int (*ext_apply)(void *data, rocksdb_writebatch_t *wb, json_t *entry, uint64_t index,
			 int *outcome);
	/* Called after the entry's batch is written (same thread), e.g. to act
	 * on what the entry decided. May be NULL. */
	void (*ext_applied)(void *data, json_t *entry, uint64_t index, int outcome);
	/* Called after a snapshot replaced the replicated state (same thread),
	 * e.g. to rebuild what the extension keeps in memory. May be NULL. */
	void (*ext_restored)(void *data);
	/* Called by every reconcile pass (store_fsm_reconcile; after a snapshot
	 * restore, before ext_restored), under the staging lock, with the pass's
	 * synced WriteBatch: settles what the extension keeps in the staging CF
	 * against the replicated state. Returns 0 or an I/O error. May be NULL. */
	int (*ext_reconcile)(void *data, rocksdb_writebatch_t *wb);
	void *ext_data;
	struct store_fsm_batch batch_ring[STORE_FSM_BATCH_RING];
	/* Replicated: the highest "ts" applied (meta "clock"); under lock. */
	uint64_t clock_ms;
	uint64_t clock_saved; /* apply thread: the value persisted */
	/* Local, under the staging lock: the earliest keep_until_ms of this
	 * party's uploads to txns the log does not know (an upper bound after
	 * they settle; UINT64_MAX: none). Apply sweeps them once the clock passes
	 * it (store/upload.h). */
	uint64_t upload_min_ms;
	char errmsg[MPC_ERRMSG_SIZE];
};

/* Initialises fsm over an open db; reads the persisted applied index. */
int store_fsm_init(struct store_fsm *fsm, struct store_db *db, const struct mpc_cluster *cluster,
		   int party_id);
void store_fsm_close(struct store_fsm *fsm);

/* Applies the entry at index. Entries at or below the persisted applied index
 * are skipped (raft re-applies its log after a restart). *outcome gets the
 * deterministic result (0, or MPC_E* for a rejected entry). Returns non-zero
 * only for a local I/O failure. */
int store_fsm_apply(struct store_fsm *fsm, uint64_t index, const void *entry, size_t len,
		    int *outcome);

/* Outcome of sub-entry i of the batch entry at index, if that batch is still
 * in the ring of recent batches (MPC_ENOENT otherwise). */
int store_fsm_batch_outcome(struct store_fsm *fsm, uint64_t index, size_t i, int *outcome);

/* Blocks until applied >= index or timeout_ms passes (MPC_ETIMEDOUT) or shutdown. */
int store_fsm_wait_applied(struct store_fsm *fsm, uint64_t index, int timeout_ms);
uint64_t store_fsm_applied(struct store_fsm *fsm);
/* Wakes every waiter with MPC_ESHUTDOWN. */
void store_fsm_shutdown(struct store_fsm *fsm);
/* Count of txns that reached a final state (committed/aborted) so far, and a
 * wait until that count exceeds seen or timeout_ms passes (long polls: they
 * wake per finished txn, not per applied entry). */
uint64_t store_fsm_finals(struct store_fsm *fsm);
void store_fsm_wait_final(struct store_fsm *fsm, uint64_t seen, int timeout_ms);

/* Snapshot of the replicated state (every meta key outside local/) as one
 * malloc'd buffer; caller frees. */
int store_fsm_snapshot(struct store_fsm *fsm, void **buf, size_t *len);
/* Replaces the replicated state with a snapshot, unless this party already
 * applied past it. Then settles this party's uploads: those of txns the
 * snapshot committed are published, those of aborted ones deleted. */
int store_fsm_restore(struct store_fsm *fsm, const void *buf, size_t len);

/* Settles this party's staging against the replicated state (uploads of
 * finished txns, then ext_reconcile), in one synced batch. Idempotent; runs
 * in store_fsm_init and after every restore; an extension that has just set
 * ext_reconcile calls it once itself (start-up). */
int store_fsm_reconcile(struct store_fsm *fsm);

/* Canonical message a party signs for a Prepared vote. out >= 512 bytes.
 * keep_until_ms: the time (ms, the FSM's clock) until which the party
 * promises to keep its upload; 0 in votes of older versions (not part of the
 * message then). */
size_t store_prepared_message(char *out, const char *cluster_id_hex, const char *txn, int party,
			      uint64_t rows, uint64_t bytes, const char *digest_hex,
			      uint64_t keep_until_ms);

/* The same with the hex hash (store_signed_req_hash) of the begin the party
 * received from its client, bound into the vote (version 3; begin_hex NULL:
 * as store_prepared_message). A commit whose votes all bind its begin's hash
 * needs no check of the begin's own signature (docs/architecture.md §5). */
size_t store_prepared_message_bound(char *out, const char *cluster_id_hex, const char *txn,
				    int party, uint64_t rows, uint64_t bytes,
				    const char *digest_hex, uint64_t keep_until_ms,
				    const char *begin_hex);

/* The replicated clock (highest "ts" applied). */
uint64_t store_fsm_clock(struct store_fsm *fsm);

/* The checks apply makes of a client's signed begin, against the catalog now
 * (DESIGN.md §6): e holds "auth" and "client" (its begin's parameters are
 * taken from the signed body into e), id is the txn. *txn gets the record
 * the begin makes (state pending; new reference, also on refusal). Returns
 * 0, or an outcome with reason set; *signed_ok says whether the signature
 * verified (remembered in common/sigmemo.h: a later apply on this party does
 * not verify it again). */
int store_fsm_begin_check(struct store_fsm *fsm, json_t *e, const char *id, uint64_t index,
			  json_t **txn, int *signed_ok, char *reason, size_t size);

/* As store_fsm_begin_check; bound_hex (may be NULL): see
 * store_signed_req_open_bound (the signature is not verified when e's begin
 * hashes to it; *signed_ok is then set). */
int store_fsm_begin_check_bound(struct store_fsm *fsm, json_t *e, const char *id, uint64_t index,
				const char *bound_hex, json_t **txn, int *signed_ok, char *reason,
				size_t size);

/* Writes a column list as "a int64, b fixed(16)" into out. */
void store_columns_describe(json_t *cols, char *out, size_t size);

/* Whether s is a valid table or column name: [A-Za-z_][A-Za-z0-9_]{0,62}. */
int store_name_valid(const char *s);

#endif
