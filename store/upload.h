/* Uploads to txns the log does not know yet: the signed begin they carry, how long a party keeps
 * them. */
#ifndef MPC_STORE_UPLOAD_H
#define MPC_STORE_UPLOAD_H

#include "store/fsm.h"

#include <jansson.h>

/*
 * An append has no begin entry (docs/architecture.md §5): the client signs
 * its begin locally (the txn id is the signed nonce) and sends it with its
 * chunks; each party checks it when the first chunk of an unknown txn
 * arrives and keeps it with the upload, in the upload's begin record
 * ("<txn>/b" in the staging CF):
 *   {client, table, create, columns, timeout_ms, keep_until_ms, auth}
 * The commit entry carries the begin and the parties' votes. A party's vote
 * promises to keep its upload until keep_until_ms (the FSM's clock: the
 * leader's stamps); a commit applied past the earliest promise is void, and
 * a party drops an upload the log does not know only after applying an entry
 * stamped past its keep_until_ms — so a valid commit always finds the
 * uploads, and every party decides alike.
 */

/* For a chunk of txn id: the txn must not be in the log (MPC_ESTATE naming
 * its state and reason), and either its upload exists or auth (the client's
 * signed begin, may be NULL) passes the checks apply will make (MPC_EPERM,
 * MPC_ENOENT, MPC_EINVAL, MPC_ECONFLICT with the reason in errmsg; without
 * auth MPC_ENOENT). by_signer: the request that carried auth was signed by
 * auth's client over a body holding auth's bytes, so auth's own signature is
 * not verified (its checks are the rest); else it is. Creates the begin record, or refreshes
 * keep_until_ms to now + the txn's timeout when less than half of that is left; notes it in
 * fsm->upload_min_ms. Caller holds the staging lock. On 0, *meta is the
 * record (new reference). Not synced: the seal's sync covers it. */
int store_upload_open(struct store_fsm *fsm, const char *id, json_t *auth, int by_signer,
		      uint64_t now_ms, json_t **meta, char *errmsg);

/* store_upload_open() that, when the begin record is to be written (created
 * or refreshed), sets *text (caller frees; NULL before the call) to its
 * bytes instead: the caller writes them with the chunk, in one batch
 * (store_staging_put_last), or with store_staging_begin_put(), before it
 * releases the staging lock. */
int store_upload_open_text(struct store_fsm *fsm, const char *id, json_t *auth, int by_signer,
			   uint64_t now_ms, json_t **meta, char **text, char *errmsg);

/* The begin record of txn's upload: 0 with *meta (new reference), or
 * MPC_ENOENT. */
int store_upload_get(struct store_db *db, const char *id, json_t **meta);

/* At apply, staging lock held: adds to wb the drop of every upload of a txn
 * the log does not know whose keep_until_ms is before the FSM's clock (not
 * skip's, the entry's own txn; may be NULL), and recomputes
 * fsm->upload_min_ms. Local effect only: the log's outcome never depends on
 * it (see above). */
void store_upload_sweep(struct store_fsm *fsm, rocksdb_writebatch_t *wb, const char *skip);

/* At reconcile (staging lock held): 1 when txn has a begin record (its
 * upload is kept; noted in fsm->upload_min_ms), else 0. */
int store_upload_note(struct store_fsm *fsm, const char *id);

/* This party's uploads to txns the log does not know: an array of
 * {id, state: "uploading", client, table, keep_until_ms, local: {party,
 * received, sealed}} (new reference). */
json_t *store_upload_list(struct store_db *db, int party_id);

/* Whether, by this party's clock now_ms, one of its uploads passed its
 * deadline while the FSM's clock has not: then an entry stamped now (a tick)
 * lets apply drop it. */
int store_upload_tick_due(struct store_fsm *fsm, uint64_t now_ms);

#endif
