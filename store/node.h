/* This party's member of the one Raft group (canonical/raft, libuv backend) driving the store FSM. */
#ifndef MPC_STORE_NODE_H
#define MPC_STORE_NODE_H

#include "common/conf.h"
#include "store/fsm.h"
#include "store/transport.h"

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

struct store_node_member {
	int party;
	char address[MPC_HOST_MAX + 8];
	int voter;
	uint64_t match_index; /* known on the leader only (0 elsewhere) */
	int recent_contact;   /* leader only: heard from within an election timeout */
};

struct store_node_status {
	const char *state; /* "follower", "candidate", "leader", "unavailable" */
	int party;
	int leader; /* party id of the leader, -1 when unknown */
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index; /* raft's applied index */
	uint64_t fsm_applied;	/* last command applied to the store */
	uint64_t last_index;
	int n_members;
	struct store_node_member members[MPC_MAX_PARTIES];
	struct store_transport_stats transport; /* this party's raft channels */
};

struct store_node_prop;

#define STORE_NODE_READY_MAX 64

struct store_node {
	uv_loop_t *loop;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct raft_fsm raft_fsm;
	struct store_fsm *fsm;
	const struct mpc_party_conf *conf;
	uv_async_t async;
	uv_timer_t timer;
	pthread_mutex_t qlock;
	struct store_node_prop *queue;
	int closing;
	void (*close_cb)(struct store_node *node);
	/* leader duties: open txns seen, with local timestamps */
	struct open_txn *open;
	size_t n_open;
	/* txns that became fully prepared during apply: committed on the next loop turn
	 * (the periodic duty catches any that did not fit) */
	char ready[64][STORE_TXN_ID_LEN + 1];
	size_t n_ready;
	/* an entry applied on the leader: followers learn its commit with the next
	 * append, sent at once as a barrier if no proposal is queued (not a heartbeat later) */
	struct raft_barrier publish_req;
	int publish_busy, publish_want;
	/* proposals handed to raft_apply and not yet called back (group commit, node.c) */
	unsigned inflight;
	pthread_mutex_t slock;
	struct store_node_status status;
	char errmsg[MPC_ERRMSG_SIZE];
};

/* Starts the raft member of conf's party on loop, with data in conf->data_dir/raft,
 * bootstrapping the all-parties configuration on first start. fsm must stay
 * valid until close_cb runs. */
int store_node_start(struct store_node *node, uv_loop_t *loop, const struct mpc_party_conf *conf,
		     struct store_fsm *fsm, char *errmsg);

/* Closes the node; close_cb runs on the loop when raft and its handles closed. */
void store_node_close(struct store_node *node, void (*close_cb)(struct store_node *node));

/* Proposes entry (copied) from any thread and waits until it is applied here.
 * Returns 0 and sets *outcome (the FSM's deterministic result) and *index;
 * MPC_ENOTLEADER with *leader set (-1 unknown) when this party does not lead;
 * MPC_ETIMEDOUT, MPC_EUNAVAIL (leadership lost: outcome unknown) or
 * MPC_ESHUTDOWN otherwise. */
int store_node_propose(struct store_node *node, const char *entry, size_t len, int timeout_ms,
		       int *outcome, uint64_t *index, int *leader);

/* Queues entry (copied) from any thread and returns at once: it joins the next
 * group commit. No outcome; dropped if this party does not lead. 0 or MPC_ENOMEM. */
int store_node_propose_async(struct store_node *node, const char *entry, size_t len);

/* Copies the latest status (updated on the loop every 100 ms and on changes). */
void store_node_status(struct store_node *node, struct store_node_status *out);

#endif
