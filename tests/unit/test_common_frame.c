/* Unit tests for common/frame: AES-256-GCM frames, tamper/replay/reorder/wrong-key rejection. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/frame.h"

static uint8_t key_ab[MPC_FRAME_KEY_BYTES];
static uint8_t key_ba[MPC_FRAME_KEY_BYTES];
static struct mpc_frame_tx tx;
static struct mpc_frame_rx rx;

static void setup(void)
{
	for (int k = 0; k < MPC_FRAME_KEY_BYTES; k++) {
		key_ab[k] = (uint8_t)(k * 7 + 1);
		key_ba[k] = (uint8_t)(k * 11 + 3);
	}
	cr_assert_eq(mpc_frame_tx_init(&tx, key_ab, 1), 0);
	cr_assert_eq(mpc_frame_rx_init(&rx, key_ab, 1), 0);
}

static void teardown(void)
{
	mpc_frame_tx_clear(&tx);
	mpc_frame_rx_clear(&rx);
}

TestSuite(mpc_frame, .init = setup, .fini = teardown);

/* A sealed frame with a recognisable payload. */
struct sealed {
	uint8_t *buf;
	size_t len, payload_len;
};

static struct sealed seal(size_t payload_len, uint32_t round, uint8_t fill)
{
	struct sealed s;
	struct mpc_frame_hdr h = {.type = 3, .round = round, .session = 0x1122334455667788ULL};
	uint8_t *payload = malloc(payload_len + 1);

	memset(payload, fill, payload_len);
	s.payload_len = payload_len;
	s.buf = malloc(mpc_frame_size(payload_len));
	cr_assert_eq(mpc_frame_seal(&tx, &h, payload, payload_len, s.buf,
				    mpc_frame_size(payload_len), &s.len),
		     0);
	cr_assert_eq(s.len, mpc_frame_size(payload_len));
	free(payload);
	return s;
}

static int unseal(struct mpc_frame_rx *r, const struct sealed *s, uint8_t *out,
		  struct mpc_frame_hdr *h)
{
	return mpc_frame_unseal(r, s->buf, s->len, h, out, s->payload_len);
}

Test(mpc_frame, seal_unseal_roundtrip_sizes)
{
	const size_t sizes[] = {0, 1, 15, 16, 17, 4096, (size_t)1 << 20};

	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		struct sealed s = seal(sizes[i], (uint32_t)i, (uint8_t)(i + 1));
		struct mpc_frame_hdr h;
		uint8_t *out = malloc(sizes[i] + 1);

		cr_assert_eq(unseal(&rx, &s, out, &h), 0, "size %zu", sizes[i]);
		cr_assert_eq(h.counter, i);
		cr_assert_eq(h.round, i);
		cr_assert_eq(h.type, 3);
		cr_assert_eq(h.session, 0x1122334455667788ULL);
		cr_assert_eq(h.payload_len, sizes[i]);
		for (size_t k = 0; k < sizes[i]; k++)
			cr_assert_eq(out[k], (uint8_t)(i + 1));
		/* the payload is really encrypted */
		if (sizes[i] >= 16)
			cr_assert_neq(memcmp(s.buf + MPC_FRAME_HDR_BYTES, out, 16), 0);
		free(out);
		free(s.buf);
	}
}

Test(mpc_frame, seal_and_unseal_in_place)
{
	const size_t n = 1000;
	uint8_t *buf = malloc(mpc_frame_size(n));
	struct mpc_frame_hdr h = {.type = 9, .round = 1, .session = 2};
	size_t len;

	for (size_t k = 0; k < n; k++)
		buf[MPC_FRAME_HDR_BYTES + k] = (uint8_t)k;
	cr_assert_eq(
	    mpc_frame_seal(&tx, &h, buf + MPC_FRAME_HDR_BYTES, n, buf, mpc_frame_size(n), &len), 0);
	cr_assert_eq(mpc_frame_unseal(&rx, buf, len, &h, buf + MPC_FRAME_HDR_BYTES, n), 0);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(buf[MPC_FRAME_HDR_BYTES + k], (uint8_t)k);
	free(buf);
}

Test(mpc_frame, tamper_any_byte_rejected_and_payload_zeroed)
{
	struct sealed s = seal(64, 5, 0xab);
	uint8_t out[64];
	struct mpc_frame_hdr h;

	/* every byte of header, payload and tag */
	for (size_t pos = 0; pos < s.len; pos++) {
		s.buf[pos] ^= 0x01;
		memset(out, 0x77, sizeof out);
		cr_assert_eq(unseal(&rx, &s, out, &h), MPC_ECRYPTO, "pos %zu", pos);
		if (pos >= MPC_FRAME_HDR_BYTES) {
			for (size_t k = 0; k < sizeof out; k++)
				cr_assert_eq(out[k], 0, "pos %zu", pos);
		}
		s.buf[pos] ^= 0x01;
	}
	/* the counter did not advance: the genuine frame still opens */
	cr_assert_eq(unseal(&rx, &s, out, &h), 0);
	cr_assert_eq(out[0], 0xab);
	free(s.buf);
}

Test(mpc_frame, replay_rejected)
{
	struct sealed s = seal(32, 0, 1);
	uint8_t out[32];
	struct mpc_frame_hdr h;

	cr_assert_eq(unseal(&rx, &s, out, &h), 0);
	cr_assert_eq(unseal(&rx, &s, out, &h), MPC_ECRYPTO);
	free(s.buf);
}

