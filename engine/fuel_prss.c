/* prss generator: AES-128-CTR pseudo-random replicated sharing for 3 parties (Araki et al. 2016, ABY3). */
#include "engine/fuel_prss.h"

#include "common/err.h"

#include <endian.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* PRF labels; each is its own AES key, hence its own index space. */
enum prss_label {
	PRSS_A,    /* triple a components */
	PRSS_B,    /* triple b components */
	PRSS_Z,    /* zero sharing inside triple c */
	PRSS_SA,   /* square-pair a components */
	PRSS_SZ,   /* zero sharing inside square-pair c */
	PRSS_ZERO, /* engine_prss_zeros() */
	PRSS_TR,   /* truncation mask rho */
	PRSS_TS,   /* truncation blinding sigma */
	PRSS_TZ,   /* zero sharing of truncation outputs */
	PRSS_NLABELS
};

enum prss_which { PRSS_PREV, PRSS_NEXT }; /* K_i, K_{i+1} of party i */

#define PRSS_AES_KEY_BYTES 16
#define PRSS_KDF_CONTEXT "mpcprss1"
/* Words per keystream call: 8 KiB per stream keeps a chunk's working set
 * (up to six streams) in L1/L2 between generation and use. */
#define PRSS_CHUNK 1024
#define PRSS_MAX_STREAMS 6

struct prss_keys {
	uint8_t aes[2][PRSS_NLABELS][PRSS_AES_KEY_BYTES];
};

struct engine_prss {
	int party;
	EVP_CIPHER *aes;	/* AES-128-CTR, fetched once */
	struct prss_keys *keys; /* sodium_malloc'd */
};

/* The keystreams one call reads; each continues across chunks. */
struct prss_streams {
	EVP_CIPHER_CTX *ctx[PRSS_MAX_STREAMS];
	int n;
};

int engine_prss_new(struct engine_prss **out, int party,
		    const uint8_t key_prev[ENGINE_PRSS_KEY_BYTES],
		    const uint8_t key_next[ENGINE_PRSS_KEY_BYTES])
{
	const uint8_t *master[2] = {key_prev, key_next};
	struct engine_prss *p;
	int rv = MPC_ENOMEM;

	*out = NULL;
	if (party < 0 || party > 2)
		return MPC_EINVAL;
	if (sodium_init() < 0)
		return MPC_ECRYPTO;
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return MPC_ENOMEM;
	p->party = party;
	p->keys = sodium_malloc(sizeof *p->keys);
	if (p->keys == NULL)
		goto err_free;
	rv = MPC_ECRYPTO;
	p->aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	if (p->aes == NULL)
		goto err_free;
	for (int w = 0; w < 2; w++) {
		for (int l = 0; l < PRSS_NLABELS; l++) {
			if (crypto_kdf_derive_from_key(
				    p->keys->aes[w][l], PRSS_AES_KEY_BYTES,
				    (uint64_t)l, PRSS_KDF_CONTEXT,
				    master[w]) != 0)
				goto err_free;
		}
	}
	*out = p;
	return 0;

err_free:
	engine_prss_free(p);
	return rv;
}

void engine_prss_free(struct engine_prss *p)
{
	if (p == NULL)
		return;
	if (p->keys != NULL) {
		sodium_memzero(p->keys, sizeof *p->keys);
		sodium_free(p->keys);
	}
	EVP_CIPHER_free(p->aes);
	free(p);
}

int engine_prss_party(const struct engine_prss *p)
{
	return p->party;
}

static void prss_streams_close(struct prss_streams *s)
{
	for (int k = 0; k < s->n; k++)
		EVP_CIPHER_CTX_free(s->ctx[k]); /* cleanses the key schedule */
	s->n = 0;
}

/*
 * Opens stream s->n for F(K_which, label, t) positioned at word t0: the
 * counter block is t0/2 and an odd t0 skips the first half block.
 */
static int prss_stream_add(const struct engine_prss *p, struct prss_streams *s,
			   enum prss_which which, enum prss_label label,
			   uint64_t t0)
{
	uint8_t iv[16] = {0};
	uint8_t skip[8] = {0};
	uint64_t block = t0 >> 1;
	EVP_CIPHER_CTX *ctx;
	int len;

	for (int k = 0; k < 8; k++)
		iv[15 - k] = (uint8_t)(block >> (8 * k));
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return MPC_ENOMEM;
	s->ctx[s->n++] = ctx;
	if (EVP_EncryptInit_ex2(ctx, p->aes, p->keys->aes[which][label], iv,
				NULL) != 1)
		return MPC_ECRYPTO;
	if ((t0 & 1) != 0) {
		if (EVP_EncryptUpdate(ctx, skip, &len, skip, sizeof skip) != 1 ||
		    len != (int)sizeof skip)
			return MPC_ECRYPTO;
		sodium_memzero(skip, sizeof skip);
	}
	return 0;
}

