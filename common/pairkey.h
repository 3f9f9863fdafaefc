/* Pairwise MAC keys between the parties of a cluster, derived from their static X25519 keys. */
#ifndef MPC_COMMON_PAIRKEY_H
#define MPC_COMMON_PAIRKEY_H

#include "common/conf.h"

#include <stddef.h>
#include <stdint.h>

#define MPC_PAIRKEY_BYTES   32 /* crypto_generichash_BYTES */
#define MPC_PAIRKEY_TAG_HEX (2 * MPC_PAIRKEY_BYTES)

/* The keys of one party with every party j of its cluster:
 *   K_ij = BLAKE2b-256(key = X25519(sk_i, pk_j), "mpcstore-party-mac|cluster|min|max").
 * Both parties of a pair derive the same key from their static keys, so a
 * message between them is authenticated by a keyed hash (~1 us) instead of an
 * Ed25519 signature and verification (~55 us). K_ii exists too (a party's tag
 * for itself). */
struct mpc_pairkeys {
	int n;                             /* parties */
	uint8_t (*key)[MPC_PAIRKEY_BYTES]; /* n keys, sodium_malloc'd */
};

/* Derives party_id's keys with every party of c from its box_sk. Caller frees
 * with mpc_pairkeys_free(). 0, MPC_ENOMEM, or MPC_ECRYPTO (a party's box_pk is
 * a low-order point). */
int mpc_pairkeys_derive(struct mpc_pairkeys *pk, const struct mpc_cluster *c, int party_id,
			const uint8_t *box_sk);
/* Zeroes and frees the keys; pk may be already freed or zeroed. */
void mpc_pairkeys_free(struct mpc_pairkeys *pk);

/* hex (MPC_PAIRKEY_TAG_HEX + 1 bytes) = BLAKE2b-256(key = K_{self,party}, msg). */
void mpc_pairkeys_tag(const struct mpc_pairkeys *pk, int party, const void *msg, size_t len,
		      char *hex);
/* 0 when hex is the tag of msg under K_{self,party}, else -1 (also for an
 * unknown party, no keys, or a malformed tag). Constant time in the tag. */
int mpc_pairkeys_check(const struct mpc_pairkeys *pk, int party, const void *msg, size_t len,
		       const char *hex);

#endif
