/* Chunks boxed to a party with a per-client ephemeral key (common/chunkbox.c). */
#include "common/chunkbox.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
static uint8_t pk2[crypto_box_PUBLICKEYBYTES], sk2[crypto_box_SECRETKEYBYTES];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	crypto_box_keypair(pk, sk);
	crypto_box_keypair(pk2, sk2);
}

TestSuite(chunkbox, .init = setup);

/* Two chunks under one key: both open (the second from the party's cache), and
 * their boxes differ (a fresh nonce each). */
Test(chunkbox, round_trip_twice)
{
	struct mpc_chunkbox_key *k = mpc_chunkbox_key_new(pk);
	uint8_t chunk[64], b1[64 + MPC_CHUNKBOX_BYTES], b2[sizeof b1], *out = NULL;
	cr_assert_not_null(k);
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (uint8_t)(i * 7);
	cr_assert_eq(mpc_chunkbox_seal(k, b1, chunk, sizeof chunk), 0);
	cr_assert_eq(mpc_chunkbox_seal(k, b2, chunk, sizeof chunk), 0);
	cr_assert(memcmp(b1 + MPC_CHUNKBOX_EPK, b2 + MPC_CHUNKBOX_EPK,
			 sizeof b1 - MPC_CHUNKBOX_EPK) != 0);
	cr_assert_eq(mpc_chunkbox_open(b1, sizeof b1, pk, sk, &out), 0);
	cr_assert_arr_eq(out, chunk, sizeof chunk);
	cr_assert_eq(mpc_chunkbox_open(b2, sizeof b2, pk, sk, &out), 0);
	cr_assert_arr_eq(out, chunk, sizeof chunk);
	mpc_chunkbox_key_free(k);
}

/* A flipped bit, another party's key, a truncated body: refused. */
Test(chunkbox, refuses_forged_and_foreign)
{
	struct mpc_chunkbox_key *k = mpc_chunkbox_key_new(pk);
	uint8_t chunk[16] = {1, 2, 3}, b[16 + MPC_CHUNKBOX_BYTES], c[sizeof b], *out = NULL;
	cr_assert_eq(mpc_chunkbox_seal(k, b, chunk, sizeof chunk), 0);
	memcpy(c, b, sizeof b);
	c[sizeof c - 1] ^= 1;
	cr_assert_eq(mpc_chunkbox_open(c, sizeof c, pk, sk, &out), -1, "altered ciphertext");
	memcpy(c, b, sizeof b);
	cr_assert_eq(mpc_chunkbox_open(c, sizeof c, pk2, sk2, &out), -1, "another party");
	memcpy(c, b, sizeof b);
	c[0] ^= 1;
	cr_assert_eq(mpc_chunkbox_open(c, sizeof c, pk, sk, &out), -1, "altered sender key");
	cr_assert_eq(mpc_chunkbox_open(b, MPC_CHUNKBOX_BYTES - 1, pk, sk, &out), -1, "too short");
	cr_assert_eq(mpc_chunkbox_open(b, sizeof b, pk, sk, &out), 0);
	mpc_chunkbox_key_free(k);
}

/* The PRG stream of a seed chunk: deterministic, seekable to any 8-byte
 * offset (a resumed chunk), different for another seed. */
Test(chunkbox, seed_expands_deterministically_and_seeks)
{
	uint8_t seed[MPC_CHUNKSEED_SEED], seed2[MPC_CHUNKSEED_SEED], msg[MPC_CHUNKSEED_BYTES];
	uint8_t a[1000], b[1000], c[1000];
	const uint8_t *sp;
	uint64_t skip, len;

	randombytes_buf(seed, sizeof seed);
	memcpy(seed2, seed, sizeof seed2);
	seed2[0] ^= 1;
	cr_assert_eq(mpc_chunkseed_expand(seed, 0, a, sizeof a), 0);
	cr_assert_eq(mpc_chunkseed_expand(seed, 0, b, sizeof b), 0);
	cr_assert(memcmp(a, b, sizeof a) == 0, "deterministic");
	for (uint64_t off = 8; off < 64; off += 8) {
		memset(b, 0, sizeof b);
		cr_assert_eq(mpc_chunkseed_expand(seed, off, b, sizeof b - off), 0);
		cr_assert(memcmp(a + off, b, sizeof b - off) == 0, "seek to %d", (int)off);
	}
	cr_assert_eq(mpc_chunkseed_expand(seed2, 0, c, sizeof c), 0);
	cr_assert(memcmp(a, c, sizeof a) != 0, "another seed, another stream");
	mpc_chunkseed_pack(msg, seed, 24, 4096);
	cr_assert_eq(mpc_chunkseed_unpack(msg, sizeof msg, &sp, &skip, &len), 0);
	cr_assert(memcmp(sp, seed, sizeof seed) == 0 && skip == 24 && len == 4096);
	cr_assert_eq(mpc_chunkseed_unpack(msg, sizeof msg - 1, &sp, &skip, &len), -1, "too short");
}

/* A chunk altered in transit fails to open and leaves no plaintext behind. */
Test(chunkbox, failed_open_zeroes_the_plaintext)
{
	struct mpc_chunkbox_key *k = mpc_chunkbox_key_new(pk);
	uint8_t chunk[256], b[sizeof chunk + MPC_CHUNKBOX_BYTES], *out;

	memset(chunk, 0x5a, sizeof chunk);
	cr_assert_eq(mpc_chunkbox_seal(k, b, chunk, sizeof chunk), 0);
	b[sizeof b - 1] ^= 1;
	cr_assert_eq(mpc_chunkbox_open(b, sizeof b, pk, sk, &out), -1);
	for (size_t i = MPC_CHUNKBOX_BYTES; i < sizeof b; i++)
		cr_assert_eq(b[i], 0, "byte %zu left", i);
	mpc_chunkbox_key_free(k);
}
