/* Raft member on a libuv loop: FSM glue, thread-safe proposal queue, leader duties, status. */
#include "store/node.h"
#include "common/deadline.h"
#include "common/log.h"
#include "store/entry_bin.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TICK_MS 100
#define COMMIT_RETRY_MS 1000
/* Group commit: while this many entries are appended and not yet applied,
 * new proposals wait in the queue and go out as one batch entry when one is
 * applied (async_cb). */
#define INFLIGHT_MAX 1
#define STAMP_MAX 32 /* ,"ts":<20 digits>} */

/* A proposal from another thread; freed by whichever of waiter and loop drops the last ref. */
struct store_node_prop {
	struct store_node_prop *next;
	struct raft_apply req;
	char *entry;
	size_t len;
	pthread_mutex_t m;
	pthread_cond_t c;
	int refs;
	int done;
	int status; /* 0 or MPC_E* */
	int outcome;
	int leader;
	uint64_t index;
	int internal; /* proposed by the node itself: nobody waits */
	struct store_node *node;
};

struct open_txn {
	char id[STORE_TXN_ID_LEN + 1];
	uint64_t first_seen_ms;
	uint64_t commit_sent_ms;
	uint64_t abort_sent_ms;
	int seen_tick;
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* The leader's stamp: wall-clock ms, comparable with the parties' promises
 * to keep uploads (store/upload.h). */
static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void prop_unref(struct store_node_prop *p)
{
	int last;
	pthread_mutex_lock(&p->m);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->m);
	if (last) {
		pthread_mutex_destroy(&p->m);
		pthread_cond_destroy(&p->c);
		free(p->entry);
		free(p);
	}
}

static void prop_finish(struct store_node_prop *p, int status, int outcome, uint64_t index,
			int leader)
{
	pthread_mutex_lock(&p->m);
	p->status = status;
	p->outcome = outcome;
	p->index = index;
	p->leader = leader;
	p->done = 1;
	pthread_cond_signal(&p->c);
	pthread_mutex_unlock(&p->m);
	prop_unref(p);
}

static int leader_party(struct store_node *node)
{
	raft_id id = 0;
	const char *addr = NULL;
	raft_leader(&node->raft, &id, &addr);
	return id == 0 ? -1 : (int)id - 1;
}

/* On the loop: an entry was applied here, on the leader: publish its commit. */
static void publish_commit(struct store_node *node)
{
	node->publish_want = 1;
	uv_async_send(&node->async);
}

static void publish_cb(struct raft_barrier *req, int status)
{
	struct store_node *node = req->data;
	(void)status;
	node->publish_busy = 0;
	if (node->publish_want && !node->closing)
		uv_async_send(&node->async);
}

/* On the loop: an entry of ours was applied or failed; queued proposals may go. */
static void inflight_done(struct store_node *node)
{
	if (node->inflight > 0)
		node->inflight--;
	uv_async_send(&node->async);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct store_node_prop *p = req->data;
	if (p->node != NULL)
		inflight_done(p->node);
	if (status == 0 && p->node != NULL)
		publish_commit(p->node);
	if (status != 0) {
		if (!p->internal)
			LOG_DEBUG("proposal failed: %s", raft_strerror(status));
		prop_finish(p, status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER
				       ? MPC_EUNAVAIL
				       : MPC_ERAFT,
			    0, req->index, -1);
		return;
	}
	prop_finish(p, 0, (int)(intptr_t)result, req->index, -1);
}

/* On the loop thread: hands p to raft, or fails it. */
/* Copies the JSON object entry (len bytes) into out with the leader's clock
 * added as its last member "ts" (the FSM's clock, store/fsm.h; the last
 * occurrence of a key wins, so a proposer cannot set it). out has len +
 * STAMP_MAX bytes. Returns the bytes written. */
