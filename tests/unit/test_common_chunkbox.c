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
	mpc_chunkbox_seal(k, b1, chunk, sizeof chunk);
	mpc_chunkbox_seal(k, b2, chunk, sizeof chunk);
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
	mpc_chunkbox_seal(k, b, chunk, sizeof chunk);
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
