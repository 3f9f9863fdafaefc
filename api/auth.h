/* Authentication of client requests at a party's API (DESIGN.md §6): signature, replay window, nonce cache, rights. */
#ifndef MPC_API_AUTH_H
#define MPC_API_AUTH_H

#include "common/conf.h"
#include "common/reqsig.h"

#include <stddef.h>
#include <stdint.h>

/* Who sent a request, once its signature checked out. */
struct api_caller {
	struct mpc_reqsig sig;		   /* as received; sig.client is the name */
	const struct mpc_client_info *ci; /* NULL for a party admin */
	int party;			   /* the party of a party admin ("party:N"), else -1 */
	unsigned rights;		   /* MPC_RIGHT_* */
};

/* ---- nonce cache ----
 * Nonces of accepted requests, each remembered until its request's time plus
 * the replay window (after that the time check refuses the request anyway).
 * Open addressing with a bounded probe: a nonce lives in one of
 * API_NONCE_PROBE slots after its hash, so a lookup never scans the table,
 * and an expired slot is free again. Thread-safe. */
#define API_NONCE_PROBE 64

struct api_nonce_cache;

/* A cache of `slots` entries (rounded up to a power of two); NULL on ENOMEM. */
struct api_nonce_cache *api_nonce_cache_new(size_t slots);
void api_nonce_cache_free(struct api_nonce_cache *nc);
/* Records nonce (hex) until expiry_ms. 0 if new; MPC_EEXIST if seen and not
 * yet expired at now_ms (a replay); MPC_EUNAVAIL when its probe window is
 * full of live nonces (more requests in one window than the cache holds). */
int api_nonce_cache_add(struct api_nonce_cache *nc, const char *nonce, int64_t expiry_ms,
			int64_t now_ms);

/* ---- request check ---- */

/* Authenticates a request: the signer is known (a cluster client, or this
 * party's own admin), the signature over method, path_query and body
 * verifies, its time is within window_ms of now_ms, and its nonce is new.
 * Fills who. Returns 0; MPC_EAUTH (401: unsigned, unknown, bad signature,
 * stale, replayed); MPC_EPERM (403: another party's admin, or a party admin
 * writing); MPC_EUNAVAIL (nonce cache full). errmsg says which. */
int api_auth_check(const struct mpc_party_conf *conf, struct api_nonce_cache *nc,
		   int64_t window_ms, int64_t now_ms, const struct mpc_reqsig *sig,
		   const char *method, const char *path_query, const void *body, size_t len,
		   struct api_caller *who, char *errmsg);

/* Whether who holds right (admin holds them all); else writes a 403 text
 * "client 'bob' lacks the 'submit' right (what)" into errmsg. */
int api_auth_has(const struct api_caller *who, unsigned right, const char *what, char *errmsg);

/* The name of one MPC_RIGHT_* bit ("submit", ...). */
const char *api_right_name(unsigned right);

#endif