static size_t stamp_entry(char *out, const char *entry, size_t len)
{
	size_t end = len, n;
	while (end > 0 && entry[end - 1] != '}')
		end--;
	if (end == 0) { /* not an object: the FSM rejects it as it is */
		memcpy(out, entry, len);
		return len;
	}
	end--; /* the closing brace */
	memcpy(out, entry, end);
	n = end;
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n'))
		n--;
	n += (size_t)snprintf(out + n, STAMP_MAX, "%s\"ts\":%" PRIu64 "}",
			      n > 0 && out[n - 1] == '{' ? "" : ",", wall_ms());
	return n;
}

static void submit(struct store_node *node, struct store_node_prop *p)
{
	struct raft_buffer buf;
	int rv, binary;

	if (node->closing) {
		prop_finish(p, MPC_ESHUTDOWN, 0, 0, -1);
		return;
	}
	if (raft_state(&node->raft) != RAFT_LEADER) {
		prop_finish(p, MPC_ENOTLEADER, 0, 0, leader_party(node));
		return;
	}
	/* canonical/raft's uv segments need 8-byte multiples (a shorter entry
	 * corrupts the closed segment on reload); JSON allows trailing blanks. */
	binary = store_entry_is_commit_bin(p->entry, p->len);
	if (binary) /* binary: framed, stamp in the frame */
		buf.len = store_entry_frame_size(1, &p->len);
	else
		buf.len = (p->len + STAMP_MAX + 7) & ~(size_t)7;
	buf.base = raft_malloc(buf.len);
	if (buf.base == NULL) {
		prop_finish(p, MPC_ENOMEM, 0, 0, -1);
		return;
	}
	if (binary) {
		const char *sub = p->entry;
		store_entry_frame_write(buf.base, STORE_ENTRY_FRAME_ONE, wall_ms(), 1, &sub, &p->len);
	} else {
		size_t n = stamp_entry(buf.base, p->entry, p->len);
		memset((char *)buf.base + n, ' ', buf.len - n);
	}
	p->req.data = p;
	p->node = node;
	rv = raft_apply(&node->raft, &p->req, &buf, 1, apply_cb);
	if (rv != 0) {
		raft_free(buf.base);
		p->node = NULL; /* no callback: not in flight */
		prop_finish(p, rv == RAFT_NOTLEADER ? MPC_ENOTLEADER : MPC_ERAFT, 0, 0,
			    leader_party(node));
		return;
	}
	node->inflight++;
}

static struct store_node_prop *prop_new(const char *entry, size_t len, int refs)
{
	struct store_node_prop *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->entry = malloc(len);
	if (p->entry == NULL) {
		free(p);
		return NULL;
	}
	memcpy(p->entry, entry, len);
	p->len = len;
	p->refs = refs;
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->c, NULL);
	return p;
}

/* The node's own proposals (commit/abort decided by the leader). */
static void enqueue(struct store_node *node, struct store_node_prop *p)
{
	pthread_mutex_lock(&node->qlock);
	p->next = node->queue;
	node->queue = p;
	pthread_mutex_unlock(&node->qlock);
	uv_async_send(&node->async);
}

/* The node's own proposals join the queue, so they are batched with the rest. */
static void propose_internal(struct store_node *node, json_t *entry)
{
	char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_node_prop *p = text ? prop_new(text, strlen(text), 1) : NULL;
	free(text);
	if (p == NULL)
		return;
	p->internal = 1;
	enqueue(node, p);
}

/* A group of proposals appended as one batch entry (group commit). */
struct batch_req {
	struct raft_apply req;
	struct store_node *node;
	size_t n;
	struct store_node_prop *props[STORE_FSM_BATCH_MAX];
};

static void batch_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct batch_req *b = req->data;
	inflight_done(b->node);
	if (status == 0)
		publish_commit(b->node);
	for (size_t i = 0; i < b->n; i++) {
		int outcome = 0;
		if (status != 0)
			prop_finish(b->props[i],
				    status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER
					    ? MPC_EUNAVAIL
					    : MPC_ERAFT,
				    0, req->index, -1);
		else if (store_fsm_batch_outcome(b->node->fsm, req->index, i, &outcome) == 0)
			prop_finish(b->props[i], 0, outcome, req->index, -1);
		else
			prop_finish(b->props[i], MPC_EUNAVAIL, 0, req->index, -1);
	}
	free(b);
}

