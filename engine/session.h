/* One computation on one party: its thread, checkpoints in RocksDB, and the resynchronisation after failures. */
#ifndef MPC_ENGINE_SESSION_H
#define MPC_ENGINE_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "common/conf.h"
#include "engine/fuel.h"
#include "engine/ledger.h"
#include "engine/mesh.h"
#include "store/db.h"

/*
 * Resumable sessions (DESIGN §4). A session is a program (engine/exec.h)
 * run in rounds = operations. Every checkpoint_every operations each party
 * writes (operation index, exchange counter, fuel cursor, all registers)
 * to STORE_CF_FUEL under "sess/<id %016x>/ckpt/<pc %08x>" and keeps the
 * last three (pc 0, the inputs, is always derivable from the spec stored
 * under "sess/<id>/spec"). The result goes to "sess/<id>/result".
 *
 * Synchronisation. Every message of a session carries a wire session
 * id = id | epoch << 32. On start, after a connection to a peer changes
 * (the mesh's generation), after a timeout, or when a peer asks for it,
 * a party enters a new epoch E (one above any it has seen) and sends
 * SYNC(E, its checkpoint list) to every peer; a SYNC with a higher epoch
 * is adopted (and re-sent). Once it holds SYNC(E) from all peers it
 * restores the latest checkpoint all of them have and continues from
 * there. Rounds are deterministic given the checkpoint (fuel indices come
 * from the checkpointed cursor), so the replay sends exactly the messages
 * of the lost attempt - it reveals nothing new and uses no new triple -
 * and the result equals an uninterrupted run. After finishing, a session
 * lingers (answers SYNCs by replaying) so a peer that lost the last
 * round's messages can finish too.
 */

struct engine_session_env {
	struct engine_mesh *mesh;
	struct engine_fuel_gen *fuel;
	struct engine_ledger *ledger;
	struct store_db *db;
	const struct mpc_cluster *cluster;
	int party;
	const uint8_t *box_sk; /* this party's X25519 secret key */
	int timeout_ms;	       /* of one exchange before resynchronising */
	int linger_ms;	       /* after done */
	/* called (NULL: not) from the session's thread when it is done or failed */
	void (*on_end)(void *ctx);
	void *on_end_ctx;
};

struct engine_session;

/*
 * Creates session from spec (borrowed; its JSON text is kept) and starts
 * its thread. stored: spec comes from db (restart), else it is validated,
 * its triple range claimed in the ledger and the spec written. Returns 0
 * or MPC_E* with errmsg.
 */
int engine_session_start(const struct engine_session_env *env, json_t *spec, int stored,
			 struct engine_session **out, char *errmsg);

uint64_t engine_session_id(const struct engine_session *s);
/* Whether spec is the one s runs (same canonical text). */
int engine_session_same_spec(const struct engine_session *s, json_t *spec);

/* 1 if s is done or failed (its status has its outputs or error), else 0. */
int engine_session_ended(struct engine_session *s);

/* New reference: state, progress, timing and outputs. */
json_t *engine_session_status(struct engine_session *s, int values);

/* Stops the thread and frees s; erase also deletes its spec and checkpoints. */
void engine_session_free(struct engine_session *s, int erase);

/*
 * As engine_session_free, without waiting for the thread: s belongs to its
 * worker from now on, which stops, erases and frees it when it next looks
 * (at once for a lingering session, woken through the mesh) and then calls
 * done(ctx) on its own thread; if the thread has already ended, all this
 * happens here before the return. The caller must not touch s again, and
 * must keep the mesh, db and ledger of s's env alive until done runs.
 */
void engine_session_release(struct engine_session *s, int erase, void (*done)(void *ctx),
			    void *ctx);

#endif
