/* The networked engine inside mpcd: party mesh, prss fuel, fuel ledger and the running sessions. */
#ifndef MPC_ENGINE_SERVICE_H
#define MPC_ENGINE_SERVICE_H

#include <jansson.h>

#include "common/conf.h"
#include "store/db.h"

struct engine_service;

/*
 * Starts the engine of this party: derives the pairwise prss keys from the
 * static X25519 keys (BLAKE2b-256 of the X25519 shared secret with a
 * domain string, the cluster id and the pair: identical on both parties of
 * a pair), opens the fuel ledger in db, starts the mesh, and resumes the
 * sessions found in db. conf and db must outlive the service. Returns 0 or
 * an MPC_E* code with errmsg. Stop with engine_service_stop().
 */
int engine_service_start(const struct mpc_party_conf *conf, struct store_db *db,
			 struct engine_service **out, char *errmsg);

/* fn(ctx) runs on a session's thread when a session started from now on is
 * done or failed (the scheduler's runner wakes on it instead of polling). */
void engine_service_set_notify(struct engine_service *svc, void (*fn)(void *ctx), void *ctx);

/* Stops every session thread, the mesh, and frees svc (NULL allowed). */
void engine_service_stop(struct engine_service *svc);

/*
 * Starts session spec (docs/engine.md) on this party. spec is borrowed.
 * Posting the identical spec again is accepted (idempotent). Returns 0;
 * MPC_EINVAL (bad spec, range too small); MPC_EOVERLAP (triple range
 * overlaps one handed out); MPC_EEXIST (id in use with another spec);
 * MPC_EIO. errmsg says why.
 */
int engine_service_session_start(struct engine_service *svc, json_t *spec, char *errmsg);

/* New reference: the session's state and outputs (values: include every
 * public value), or NULL if unknown. */
json_t *engine_service_session_get(struct engine_service *svc, uint64_t id, int values);

/* Without building its status: 1 if session id is done or failed, 0 if it
 * runs, -1 if it is not running here (engine_service_session_get reads a
 * stored result then). */
int engine_service_session_ended(struct engine_service *svc, uint64_t id);

/* Stops session id and deletes its spec and checkpoints (keeps its result
 * and fuel records). MPC_ENOENT if unknown. */
int engine_service_session_delete(struct engine_service *svc, uint64_t id);

/* As engine_service_session_delete, without waiting for the session's
 * thread to stop (engine_session_release): the session is gone from the
 * service at once (get finds its stored result only), its thread erases
 * and frees it, and engine_service_stop waits for that. For the scheduler,
 * which drops the session of every finished attempt: no thread of its own
 * waits for each one. MPC_ENOENT if unknown. */
int engine_service_session_release(struct engine_service *svc, uint64_t id);

/* New reference: fuel status (generator, hwm, produced, consumed, rate,
 * ranges) and mesh counters. */
json_t *engine_service_fuel(struct engine_service *svc);

#endif
