/* Share chunks boxed to a party with a per-client ephemeral key (see chunkbox.h). */
#include "common/chunkbox.h"

#include <pthread.h>
#include <string.h>

struct mpc_chunkbox_key {
	uint8_t epk[crypto_box_PUBLICKEYBYTES];
	uint8_t k[crypto_box_BEFORENMBYTES];
};

struct mpc_chunkbox_key *mpc_chunkbox_key_new(const uint8_t *party_pk)
{
	struct mpc_chunkbox_key *k = sodium_malloc(sizeof *k);
	uint8_t esk[crypto_box_SECRETKEYBYTES];
	int rv;

	if (k == NULL)
		return NULL;
	crypto_box_keypair(k->epk, esk);
	rv = crypto_box_beforenm(k->k, party_pk, esk);
	sodium_memzero(esk, sizeof esk); /* the sender never needs it again */
	if (rv != 0) {
		sodium_free(k);
		return NULL;
	}
	return k;
}

void mpc_chunkbox_key_free(struct mpc_chunkbox_key *k)
{
	if (k != NULL)
		sodium_free(k); /* zeroes */
}

void mpc_chunkbox_seal(const struct mpc_chunkbox_key *k, uint8_t *out, const uint8_t *chunk,
		       size_t len)
{
	uint8_t *nonce = out + crypto_box_PUBLICKEYBYTES;
	memcpy(out, k->epk, sizeof k->epk);
	randombytes_buf(nonce, crypto_box_NONCEBYTES);
	crypto_box_easy_afternm(nonce + crypto_box_NONCEBYTES, chunk, len, nonce, k->k);
}

/* The party's side: keys derived for the last CACHE_SLOTS ephemeral keys (one
 * per client connection and party in practice), replaced round robin. */
#define CACHE_SLOTS 64

struct cache_slot {
	uint8_t epk[crypto_box_PUBLICKEYBYTES];
	uint8_t pk[crypto_box_PUBLICKEYBYTES]; /* the party's own key it was derived with */
	uint8_t k[crypto_box_BEFORENMBYTES];
	int used;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_slot *cache; /* sodium_malloc'd, CACHE_SLOTS, lives with the process */
static unsigned cache_next;

/* k = the shared key for epk with the party's keys, from the cache or derived. */
static int shared_key(const uint8_t *epk, const uint8_t *box_pk, const uint8_t *box_sk,
		      uint8_t *k)
{
	pthread_mutex_lock(&cache_lock);
	if (cache == NULL && (cache = sodium_malloc(CACHE_SLOTS * sizeof *cache)) != NULL)
		memset(cache, 0, CACHE_SLOTS * sizeof *cache);
	for (unsigned i = 0; cache != NULL && i < CACHE_SLOTS; i++)
		if (cache[i].used && memcmp(cache[i].epk, epk, sizeof cache[i].epk) == 0 &&
		    memcmp(cache[i].pk, box_pk, sizeof cache[i].pk) == 0) {
			memcpy(k, cache[i].k, crypto_box_BEFORENMBYTES);
			pthread_mutex_unlock(&cache_lock);
			return 0;
		}
	pthread_mutex_unlock(&cache_lock);
	if (crypto_box_beforenm(k, epk, box_sk) != 0)
		return -1; /* a low-order point */
	pthread_mutex_lock(&cache_lock);
	if (cache != NULL) {
		struct cache_slot *s = &cache[cache_next++ % CACHE_SLOTS];
		memcpy(s->epk, epk, sizeof s->epk);
		memcpy(s->pk, box_pk, sizeof s->pk);
		memcpy(s->k, k, sizeof s->k);
		s->used = 1;
	}
	pthread_mutex_unlock(&cache_lock);
	return 0;
}

int mpc_chunkbox_open(uint8_t *body, size_t blen, const uint8_t *box_pk, const uint8_t *box_sk,
		      uint8_t **chunk)
{
	uint8_t k[crypto_box_BEFORENMBYTES], *nonce = body + crypto_box_PUBLICKEYBYTES;
	uint8_t *c = nonce + crypto_box_NONCEBYTES;
	int rv;

	if (blen < MPC_CHUNKBOX_BYTES || shared_key(body, box_pk, box_sk, k) != 0)
		return -1;
	/* In place, the plaintext exactly over the ciphertext (after the MAC): the
	 * easy API would put it 16 bytes earlier, which costs a memmove of the
	 * whole chunk inside libsodium. */
	rv = crypto_box_open_detached_afternm(c + crypto_box_MACBYTES, c + crypto_box_MACBYTES, c,
					      blen - MPC_CHUNKBOX_BYTES, nonce, k);
	sodium_memzero(k, sizeof k);
	if (rv != 0)
		return -1;
	*chunk = c + crypto_box_MACBYTES;
	return 0;
}
