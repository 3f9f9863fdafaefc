/* Authenticated channel handshake: crypto_kx of the cluster's keys, nonces, key confirmation. */
#include "common/secchan.h"

#include "common/err.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int mpc_secchan_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t got = read(fd, p, len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		len -= (size_t)got;
	}
	return 0;
}

int mpc_secchan_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t put = send(fd, p, len, MSG_NOSIGNAL);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		p += put;
		len -= (size_t)put;
	}
	return 0;
}

/* out = BLAKE2b-256(key, label | h) */
static void kdf(uint8_t out[32], const uint8_t key[32], const char *label, const uint8_t h[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, h, 32);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof st);
}

static void hello_build(uint8_t *hello, const char *magic, const struct mpc_cluster *c, int id,
			const uint8_t pk[32])
{
	memcpy(hello, magic, MPC_SECCHAN_MAGIC_BYTES);
	memcpy(hello + 8, c->id, 16);
	hello[24] = (uint8_t)id;
	memcpy(hello + 25, pk, 32);
	randombytes_buf(hello + 57, MPC_SECCHAN_NONCE_BYTES);
}

/* Checks a peer's hello; returns its id or a negative MPC_E*. */
static int hello_check(const uint8_t *hello, const char *magic, const struct mpc_cluster *c,
		       int my_id, int expect_peer, char *errmsg)
{
	int id = hello[24];
	if (memcmp(hello, magic, MPC_SECCHAN_MAGIC_BYTES) != 0) {
		mpc_errmsg_printf(errmsg, "not a %.8s hello", magic);
		return MPC_EPROTO;
	}
	if (memcmp(hello + 8, c->id, 16) != 0) {
		mpc_errmsg_printf(errmsg, "hello of another cluster");
		return MPC_EPROTO;
	}
	if (id >= c->n_parties || id == my_id || (expect_peer >= 0 && id != expect_peer)) {
		mpc_errmsg_printf(errmsg, "unexpected party id %d", id);
		return MPC_EPERM;
	}
	if (sodium_memcmp(hello + 25, c->parties[id].box_pk, 32) != 0) {
		mpc_errmsg_printf(errmsg, "key of claimed party %d is not in the cluster file", id);
		return MPC_EPERM;
	}
	return id;
}

int mpc_secchan_handshake(int fd, const char *magic, int initiator, const struct mpc_cluster *c,
			  int my_id, const uint8_t my_pk[32], const uint8_t my_sk[32],
			  int expect_peer, int *peer_out, struct mpc_secchan_keys *keys,
			  char *errmsg)
{
	uint8_t hi[MPC_SECCHAN_HELLO_BYTES], hr[MPC_SECCHAN_HELLO_BYTES + MPC_SECCHAN_TAG_BYTES];
	uint8_t tag[MPC_SECCHAN_TAG_BYTES], want[MPC_SECCHAN_TAG_BYTES];
	uint8_t kxrx[32], kxtx[32], h[32], k_ir[32], k_ri[32];
	crypto_generichash_state hs;
	int peer, rv = 0;

	if (initiator) {
		hello_build(hi, magic, c, my_id, my_pk);
		if (mpc_secchan_write_full(fd, hi, sizeof hi) != 0 ||
		    mpc_secchan_read_full(fd, hr, sizeof hr) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: connection lost");
			return MPC_EIO;
		}
		peer = hello_check(hr, magic, c, my_id, expect_peer, errmsg);
		if (peer < 0)
			return peer;
		if (crypto_kx_client_session_keys(kxrx, kxtx, my_pk, my_sk, hr + 25) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: bad peer key");
			return MPC_EPERM;
		}
	} else {
		if (mpc_secchan_read_full(fd, hi, sizeof hi) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: connection lost");
			return MPC_EIO;
		}
		peer = hello_check(hi, magic, c, my_id, expect_peer, errmsg);
		if (peer < 0)
			return peer;
		if (crypto_kx_server_session_keys(kxtx, kxrx, my_pk, my_sk, hi + 25) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: bad peer key");
			return MPC_EPERM;
		}
		/* crypto_kx: the client's tx is the server's rx. Name both from I's view. */
		hello_build(hr, magic, c, my_id, my_pk);
	}
	/* kxtx is now I's tx (= R's rx) on both ends, kxrx I's rx. */
	crypto_generichash_init(&hs, NULL, 0, 32);
	crypto_generichash_update(&hs, hi, sizeof hi);
	crypto_generichash_update(&hs, hr, MPC_SECCHAN_HELLO_BYTES);
	crypto_generichash_final(&hs, h, 32);
	kdf(k_ir, kxtx, "mpcmesh i2r", h);
	kdf(k_ri, kxrx, "mpcmesh r2i", h);
	if (initiator) {
		kdf(want, k_ri, "confirm", h);
		if (sodium_memcmp(want, hr + MPC_SECCHAN_HELLO_BYTES, sizeof want) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: party %d failed to prove its key",
					  peer);
			rv = MPC_EPERM;
			goto out;
		}
		kdf(tag, k_ir, "confirm", h);
		if (mpc_secchan_write_full(fd, tag, sizeof tag) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: connection lost");
			rv = MPC_EIO;
			goto out;
		}
		kdf(keys->tx, k_ir, "frame", h);
		kdf(keys->rx, k_ri, "frame", h);
	} else {
		kdf(hr + MPC_SECCHAN_HELLO_BYTES, k_ri, "confirm", h);
		if (mpc_secchan_write_full(fd, hr, sizeof hr) != 0 ||
		    mpc_secchan_read_full(fd, tag, sizeof tag) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: connection lost");
			rv = MPC_EIO;
			goto out;
		}
		kdf(want, k_ir, "confirm", h);
		if (sodium_memcmp(want, tag, sizeof want) != 0) {
			mpc_errmsg_printf(errmsg, "handshake: party %d failed to prove its key",
					  peer);
			rv = MPC_EPERM;
			goto out;
		}
		kdf(keys->tx, k_ri, "frame", h);
		kdf(keys->rx, k_ir, "frame", h);
	}
	*peer_out = peer;
out:
	sodium_memzero(kxrx, sizeof kxrx);
	sodium_memzero(kxtx, sizeof kxtx);
	sodium_memzero(k_ir, sizeof k_ir);
	sodium_memzero(k_ri, sizeof k_ri);
	return rv;
}