/* On the loop thread: proposes props[0..n) as one raft entry
 * {"op":"batch","entries":[...]}: one append, one fsync and one replication
 * round for all of them instead of one each. */
static void submit_batch(struct store_node *node, struct store_node_prop **props, size_t n)
{
	struct batch_req *b = calloc(1, sizeof *b);
	struct raft_buffer buf;
	size_t len = 32 + STAMP_MAX, off, lens[STORE_FSM_BATCH_MAX];
	const char *subs[STORE_FSM_BATCH_MAX];
	int rv, binary = 0;

	for (size_t i = 0; i < n; i++) {
		len += props[i]->len + 1;
		subs[i] = props[i]->entry;
		lens[i] = props[i]->len;
		binary |= store_entry_is_commit_bin(props[i]->entry, props[i]->len);
	}
	len = (len + 7) & ~(size_t)7; /* canonical/raft's uv segments: 8-byte multiples */
	if (binary) /* a binary commit among them: a binary frame (store/entry_bin.h) */
		len = store_entry_frame_size(n, lens);
	buf.base = b ? raft_malloc(len) : NULL;
	if (buf.base == NULL) {
		free(b);
		for (size_t i = 0; i < n; i++)
			prop_finish(props[i], MPC_ENOMEM, 0, 0, -1);
		return;
	}
	for (size_t i = 0; i < n; i++)
		b->props[i] = props[i];
	if (binary) {
		store_entry_frame_write(buf.base, STORE_ENTRY_FRAME_BATCH, wall_ms(), n, subs, lens);
	} else {
		/* the leader's clock stamps the batch (store/fsm.h) */
		off = (size_t)sprintf(buf.base,
				      "{\"op\":\"batch\",\"ts\":%" PRIu64 ",\"entries\":[",
				      wall_ms());
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				((char *)buf.base)[off++] = ',';
			memcpy((char *)buf.base + off, props[i]->entry, props[i]->len);
			off += props[i]->len;
		}
		memcpy((char *)buf.base + off, "]}", 2);
		off += 2;
		memset((char *)buf.base + off, ' ', len - off); /* JSON allows trailing blanks */
	}
	buf.len = len;
	b->n = n;
	b->node = node;
	b->req.data = b;
	rv = raft_apply(&node->raft, &b->req, &buf, 1, batch_apply_cb);
	if (rv != 0) {
		raft_free(buf.base);
		for (size_t i = 0; i < n; i++)
			prop_finish(props[i], rv == RAFT_NOTLEADER ? MPC_ENOTLEADER : MPC_ERAFT, 0, 0,
				    leader_party(node));
		free(b);
		return;
	}
	node->inflight++;
}

int store_node_propose(struct store_node *node, const char *entry, size_t len, int timeout_ms,
		       int *outcome, uint64_t *index, int *leader)
{
	struct store_node_prop *p = prop_new(entry, len, 2);
	struct timespec ts;
	int rv;

	if (p == NULL)
		return MPC_ENOMEM;
	enqueue(node, p);

	mpc_deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&p->m);
	while (!p->done)
		if (pthread_cond_timedwait(&p->c, &p->m, &ts) == ETIMEDOUT)
			break;
	if (p->done) {
		rv = p->status;
		*outcome = p->outcome;
		*index = p->index;
		*leader = p->leader;
	} else {
		rv = MPC_ETIMEDOUT;
	}
	pthread_mutex_unlock(&p->m);
	prop_unref(p);
	/* An applied entry on the leader is applied here: wait for the FSM anyway
	 * (raft's apply callback runs right after the FSM apply). */
	return rv;
}

int store_node_propose_async(struct store_node *node, const char *entry, size_t len)
{
	struct store_node_prop *p = prop_new(entry, len, 1);
	if (p == NULL)
		return MPC_ENOMEM;
	p->internal = 1;
	enqueue(node, p);
	return 0;
}

/* ---- leader duties ---- */

