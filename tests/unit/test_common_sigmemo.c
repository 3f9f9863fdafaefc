/* Ed25519 with a memo of known-good triples (common/sigmemo.c). */
#include "common/sigmemo.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

static uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
static uint8_t pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
}

TestSuite(sigmemo, .init = setup);

/* What it signs verifies (from the memo), and is a real signature. */
Test(sigmemo, signed_verifies)
{
	const uint8_t msg[] = "vote: txn 1, party 0, 5 rows";
	uint8_t sig[crypto_sign_BYTES];
	mpc_sigmemo_sign(sig, msg, sizeof msg, sk);
	cr_assert_eq(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk), 0);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk), 0);
}

/* A remembered signature proves nothing for another message, key or signature. */
Test(sigmemo, memo_binds_message_key_and_signature)
{
	uint8_t msg[] = "vote: txn 2, party 1, 7 rows", sig[crypto_sign_BYTES],
		other[crypto_sign_BYTES];
	mpc_sigmemo_sign(sig, msg, sizeof msg, sk);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk2), -1, "another key");
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg - 1, pk), -1, "shorter message");
	memcpy(other, sig, sizeof sig);
	other[5] ^= 1;
	cr_assert_eq(mpc_sigmemo_verify(other, msg, sizeof msg, pk), -1, "altered signature");
	msg[7] ^= 1;
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk), -1, "altered message");
	cr_assert_eq(mpc_sigmemo_verify(other, msg, sizeof msg, pk), -1, "still bad");
}

/* Signatures made elsewhere verify in full and then from the memo; forged ones never. */
Test(sigmemo, foreign_signatures)
{
	const uint8_t msg[] = "begin";
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, msg, sizeof msg, sk2);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk2), 0);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk2), 0);
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk), -1);
	for (int i = 0; i < 2000; i++) { /* fills every slot many times over */
		uint8_t m[8] = {0}, s[crypto_sign_BYTES];
		memcpy(m, &i, sizeof i);
		mpc_sigmemo_sign(s, m, sizeof m, sk);
	}
	cr_assert_eq(mpc_sigmemo_verify(sig, msg, sizeof msg, pk2), 0, "evicted: verified again");
}
