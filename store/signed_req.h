/* Client signatures carried in Raft log entries (DESIGN.md §6): packed by the API, checked by every party's apply. */
#ifndef MPC_STORE_SIGNED_REQ_H
#define MPC_STORE_SIGNED_REQ_H

#include "common/conf.h"
#include "common/reqsig.h"

#include <jansson.h>

/* The "auth" object of an entry made from a signed request: the client, the
 * signed method, path, time, nonce and signature, and the request body as
 * sent (a JSON text: the signature covers its exact bytes). New reference;
 * NULL when body is not UTF-8 or on ENOMEM. */
json_t *store_signed_req_pack(const struct mpc_reqsig *sig, const char *method, const char *path,
			      const char *body, size_t len);

/* Checks, deterministically (no clock, no nonce cache: apply must give the
 * same answer on every party), that entry e carries a request signed by the
 * client it names: e."auth" verifies with that client's key in c, was a
 * `method` on `path`, e."client" is the signer, and e.<id_key> (the job's
 * req or the txn id) is the signed nonce, so one signed request makes at
 * most one job or txn. On 0 sets *ci and *body (the parsed signed body, a
 * new reference). Otherwise MPC_EPERM with the reason in why (size bytes). */
int store_signed_req_open(const struct mpc_cluster *c, json_t *e, const char *method,
			  const char *path, const char *id_key, const struct mpc_client_info **ci,
			  json_t **body, char *why, size_t size);

/* As store_signed_req_open, but when bound_hex (may be NULL) is the
 * store_signed_req_hash of e."auth", the signature is not verified: the
 * caller knows by other means that the client sent exactly this request
 * (its own request signature over a body that held it, at this party; or the
 * votes of all parties binding that hash, docs/architecture.md §5). */
int store_signed_req_open_bound(const struct mpc_cluster *c, json_t *e, const char *method,
				const char *path, const char *id_key, const char *bound_hex,
				const struct mpc_client_info **ci, json_t **body, char *why,
				size_t size);

#define STORE_BEGIN_HASH_BYTES 32

/* hex (2 * STORE_BEGIN_HASH_BYTES + 1 bytes) = SHA-256(client, NUL, the
 * canonical string its signature covers: cluster, method, path, time, nonce,
 * body hash) of an "auth" object. 0, or MPC_EINVAL when a field is missing. */
int store_signed_req_hash(const struct mpc_cluster *c, json_t *auth, char *hex);

#endif