static struct open_txn *open_find(struct store_node *node, const char *id, uint64_t now)
{
	for (size_t i = 0; i < node->n_open; i++)
		if (strcmp(node->open[i].id, id) == 0)
			return &node->open[i];
	if ((node->n_open & 63) == 0) {
		struct open_txn *o = realloc(node->open, (node->n_open + 64) * sizeof *o);
		if (o == NULL)
			return NULL;
		node->open = o;
	}
	memset(&node->open[node->n_open], 0, sizeof node->open[0]);
	snprintf(node->open[node->n_open].id, sizeof node->open[0].id, "%s", id);
	/* the tick's own timestamp: a later now_ms() would make now - first_seen wrap */
	node->open[node->n_open].first_seen_ms = now;
	return &node->open[node->n_open++];
}

struct duty_ctx {
	struct store_node *node;
	uint64_t now;
	int tick;
};

static int duty_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct duty_ctx *ctx = vctx;
	struct store_node *node = ctx->node;
	char id[STORE_TXN_ID_LEN + 1];
	struct open_txn *o;
	json_t *txn = NULL;
	const char *state;

	if (klen != 5 + STORE_TXN_ID_LEN)
		return 0;
	memcpy(id, key + 5, STORE_TXN_ID_LEN);
	id[STORE_TXN_ID_LEN] = '\0';
	o = open_find(node, id, ctx->now);
	if (o == NULL)
		return 0;
	o->seen_tick = ctx->tick;
	{
		char tkey[128];
		snprintf(tkey, sizeof tkey, "txn/%s", id);
		txn = store_db_get_json(node->fsm->db, STORE_CF_META, tkey);
	}
	if (txn == NULL)
		return 0;
	state = json_string_value(json_object_get(txn, "state"));
	if (state != NULL && strcmp(state, "prepared") == 0) {
		if (ctx->now - o->commit_sent_ms >= COMMIT_RETRY_MS) {
			json_t *e = json_pack("{s:s, s:s}", "op", "commit", "txn", id);
			o->commit_sent_ms = ctx->now;
			propose_internal(node, e);
			json_decref(e);
		}
	} else if (state != NULL && strcmp(state, "pending") == 0) {
		uint64_t timeout = (uint64_t)json_integer_value(json_object_get(txn, "timeout_ms"));
		if (ctx->now - o->first_seen_ms > timeout &&
		    ctx->now - o->abort_sent_ms >= COMMIT_RETRY_MS) {
			char reason[256], who[128] = "";
			const char *k;
			json_t *v;
			size_t n = 0;
			json_object_foreach(json_object_get(txn, "prepared"), k, v)
			{
				n += (size_t)snprintf(who + n, sizeof who - n, "%s%s", n ? "," : "", k);
				if (n >= sizeof who)
					break;
			}
			snprintf(reason, sizeof reason,
				 "timeout: not all parties prepared within %" PRIu64
				 " ms (prepared: %s)",
				 timeout, who[0] ? who : "none");
			json_t *e = json_pack("{s:s, s:s, s:s}", "op", "abort", "txn", id, "reason",
					      reason);
			o->abort_sent_ms = ctx->now;
			propose_internal(node, e);
			json_decref(e);
		}
	}
	json_decref(txn);
	return 0;
}

/* Proposes Commit(txn) now (the leader's step 2 of DESIGN.md §3). */
static void propose_commit(struct store_node *node, const char *txn)
{
	json_t *e = json_pack("{s:s, s:s}", "op", "commit", "txn", txn);
	struct open_txn *o = open_find(node, txn, now_ms());
	if (o != NULL)
		o->commit_sent_ms = now_ms();
	propose_internal(node, e);
	json_decref(e);
}

static void leader_duties(struct store_node *node)
{
	static int tick;
	struct duty_ctx ctx = {node, now_ms(), ++tick};
	size_t i, j;

	if (raft_state(&node->raft) != RAFT_LEADER || node->closing) {
		node->n_open = 0; /* a new leader times txns afresh */
		return;
	}
	store_db_scan(node->fsm->db, STORE_CF_META, NULL, "open/", 5, duty_one, &ctx);
	for (i = j = 0; i < node->n_open; i++)
		if (node->open[i].seen_tick == ctx.tick)
			node->open[j++] = node->open[i];
	node->n_open = j;
}

