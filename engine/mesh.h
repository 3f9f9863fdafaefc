/* Party mesh: one mutually authenticated, AEAD-framed TCP connection per pair of parties, messages multiplexed by session. */
#ifndef MPC_ENGINE_MESH_H
#define MPC_ENGINE_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/frame.h"
#include "common/secchan.h"

/*
 * DESIGN §4 "Party mesh".
 *
 * Topology. Party i listens on its host:mpc_port; for each pair the lower
 * id connects to the higher one. A connection that drops is re-established
 * by the lower id with exponential backoff (50 ms .. 1 s).
 *
 * Handshake: common/secchan.h with magic MPC_SECCHAN_MESH. A responder
 * refuses (and logs with the peer's address) a peer whose key is not the
 * cluster's key of the claimed party.
 *
 * Frames: common/frame.h (AES-256-GCM, strict counters, one key per
 * direction, direction byte = sender's party id). A message (session,
 * round, type) of any length travels as consecutive frames of at most
 * max_frame payload bytes; bit ENGINE_MESH_MORE in the frame type marks
 * "more frames of this message follow". One sender thread and one receiver
 * thread per peer; the receiver decrypts straight into a posted receive
 * buffer when there is one, else into the mailbox.
 *
 * Failure: a frame that fails authentication closes the connection (and is
 * counted); the connection generation of the peer then changes, which
 * sessions use to notice that messages may have been lost.
 */

#define ENGINE_MESH_MORE 0x80
#define ENGINE_MESH_DEFAULT_FRAME ((size_t)4 << 20)

struct engine_mesh;

/* Counters for tests and status. */
struct engine_mesh_stats {
	uint64_t bytes_sent;      /* wire bytes (frames) written */
	uint64_t bytes_received;  /* wire bytes read */
	uint64_t frames_rejected; /* frames that failed authentication */
	uint64_t peers_refused;   /* handshakes refused (unknown key, bad tag) */
	uint64_t connects;        /* connections established */
};

/*
 * Starts the mesh of party `party` of cluster c: listener, connector,
 * sender and receiver threads. c must outlive the mesh; box_sk (the
 * party's X25519 secret key) is copied into locked memory. max_frame is
 * the largest frame payload (0: ENGINE_MESH_DEFAULT_FRAME). Returns 0,
 * MPC_EINVAL, MPC_ENOMEM, MPC_EIO (cannot listen; errmsg says why). Caller
 * stops with engine_mesh_stop().
 */
int engine_mesh_start(const struct mpc_cluster *c, int party, const uint8_t *box_sk,
		      size_t max_frame, struct engine_mesh **out, char *errmsg);

/* Closes every connection, joins the threads, frees queued messages and m. */
void engine_mesh_stop(struct engine_mesh *m);

int engine_mesh_party(const struct engine_mesh *m);
int engine_mesh_n_parties(const struct engine_mesh *m);
void engine_mesh_get_stats(struct engine_mesh *m, struct engine_mesh_stats *st);

/*
 * Connection generation of each peer (gens[n_parties]; own entry 0). It
 * changes whenever a connection to that peer is established or lost.
 * Returns whether every peer is connected right now.
 */
int engine_mesh_gens(struct engine_mesh *m, uint64_t *gens);

/* Waits up to timeout_ms until every peer is connected. 0 or MPC_ETIMEDOUT. */
int engine_mesh_wait_connected(struct engine_mesh *m, int timeout_ms);

/* One outgoing message; caller-owned, must stay valid until done. */
struct engine_mesh_send {
	int peer;
	uint64_t session;
	uint32_t round;
	uint8_t type; /* < ENGINE_MESH_MORE */
	const void *buf;
	size_t len;
	/* set by the mesh */
	int done, rv;
	struct engine_mesh_send *next;
	void *copy; /* owned copy of buf, if queued with copy */
};

/* One expected message; caller-owned, must stay valid until done or cancelled. */
struct engine_mesh_recv {
	int peer;
	uint64_t session;
	uint32_t round;
	uint8_t type;
	void *buf;
	size_t len; /* exact length expected */
	/* set by the mesh */
	size_t got;
	int done, rv;
	struct engine_mesh_recv *next;
};