/* Next n (<= PRSS_CHUNK) words of a stream into out. */
static int prss_stream_words(EVP_CIPHER_CTX *ctx, uint64_t *out, size_t n)
{
	int len, want = (int)(n * sizeof *out);

	memset(out, 0, n * sizeof *out); /* keystream = E(0) in CTR mode */
	if (EVP_EncryptUpdate(ctx, (unsigned char *)out, &len,
			      (unsigned char *)out, want) != 1 ||
	    len != want)
		return MPC_ECRYPTO;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t k = 0; k < n; k++)
		out[k] = le64toh(out[k]);
#endif
	return 0;
}

static int prss_open(const struct engine_prss *p, struct prss_streams *s,
		     uint64_t t0, size_t n, int count,
		     const enum prss_which which[],
		     const enum prss_label label[])
{
	int rv = engine_fuel_check_range(t0, n);

	s->n = 0;
	for (int k = 0; k < count && rv == 0; k++)
		rv = prss_stream_add(p, s, which[k], label[k], t0);
	if (rv != 0)
		prss_streams_close(s);
	return rv;
}

int engine_prss_triples(const struct engine_prss *p, uint64_t t0, size_t n,
			uint64_t *a, uint64_t *b, uint64_t *c)
{
	static const enum prss_which which[6] = {PRSS_PREV, PRSS_NEXT,
						 PRSS_PREV, PRSS_NEXT,
						 PRSS_NEXT, PRSS_PREV};
	static const enum prss_label label[6] = {PRSS_A, PRSS_A, PRSS_B,
						 PRSS_B, PRSS_Z, PRSS_Z};
	uint64_t a_next[PRSS_CHUNK], b_next[PRSS_CHUNK], z_prev[PRSS_CHUNK];
	struct prss_streams s;
	size_t m;
	int rv;

	if (n == 0)
		return engine_fuel_check_range(t0, n);
	rv = prss_open(p, &s, t0, n, 6, which, label);
	if (rv != 0)
		return rv;
	for (size_t off = 0; off < n && rv == 0; off += m) {
		uint64_t *ai = a + off, *bi = b + off, *ci = c + off;

		m = n - off < PRSS_CHUNK ? n - off : PRSS_CHUNK;
		if ((rv = prss_stream_words(s.ctx[0], ai, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[1], a_next, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[2], bi, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[3], b_next, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[4], ci, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[5], z_prev, m)) != 0)
			break;
		/* c_i = a_i b_i + a_i b_{i+1} + a_{i+1} b_i + z_{i+1} - z_i */
		for (size_t k = 0; k < m; k++)
			ci[k] += ai[k] * (bi[k] + b_next[k]) +
				 a_next[k] * bi[k] - z_prev[k];
	}
	prss_streams_close(&s);
	sodium_memzero(a_next, sizeof a_next);
	sodium_memzero(b_next, sizeof b_next);
	sodium_memzero(z_prev, sizeof z_prev);
	return rv;
}

int engine_prss_squares(const struct engine_prss *p, uint64_t t0, size_t n,
			uint64_t *a, uint64_t *c)
{
	static const enum prss_which which[4] = {PRSS_PREV, PRSS_NEXT,
						 PRSS_NEXT, PRSS_PREV};
	static const enum prss_label label[4] = {PRSS_SA, PRSS_SA, PRSS_SZ,
						 PRSS_SZ};
	uint64_t a_next[PRSS_CHUNK], z_prev[PRSS_CHUNK];
	struct prss_streams s;
	size_t m;
	int rv;

	if (n == 0)
		return engine_fuel_check_range(t0, n);
	rv = prss_open(p, &s, t0, n, 4, which, label);
	if (rv != 0)
		return rv;
	for (size_t off = 0; off < n && rv == 0; off += m) {
		uint64_t *ai = a + off, *ci = c + off;

		m = n - off < PRSS_CHUNK ? n - off : PRSS_CHUNK;
		if ((rv = prss_stream_words(s.ctx[0], ai, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[1], a_next, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[2], ci, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[3], z_prev, m)) != 0)
			break;
		/* c_i = a_i^2 + 2 a_i a_{i+1} + z_{i+1} - z_i */
		for (size_t k = 0; k < m; k++)
			ci[k] += ai[k] * (ai[k] + 2 * a_next[k]) - z_prev[k];
	}
	prss_streams_close(&s);
	sodium_memzero(a_next, sizeof a_next);
	sodium_memzero(z_prev, sizeof z_prev);
	return rv;
}

