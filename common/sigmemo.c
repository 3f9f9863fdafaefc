/* Ed25519 signing and verification with a memo of known-good triples (see sigmemo.h). */
#include "common/sigmemo.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* Direct-mapped by the digest's first bytes: a collision only evicts. */
#define MEMO_SLOTS 1024

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t memo[MEMO_SLOTS][crypto_generichash_BYTES];

static void triple_digest(uint8_t *out, const uint8_t *sig, const uint8_t *msg, size_t mlen,
			  const uint8_t *pk)
{
	crypto_generichash_state st;
	uint64_t len = mlen;
	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
	crypto_generichash_update(&st, sig, crypto_sign_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)&len, sizeof len);
	crypto_generichash_update(&st, msg, mlen);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

static size_t slot_of(const uint8_t *d)
{
	return ((size_t)d[0] | (size_t)d[1] << 8) % MEMO_SLOTS;
}

static void memo_put(const uint8_t *d)
{
	pthread_mutex_lock(&memo_lock);
	memcpy(memo[slot_of(d)], d, crypto_generichash_BYTES);
	pthread_mutex_unlock(&memo_lock);
}

void mpc_sigmemo_sign(uint8_t *sig, const uint8_t *msg, size_t mlen, const uint8_t *sk)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], d[crypto_generichash_BYTES];
	crypto_sign_detached(sig, NULL, msg, mlen, sk);
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	triple_digest(d, sig, msg, mlen, pk);
	memo_put(d);
}

int mpc_sigmemo_verify(const uint8_t *sig, const uint8_t *msg, size_t mlen, const uint8_t *pk)
{
	uint8_t d[crypto_generichash_BYTES];
	int hit;

	triple_digest(d, sig, msg, mlen, pk);
	pthread_mutex_lock(&memo_lock);
	hit = sodium_memcmp(memo[slot_of(d)], d, sizeof d) == 0;
	pthread_mutex_unlock(&memo_lock);
	if (hit)
		return 0;
	if (crypto_sign_verify_detached(sig, msg, mlen, pk) != 0)
		return -1;
	memo_put(d);
	return 0;
}
