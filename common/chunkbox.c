/* Share chunks boxed to a party with a per-client ephemeral key, and seed chunks (see chunkbox.h). */
#include "common/chunkbox.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define AES_KEY_BYTES 32
#define EVP_PIECE     ((size_t)1 << 30) /* EVP lengths are int */

static const char kdf_label[] = "mpcstore chunkbox AES-256-GCM v1";

static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm, *ctr; /* fetched once, live with the process */

static void cipher_init(void)
{
	gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
}

static int ciphers(void)
{
	pthread_once(&cipher_once, cipher_init);
	return gcm != NULL && ctr != NULL ? 0 : -1;
}

/* The AES key of a chunk key: BLAKE2b keyed by the X25519 shared key over a label. */
static void aes_key(uint8_t *out, const uint8_t *shared)
{
	crypto_generichash(out, AES_KEY_BYTES, (const uint8_t *)kdf_label, sizeof kdf_label - 1,
			   shared, crypto_box_BEFORENMBYTES);
}

struct mpc_chunkbox_key {
	uint8_t epk[crypto_box_PUBLICKEYBYTES];
	uint8_t k[AES_KEY_BYTES];
};

struct mpc_chunkbox_key *mpc_chunkbox_key_new(const uint8_t *party_pk)
{
	struct mpc_chunkbox_key *k = sodium_malloc(sizeof *k);
	uint8_t esk[crypto_box_SECRETKEYBYTES], shared[crypto_box_BEFORENMBYTES];
	int rv;

	if (k == NULL)
		return NULL;
	crypto_box_keypair(k->epk, esk);
	rv = crypto_box_beforenm(shared, party_pk, esk);
	sodium_memzero(esk, sizeof esk); /* the sender never needs it again */
	if (rv == 0)
		aes_key(k->k, shared);
	sodium_memzero(shared, sizeof shared);
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

/* out = in (len bytes, may be the same buffer) through ctx, in EVP-sized pieces. */
static int evp_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	for (size_t done = 0; done < len;) {
		size_t n = len - done < EVP_PIECE ? len - done : EVP_PIECE;
		int outl;
		if (EVP_CipherUpdate(ctx, out + done, &outl, in + done, (int)n) != 1 ||
		    (size_t)outl != n)
			return -1;
		done += n;
	}
	return 0;
}

int mpc_chunkbox_seal(const struct mpc_chunkbox_key *k, uint8_t *out, const uint8_t *chunk,
		      size_t len)
{
	uint8_t *nonce = out + MPC_CHUNKBOX_EPK, *tag = nonce + MPC_CHUNKBOX_NONCE;
	EVP_CIPHER_CTX *ctx;
	int outl, rv = -1;

	if (ciphers() != 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	memcpy(out, k->epk, sizeof k->epk);
	randombytes_buf(nonce, MPC_CHUNKBOX_NONCE);
	if (EVP_EncryptInit_ex2(ctx, gcm, k->k, nonce, NULL) == 1 &&
	    evp_update(ctx, tag + MPC_CHUNKBOX_TAG, chunk, len) == 0 &&
	    EVP_EncryptFinal_ex(ctx, tag, &outl) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, MPC_CHUNKBOX_TAG, tag) == 1)
		rv = 0;
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	return rv;
}

/* The party's side: keys derived for the last CACHE_SLOTS ephemeral keys (one
 * per client connection and party in practice), replaced round robin. */
#define CACHE_SLOTS 64