/*
 * Queues s on its peer's sender thread (s->buf must stay valid until
 * s->done; engine_mesh_wait() reports it). Messages queued while the peer
 * is disconnected go out on the next connection. Returns 0 or MPC_EINVAL.
 */
int engine_mesh_send(struct engine_mesh *m, struct engine_mesh_send *s);

/*
 * Sends a small message whose bytes are copied; nothing to wait for.
 * Returns 0, MPC_EINVAL or MPC_ENOMEM.
 */
int engine_mesh_send_copy(struct engine_mesh *m, int peer, uint64_t session, uint32_t round,
			  uint8_t type, const void *buf, size_t len);

/*
 * Posts r: a message already in the mailbox is copied into r->buf now;
 * otherwise the receiver thread decrypts it straight into r->buf.
 * MPC_EINVAL for a bad peer. A message of another length completes r with
 * rv = MPC_EPROTO.
 */
int engine_mesh_post(struct engine_mesh *m, struct engine_mesh_recv *r);

/*
 * Removes s and r from the mesh (those not done yet): a send in progress
 * is waited for. Afterwards their buffers may be freed. Either array may
 * be NULL.
 */
void engine_mesh_cancel(struct engine_mesh *m, struct engine_mesh_send **s, int ns,
			struct engine_mesh_recv **r, int nr);

/* What may interrupt a wait (all optional). */
struct engine_mesh_watch {
	const uint64_t *gens; /* fail with MPC_EUNAVAIL if a peer's generation differs */
	uint64_t sid;	      /* with a nonzero watch_type: fail with MPC_ESTATE when a */
	uint32_t epoch;	      /* message of that type arrives for session id sid (low */
	uint8_t watch_type;   /* 32 bits) with an epoch (high 32 bits) other than epoch */
};

/*
 * Waits until every send and receive is done. Returns 0; the first
 * operation's error; MPC_EUNAVAIL / MPC_ESTATE as the watch says;
 * MPC_ETIMEDOUT after timeout_ms (< 0: no limit; with no operations the
 * call just waits for the watch or the timeout); MPC_ESHUTDOWN when the
 * mesh stops. On any error the caller must engine_mesh_cancel() what is
 * not done before freeing buffers.
 */
int engine_mesh_wait(struct engine_mesh *m, struct engine_mesh_send **s, int ns,
		     struct engine_mesh_recv **r, int nr, const struct engine_mesh_watch *w,
		     int timeout_ms);

/*
 * Takes a complete message of exactly (peer, session, round, type) from the
 * mailbox: *buf is malloc'd (caller frees), *len its length. MPC_ENOENT if
 * there is none.
 */
int engine_mesh_take(struct engine_mesh *m, int peer, uint64_t session, uint32_t round,
		     uint8_t type, void **buf, size_t *len);

/*
 * Takes any complete message of `type` for session id sid (low 32 bits of
 * the session field, any epoch) from the mailbox. Same ownership as
 * engine_mesh_take(); *session_out and *peer_out say whose it is.
 */
int engine_mesh_take_any(struct engine_mesh *m, uint64_t sid, uint8_t type, int *peer_out,
			 uint64_t *session_out, void **buf, size_t *len);

/* Drops every queued (unclaimed) message of session id sid whose epoch is below epoch. */
void engine_mesh_purge(struct engine_mesh *m, uint64_t sid, uint32_t epoch);

/* Wakes the engine_mesh_wait() callers of session (low 32 bits) and the
 * engine_mesh_wait_event() callers, e.g. to make a session see its stop flag
 * at once. */
void engine_mesh_wake(struct engine_mesh *m, uint64_t session);

/*
 * Waits until something happens (a message arrives, a connection changes)
 * after event number *seq, or timeout_ms passes; updates *seq. Returns 0,
 * MPC_ETIMEDOUT or MPC_ESHUTDOWN.
 */
int engine_mesh_wait_event(struct engine_mesh *m, uint64_t *seq, int timeout_ms);

#endif