static void update_status(struct store_node *node)
{
	struct store_node_status st;
	struct raft *r = &node->raft;

	memset(&st, 0, sizeof st);
	switch (raft_state(r)) {
	case RAFT_FOLLOWER: st.state = "follower"; break;
	case RAFT_CANDIDATE: st.state = "candidate"; break;
	case RAFT_LEADER: st.state = "leader"; break;
	default: st.state = "unavailable"; break;
	}
	st.party = node->conf->party_id;
	st.leader = leader_party(node);
	st.term = r->current_term;
	st.commit_index = r->commit_index;
	st.applied_index = raft_last_applied(r);
	st.fsm_applied = store_fsm_applied(node->fsm);
	st.last_index = raft_last_index(r);
	for (unsigned i = 0; i < r->configuration.n && i < MPC_MAX_PARTIES; i++) {
		struct store_node_member *m = &st.members[st.n_members++];
		m->party = (int)r->configuration.servers[i].id - 1;
		snprintf(m->address, sizeof m->address, "%s", r->configuration.servers[i].address);
		m->voter = r->configuration.servers[i].role == RAFT_VOTER;
		if (raft_state(r) == RAFT_LEADER && r->leader_state.progress != NULL) {
			m->match_index = r->leader_state.progress[i].match_index;
			m->recent_contact = r->configuration.servers[i].id == r->id ||
					    r->leader_state.progress[i].recent_recv;
		}
	}
	if (node->transport.impl != NULL)
		store_transport_get_stats(&node->transport, &st.transport);
	pthread_mutex_lock(&node->slock);
	node->status = st;
	pthread_mutex_unlock(&node->slock);
}

void store_node_status(struct store_node *node, struct store_node_status *out)
{
	pthread_mutex_lock(&node->slock);
	*out = node->status;
	pthread_mutex_unlock(&node->slock);
}

static void async_cb(uv_async_t *h)
{
	struct store_node *node = h->data;
	struct store_node_prop *list, *rev = NULL, *p, *group[STORE_FSM_BATCH_MAX];
	size_t n = 0, sent = 0;
	int held;

	for (size_t i = 0; i < node->n_ready; i++)
		propose_commit(node, node->ready[i]); /* joins the queue */
	node->n_ready = 0;
	/* Group commit: under load the proposals that arrive while an entry is in
	 * flight wait for its apply and then go out together — fewer, larger
	 * entries (one append, fsync and replication round on every party for
	 * all of them); idle, a proposal goes out at once. The applied entry's
	 * callback wakes this again; a lost leadership fails the held ones. */
	if (raft_state(&node->raft) != RAFT_LEADER)
		node->inflight = 0; /* a later leadership starts afresh */
	held = node->inflight >= INFLIGHT_MAX && !node->closing &&
	       raft_state(&node->raft) == RAFT_LEADER;
	pthread_mutex_lock(&node->qlock);
	list = held ? NULL : node->queue;
	held = held && node->queue != NULL;
	if (list != NULL)
		node->queue = NULL;
	pthread_mutex_unlock(&node->qlock);
	while (list != NULL) { /* reverse: FIFO order */
		p = list;
		list = p->next;
		p->next = rev;
		rev = p;
	}
	/* Everything that queued up while the loop was busy goes out together. */
	while (rev != NULL) {
		p = rev;
		rev = p->next;
		group[n++] = p;
		sent++;
		if (n == STORE_FSM_BATCH_MAX || rev == NULL) {
			if (n == 1 || node->closing || raft_state(&node->raft) != RAFT_LEADER)
				for (size_t i = 0; i < n; i++)
					submit(node, group[i]);
			else
				submit_batch(node, group, n);
			n = 0;
		}
	}
	/* a queued append carries the new commit index; else a barrier does (a
	 * held one goes out, carrying it, when the entry in flight is applied) */
	if (held)
		return;
	if (sent > 0 && raft_state(&node->raft) == RAFT_LEADER)
		node->publish_want = 0;
	if (node->publish_want && !node->publish_busy && !node->closing &&
	    raft_state(&node->raft) == RAFT_LEADER) {
		node->publish_want = 0;
		node->publish_req.data = node;
		if (raft_barrier(&node->raft, &node->publish_req, publish_cb) == 0)
			node->publish_busy = 1;
	}
}

