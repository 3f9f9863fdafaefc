/* Share chunks boxed to a party: one X25519 exchange per client and party, not per chunk.
 *
 * A body is epk (32) || nonce (12) || tag (16) || AES-256-GCM(chunk): epk is
 * the sender's ephemeral X25519 key, made once per client and party
 * (mpc_chunkbox_key_new) instead of once per chunk as crypto_box_seal does;
 * the AES key is BLAKE2b-derived from the X25519 shared key; the nonce is
 * random per chunk (96 bits: far below the 2^32 chunks per key that random
 * GCM nonces allow). Only the party's box_sk opens it. The party keeps the
 * key it derived for a recent epk (mpc_chunkbox_open), so a chunk costs a
 * symmetric open instead of a scalar multiplication on both sides. AES-GCM
 * through OpenSSL (AES-NI) runs ~2.9 GB/s here against ~1 GB/s for
 * XSalsa20-Poly1305 (DESIGN.md §11).
 *
 * Seed chunks (seed-compressed shares, as in SPDZ-family input protocols):
 * a party other than the first may get, instead of len bytes of shares, a
 * boxed MPC_CHUNKSEED_BYTES message seed (32) || skip (u64 LE) || len (u64 LE)
 * and expands its shares itself: bytes [skip, skip + len) of the PRG stream
 * of seed (mpc_chunkseed_expand, AES-256-CTR keyed by the seed). The client
 * draws a fresh seed per chunk and party with libsodium's randombytes. */
#ifndef MPC_COMMON_CHUNKBOX_H
#define MPC_COMMON_CHUNKBOX_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_CHUNKBOX_EPK   crypto_box_PUBLICKEYBYTES
#define MPC_CHUNKBOX_NONCE 12
#define MPC_CHUNKBOX_TAG   16
#define MPC_CHUNKBOX_BYTES (MPC_CHUNKBOX_EPK + MPC_CHUNKBOX_NONCE + MPC_CHUNKBOX_TAG)

#define MPC_CHUNKSEED_SEED  32
#define MPC_CHUNKSEED_BYTES (MPC_CHUNKSEED_SEED + 8 + 8)

struct mpc_chunkbox_key; /* sodium_malloc'd: the shared key opens every chunk sent with it */

/* A fresh ephemeral key for chunks to the party with X25519 key party_pk;
 * NULL when out of memory or party_pk is not a usable key. */
struct mpc_chunkbox_key *mpc_chunkbox_key_new(const uint8_t *party_pk);
void mpc_chunkbox_key_free(struct mpc_chunkbox_key *k); /* zeroes; NULL is fine */

/* out (len + MPC_CHUNKBOX_BYTES bytes, not overlapping chunk) = the boxed chunk.
 * Returns 0, or -1 when OpenSSL fails (out of memory). */
int mpc_chunkbox_seal(const struct mpc_chunkbox_key *k, uint8_t *out, const uint8_t *chunk,
		      size_t len);

/* Opens body (blen bytes) in place with the party's keys: on success returns 0
 * and the chunk is at *chunk (inside body), blen - MPC_CHUNKBOX_BYTES bytes.
 * Returns -1 when body is not a chunk boxed to box_pk (too short, forged,
 * altered or for another key). Thread-safe. */
int mpc_chunkbox_open(uint8_t *body, size_t blen, const uint8_t *box_pk, const uint8_t *box_sk,
		      uint8_t **chunk);

/* msg (MPC_CHUNKSEED_BYTES) = the seed chunk message for bytes [skip, skip + len)
 * of seed's stream. */
void mpc_chunkseed_pack(uint8_t *msg, const uint8_t *seed, uint64_t skip, uint64_t len);

/* Parses a seed chunk message of mlen bytes; -1 when mlen is not
 * MPC_CHUNKSEED_BYTES. *seed points into msg. */
int mpc_chunkseed_unpack(const uint8_t *msg, size_t mlen, const uint8_t **seed, uint64_t *skip,
			 uint64_t *len);

/* out (len bytes) = bytes [skip, skip + len) of the PRG stream of seed
 * (MPC_CHUNKSEED_SEED bytes): AES-256-CTR keyed by seed, counter from 0,
 * big-endian. Returns 0, or -1 when OpenSSL fails (out of memory). */
int mpc_chunkseed_expand(const uint8_t *seed, uint64_t skip, void *out, size_t len);

#endif