/* out = F(K_{i+1}, label) - F(K_i, label) over [t0, t0 + n). */
static int prss_zero_sharing(const struct engine_prss *p,
			     enum prss_label lbl, uint64_t t0, size_t n,
			     uint64_t *out)
{
	const enum prss_which which[2] = {PRSS_NEXT, PRSS_PREV};
	const enum prss_label label[2] = {lbl, lbl};
	uint64_t z_prev[PRSS_CHUNK];
	struct prss_streams s;
	size_t m;
	int rv;

	if (n == 0)
		return engine_fuel_check_range(t0, n);
	rv = prss_open(p, &s, t0, n, 2, which, label);
	if (rv != 0)
		return rv;
	for (size_t off = 0; off < n && rv == 0; off += m) {
		uint64_t *o = out + off;

		m = n - off < PRSS_CHUNK ? n - off : PRSS_CHUNK;
		if ((rv = prss_stream_words(s.ctx[0], o, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[1], z_prev, m)) != 0)
			break;
		for (size_t k = 0; k < m; k++)
			o[k] -= z_prev[k];
	}
	prss_streams_close(&s);
	sodium_memzero(z_prev, sizeof z_prev);
	return rv;
}

int engine_prss_zeros(const struct engine_prss *p, uint64_t t0, size_t n,
		      uint64_t *out)
{
	return prss_zero_sharing(p, PRSS_ZERO, t0, n, out);
}

int engine_prss_trunc(const struct engine_prss *p, int receiver, unsigned f,
		      uint64_t t0, size_t n, uint64_t *send_mask,
		      uint64_t *share_base)
{
	/* Role relative to the receiver r; K_{r+2} is party r+1's next key
	 * and party r+2's prev key. */
	int role = (p->party - receiver + 3) % 3;
	enum prss_which w = role == 1 ? PRSS_NEXT : PRSS_PREV;
	const enum prss_which which[2] = {w, w};
	const enum prss_label label[2] = {PRSS_TR, PRSS_TS};
	uint64_t rho[PRSS_CHUNK];
	struct prss_streams s;
	size_t m;
	int rv;

	if (receiver < 0 || receiver > 2 || f > 62)
		return MPC_EINVAL;
	rv = prss_zero_sharing(p, PRSS_TZ, t0, n, share_base);
	if (rv != 0 || n == 0)
		return rv;
	if (role == 0) {
		memset(send_mask, 0, n * sizeof *send_mask);
		return 0;
	}
	rv = prss_open(p, &s, t0, n, 2, which, label);
	if (rv != 0)
		return rv;
	for (size_t off = 0; off < n && rv == 0; off += m) {
		uint64_t *sm = send_mask + off, *sb = share_base + off;

		m = n - off < PRSS_CHUNK ? n - off : PRSS_CHUNK;
		if ((rv = prss_stream_words(s.ctx[0], rho, m)) != 0 ||
		    (rv = prss_stream_words(s.ctx[1], sm, m)) != 0)
			break;
		if (role == 1) {
			/* send sigma; hold the B-side share -(rho >> f) */
			for (size_t k = 0; k < m; k++)
				sb[k] -= rho[k] >> f;
		} else {
			/* send rho - sigma, so the receiver sums x + rho */
			for (size_t k = 0; k < m; k++)
				sm[k] = rho[k] - sm[k];
		}
	}
	prss_streams_close(&s);
	sodium_memzero(rho, sizeof rho);
	return rv;
}

/* engine_fuel_gen adapter: prss needs no background work. */

static int prss_gen_triples(struct engine_fuel_gen *gen, uint64_t t0,
			    size_t n, uint64_t *a, uint64_t *b, uint64_t *c)
{
	return engine_prss_triples(gen->impl, t0, n, a, b, c);
}

static int prss_gen_squares(struct engine_fuel_gen *gen, uint64_t t0,
			    size_t n, uint64_t *a, uint64_t *c)
{
	return engine_prss_squares(gen->impl, t0, n, a, c);
}

static int prss_gen_trunc(struct engine_fuel_gen *gen, int receiver,
			  unsigned f, uint64_t t0, size_t n,
			  uint64_t *send_mask, uint64_t *share_base)
{
	return engine_prss_trunc(gen->impl, receiver, f, t0, n, send_mask,
				 share_base);
}

static int prss_gen_zeros(struct engine_fuel_gen *gen, uint64_t t0, size_t n,
			  uint64_t *out)
{
	return engine_prss_zeros(gen->impl, t0, n, out);
}

static const struct engine_fuel_gen_ops prss_gen_ops = {
	.name = "prss",
	.start = NULL,
	.triples = prss_gen_triples,
	.squares = prss_gen_squares,
	.trunc = prss_gen_trunc,
	.zeros = prss_gen_zeros,
	.stop = NULL,
};

void engine_prss_fuel_gen(struct engine_fuel_gen *gen, struct engine_prss *p)
{
	gen->ops = &prss_gen_ops;
	gen->impl = p;
	gen->party = p->party;
	gen->n_parties = 3;
}
