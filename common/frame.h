/* AEAD frames of the party mesh and the Raft transport: AES-256-GCM, strict counters. */
#ifndef MPC_MPC_FRAME_H
#define MPC_MPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Wire format (all integers little-endian), DESIGN §4 "Party mesh":
 *
 *   offset  size  field
 *   0       1     version (MPC_FRAME_VERSION)
 *   1       1     type (opaque to the codec; defined by the mesh)
 *   2       2     reserved, 0
 *   4       4     round
 *   8       8     session id
 *   16      8     counter (must equal the receiver's expected counter)
 *   24      8     payload length L
 *   32      L     payload, AES-256-GCM ciphertext
 *   32+L    16    GCM tag over (header as AAD, payload)
 *
 * Nonce (96 bits) = direction byte || counter (64-bit big-endian) || 3 zero
 * bytes. Each direction of a connection has its own 32-byte key (from the
 * crypto_kx session keys rx/tx) and its own counter starting at 0; the
 * direction byte keeps nonces apart even if both directions were ever
 * given the same key. A receiver accepts only the next counter, so a
 * replayed, reordered, dropped or tampered frame fails with MPC_ECRYPTO
 * and the connection must be closed (the counter does not advance).
 *
 * One frame carries a whole vector: the payload is encrypted in one pass
 * (in chunks of 1 GiB for EVP's int lengths), with no per-element work.
 */

#define MPC_FRAME_VERSION   1
#define MPC_FRAME_KEY_BYTES 32
#define MPC_FRAME_HDR_BYTES 32
#define MPC_FRAME_TAG_BYTES 16
/* Largest payload: well under GCM's 2^36 - 32 byte limit per message. */
#define MPC_FRAME_MAX_PAYLOAD ((uint64_t)1 << 34)

struct mpc_frame_hdr {
	uint8_t type;
	uint32_t round;
	uint64_t session;
	uint64_t counter;     /* filled by seal/unseal */
	uint64_t payload_len; /* filled by seal/unseal/peek */
};

/* One direction of one connection. Not thread-safe: one sender thread
 * uses a tx, one receiver thread an rx. Fields are private. */
struct mpc_frame_tx {
	void *cipher_ctx; /* EVP_CIPHER_CTX holding the key schedule */
	uint64_t counter; /* next counter to use */
	uint8_t direction;
};

struct mpc_frame_rx {
	void *cipher_ctx;
	uint64_t counter; /* next counter expected */
	uint8_t direction;
};

/* Bytes of a sealed frame with a payload of len bytes. */
static inline size_t mpc_frame_size(size_t len)
{
	return MPC_FRAME_HDR_BYTES + len + MPC_FRAME_TAG_BYTES;
}

/*
 * Sets up a sending direction with its 32-byte key (copied into the cipher
 * context; the caller zeroes its copy) and direction byte (both ends of the
 * direction pass the same value, e.g. the sender's party index). Counter
 * starts at 0. Free with mpc_frame_tx_clear(). Returns 0, MPC_ENOMEM or
 * MPC_ECRYPTO.
 */
int mpc_frame_tx_init(struct mpc_frame_tx *tx, const uint8_t key[MPC_FRAME_KEY_BYTES],
		      uint8_t direction);

/* Frees tx's cipher context (cleansing the key schedule); idempotent. */
void mpc_frame_tx_clear(struct mpc_frame_tx *tx);

/* As mpc_frame_tx_init() for the receiving end of a direction. */
int mpc_frame_rx_init(struct mpc_frame_rx *rx, const uint8_t key[MPC_FRAME_KEY_BYTES],
		      uint8_t direction);
void mpc_frame_rx_clear(struct mpc_frame_rx *rx);

/*
 * Seals hdr->{type, round, session} and len bytes of payload into out
 * (capacity out_cap >= mpc_frame_size(len)), using and advancing tx's
 * counter; sets hdr->counter, hdr->payload_len and *out_len. payload may
 * be exactly out + MPC_FRAME_HDR_BYTES (in place); no other overlap.
 * Returns 0; MPC_EINVAL (out_cap too small, len over the maximum);
 * MPC_ERANGE (counter exhausted: rekey); MPC_ECRYPTO. On error the counter
 * does not advance and out is unspecified.
 */
int mpc_frame_seal(struct mpc_frame_tx *tx, struct mpc_frame_hdr *hdr, const void *payload,
		   size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Parses the clear header of a frame whose first avail bytes are at buf,
 * without authenticating it, so a reader knows how many bytes to wait for:
 * *frame_len = mpc_frame_size(hdr->payload_len). Returns 0, MPC_EINVAL
 * (avail < MPC_FRAME_HDR_BYTES), MPC_EPROTO (unknown version, nonzero
 * reserved bytes, payload over the maximum).
 */
int mpc_frame_peek(const uint8_t *buf, size_t avail, struct mpc_frame_hdr *hdr, size_t *frame_len);

/*
 * Authenticates and decrypts one whole frame (frame_len bytes) into
 * payload_out (capacity payload_cap); fills *hdr and advances rx's counter.
 * payload_out may be exactly frame + MPC_FRAME_HDR_BYTES (in place).
 * Returns 0; MPC_EINVAL (payload_cap too small); MPC_ECRYPTO (malformed
 * frame, wrong length, counter other than the expected one — replay,
 * reorder or loss — wrong key or direction, tampered header, payload or
 * tag). On error nothing decrypted is left in payload_out (it is zeroed)
 * and the counter does not advance.
 */
int mpc_frame_unseal(struct mpc_frame_rx *rx, const uint8_t *frame, size_t frame_len,
		     struct mpc_frame_hdr *hdr, void *payload_out, size_t payload_cap);

#endif