struct cache_slot {
	uint8_t epk[crypto_box_PUBLICKEYBYTES];
	uint8_t pk[crypto_box_PUBLICKEYBYTES]; /* the party's own key it was derived with */
	uint8_t k[AES_KEY_BYTES];
	int used;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_slot *cache; /* sodium_malloc'd, CACHE_SLOTS, lives with the process */
static unsigned cache_next;

/* k = the AES key for epk with the party's keys, from the cache or derived. */
static int shared_key(const uint8_t *epk, const uint8_t *box_pk, const uint8_t *box_sk,
		      uint8_t *k)
{
	uint8_t shared[crypto_box_BEFORENMBYTES];

	pthread_mutex_lock(&cache_lock);
	if (cache == NULL && (cache = sodium_malloc(CACHE_SLOTS * sizeof *cache)) != NULL)
		memset(cache, 0, CACHE_SLOTS * sizeof *cache);
	for (unsigned i = 0; cache != NULL && i < CACHE_SLOTS; i++)
		if (cache[i].used && memcmp(cache[i].epk, epk, sizeof cache[i].epk) == 0 &&
		    memcmp(cache[i].pk, box_pk, sizeof cache[i].pk) == 0) {
			memcpy(k, cache[i].k, AES_KEY_BYTES);
			pthread_mutex_unlock(&cache_lock);
			return 0;
		}
	pthread_mutex_unlock(&cache_lock);
	if (crypto_box_beforenm(shared, epk, box_sk) != 0)
		return -1; /* a low-order point */
	aes_key(k, shared);
	sodium_memzero(shared, sizeof shared);
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
	uint8_t k[AES_KEY_BYTES], *nonce, *tag, *c;
	EVP_CIPHER_CTX *ctx;
	size_t len;
	int outl, rv = -1;

	if (blen < MPC_CHUNKBOX_BYTES || ciphers() != 0 || shared_key(body, box_pk, box_sk, k) != 0)
		return -1;
	nonce = body + MPC_CHUNKBOX_EPK;
	tag = nonce + MPC_CHUNKBOX_NONCE;
	c = tag + MPC_CHUNKBOX_TAG;
	len = blen - MPC_CHUNKBOX_BYTES;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		sodium_memzero(k, sizeof k);
		return -1;
	}
	/* In place: the plaintext exactly over the ciphertext, no second buffer. */
	if (EVP_DecryptInit_ex2(ctx, gcm, k, nonce, NULL) == 1 && evp_update(ctx, c, c, len) == 0 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, MPC_CHUNKBOX_TAG, tag) == 1 &&
	    EVP_DecryptFinal_ex(ctx, c + len, &outl) == 1)
		rv = 0;
	EVP_CIPHER_CTX_free(ctx);
	sodium_memzero(k, sizeof k);
	if (rv != 0) {
		sodium_memzero(c, len); /* an altered body of a real chunk decrypts to its shares */
		return -1;
	}
	*chunk = c;
	return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void mpc_chunkseed_pack(uint8_t *msg, const uint8_t *seed, uint64_t skip, uint64_t len)
{
	memcpy(msg, seed, MPC_CHUNKSEED_SEED);
	put_le64(msg + MPC_CHUNKSEED_SEED, skip);
	put_le64(msg + MPC_CHUNKSEED_SEED + 8, len);
}

int mpc_chunkseed_unpack(const uint8_t *msg, size_t mlen, const uint8_t **seed, uint64_t *skip,
			 uint64_t *len)
{
	if (mlen != MPC_CHUNKSEED_BYTES)
		return -1;
	*seed = msg;
	*skip = get_le64(msg + MPC_CHUNKSEED_SEED);
	*len = get_le64(msg + MPC_CHUNKSEED_SEED + 8);
	return 0;
}

static const uint8_t zeros[16384];

int mpc_chunkseed_expand(const uint8_t *seed, uint64_t skip, void *out, size_t len)
{
	uint8_t iv[16] = {0}, block[16] = {0}, *o = out;
	uint64_t ctr_block = skip / 16;
	size_t head = (size_t)(skip % 16);
	EVP_CIPHER_CTX *ctx;
	int rv = -1;

	if (ciphers() != 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		iv[15 - i] = (uint8_t)(ctr_block >> (8 * i));
	if (EVP_EncryptInit_ex2(ctx, ctr, seed, iv, NULL) != 1)
		goto out;
	if (head != 0) { /* skip falls inside a block: drop its first head bytes */
		size_t n = 16 - head < len ? 16 - head : len;
		if (evp_update(ctx, block, block, sizeof block) != 0)
			goto out;
		memcpy(o, block + head, n);
		o += n;
		len -= n;
	}
	/* The keystream is the encryption of zeros: from a zero page, not a
	 * memset of out first (one pass over out instead of two). */
	rv = 0;
	for (size_t done = 0; done < len && rv == 0;) {
		size_t n = len - done < sizeof zeros ? len - done : sizeof zeros;
		rv = evp_update(ctx, o + done, zeros, n);
		done += n;
	}
out:
	sodium_memzero(block, sizeof block);
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}