Test(mpc_frame, reorder_and_loss_rejected)
{
	struct sealed s0 = seal(32, 0, 1), s1 = seal(32, 1, 2), s2 = seal(32, 2, 3);
	uint8_t out[32];
	struct mpc_frame_hdr h;

	cr_assert_eq(unseal(&rx, &s1, out, &h), MPC_ECRYPTO); /* early */
	cr_assert_eq(unseal(&rx, &s0, out, &h), 0);
	cr_assert_eq(unseal(&rx, &s2, out, &h), MPC_ECRYPTO); /* s1 lost */
	cr_assert_eq(unseal(&rx, &s1, out, &h), 0);
	cr_assert_eq(unseal(&rx, &s2, out, &h), 0);
	cr_assert_eq(h.counter, 2);
	free(s0.buf);
	free(s1.buf);
	free(s2.buf);
}

Test(mpc_frame, counter_field_rewritten_rejected)
{
	/* An attacker rewriting the counter of frame 1 to 0 to slip it in
	 * first: counter matches, but the nonce and AAD do not. */
	struct sealed s0 = seal(16, 0, 1), s1 = seal(16, 1, 2);
	uint8_t out[16];
	struct mpc_frame_hdr h;

	s1.buf[16] = 0;
	cr_assert_eq(unseal(&rx, &s1, out, &h), MPC_ECRYPTO);
	cr_assert_eq(unseal(&rx, &s0, out, &h), 0);
	free(s0.buf);
	free(s1.buf);
}

Test(mpc_frame, wrong_key_rejected)
{
	struct mpc_frame_rx other;
	struct sealed s = seal(100, 0, 4);
	uint8_t out[100];
	struct mpc_frame_hdr h;

	cr_assert_eq(mpc_frame_rx_init(&other, key_ba, 1), 0);
	cr_assert_eq(unseal(&other, &s, out, &h), MPC_ECRYPTO);
	mpc_frame_rx_clear(&other);
	free(s.buf);
}

Test(mpc_frame, wrong_direction_rejected)
{
	struct mpc_frame_rx other;
	struct sealed s = seal(10, 0, 4);
	uint8_t out[10];
	struct mpc_frame_hdr h;

	cr_assert_eq(mpc_frame_rx_init(&other, key_ab, 2), 0);
	cr_assert_eq(unseal(&other, &s, out, &h), MPC_ECRYPTO);
	mpc_frame_rx_clear(&other);
	free(s.buf);
}

Test(mpc_frame, truncated_or_extended_frame_rejected)
{
	struct sealed s = seal(50, 0, 4);
	uint8_t out[64];
	struct mpc_frame_hdr h;

	cr_assert_eq(mpc_frame_unseal(&rx, s.buf, s.len - 1, &h, out, 64), MPC_ECRYPTO);
	cr_assert_eq(mpc_frame_unseal(&rx, s.buf, 10, &h, out, 64), MPC_ECRYPTO);
	s.buf = realloc(s.buf, s.len + 1);
	cr_assert_eq(mpc_frame_unseal(&rx, s.buf, s.len + 1, &h, out, 64), MPC_ECRYPTO);
	cr_assert_eq(mpc_frame_unseal(&rx, s.buf, s.len, &h, out, 49), MPC_EINVAL);
	cr_assert_eq(mpc_frame_unseal(&rx, s.buf, s.len, &h, out, 64), 0);
	free(s.buf);
}

Test(mpc_frame, peek_gives_length_and_rejects_garbage)
{
	struct sealed s = seal(300, 7, 4);
	struct mpc_frame_hdr h;
	size_t flen;

	cr_assert_eq(mpc_frame_peek(s.buf, MPC_FRAME_HDR_BYTES, &h, &flen), 0);
	cr_assert_eq(flen, s.len);
	cr_assert_eq(h.round, 7);
	cr_assert_eq(mpc_frame_peek(s.buf, MPC_FRAME_HDR_BYTES - 1, &h, &flen), MPC_EINVAL);
	s.buf[0] = 2;
	cr_assert_eq(mpc_frame_peek(s.buf, s.len, &h, &flen), MPC_EPROTO);
	s.buf[0] = MPC_FRAME_VERSION;
	memset(s.buf + 24, 0xff, 8); /* absurd length */
	cr_assert_eq(mpc_frame_peek(s.buf, s.len, &h, &flen), MPC_EPROTO);
	free(s.buf);
}

Test(mpc_frame, seal_rejects_small_buffer)
{
	uint8_t out[64], payload[32] = {0};
	struct mpc_frame_hdr h = {0};
	size_t len;

	cr_assert_eq(
	    mpc_frame_seal(&tx, &h, payload, sizeof payload, out, mpc_frame_size(32) - 1, &len),
	    MPC_EINVAL);
	/* the failed seal used no counter */
	cr_assert_eq(mpc_frame_seal(&tx, &h, payload, 16, out, sizeof out, &len), 0);
	cr_assert_eq(h.counter, 0);
}

Test(mpc_frame, directions_use_distinct_keys)
{
	/* B -> A with its own key and counter, independent of A -> B. */
	struct mpc_frame_tx tx_ba;
	struct mpc_frame_rx rx_ba;
	struct mpc_frame_hdr h = {.type = 1};
	uint8_t payload[8] = "abcdefg", out[8], buf[64];
	size_t len;

	cr_assert_eq(mpc_frame_tx_init(&tx_ba, key_ba, 2), 0);
	cr_assert_eq(mpc_frame_rx_init(&rx_ba, key_ba, 2), 0);
	cr_assert_eq(mpc_frame_seal(&tx_ba, &h, payload, 8, buf, sizeof buf, &len), 0);
	cr_assert_eq(mpc_frame_unseal(&rx, buf, len, &h, out, 8), MPC_ECRYPTO);
	cr_assert_eq(mpc_frame_unseal(&rx_ba, buf, len, &h, out, 8), 0);
	cr_assert_str_eq((char *)out, "abcdefg");
	mpc_frame_tx_clear(&tx_ba);
	mpc_frame_rx_clear(&rx_ba);
}