static void timer_cb(uv_timer_t *h)
{
	struct store_node *node = h->data;
	int queued;
	update_status(node);
	leader_duties(node);
	pthread_mutex_lock(&node->qlock);
	queued = node->queue != NULL;
	pthread_mutex_unlock(&node->qlock);
	if (queued) { /* held proposals wait one tick at most, whatever raft calls back */
		node->inflight = 0;
		uv_async_send(&node->async);
	}
}

/* FSM callback on the loop thread: a txn became fully prepared → commit it
 * right after this apply returns (not from inside raft's apply loop). */
static void on_txn(void *data, const char *txn, const char *state)
{
	struct store_node *node = data;
	if (strcmp(state, "prepared") == 0 && raft_state(&node->raft) == RAFT_LEADER &&
	    node->n_ready < STORE_NODE_READY_MAX) {
		snprintf(node->ready[node->n_ready++], STORE_TXN_ID_LEN + 1, "%s", txn);
		uv_async_send(&node->async);
	}
}

/* ---- raft_fsm glue (version 2, DESIGN.md §11) ---- */

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
	struct store_node *node = f->data;
	/* canonical/raft sets last_applied = index right after this returns. */
	uint64_t index = raft_last_applied(&node->raft) + 1;
	int outcome = 0;
	int rv = store_fsm_apply(node->fsm, index, buf->base, buf->len, &outcome);
	if (rv != 0)
		return RAFT_IOERR;
	*result = (void *)(intptr_t)outcome;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct store_node *node = f->data;
	void *data = NULL;
	size_t len = 0;
	int rv = store_fsm_snapshot(node->fsm, &data, &len);
	if (rv != 0)
		return RAFT_NOMEM;
	*bufs = raft_malloc(sizeof **bufs);
	if (*bufs == NULL) {
		free(data);
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = raft_malloc(len);
	if ((*bufs)[0].base == NULL) {
		raft_free(*bufs);
		free(data);
		return RAFT_NOMEM;
	}
	memcpy((*bufs)[0].base, data, len);
	(*bufs)[0].len = len;
	free(data);
	*n_bufs = 1;
	LOG_INFO("raft snapshot taken: %zu bytes at applied %" PRIu64, len,
		 store_fsm_applied(node->fsm));
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	for (unsigned i = 0; i < *n_bufs; i++)
		raft_free((*bufs)[i].base);
	raft_free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
	struct store_node *node = f->data;
	int rv = store_fsm_restore(node->fsm, buf->base, buf->len);
	if (rv != 0)
		return RAFT_CORRUPT;
	raft_free(buf->base); /* ours on success */
	return 0;
}

int store_node_start(struct store_node *node, uv_loop_t *loop, const struct mpc_party_conf *conf,
		     struct store_fsm *fsm, char *errmsg)
{
	const struct mpc_cluster *c = conf->cluster;
	const struct mpc_party_info *me = &c->parties[conf->party_id];
	struct raft_configuration rc;
	char dir[PATH_MAX], addr[MPC_HOST_MAX + 8];
	int rv;

