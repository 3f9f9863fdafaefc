/* Fuzz harness of the party-mesh AEAD frame codec (common/frame.c): header parse, unseal of forged and tampered frames. */
#include "common/err.h"
#include "common/frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: byte 0 selects the mode, the rest is its data.
 *  mode 0 (forged): the data is a frame off the wire: mpc_frame_peek()
 *    must agree with the header bytes, and mpc_frame_unseal() under the
 *    receiver's key must refuse it (nobody can forge a tag) without
 *    advancing the counter.
 *  mode 1 (tampered): bytes 1-2 = position p, byte 3 = xor mask m (0: the
 *    frame is cut to p bytes instead), the rest = payload. The payload is
 *    sealed under the shared key, then damaged: unseal of the damaged frame
 *    must fail with MPC_ECRYPTO and leave the counter as it was;
 *    the intact frame must then unseal to the same payload.
 *  mode 2 (order): each byte of the data sends frame (byte & 7) of a
 *    sealed sequence of 8: only the next expected counter is accepted.
 */

#define KEY_BYTE 0x42

static struct mpc_frame_tx tx;
static struct mpc_frame_rx rx;

static void setup(void)
{
	uint8_t key[MPC_FRAME_KEY_BYTES];
	memset(key, KEY_BYTE, sizeof key);
	mpc_frame_tx_clear(&tx);
	mpc_frame_rx_clear(&rx);
	if (mpc_frame_tx_init(&tx, key, 1) != 0 || mpc_frame_rx_init(&rx, key, 1) != 0)
		abort();
}

static void forged(const uint8_t *d, size_t n)
{
	struct mpc_frame_hdr hdr;
	size_t frame_len = 0;
	uint8_t *out;
	int rc = mpc_frame_peek(d, n, &hdr, &frame_len);

	if (rc == 0 && (n < MPC_FRAME_HDR_BYTES || d[0] != MPC_FRAME_VERSION ||
			frame_len != mpc_frame_size((size_t)hdr.payload_len)))
		abort();
	if (rc != 0 && rc != MPC_EINVAL && rc != MPC_EPROTO)
		abort();
	out = malloc(n + 1);
	if (out == NULL)
		return;
	if (mpc_frame_unseal(&rx, d, n, &hdr, out, n) == 0 || rx.counter != 0)
		abort();
	free(out);
}

static void tampered(const uint8_t *d, size_t n)
{
	struct mpc_frame_hdr hdr = {.type = 7, .round = 3, .session = 99};
	struct mpc_frame_hdr got;
	size_t len, plen, pos, frame_len, cut;
	uint8_t *frame, *bad, *out;

	if (n < 3)
		return;
	pos = (size_t)d[0] << 8 | d[1];
	d += 3;
	plen = n - 3;
	frame_len = mpc_frame_size(plen);
	frame = malloc(frame_len);
	bad = malloc(frame_len);
	out = malloc(plen + 1);
	if (frame == NULL || bad == NULL || out == NULL)
		goto out;
	setup();
	if (mpc_frame_seal(&tx, &hdr, d, plen, frame, frame_len, &len) != 0 || len != frame_len)
		abort();
	memcpy(bad, frame, frame_len);
	pos %= frame_len;
	cut = frame_len;
	if (d[-1] != 0)
		bad[pos] ^= d[-1];
	else
		cut = pos;
	memset(out, 0xaa, plen + 1);
	if (mpc_frame_unseal(&rx, bad, cut, &got, out, plen) != MPC_ECRYPTO || rx.counter != 0)
		abort();
	if (mpc_frame_unseal(&rx, frame, frame_len, &got, out, plen) != 0 || rx.counter != 1 ||
	    got.payload_len != plen || got.session != 99 || got.round != 3 || got.type != 7 ||
	    memcmp(out, d, plen) != 0)
		abort();
out:
	free(frame);
	free(bad);
	free(out);
}

static void order(const uint8_t *d, size_t n)
{
	uint8_t frames[8][MPC_FRAME_HDR_BYTES + 32 + MPC_FRAME_TAG_BYTES], out[32];
	struct mpc_frame_hdr hdr = {.type = 1};
	size_t len;

	setup();
	for (int i = 0; i < 8; i++) {
		hdr.round = (uint32_t)i;
		memset(out, i, sizeof out);
		if (mpc_frame_seal(&tx, &hdr, out, sizeof out, frames[i], sizeof frames[i],
				      &len) != 0)
			abort();
	}
	for (size_t k = 0; k < n && k < 64; k++) {
		uint64_t want = rx.counter;
		int i = d[k] & 7;
		int rc = mpc_frame_unseal(&rx, frames[i], mpc_frame_size(sizeof out), &hdr,
					     out, sizeof out);
		if ((uint64_t)i == want ? (rc != 0 || rx.counter != want + 1 || hdr.round != (uint32_t)i)
					: (rc != MPC_ECRYPTO || rx.counter != want))
			abort(); /* only the next counter; replay and reorder refused */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tx.cipher_ctx == NULL)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		setup();
		forged(data + 1, size - 1);
		break;
	case 1:
		tampered(data + 1, size - 1);
		break;
	default:
		order(data + 1, size - 1);
		break;
	}
	return 0;
}
