/* Signed client requests (DESIGN.md §6): the canonical string, Ed25519 signing and verification. */
#ifndef MPC_COMMON_REQSIG_H
#define MPC_COMMON_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

#define MPC_REQSIG_HDR_CLIENT "X-Mpc-Client"
#define MPC_REQSIG_HDR_TIME "X-Mpc-Time"
#define MPC_REQSIG_HDR_NONCE "X-Mpc-Nonce"
#define MPC_REQSIG_HDR_SIG "X-Mpc-Sig"
#define MPC_REQSIG_NONCE_BYTES 16
#define MPC_REQSIG_NONCE_HEX (2 * MPC_REQSIG_NONCE_BYTES)
#define MPC_REQSIG_SIG_B64 96 /* base64 of a 64-byte Ed25519 signature, with NUL */
/* The identity of a party's own administrator (mpcstore-tool -c mpcd.conf):
 * "party:N", signed with party N's key; ':' never occurs in a client name. */
#define MPC_REQSIG_PARTY_PREFIX "party:"

/* The signature headers of one request. */
struct mpc_reqsig {
	char client[MPC_NAME_MAX];
	int64_t time_ms; /* unix time of signing, milliseconds */
	char nonce[MPC_REQSIG_NONCE_HEX + 1];
	char sig[MPC_REQSIG_SIG_B64];
};

/* Writes the canonical string of a request into out (NUL-terminated) and
 * returns its length, or 0 if it does not fit:
 *   mpcstore-req-v2\nCLUSTER_ID\nMETHOD\nPATH?QUERY\nTIME_MS\nNONCE\nhex(SHA-256(body))
 * body may be NULL when len is 0. */
size_t mpc_reqsig_canonical(char *out, size_t size, const char *cluster_id_hex, const char *method,
			    const char *path_query, int64_t time_ms, const char *nonce,
			    const void *body, size_t len);

/* out = SHA-256 of the two parts a then b (b may be NULL when blen is 0),
 * through OpenSSL with the digest fetched once per process (an implicit
 * fetch per call costs as much as hashing a small request). 0 or
 * MPC_ENOMEM. */
int mpc_reqsig_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]);

/* Signs a request as client with sign_sk (64 bytes), at the current time
 * with a fresh random nonce; fills out. 0 or MPC_EINVAL (too long). */
int mpc_reqsig_sign(const uint8_t *sign_sk, const char *client, const char *cluster_id_hex,
		    const char *method, const char *path_query, const void *body, size_t len,
		    struct mpc_reqsig *out);

/* Checks sig->sig over the request with sign_pk (32 bytes): 0, MPC_EINVAL
 * (malformed nonce or signature encoding) or MPC_EPERM (wrong signature);
 * errmsg says which. Does not look at the time or the nonce's freshness. */
int mpc_reqsig_verify(const uint8_t *sign_pk, const char *cluster_id_hex, const char *method,
		      const char *path_query, const void *body, size_t len,
		      const struct mpc_reqsig *sig, char *errmsg);

/* The public key that signs as `client` in cluster c: a [client.NAME] of the
 * cluster file, or party N for "party:N" (*party set to N, else -1). NULL if unknown. */
const uint8_t *mpc_reqsig_signer(const struct mpc_cluster *c, const char *client, int *party);

#endif
