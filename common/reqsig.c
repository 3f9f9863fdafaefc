/* Signed client requests: canonical string, Ed25519 sign/verify (libsodium). */
#include "common/reqsig.h"
#include "common/err.h"
#include "common/sigmemo.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* kept for the process */
}

int mpc_reqsig_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *md;
	int ok;

	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || (md = EVP_MD_CTX_new()) == NULL)
		return MPC_ENOMEM;
	ok = EVP_DigestInit_ex2(md, sha256_md, NULL) == 1 &&
	     EVP_DigestUpdate(md, a ? a : "", a ? alen : 0) == 1 &&
	     (blen == 0 || EVP_DigestUpdate(md, b, blen) == 1) &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : MPC_ENOMEM;
}

size_t mpc_reqsig_canonical(char *out, size_t size, const char *cluster_id_hex, const char *method,
			    const char *path_query, int64_t time_ms, const char *nonce,
			    const void *body, size_t len)
{
	uint8_t hash[32];
	char hex[2 * sizeof hash + 1];
	int n;

	/* SHA-256 (SHA-NI: ~1.8 GB/s here, BLAKE2b ~0.8): bodies are share chunks of MiBs. */
	if (mpc_reqsig_sha256(body, body ? len : 0, NULL, 0, hash) != 0)
		return 0;
	sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
	n = snprintf(out, size, "mpcstore-req-v2\n%s\n%s\n%s\n%" PRId64 "\n%s\n%s", cluster_id_hex,
		     method, path_query, time_ms, nonce, hex);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

static int nonce_valid(const char *nonce)
{
	if (strlen(nonce) != MPC_REQSIG_NONCE_HEX)
		return 0;
	for (; *nonce; nonce++)
		if (!isxdigit((unsigned char)*nonce) || isupper((unsigned char)*nonce))
			return 0;
	return 1;
}

int mpc_reqsig_sign(const uint8_t *sign_sk, const char *client, const char *cluster_id_hex,
		    const char *method, const char *path_query, const void *body, size_t len,
		    struct mpc_reqsig *out)
{
	char canon[2048];
	uint8_t nonce[MPC_REQSIG_NONCE_BYTES], sig[crypto_sign_BYTES];
	struct timeval tv;
	size_t n;

	if (strlen(client) >= sizeof out->client)
		return MPC_EINVAL;
	snprintf(out->client, sizeof out->client, "%s", client);
	gettimeofday(&tv, NULL);
	out->time_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	randombytes_buf(nonce, sizeof nonce);
	sodium_bin2hex(out->nonce, sizeof out->nonce, nonce, sizeof nonce);
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster_id_hex, method, path_query,
				 out->time_ms, out->nonce, body, len);
	if (n == 0)
		return MPC_EINVAL;
	crypto_sign_detached(sig, NULL, (const uint8_t *)canon, n, sign_sk);
	mpc_key_encode(sig, sizeof sig, out->sig, sizeof out->sig);
	return 0;
}

int mpc_reqsig_verify(const uint8_t *sign_pk, const char *cluster_id_hex, const char *method,
		      const char *path_query, const void *body, size_t len,
		      const struct mpc_reqsig *s, char *errmsg)
{
	char canon[2048];
	uint8_t sig[crypto_sign_BYTES];
	size_t n;

	if (!nonce_valid(s->nonce)) {
		mpc_errmsg_printf(errmsg, "nonce must be %d lower-case hex digits",
				  MPC_REQSIG_NONCE_HEX);
		return MPC_EINVAL;
	}
	if (mpc_key_decode(s->sig, sig, sizeof sig) != 0) {
		mpc_errmsg_printf(errmsg, "signature is not a base64 %d-byte Ed25519 signature",
				  crypto_sign_BYTES);
		return MPC_EINVAL;
	}
	n = mpc_reqsig_canonical(canon, sizeof canon, cluster_id_hex, method, path_query,
				 s->time_ms, s->nonce, body, len);
	if (n == 0) {
		mpc_errmsg_printf(errmsg, "request path too long to verify");
		return MPC_EINVAL;
	}
	if (mpc_sigmemo_verify(sig, (const uint8_t *)canon, n, sign_pk) != 0) {
		mpc_errmsg_printf(errmsg, "bad signature for client '%s' (%s %s)", s->client, method,
				  path_query);
		return MPC_EPERM;
	}
	return 0;
}

const uint8_t *mpc_reqsig_signer(const struct mpc_cluster *c, const char *client, int *party)
{
	const struct mpc_client_info *ci;
	*party = -1;
	if (strncmp(client, MPC_REQSIG_PARTY_PREFIX, strlen(MPC_REQSIG_PARTY_PREFIX)) == 0) {
		const char *num = client + strlen(MPC_REQSIG_PARTY_PREFIX);
		char *end;
		long p = strtol(num, &end, 10);
		if (*num == '\0' || *end != '\0' || p < 0 || p >= c->n_parties)
			return NULL;
		*party = (int)p;
		return c->parties[p].sign_pk;
	}
	ci = mpc_cluster_client(c, client);
	return ci ? ci->sign_pk : NULL;
}
