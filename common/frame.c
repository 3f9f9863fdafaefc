/* AES-256-GCM frames with counter nonces (OpenSSL EVP: 2.9 GB/s here, DESIGN §11). */
#include "common/frame.h"

#include "common/err.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

/* EVP takes int lengths: feed payloads in chunks of this size. */
#define FRAME_CHUNK       ((size_t)1 << 30)
#define FRAME_NONCE_BYTES 12

static void frame_put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int k = 0; k < bytes; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static uint64_t frame_get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int k = 0; k < bytes; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static void frame_nonce(uint8_t nonce[FRAME_NONCE_BYTES], uint8_t direction, uint64_t counter)
{
	memset(nonce, 0, FRAME_NONCE_BYTES);
	nonce[0] = direction;
	for (int k = 0; k < 8; k++)
		nonce[1 + k] = (uint8_t)(counter >> (56 - 8 * k));
}

static int frame_ctx_init(void **out, const uint8_t *key, int encrypt)
{
	EVP_CIPHER *gcm;
	EVP_CIPHER_CTX *ctx;
	int ok;

	*out = NULL;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return MPC_ENOMEM;
	gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (gcm == NULL) {
		EVP_CIPHER_CTX_free(ctx);
		return MPC_ECRYPTO;
	}
	/* Key now, nonce per frame (the key schedule is kept). */
	ok = EVP_CipherInit_ex2(ctx, gcm, key, NULL, encrypt, NULL);
	EVP_CIPHER_free(gcm); /* ctx holds its own reference */
	if (ok != 1 || EVP_CIPHER_CTX_get_iv_length(ctx) != FRAME_NONCE_BYTES) {
		EVP_CIPHER_CTX_free(ctx);
		return MPC_ECRYPTO;
	}
	*out = ctx;
	return 0;
}

int mpc_frame_tx_init(struct mpc_frame_tx *tx, const uint8_t key[MPC_FRAME_KEY_BYTES],
		      uint8_t direction)
{
	tx->counter = 0;
	tx->direction = direction;
	return frame_ctx_init(&tx->cipher_ctx, key, 1);
}

void mpc_frame_tx_clear(struct mpc_frame_tx *tx)
{
	EVP_CIPHER_CTX_free(tx->cipher_ctx);
	tx->cipher_ctx = NULL;
}

int mpc_frame_rx_init(struct mpc_frame_rx *rx, const uint8_t key[MPC_FRAME_KEY_BYTES],
		      uint8_t direction)
{
	rx->counter = 0;
	rx->direction = direction;
	return frame_ctx_init(&rx->cipher_ctx, key, 0);
}

void mpc_frame_rx_clear(struct mpc_frame_rx *rx)
{
	EVP_CIPHER_CTX_free(rx->cipher_ctx);
	rx->cipher_ctx = NULL;
}

static void frame_put_hdr(uint8_t *p, const struct mpc_frame_hdr *hdr)
{
	p[0] = MPC_FRAME_VERSION;
	p[1] = hdr->type;
	p[2] = 0;
	p[3] = 0;
	frame_put_le(p + 4, hdr->round, 4);
	frame_put_le(p + 8, hdr->session, 8);
	frame_put_le(p + 16, hdr->counter, 8);
	frame_put_le(p + 24, hdr->payload_len, 8);
}

/* Runs the cipher over len bytes in EVP-sized chunks (in may equal out). */
static int frame_crypt(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		size_t step = len < FRAME_CHUNK ? len : FRAME_CHUNK;
		int got;

		if (EVP_CipherUpdate(ctx, out, &got, in, (int)step) != 1 || (size_t)got != step)
			return MPC_ECRYPTO;
		out += step;
		in += step;
		len -= step;
	}
	return 0;
}

int mpc_frame_seal(struct mpc_frame_tx *tx, struct mpc_frame_hdr *hdr, const void *payload,
		   size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	EVP_CIPHER_CTX *ctx = tx->cipher_ctx;
	uint8_t nonce[FRAME_NONCE_BYTES];
	int got;

	if (len > MPC_FRAME_MAX_PAYLOAD || out_cap < mpc_frame_size(len))
		return MPC_EINVAL;
	if (tx->counter == UINT64_MAX)
		return MPC_ERANGE;
	hdr->counter = tx->counter;
	hdr->payload_len = len;
	frame_put_hdr(out, hdr);
	frame_nonce(nonce, tx->direction, tx->counter);
	if (EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &got, out, MPC_FRAME_HDR_BYTES) != 1 ||
	    frame_crypt(ctx, out + MPC_FRAME_HDR_BYTES, payload, len) != 0 ||
	    EVP_EncryptFinal_ex(ctx, out + MPC_FRAME_HDR_BYTES + len, &got) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MPC_FRAME_TAG_BYTES,
				out + MPC_FRAME_HDR_BYTES + len) != 1)
		return MPC_ECRYPTO;
	tx->counter++;
	*out_len = mpc_frame_size(len);
	return 0;
}

int mpc_frame_peek(const uint8_t *buf, size_t avail, struct mpc_frame_hdr *hdr, size_t *frame_len)
{
	if (avail < MPC_FRAME_HDR_BYTES)
		return MPC_EINVAL;
	if (buf[0] != MPC_FRAME_VERSION || buf[2] != 0 || buf[3] != 0)
		return MPC_EPROTO;
	hdr->type = buf[1];
	hdr->round = (uint32_t)frame_get_le(buf + 4, 4);
	hdr->session = frame_get_le(buf + 8, 8);
	hdr->counter = frame_get_le(buf + 16, 8);
	hdr->payload_len = frame_get_le(buf + 24, 8);
	if (hdr->payload_len > MPC_FRAME_MAX_PAYLOAD)
		return MPC_EPROTO;
	*frame_len = mpc_frame_size((size_t)hdr->payload_len);
	return 0;
}

int mpc_frame_unseal(struct mpc_frame_rx *rx, const uint8_t *frame, size_t frame_len,
		     struct mpc_frame_hdr *hdr, void *payload_out, size_t payload_cap)
{
	EVP_CIPHER_CTX *ctx = rx->cipher_ctx;
	uint8_t nonce[FRAME_NONCE_BYTES];
	uint8_t tag[MPC_FRAME_TAG_BYTES];
	struct mpc_frame_hdr h;
	size_t want, len;
	int got;

	if (mpc_frame_peek(frame, frame_len, &h, &want) != 0 || want != frame_len)
		return MPC_ECRYPTO;
	len = (size_t)h.payload_len;
	if (payload_cap < len)
		return MPC_EINVAL;
	/* Strict order: anything but the next counter is a replay, a
	 * reordering or a loss; the tag would fail too, but say so early. */
	if (h.counter != rx->counter)
		return MPC_ECRYPTO;
	memcpy(tag, frame + MPC_FRAME_HDR_BYTES + len, sizeof tag);
	frame_nonce(nonce, rx->direction, rx->counter);
	if (EVP_DecryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &got, frame, MPC_FRAME_HDR_BYTES) != 1 ||
	    frame_crypt(ctx, payload_out, frame + MPC_FRAME_HDR_BYTES, len) != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, tag, &got) != 1) {
		/* GCM decrypts before it verifies: never leave unauthenticated
		 * plaintext behind. */
		sodium_memzero(payload_out, len);
		return MPC_ECRYPTO;
	}
	rx->counter++;
	*hdr = h;
	return 0;
}
