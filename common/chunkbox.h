/* Share chunks boxed to a party: one X25519 exchange per client and party, not per chunk.
 *
 * A body is epk (32) || nonce (24) || crypto_box_easy_afternm(chunk) (MAC 16 + chunk):
 * epk is the sender's ephemeral X25519 key, made once per client and party
 * (mpc_chunkbox_key_new) instead of once per chunk as crypto_box_seal does;
 * the nonce is random per chunk. Only the party's box_sk opens it. The party
 * keeps the key it derived for a recent epk (mpc_chunkbox_open), so a chunk
 * costs a symmetric open instead of a scalar multiplication on both sides. */
#ifndef MPC_COMMON_CHUNKBOX_H
#define MPC_COMMON_CHUNKBOX_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_CHUNKBOX_EPK   crypto_box_PUBLICKEYBYTES
#define MPC_CHUNKBOX_BYTES (crypto_box_PUBLICKEYBYTES + crypto_box_NONCEBYTES + crypto_box_MACBYTES)

struct mpc_chunkbox_key; /* sodium_malloc'd: the shared key opens every chunk sent with it */

/* A fresh ephemeral key for chunks to the party with X25519 key party_pk;
 * NULL when out of memory or party_pk is not a usable key. */
struct mpc_chunkbox_key *mpc_chunkbox_key_new(const uint8_t *party_pk);
void mpc_chunkbox_key_free(struct mpc_chunkbox_key *k); /* zeroes; NULL is fine */

/* out (len + MPC_CHUNKBOX_BYTES bytes, not overlapping chunk) = the boxed chunk. */
void mpc_chunkbox_seal(const struct mpc_chunkbox_key *k, uint8_t *out, const uint8_t *chunk,
		       size_t len);

/* Opens body (blen bytes) in place with the party's keys: on success returns 0
 * and the chunk is at *chunk (inside body), blen - MPC_CHUNKBOX_BYTES bytes.
 * Returns -1 when body is not a chunk boxed to box_pk (too short, forged,
 * altered or for another key). Thread-safe. */
int mpc_chunkbox_open(uint8_t *body, size_t blen, const uint8_t *box_pk, const uint8_t *box_sk,
		      uint8_t **chunk);

#endif
