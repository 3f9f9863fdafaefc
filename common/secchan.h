/* Authenticated channel handshake over a socket, against the static keys of the cluster file. */
#ifndef MPC_COMMON_SECCHAN_H
#define MPC_COMMON_SECCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/frame.h"

/*
 * Used by the party mesh (DESIGN §4 "Party mesh") and by the Raft transport
 * (store/transport.c); the 8-byte protocol magic keeps the two apart (it
 * is hashed into every key, so a connection of one can never be replayed
 * into the other).
 *
 * Handshake (both ends hold static X25519 keys from the cluster file):
 *   I -> R  hello_I = magic(8) | cluster id(16) | id_I(1) | pk_I(32) | n_I(32)
 *   R -> I  hello_R = magic(8) | cluster id(16) | id_R(1) | pk_R(32) | n_R(32)
 *           | tag_R
 *   I -> R  tag_I
 * R refuses a hello whose key is not the cluster's key of the claimed
 * party (so a party cannot claim another's id). (rx, tx) = crypto_kx
 * session keys of the static pairs; h = BLAKE2b-256(hello_I | hello_R
 * without tag); k_IR = BLAKE2b-256(key = tx_I, "mpcmesh i2r" | h), k_RI
 * likewise from rx_I. tag_X = BLAKE2b-256(key = k_XY, "confirm" | h)
 * proves possession of the static secret key (nobody else can compute the
 * kx keys). Frame keys are BLAKE2b-256(key = k_XY, "frame" | h): fresh for
 * every connection thanks to the nonces, so frame counters (common/frame.h)
 * may restart at 0 safely.
 */

#define MPC_SECCHAN_MESH        "MPCMESH1" /* party mesh, engine/mesh.c */
#define MPC_SECCHAN_RAFT        "MPCRAFT1" /* Raft transport, store/transport.c */
#define MPC_SECCHAN_MAGIC_BYTES 8
#define MPC_SECCHAN_NONCE_BYTES 32
#define MPC_SECCHAN_HELLO_BYTES (8 + 16 + 1 + 32 + MPC_SECCHAN_NONCE_BYTES)
#define MPC_SECCHAN_TAG_BYTES   32

/* Frame keys of one connection. */
struct mpc_secchan_keys {
	uint8_t tx[MPC_FRAME_KEY_BYTES];
	uint8_t rx[MPC_FRAME_KEY_BYTES];
};

/*
 * Runs the handshake of protocol magic (MPC_SECCHAN_MESH, MPC_SECCHAN_RAFT)
 * on a connected blocking socket (with the socket's own timeouts) as
 * initiator or responder for party my_id of cluster c, whose secret key is
 * my_sk and whose public key is taken to be my_pk (a test may pass keys
 * that are not in c to play a forged peer). expect_peer >= 0 refuses any
 * other peer id. On success *peer_out is the authenticated peer id and keys
 * holds the frame keys (caller zeroes them). Returns 0, MPC_EIO (socket),
 * MPC_EPROTO (not the protocol, wrong cluster), MPC_EPERM (unknown key,
 * bad id, bad tag). errmsg says why.
 */
int mpc_secchan_handshake(int fd, const char *magic, int initiator, const struct mpc_cluster *c,
			  int my_id, const uint8_t my_pk[32], const uint8_t my_sk[32],
			  int expect_peer, int *peer_out, struct mpc_secchan_keys *keys,
			  char *errmsg);

/* Reads exactly len bytes (retrying on EINTR). 0, or -1 on EOF or error. */
int mpc_secchan_read_full(int fd, void *buf, size_t len);

/* Writes exactly len bytes (MSG_NOSIGNAL, retrying on EINTR). 0 or -1. */
int mpc_secchan_write_full(int fd, const void *buf, size_t len);

#endif