	memset(node, 0, sizeof *node);
	node->loop = loop;
	node->fsm = fsm;
	node->conf = conf;
	pthread_mutex_init(&node->qlock, NULL);
	pthread_mutex_init(&node->slock, NULL);
	fsm->on_txn = on_txn;
	fsm->on_txn_data = node;
	snprintf(dir, sizeof dir, "%s/raft", conf->data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		mpc_errmsg_printf(errmsg, "mkdir %s: %s", dir, strerror(errno));
		return MPC_EIO;
	}
	snprintf(addr, sizeof addr, "%s:%u", me->host, me->raft_port);
	/* authenticated, encrypted channels between parties (store/transport.h) */
	rv = store_transport_init(&node->transport, loop, c, conf->party_id, conf->box_sk, errmsg);
	if (rv != 0)
		return rv;
	rv = raft_uv_init(&node->io, loop, dir, &node->transport);
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "raft storage in %s: %s", dir, node->io.errmsg);
		store_transport_close(&node->transport);
		return MPC_ERAFT;
	}
	node->raft_fsm.version = 2;
	node->raft_fsm.data = node;
	node->raft_fsm.apply = fsm_apply;
	node->raft_fsm.snapshot = fsm_snapshot;
	node->raft_fsm.restore = fsm_restore;
	node->raft_fsm.snapshot_finalize = fsm_snapshot_finalize;
	rv = raft_init(&node->raft, &node->io, &node->raft_fsm, (raft_id)conf->party_id + 1, addr);
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "raft init: %s", raft_errmsg(&node->raft));
		goto err_io;
	}
	node->raft.data = node;
	raft_configuration_init(&rc);
	for (int i = 0; i < c->n_parties; i++) {
		char a[MPC_HOST_MAX + 8];
		snprintf(a, sizeof a, "%s:%u", c->parties[i].host, c->parties[i].raft_port);
		raft_configuration_add(&rc, (raft_id)i + 1, a, RAFT_VOTER);
	}
	rv = raft_bootstrap(&node->raft, &rc);
	raft_configuration_close(&rc);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		mpc_errmsg_printf(errmsg, "raft bootstrap: %s", raft_errmsg(&node->raft));
		goto err_io;
	}
	raft_set_snapshot_threshold(&node->raft, conf->snapshot_threshold);
	raft_set_snapshot_trailing(&node->raft, conf->snapshot_trailing);
	raft_set_pre_vote(&node->raft, true);
	raft_set_election_timeout(&node->raft, 1000);
	/* Followers learn a new commit index only with the next append or
	 * heartbeat: a short heartbeat bounds how long a follower's readers (and a
	 * vote forwarded to the leader) wait for an entry the leader committed. */
	raft_set_heartbeat_timeout(&node->raft, 20);
	raft_uv_set_connect_retry_delay(&node->io, 250);
	uv_async_init(loop, &node->async, async_cb);
	node->async.data = node;
	uv_timer_init(loop, &node->timer);
	node->timer.data = node;
	rv = raft_start(&node->raft);
	if (rv != 0) {
		const char *why = raft_errmsg(&node->raft);
		mpc_errmsg_printf(errmsg, "raft start in %s: %s", dir,
				  why[0] ? why : raft_strerror(rv));
		/* handles are closed by store_node_close() */
		return MPC_ERAFT;
	}
	uv_timer_start(&node->timer, timer_cb, TICK_MS, TICK_MS);
	update_status(node);
	LOG_INFO("raft member %d at %s started (%d voters)", conf->party_id, addr, c->n_parties);
	return 0;
err_io:
	raft_uv_close(&node->io);
	store_transport_close(&node->transport);
	return MPC_ERAFT;
}

static void handle_closed(uv_handle_t *h)
{
	struct store_node *node = h->data;
	if (h == (uv_handle_t *)&node->async && node->close_cb != NULL)
		node->close_cb(node);
}

static void raft_closed(struct raft *r)
{
	struct store_node *node = r->data;
	raft_uv_close(&node->io);
	store_transport_close(&node->transport);
	uv_close((uv_handle_t *)&node->timer, NULL);
	/* Fail what is still queued, then close the async handle last. */
	async_cb(&node->async);
	uv_close((uv_handle_t *)&node->async, handle_closed);
}

void store_node_close(struct store_node *node, void (*close_cb)(struct store_node *node))
{
	node->closing = 1;
	node->close_cb = close_cb;
	store_fsm_shutdown(node->fsm);
	free(node->open);
	node->open = NULL;
	node->n_open = 0;
	raft_close(&node->raft, raft_closed);
}
