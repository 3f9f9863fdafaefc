/* Raft transport of mpcstore: each Raft connection is an authenticated, encrypted channel. */
#ifndef MPC_STORE_TRANSPORT_H
#define MPC_STORE_TRANSPORT_H

#include "common/conf.h"

#include <raft.h>
#include <raft/uv.h>
#include <stdint.h>
#include <uv.h>

/*
 * Implements canonical/raft's `struct raft_uv_transport` (raft/uv.h) in
 * place of raft_uv_tcp_init(), which sends plaintext and accepts anyone.
 *
 * Raft asks a transport for a connected uv_stream_t per peer (connect) and
 * hands it the streams of accepted peers with their ids (listen). Here each
 * such stream is one end of a socketpair; a relay on raft's own loop moves
 * the bytes between the other end and a TCP connection to the peer:
 *
 *   raft <-> uv_pipe | socketpair | uv_pipe <- relay -> uv_tcp <-> peer's relay
 *
 * Relaying on the loop costs no thread hand-offs (bench_transport here: a
 * round trip of one 256-byte message takes ~45 us against ~23 us over
 * plain TCP; with 64 in flight the relay batches them and beats plain
 * TCP). Channel setup runs on a thread of its own
 * (blocking connect and handshake, 3 s timeouts), so the loop never waits:
 * - handshake: common/secchan.h with magic MPC_SECCHAN_RAFT against the
 *   static X25519 keys of the cluster file. The id raft reports for an
 *   accepted stream is the authenticated one; an outbound channel must
 *   reach the party raft asked for. A peer with a key not in the cluster
 *   file, or claiming another party's id, is refused and logged with its
 *   address; raft never sees it.
 * - frames: common/frame.h (AES-256-GCM, counter nonces, per-direction
 *   keys, direction byte = sender's party id). The relay seals whatever
 *   raft wrote since its last read as one frame of at most
 *   STORE_TRANSPORT_CHUNK bytes (a batch of messages under load, one
 *   small message when idle). A frame that fails authentication, is out of
 *   order or too long drops the connection; raft reconnects.
 *
 * Backpressure: a relay stops reading one side while more than 8 MiB wait
 * to be written to the other.
 */

#define STORE_TRANSPORT_CHUNK ((size_t)256 << 10)

/* Counters for tests and status. */
struct store_transport_stats {
	uint64_t channels;        /* channels established, both directions */
	uint64_t peers_refused;   /* inbound handshakes refused */
	uint64_t frames_rejected; /* frames that failed authentication */
	uint64_t bytes_sent;      /* wire bytes written (frames) */
	uint64_t bytes_received;  /* wire bytes read */
};

/*
 * Sets up t for party `party` of cluster c on loop (raft's loop). c must
 * outlive t; box_sk (the party's X25519 secret key) is copied into locked
 * memory. Listening starts when raft calls t->listen() (raft_start), on
 * the party's host:raft_port of c. Returns 0, MPC_EINVAL (bad party) or
 * MPC_ENOMEM; errmsg says why. After raft closed the transport (the
 * raft_close() callback), free it with store_transport_close().
 */
int store_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct mpc_cluster *c,
			 int party, const uint8_t *box_sk, char *errmsg);

/* Frees what store_transport_init() allocated (zeroing the key); idempotent. */
void store_transport_close(struct raft_uv_transport *t);

/* Copies the counters (any thread). */
void store_transport_get_stats(struct raft_uv_transport *t, struct store_transport_stats *st);

#endif
