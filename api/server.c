/* REST API of a party: routing, JSON bodies (jansson), store calls, HTTP status mapping at the edge. */
#include "api/internal.h"
#include "api/server.h"
#include "api/peer.h"
#include "api/request.h"
#include "common/fault.h"
#include "common/chunkbox.h"
#include "common/deadline.h"
#include "common/dynbuf.h"
#include "common/log.h"
#include "common/sigmemo.h"
#include "engine/service.h"
#include "store/catalog.h"
#include "store/entry_bin.h"
#include "store/shares.h"
#include "store/signed_req.h"
#include "store/staging.h"
#include "store/upload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* votes after a last chunk: n signed votes, each with n pairwise tags */
#define COMMIT_VOTES_MAX   32768
#define BODY_MAX           ((size_t)STORE_CHUNK_MAX + 4096 + COMMIT_VOTES_MAX)
#define PROPOSE_TIMEOUT_MS 10000


/* The one mapping from MPC_E* to HTTP status. */
unsigned api_http_status(int rv)
{
	switch (rv) {
	case 0: return 200;
	case MPC_ENOENT: return 404;
	case MPC_EINVAL:
	case MPC_ERANGE: return 400;
	case MPC_EAUTH: return 401;
	case MPC_EPERM:
	case MPC_ECRYPTO: return 403;
	case MPC_ECONFLICT:
	case MPC_EOVERLAP:
	case MPC_ESTATE:
	case MPC_EEXIST: return 409;
	case MPC_ENOTLEADER:
	case MPC_EUNAVAIL:
	case MPC_ESHUTDOWN: return 503;
	case MPC_ETIMEDOUT: return 504;
	default: return 500;
	}
}

void api_set_error(struct api_resp *r, int rv, const char *fmt, ...)
{
	char msg[MPC_ERRMSG_SIZE * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->status = api_http_status(rv);
	json_decref(r->json);
	r->json = json_pack("{s:s, s:s}", "error", msg, "code", mpc_strerror(rv));
}

void api_set_json(struct api_resp *r, json_t *j)
{
	r->status = 200;
	json_decref(r->json);
	r->json = j;
}

int api_require(struct api_req *q, struct api_resp *r, unsigned right, const char *what)
{
	char msg[MPC_ERRMSG_SIZE];
	if (api_auth_has(&q->who, right, what, msg))
		return 1;
	api_set_error(r, MPC_EPERM, "%s", msg);
	return 0;
}

int api_require_owner(struct api_req *q, struct api_resp *r, const char *client, unsigned right,
		      const char *what)
{
	if (client != NULL && q->who.ci != NULL && strcmp(client, q->who.sig.client) == 0)
		return 1;
	if (q->who.rights & (right | MPC_RIGHT_ADMIN))
		return 1;
	api_set_error(r, MPC_EPERM,
		      "client '%s' may not %s: it belongs to client '%s' (needs the '%s' right)",
		      q->who.sig.client, what, client ? client : "", api_right_name(right));
	return 0;
}

static uint64_t arg_u64(struct MHD_Connection *c, const char *name, uint64_t def)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	return v ? strtoull(v, NULL, 10) : def;
}

/* Proposes entry, through the leader when this party does not lead. With
 * wait_local it also waits until this party applied it (to read its effects
 * here); callers that only need the outcome skip that wait, which on a
 * follower lasts until the next heartbeat carries the commit index. */
static int propose_opt(struct api_server *s, json_t *entry, int wait_local, int *outcome,
		       uint64_t *index, char *errmsg)
{
	uint64_t deadline = (uint64_t)time(NULL) + PROPOSE_TIMEOUT_MS / 1000;
	int rv, leader = -1;
	size_t len;
	char *text;

	/* the commit with votes in its compact layout (store/entry_bin.h), else JSON */
	if (store_entry_commit_encode(entry, &text, &len) != 0) {
		text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
		len = text ? strlen(text) : 0;
	}
	if (text == NULL)
		return MPC_ENOMEM;
	for (;;) {
		rv = store_node_propose(s->node, text, len, PROPOSE_TIMEOUT_MS, outcome, index,
					&leader);
		if (rv == MPC_ENOTLEADER && leader >= 0 && leader != s->conf->party_id)
			rv = api_peer_propose_bytes(s->conf, leader, text, len, outcome, index,
						    &leader, errmsg);
		if (rv != MPC_ENOTLEADER && rv != MPC_EUNAVAIL)
			break;
		if ((uint64_t)time(NULL) >= deadline)
			break;
		usleep(100000); /* election in progress */
	}
	free(text);
	if (rv == 0 && wait_local)
		rv = store_fsm_wait_applied(s->fsm, *index, PROPOSE_TIMEOUT_MS);
	else if (rv == MPC_ENOTLEADER)
		mpc_errmsg_printf(errmsg, "no raft leader reachable (is a majority of parties up?)");
	else if (errmsg[0] == '\0')
		mpc_errmsg_printf(errmsg, "proposal failed: %s", mpc_strerror(rv));
	return rv;
}

static int propose(struct api_server *s, json_t *entry, int *outcome, uint64_t *index,
		   char *errmsg)
{
	return propose_opt(s, entry, 1, outcome, index, errmsg);
}

int api_propose(struct api_server *s, json_t *entry, int wait_local, int *outcome,
		uint64_t *index, char *errmsg)
{
	return propose_opt(s, entry, wait_local, outcome, index, errmsg);
}

/* The party that leads now (this one if unknown): where clients long-poll outcomes. */
static int leader_hint(struct api_server *s)
{
	struct store_node_status st;
	store_node_status(s->node, &st);
	return st.leader >= 0 ? st.leader : s->conf->party_id;
}

/* ---- handlers ---- */

static void do_prepare(struct api_server *s, const char *id, json_t *meta, struct api_resp *r);
static int chunk_commit_body(struct MHD_Connection *c, const struct api_req *q, size_t *box_len,
			     json_t **commit, struct api_resp *r);
static void commit_with_own_vote(struct api_server *s, const char *id, json_t *commit,
				 json_t *begin, struct api_resp *r);

static void h_health(struct api_server *s, struct api_resp *r)
{
	struct store_node_status st;
	store_node_status(s->node, &st);
	api_set_json(r, json_pack("{s:b, s:i, s:s, s:s, s:I}", "ok", 1, "party", s->conf->party_id,
			      "cluster", s->conf->cluster->id_hex, "raft_state", st.state,
			      "applied_index", (json_int_t)st.fsm_applied));
}

static void h_raft(struct api_server *s, struct api_resp *r)
{
	struct store_node_status st;
	json_t *members = json_array();
	store_node_status(s->node, &st);
	for (int i = 0; i < st.n_members; i++) {
		struct store_node_member *m = &st.members[i];
		json_t *jm = json_pack("{s:i, s:s, s:s, s:s}", "party", m->party, "address",
				       m->address, "role", m->voter ? "voter" : "standby", "state",
				       m->party == st.leader ? "leader" : "follower");
		if (strcmp(st.state, "leader") == 0) {
			json_object_set_new(jm, "match_index", json_integer((json_int_t)m->match_index));
			json_object_set_new(jm, "reachable", json_boolean(m->recent_contact));
		}
		json_array_append_new(members, jm);
	}
	char leader[32];
	snprintf(leader, sizeof leader, "party%d", st.leader);
	/* "leader" is the member's name (never a falsy 0); "leader_party" its id. */
	api_set_json(r,
		     json_pack("{s:i, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "party",
			       st.party, "state", st.state, "leader",
			       st.leader >= 0 ? json_string(leader) : json_null(), "leader_party",
			       st.leader >= 0 ? json_integer(st.leader) : json_null(), "term",
			       (json_int_t)st.term, "commit_index", (json_int_t)st.commit_index,
			       "applied_index", (json_int_t)st.applied_index, "fsm_applied_index",
			       (json_int_t)st.fsm_applied, "last_index", (json_int_t)st.last_index,
			       "members", members, "transport",
			       json_pack("{s:I, s:I, s:I, s:I, s:I}", "channels",
					 (json_int_t)st.transport.channels, "peers_refused",
					 (json_int_t)st.transport.peers_refused, "frames_rejected",
					 (json_int_t)st.transport.frames_rejected, "bytes_sent",
					 (json_int_t)st.transport.bytes_sent, "bytes_received",
					 (json_int_t)st.transport.bytes_received)));
}

/* ?revision=R: a read at R waits until this party applied R. */
static int wait_revision(struct api_server *s, struct MHD_Connection *c, struct api_resp *r,
			 uint64_t *rev)
{
	*rev = arg_u64(c, "revision", 0);
	if (*rev != 0 && store_fsm_wait_applied(s->fsm, *rev, 10000) != 0) {
		api_set_error(r, MPC_ETIMEDOUT, "revision %" PRIu64 " not applied here within 10 s",
			  *rev);
		return -1;
	}
	return 0;
}

/* The catalog: all of it with the read right; a client that may only
 * append sees the tables it may append to. */
static void h_tables(struct api_server *s, struct MHD_Connection *c, struct api_req *q,
		     struct api_resp *r)
{
	json_t *arr;
	uint64_t rev;
	if (!(q->who.rights & (MPC_RIGHT_READ | MPC_RIGHT_ADMIN | MPC_RIGHT_APPEND)) &&
	    !api_require(q, r, MPC_RIGHT_READ, "list tables"))
		return;
	if (wait_revision(s, c, r, &rev) != 0)
		return;
	store_catalog_tables(s->db, rev, &arr);
	if (!(q->who.rights & (MPC_RIGHT_READ | MPC_RIGHT_ADMIN))) {
		for (size_t i = json_array_size(arr); i-- > 0;) {
			const char *name =
				json_string_value(json_object_get(json_array_get(arr, i), "name"));
			if (name == NULL || !mpc_client_may_append(q->who.ci, name))
				json_array_remove(arr, i);
		}
	}
	api_set_json(r, json_pack("{s:o, s:I}", "tables", arr, "revision",
			      (json_int_t)(rev ? rev : store_fsm_applied(s->fsm))));
}

static void h_table(struct api_server *s, struct MHD_Connection *c, const char *name,
		    struct api_req *q, struct api_resp *r)
{
	json_t *t;
	uint64_t rev;
	int rv;
	if (!(q->who.ci != NULL && mpc_client_may_append(q->who.ci, name)) &&
	    !(q->who.rights & (MPC_RIGHT_READ | MPC_RIGHT_ADMIN))) {
		api_set_error(r, MPC_EPERM,
			      "client '%s' lacks the 'append:%s' and the 'read' right (describe "
			      "table '%s')",
			      q->who.sig.client, name, name);
		return;
	}
	if (wait_revision(s, c, r, &rev) != 0)
		return;
	rv = store_catalog_table(s->db, name, rev, arg_u64(c, "segments", 0) != 0, &t);
	if (rv != 0) {
		api_set_error(r, rv, "table '%s': %s", name, rv == MPC_ENOENT ? "unknown table" : mpc_strerror(rv));
		return;
	}
	api_set_json(r, t);
}

static void h_txns(struct api_server *s, struct MHD_Connection *c, struct api_resp *r)
{
	json_t *arr, *uploads;
	store_catalog_txns(s->db, arg_u64(c, "open", 0) != 0, &arr);
	/* txns that exist only as uploads (this party's): open too */
	uploads = store_upload_list(s->db, s->conf->party_id);
	json_array_extend(arr, uploads);
	json_decref(uploads);
	api_set_json(r, json_pack("{s:o}", "txns", arr));
}

static int txn_is_final(json_t *txn)
{
	const char *st = json_string_value(json_object_get(txn, "state"));
	return st && (strcmp(st, "committed") == 0 || strcmp(st, "aborted") == 0);
}

static void add_local(struct api_server *s, const char *id, json_t *txn)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	if (store_staging_get(s->db, id, &si, err) == 0)
		json_object_set_new(txn, "local",
				    json_pack("{s:i, s:I, s:b}", "party", s->conf->party_id,
					      "received", (json_int_t)si.received, "sealed",
					      si.sealed));
	else
		json_object_set_new(txn, "local", json_pack("{s:i, s:I, s:b}", "party",
							    s->conf->party_id, "received",
							    (json_int_t)0, "sealed", 0));
}

/* A txn's own client may use it; others need right. The client is the log's
 * or, for a txn that exists only as uploads, the signer of the upload's
 * begin here. A txn this party does not know passes: the handler reports
 * it, or the FSM records it (an abort). */
static int txn_access(struct api_server *s, struct api_req *q, struct api_resp *r, const char *id,
		      unsigned right, const char *what)
{
	json_t *txn = NULL;
	int ok = 1;
	if (store_catalog_txn(s->db, id, &txn) == 0 || store_upload_get(s->db, id, &txn) == 0)
		ok = api_require_owner(q, r, json_string_value(json_object_get(txn, "client")), right,
				       what);
	json_decref(txn);
	return ok;
}

static void h_txn_get(struct api_server *s, struct MHD_Connection *c, const char *id,
		      struct api_req *q, struct api_resp *r)
{
	uint64_t wait_ms = arg_u64(c, "wait", 0);
	uint64_t until = (uint64_t)time(NULL) * 1000 + (wait_ms > 60000 ? 60000 : wait_ms);
	json_t *txn = NULL;
	int rv;

	for (;;) {
		uint64_t seen = store_fsm_finals(s->fsm);
		rv = store_catalog_txn(s->db, id, &txn);
		if (wait_ms == 0 || (rv == 0 && txn_is_final(txn)) ||
		    (uint64_t)time(NULL) * 1000 >= until)
			break;
		json_decref(txn);
		txn = NULL;
		store_fsm_wait_final(s->fsm, seen, 500);
	}
	if (rv == MPC_ENOENT && store_upload_get(s->db, id, &txn) == 0) {
		/* only uploads so far: this party's (the resumption point) */
		json_object_set_new(txn, "id", json_string(id));
		json_object_set_new(txn, "state", json_string("uploading"));
		json_object_del(txn, "auth");
		json_object_del(txn, "begin_hash");
		rv = 0;
	}
	if (rv != 0) {
		api_set_error(r, rv, "txn %s: %s", id, rv == MPC_ENOENT ? "unknown transaction" : mpc_strerror(rv));
		return;
	}
	if (!api_require_owner(q, r, json_string_value(json_object_get(txn, "client")),
			       MPC_RIGHT_READ, "read this transaction")) {
		json_decref(txn);
		return;
	}
	add_local(s, id, txn);
	api_set_json(r, txn);
}

/* Wall-clock ms: a party's promise to keep an upload (store/upload.h). */
static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Asks the cluster to abort txn because of a bad request on this party. */
static void abort_txn(struct api_server *s, const char *id, const char *reason)
{
	char err[MPC_ERRMSG_SIZE] = "", full[512];
	uint64_t index;
	int outcome;
	json_t *e;
	snprintf(full, sizeof full, "party %d: %s", s->conf->party_id, reason);
	e = json_pack("{s:s, s:s, s:s}", "op", "abort", "txn", id, "reason", full);
	if (propose(s, e, &outcome, &index, err) != 0)
		LOG_WARN("txn %s: abort not proposed: %s", id, err);
	json_decref(e);
}

/* A seed chunk (common/chunkbox.h): checks the opened message (plain, plen
 * bytes) and sets *share_len to the bytes of shares it stands for. It is
 * stored as it is (store_staging_put_seed), expanded when read
 * (store/shares.h). Returns 0, or zeroes plain, sets r's error and returns
 * non-zero. */
static int check_seed_chunk(uint8_t *plain, size_t plen, size_t *share_len, struct api_resp *r)
{
	uint64_t len = 0;
	int rv = store_share_seed_parse(plain, plen, NULL, NULL, &len);

	if (rv == -1) {
		sodium_memzero(plain, plen);
		api_set_error(r, MPC_EINVAL, "seed chunk of %zu bytes: must be %d", plen,
			      MPC_CHUNKSEED_BYTES);
		return -1;
	}
	if (rv != 0) {
		sodium_memzero(plain, plen);
		api_set_error(r, MPC_EINVAL,
			      "seed chunk of %" PRIu64 " bytes: must be a non-zero multiple of 8 "
			      "up to %u",
			      len, STORE_CHUNK_MAX);
		return -1;
	}
	*share_len = (size_t)len;
	return 0;
}

/* ?begin=LEN (docs/rest-api.md): the LEN bytes before a ?commit=LEN part
 * (or the end) of the body are the client's signed begin, the "auth" object
 * of docs/architecture.md §5. Sets *auth (NULL without ?begin; caller frees)
 * and shrinks *box_len, or sets r's error and returns -1. */
static int chunk_begin_body(struct MHD_Connection *c, const struct api_req *q, size_t *box_len,
			    json_t **auth, struct api_resp *r)
{
	uint64_t len = arg_u64(c, "begin", 0);
	*auth = NULL;
	if (len == 0)
		return 0;
	if (len > *box_len - MPC_CHUNKBOX_BYTES || len > 16384) {
		api_set_error(r, MPC_EINVAL,
			      "?begin=LEN needs at most 16384 bytes of signed begin after the boxed "
			      "chunk");
		return -1;
	}
	*auth = json_loadb(q->body + *box_len - len, (size_t)len, 0, NULL);
	if (!json_is_object(*auth) || !json_is_string(json_object_get(*auth, "client"))) {
		json_decref(*auth);
		*auth = NULL;
		api_set_error(r, MPC_EINVAL,
			      "?begin=%" PRIu64 ": those bytes after the box are not a signed begin "
			      "{client, method, path, time_ms, nonce, sig, body}",
			      len);
		return -1;
	}
	*box_len -= (size_t)len;
	return 0;
}

/* Verifies the begin's client signature of a txn this party has no upload
 * of yet, outside the staging lock: the memo (common/sigmemo.h) makes the
 * check under the lock, and at the commit's apply, a lookup. */
static void begin_preverify(struct api_server *s, const char *id, json_t *auth)
{
	const struct mpc_client_info *ci;
	char why[256];
	json_t *e, *body = NULL, *meta = NULL;
	if (store_upload_get(s->db, id, &meta) == 0) {
		json_decref(meta);
		return;
	}
	e = json_pack("{s:s, s:O, s:O}", "txn", id, "client", json_object_get(auth, "client"),
		      "auth", auth);
	if (e != NULL)
		store_signed_req_open(s->conf->cluster, e, "POST", "/v1/txns", "txn", &ci, &body,
				      why, sizeof why);
	json_decref(body);
	json_decref(e);
}

static void h_txn_chunk(struct api_server *s, struct MHD_Connection *c, const char *id,
			struct api_req *q, struct api_resp *r)
{
	uint64_t rev;
	const char *off = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset");
	const struct mpc_party_info *me = &s->conf->cluster->parties[s->conf->party_id];
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t *plain, *seed_msg = NULL;
	char *begin_rec = NULL;
	size_t plen, share_len, box_len = q->len;
	json_t *txn = NULL, *commit = NULL, *auth = NULL;
	int rv, opened = 0, by_signer;

	if (off == NULL || q->len < MPC_CHUNKBOX_BYTES) {
		api_set_error(r, MPC_EINVAL, "PUT chunks needs ?offset= and a boxed body");
		return;
	}
	if (arg_u64(c, "commit", 0) != 0 && chunk_commit_body(c, q, &box_len, &commit, r) != 0)
		return;
	if (chunk_begin_body(c, q, &box_len, &auth, r) != 0 || wait_revision(s, c, r, &rev) != 0 ||
	    (auth != NULL &&
	     !api_require_owner(q, r, json_string_value(json_object_get(auth, "client")),
				MPC_RIGHT_ADMIN, "upload to this transaction")) ||
	    !txn_access(s, q, r, id, MPC_RIGHT_ADMIN, "upload to this transaction")) {
		json_decref(commit);
		json_decref(auth);
		return;
	}
	/* The begin came in a request its client signed over this body: its own
	 * signature needs no check here (its hash goes into this party's vote).
	 * Sent by another (an admin), it is verified as before. */
	by_signer =
	    auth != NULL && q->who.ci != NULL &&
	    strcmp(q->who.sig.client, json_string_value(json_object_get(auth, "client"))) == 0;
	if (auth != NULL && !by_signer)
		begin_preverify(s, id, auth);
	plen = box_len - MPC_CHUNKBOX_BYTES;
	/* Shares arrive boxed to this party's X25519 key (common/chunkbox.h): only
	 * it can read them. Opened in place: no second buffer. */
	if (mpc_chunkbox_open((uint8_t *)q->body, box_len, me->box_pk, s->conf->box_sk, &plain) !=
	    0) {
		json_decref(commit);
		json_decref(auth);
		api_set_error(r, MPC_ECRYPTO, "chunk is not boxed to party %d's public key",
			  s->conf->party_id);
		return;
	}
	share_len = plen;
	if (arg_u64(c, "seed", 0) != 0 && (rv = check_seed_chunk(plain, plen, &share_len, r)) != 0) {
		json_decref(commit);
		json_decref(auth);
		return;
	}
	/* A seed chunk is stored as its seed message (expanded when read,
	 * store/shares.h), which the staging digest covers; a boxed chunk's
	 * digest covers the box header and GCM tag, which authenticate it
	 * (docs/store-performance.md): no second pass over the shares. */
	if (arg_u64(c, "seed", 0) != 0)
		seed_msg = plain;
	store_staging_lock(s->db);
	/* a txn the log does not know: its upload, or a new one with the signed begin */
	/* the begin record (new or refreshed) is written with the chunk, and a
	 * last chunk's seal too: one RocksDB write */
	rv = store_upload_open_text(s->fsm, id, auth, by_signer, wall_ms(), &txn, &begin_rec, err);
	opened = rv == 0;
	if (rv == 0) {
		size_t row_bytes = json_array_size(json_object_get(txn, "columns")) * 8;
		/* chunks hold whole rows: the shares are read back row by row */
		if (row_bytes == 0 || share_len % row_bytes != 0) {
			mpc_errmsg_printf(err, "chunk of %zu bytes is not whole rows of %zu columns",
					  share_len, row_bytes / 8);
			rv = MPC_EINVAL;
		} else if (seed_msg != NULL) {
			rv = store_staging_put_seed(
			    s->db, id, strtoull(off, NULL, 10), seed_msg, plen, begin_rec,
			    begin_rec ? strlen(begin_rec) : 0, arg_u64(c, "prepare", 0) != 0, err);
		} else {
			rv = store_staging_put_last(
			    s->db, id, strtoull(off, NULL, 10), plain, plen, (uint8_t *)q->body,
			    MPC_CHUNKBOX_BYTES, begin_rec, begin_rec ? strlen(begin_rec) : 0,
			    arg_u64(c, "prepare", 0) != 0, err);
		}
		/* a refused chunk still leaves the upload's record, as before */
		if (rv != 0 && begin_rec != NULL) {
			char werr[MPC_ERRMSG_SIZE] = "";
			if (store_staging_begin_put(s->db, id, begin_rec, strlen(begin_rec),
						    werr) != 0)
				LOG_WARN("txn %s: begin record not written: %s", id, werr);
		}
	}
	store_staging_unlock(s->db);
	free(begin_rec);
	sodium_memzero(plain, plen); /* the shares, or the seed message */
	json_decref(auth);
	if (opened && (rv == MPC_ECONFLICT || rv == MPC_EINVAL)) {
		json_decref(txn);
		json_decref(commit);
		abort_txn(s, id, err);
		api_set_error(r, rv, "%s; transaction aborted", err);
		return;
	}
	if (rv != 0) {
		json_decref(txn);
		json_decref(commit);
		api_set_error(r, rv, "%s", err);
		return;
	}
	/* txn: the upload's begin record, just opened: the prepare and the
	 * commit below need not read it again */
	if (commit != NULL) {
		/* the leader's last chunk carries the other parties' votes: its
		 * prepare adds this party's and commits (one request less) */
		do_prepare(s, id, txn, r);
		if (r->status == 200)
			commit_with_own_vote(s, id, commit, json_object_get(txn, "auth"), r);
		json_decref(commit);
		json_decref(txn);
		return;
	}
	if (arg_u64(c, "prepare", 0) != 0) {
		/* the last chunk: one round trip less per party */
		do_prepare(s, id, txn, r);
		json_decref(txn);
		return;
	}
	json_decref(txn);
	{
		struct store_staging_info si;
		store_staging_get(s->db, id, &si, err);
		api_set_json(r, json_pack("{s:s, s:i, s:I}", "txn", id, "party", s->conf->party_id,
				      "received", (json_int_t)si.received));
	}
}

static void h_txn_prepare(struct api_server *s, struct MHD_Connection *c, const char *id,
			  struct api_req *q, struct api_resp *r)
{
	uint64_t rev;
	if (wait_revision(s, c, r, &rev) != 0)
		return;
	if (!txn_access(s, q, r, id, MPC_RIGHT_ADMIN, "prepare this transaction"))
		return;
	do_prepare(s, id, NULL, r);
}

/* Seals this party's staged shares, makes them durable and casts its signed
 * vote: proposes it, or with vote_back answers it to the client, which
 * carries the votes of all parties in its commit (POST .../commit). */
static void do_prepare(struct api_server *s, const char *id, json_t *meta, struct api_resp *r)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE] = "", msg[512], digest[2 * STORE_DIGEST_BYTES + 1], sig64[128];
	char begin[2 * STORE_BEGIN_HASH_BYTES + 1];
	uint8_t sig[crypto_sign_BYTES];
	uint64_t rows, ncols, keep_until;
	json_t *txn = NULL, *entry;
	int rv;
	size_t mlen;

	/* The vote is always answered (no prepared entries any more). meta: the
	 * upload's begin record when the caller just opened it (same request);
	 * else it is opened here (refreshing keep_until_ms of a long upload). */
	store_staging_lock(s->db);
	if (meta != NULL) {
		txn = json_incref(meta);
		rv = 0;
	} else {
		rv = store_upload_open(s->fsm, id, NULL, 0, wall_ms(), &txn, err);
	}
	if (rv == 0)
		rv = store_staging_seal(s->db, id, &si, err);
	store_staging_unlock(s->db);
	if (rv == 0) /* chunk files are not synced when their chunk is answered */
		rv = store_staging_sync_files(s->db, id, err);
	if (rv == 0)
		rv = store_db_sync(s->db, err); /* staged shares durable before the vote */
	if (rv != 0) {
		json_decref(txn);
		if (rv == MPC_ESTATE && strstr(err, "no shares") != NULL)
			abort_txn(s, id, err);
		api_set_error(r, rv, "prepare: %s", err);
		return;
	}
	ncols = json_array_size(json_object_get(txn, "columns"));
	keep_until = (uint64_t)json_integer_value(json_object_get(txn, "keep_until_ms"));
	/* the begin this party accepted (its client's request, or its verified
	 * signature): bound into the vote (docs/architecture.md §5) */
	{
		const char *bh = json_string_value(json_object_get(txn, "begin_hash"));
		if (bh != NULL && strlen(bh) == sizeof begin - 1)
			memcpy(begin, bh, sizeof begin); /* computed at the upload's open */
		else if (store_signed_req_hash(s->conf->cluster, json_object_get(txn, "auth"),
					       begin) != 0)
			begin[0] = '\0';
	}
	json_decref(txn);
	if (ncols == 0 || si.received % (ncols * 8) != 0) {
		snprintf(msg, sizeof msg, "staged %" PRIu64 " bytes: not whole rows of %" PRIu64 " columns",
			 si.received, ncols);
		abort_txn(s, id, msg);
		api_set_error(r, MPC_EINVAL, "prepare: %s; transaction aborted", msg);
		return;
	}
	mpc_fault_point("prepare"); /* staged shares are durable, the vote is not cast */
	rows = si.received / (ncols * 8);
	sodium_bin2hex(digest, sizeof digest, si.digest, sizeof si.digest);
	/* the vote promises to keep the upload until keep_until (store/upload.h):
	 * durable, the begin record written before the seal's sync */
	mlen =
	    store_prepared_message_bound(msg, s->conf->cluster->id_hex, id, s->conf->party_id, rows,
					 si.received, digest, keep_until, begin[0] ? begin : NULL);
	mpc_sigmemo_sign(sig, (const uint8_t *)msg, mlen, s->conf->sign_sk);
	mpc_key_encode(sig, sizeof sig, sig64, sizeof sig64);
	entry = json_pack("{s:i, s:I, s:I, s:s, s:I, s:s}", "party", s->conf->party_id, "rows",
			  (json_int_t)rows, "bytes", (json_int_t)si.received, "digest", digest,
			  "keep_until_ms", (json_int_t)keep_until, "sig", sig64);
	if (entry != NULL && begin[0])
		json_object_set_new(entry, "begin", json_string(begin));
	/* a tag per party j under K_{self,j}: j accepts the vote without the
	 * Ed25519 check (the signature stays, for audit) */
	if (entry != NULL && s->fsm->pairkeys != NULL) {
		json_t *macs = json_array();
		char tag[MPC_PAIRKEY_TAG_HEX + 1];
		for (int j = 0; j < s->fsm->pairkeys->n; j++) {
			mpc_pairkeys_tag(s->fsm->pairkeys, j, msg, mlen, tag);
			json_array_append_new(macs, json_string(tag));
		}
		json_object_set_new(entry, "macs", macs);
	}
	/* No entry: the upload stays until the txn's commit or abort is applied,
	 * or an entry stamped past keep_until. */
	api_set_json(r, json_pack("{s:s, s:i, s:s, s:I, s:o, s:i}", "id", id, "party",
			      s->conf->party_id, "vote", "prepared", "rows", (json_int_t)rows,
			      "signed_vote", entry, "leader", leader_hint(s)));
}

/* 1 when votes is an array of 1..n votes (their checks are the FSM's), else sets r's error. */
static int votes_usable(struct api_server *s, const char *id, json_t *votes, struct api_resp *r)
{
	if (json_is_array(votes) && json_array_size(votes) > 0 &&
	    json_array_size(votes) <= (size_t)s->conf->cluster->n_parties)
		return 1;
	api_set_error(r, MPC_EINVAL,
		      "commit of txn %s: body must be {\"votes\": [...]} with 1..%d signed "
		      "votes from the parties' prepare answers",
		      id, s->conf->cluster->n_parties);
	return 0;
}

/* ?commit=LEN on a last chunk (docs/rest-api.md): the body is the box followed by
 * LEN bytes of a commit body {"votes": [...]}, all of it signed by the client.
 * Sets *box_len and *commit (caller frees), or r's error and returns -1. */
static int chunk_commit_body(struct MHD_Connection *c, const struct api_req *q, size_t *box_len,
			     json_t **commit, struct api_resp *r)
{
	uint64_t len = arg_u64(c, "commit", 0);
	*commit = NULL;
	if (arg_u64(c, "prepare", 0) == 0 || arg_u64(c, "vote", 0) == 0 ||
	    len > q->len - MPC_CHUNKBOX_BYTES || len > COMMIT_VOTES_MAX) {
		api_set_error(r, MPC_EINVAL,
			      "?commit=LEN needs prepare=1&vote=1 and at most "
			      "%d bytes of votes after the boxed chunk",
			      COMMIT_VOTES_MAX);
		return -1;
	}
	*commit = json_loadb(q->body + q->len - len, (size_t)len, 0, NULL);
	if (!json_is_array(json_object_get(*commit, "votes"))) {
		json_decref(*commit);
		*commit = NULL;
		api_set_error(r, MPC_EINVAL, "?commit=LEN: the body's last %" PRIu64
					     " bytes are not {\"votes\": [...]}", len);
		return -1;
	}
	*box_len = q->len - (size_t)len;
	return 0;
}

static void commit_votes_of(struct api_server *s, const char *id, json_t *votes, json_t *begin,
			    struct api_resp *r);

/* r holds this party's prepare answer with its signed vote: commits with it
 * and the votes in commit; the answer is the commit's (or its refusal), with
 * the vote added. */
static void commit_with_own_vote(struct api_server *s, const char *id, json_t *commit,
				 json_t *begin, struct api_resp *r)
{
	json_t *mine = json_incref(json_object_get(r->json, "signed_vote"));
	json_t *votes = json_copy(json_object_get(commit, "votes"));

	if (mine == NULL || votes == NULL || json_array_append(votes, mine) != 0) {
		api_set_error(r, MPC_ENOMEM, "commit of txn %s: out of memory", id);
	} else if (votes_usable(s, id, votes, r)) {
		commit_votes_of(s, id, votes, begin, r);
		json_object_set(r->json, "signed_vote", mine);
	}
	json_decref(votes);
	json_decref(mine);
}

/* Commits txn with the signed votes the client collected (do_prepare with
 * vote_back): one entry instead of one per party plus the leader's commit. */
static void h_txn_commit(struct api_server *s, const char *id, struct api_req *q,
			 struct api_resp *r)
{
	json_t *body = q->body ? json_loadb(q->body, q->len, 0, NULL) : NULL;
	json_t *votes = json_object_get(body, "votes");

	if (votes_usable(s, id, votes, r) &&
	    txn_access(s, q, r, id, MPC_RIGHT_ADMIN, "commit this transaction"))
		commit_votes_of(s, id, votes, json_object_get(body, "begin"), r);
	json_decref(body);
}

/* Proposes the commit entry with the parties' signed votes and the txn's
 * signed begin (docs/architecture.md §5): begin (the upload's, or the commit
 * body's) or, when NULL, this party's upload's; r gets the outcome. Every
 * party verifies the begin at apply, whoever supplied it. */
static void commit_votes_of(struct api_server *s, const char *id, json_t *votes, json_t *begin,
			    struct api_resp *r)
{
	json_t *e, *txn = NULL, *meta = NULL;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t index = 0;
	int outcome = 0, rv;

	e = json_pack("{s:s, s:s, s:O}", "op", "commit", "txn", id, "votes", votes);
	if (!json_is_object(begin) && store_upload_get(s->db, id, &meta) == 0)
		begin = json_object_get(meta, "auth");
	if (json_is_object(begin)) {
		json_object_set(e, "auth", begin);
		json_object_set(e, "client", json_object_get(begin, "client"));
	}
	json_decref(meta);
	rv = propose_opt(s, e, 0, &outcome, &index, err);
	json_decref(e);
	if (rv != 0) {
		api_set_error(r, rv, "commit of txn %s: %s", id, err);
		return;
	}
	if (outcome == 0) {
		api_set_json(r, json_pack("{s:s, s:s, s:I}", "id", id, "state", "committed",
				      "revision", (json_int_t)index));
		return;
	}
	store_fsm_wait_applied(s->fsm, index, PROPOSE_TIMEOUT_MS); /* for the reason */
	if (store_catalog_txn(s->db, id, &txn) != 0) {
		/* refused with nothing recorded: the txn stays open to a correct commit */
		api_set_error(r, outcome, "commit of txn %s refused: %s", id,
			      outcome == MPC_ENOENT   ? "unknown transaction (no signed begin)"
			      : outcome == MPC_ECRYPTO ? "a vote's signature is not its party's"
			      : outcome == MPC_EPERM   ? "the begin's client signature does not verify"
			      : outcome == MPC_EINVAL
				  ? "malformed votes (every party's signed vote with keep_until_ms)"
				  : mpc_strerror(outcome));
		return;
	}
	if (strcmp(json_string_value(json_object_get(txn, "state")), "committed") == 0) {
		/* a replay (e.g. a retry whose answer was lost): refused by the log,
		 * but the txn is committed, which is what the caller asks */
		api_set_json(r, json_pack("{s:s, s:s, s:O, s:b}", "id", id, "state", "committed",
					      "revision", json_object_get(txn, "end_revision"),
					      "replay", 1));
		json_decref(txn);
		return;
	}
	{
		const char *st = json_string_value(json_object_get(txn, "state"));
		const char *reason = json_string_value(json_object_get(txn, "reason"));
		api_set_error(r, outcome, "commit of txn %s refused: %s (txn %s%s%s)", id,
			      outcome == MPC_ECRYPTO ? "a vote's signature is not its party's"
			      : outcome == MPC_EINVAL ? "malformed vote"
						      : mpc_strerror(outcome),
			      st ? st : "?", reason ? ": " : "", reason ? reason : "");
	}
	json_decref(txn);
}

static void h_txn_abort(struct api_server *s, const char *id, struct api_req *q,
			struct api_resp *r)
{
	json_t *body = q->body ? json_loadb(q->body, q->len, 0, NULL) : NULL;
	const char *reason = json_string_value(json_object_get(body, "reason"));
	char err[MPC_ERRMSG_SIZE] = "", full[512];
	uint64_t index;
	json_t *e, *txn;
	int outcome, rv;

	if (!txn_access(s, q, r, id, MPC_RIGHT_ADMIN, "abort this transaction")) {
		json_decref(body);
		return;
	}
	snprintf(full, sizeof full, "aborted by client%s%s", reason ? ": " : "", reason ? reason : "");
	json_decref(body);
	e = json_pack("{s:s, s:s, s:s}", "op", "abort", "txn", id, "reason", full);
	rv = propose(s, e, &outcome, &index, err);
	json_decref(e);
	if (rv != 0) {
		api_set_error(r, rv, "abort: %s", err);
		return;
	}
	if (outcome != 0) {
		api_set_error(r, outcome, "abort of txn %s refused: %s", id,
			  outcome == MPC_ESTATE ? "already committed" : mpc_strerror(outcome));
		return;
	}
	if (store_catalog_txn(s->db, id, &txn) == 0)
		api_set_json(r, txn);
}

static void h_verify(struct api_server *s, struct api_resp *r)
{
	char hex[65];
	uint64_t applied;
	store_catalog_digest(s->db, &applied, hex);
	api_set_json(r, json_pack("{s:i, s:I, s:s}", "party", s->conf->party_id, "applied_index",
			      (json_int_t)applied, "digest", hex));
}

static void h_internal_propose(struct api_server *s, struct MHD_Connection *c, struct api_req *q,
			       struct api_resp *r)
{
	const char *party = MHD_lookup_connection_value(c, MHD_HEADER_KIND, API_HDR_PARTY);
	const char *mac = MHD_lookup_connection_value(c, MHD_HEADER_KIND, API_HDR_MAC);
	uint64_t index = 0;
	int outcome = 0, leader = -1, rv;

	if (party == NULL || q->body == NULL ||
	    api_peer_verify(atoi(party), q->body, q->len, mac) != 0) {
		api_set_error(r, MPC_EPERM, "internal call without a valid party MAC");
		return;
	}
	rv = store_node_propose(s->node, q->body, q->len, PROPOSE_TIMEOUT_MS, &outcome, &index,
				&leader);
	if (rv == MPC_ENOTLEADER) {
		r->status = 421;
		json_decref(r->json);
		r->json = json_pack("{s:s, s:o}", "error", "not the leader", "leader",
				    leader >= 0 ? json_integer(leader) : json_null());
		return;
	}
	if (rv != 0) {
		api_set_error(r, rv, "propose: %s", mpc_strerror(rv));
		return;
	}
	api_set_json(r, json_pack("{s:i, s:I}", "outcome", outcome, "index", (json_int_t)index));
}

/* ---- routing ---- */

static void route(struct api_server *s, struct MHD_Connection *c, const char *method,
		  const char *url, struct api_req *q, struct api_resp *r)
{
	char seg[API_PATH_SEGS][API_SEG_BYTES], err[MPC_ERRMSG_SIZE];
	int n = 0, rv;
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	    put = strcmp(method, "PUT") == 0;

	rv = api_path_split(url, seg, &n, err);
	if (rv == MPC_EINVAL) {
		api_set_error(r, rv, "%s", err);
		return;
	}
	if (rv != 0 || n < 2 || strcmp(seg[0], "v1") != 0)
		goto notfound;
	if (n == 2 && get && strcmp(seg[1], "health") == 0)
		return h_health(s, r);
	if (n == 2 && get && strcmp(seg[1], "raft") == 0) {
		if (api_require(q, r, MPC_RIGHT_READ, "read the raft status"))
			h_raft(s, r);
		return;
	}
	if (n == 2 && get && strcmp(seg[1], "verify") == 0)
		return h_verify(s, r);
	if (strcmp(seg[1], "tables") == 0) {
		if (n == 2 && get)
			return h_tables(s, c, q, r);
		if (n == 3 && get)
			return h_table(s, c, seg[2], q, r);
	}
	if (strcmp(seg[1], "txns") == 0) {
		if (n == 2 && get) {
			if (api_require(q, r, MPC_RIGHT_READ, "list transactions"))
				h_txns(s, c, r);
			return;
		}
		if (n == 2 && post) {
			api_set_error(r, MPC_ENOENT,
				      "POST /v1/txns: there is no begin request any more; send the "
				      "signed begin with the txn's chunks (PUT /v1/txns/ID/chunks"
				      "?begin=LEN, docs/rest-api.md)");
			return;
		}
		if (n == 3 && get)
			return h_txn_get(s, c, seg[2], q, r);
		if (n == 4 && put && strcmp(seg[3], "chunks") == 0)
			return h_txn_chunk(s, c, seg[2], q, r);
		if (n == 4 && post && strcmp(seg[3], "prepare") == 0)
			return h_txn_prepare(s, c, seg[2], q, r);
		if (n == 4 && post && strcmp(seg[3], "abort") == 0)
			return h_txn_abort(s, seg[2], q, r);
		if (n == 4 && post && strcmp(seg[3], "commit") == 0)
			return h_txn_commit(s, seg[2], q, r);
	}
	if (n == 3 && post && strcmp(seg[1], "internal") == 0 && strcmp(seg[2], "propose") == 0)
		return h_internal_propose(s, c, q, r);
	if (strcmp(seg[1], "jobs") == 0) {
		const char *rest = url;
		while (*rest == '/')
			rest++;
		rest += strlen("v1/jobs"); /* "" or "/..." */
		return api_jobs_route(s, c, method, rest, q, r);
	}
	if (strcmp(seg[1], "engine") == 0) {
		const char *rest = url;
		while (*rest == '/')
			rest++;
		rest += strlen("v1/engine"); /* "" or "/..." */
		return api_engine_route(s, c, method, rest, q, r);
	}
notfound:
	api_set_error(r, MPC_ENOENT, "no such endpoint: %s %s", method, url);
}

/* Per connection thread (MHD runs one per connection, its requests in order):
 * one reusable body buffer, so every multi-MiB chunk does not fault in fresh
 * pages. Freed when the thread ends. */
#define BODY_REUSE_MIN ((size_t)64 << 10)
static pthread_key_t body_key;
static pthread_once_t body_once = PTHREAD_ONCE_INIT;

struct body_cache {
	char *buf;
	size_t cap;
};

static void body_cache_free(void *p)
{
	struct body_cache *bc = p;
	free(bc->buf);
	free(bc);
}

static void body_key_init(void)
{
	pthread_key_create(&body_key, body_cache_free);
}

static char *thread_body(size_t need)
{
	struct body_cache *bc;
	pthread_once(&body_once, body_key_init);
	bc = pthread_getspecific(body_key);
	if (bc == NULL) {
		bc = calloc(1, sizeof *bc);
		if (bc == NULL)
			return NULL;
		pthread_setspecific(body_key, bc);
	}
	if (bc->cap < need) {
		char *b = realloc(bc->buf, need);
		if (b == NULL)
			return NULL;
		bc->buf = b;
		bc->cap = need;
	}
	return bc->buf;
}

/* GET /metrics: Prometheus text format (the one non-JSON answer). */
static void metric(struct mpc_dynbuf *b, const char *name, const char *type, const char *help,
		   const char *labels, double value)
{
	char line[512];
	int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s%s %.17g\n", name, help,
			 name, type, name, labels ? labels : "", value);
	mpc_dynbuf_write(line, 1, (size_t)n, b);
}

static char *metrics_text(struct api_server *s)
{
	struct mpc_dynbuf b = {NULL, 0};
	struct store_node_status st;
	json_t *tables = NULL, *open = NULL, *fuel, *g, *t;
	double rows = 0;
	char labels[64];
	size_t i;

	store_node_status(s->node, &st);
	snprintf(labels, sizeof labels, "{party=\"%d\"}", s->conf->party_id);
	metric(&b, "mpcstore_up", "gauge", "1 while this party serves its API.", labels, 1);
	metric(&b, "mpcstore_raft_leader", "gauge", "1 if this party leads the Raft group.", labels,
	       strcmp(st.state, "leader") == 0);
	metric(&b, "mpcstore_raft_has_leader", "gauge", "1 if this party knows a leader.", labels,
	       st.leader >= 0);
	metric(&b, "mpcstore_raft_term", "gauge", "Current Raft term.", labels, (double)st.term);
	metric(&b, "mpcstore_raft_commit_index", "gauge", "Highest Raft index known committed.",
	       labels, (double)st.commit_index);
	metric(&b, "mpcstore_raft_applied_index", "gauge", "Highest Raft index applied here.",
	       labels, (double)st.applied_index);
	metric(&b, "mpcstore_raft_last_index", "gauge", "Last Raft index in this party's log.",
	       labels, (double)st.last_index);
	metric(&b, "mpcstore_txns_finished_total", "counter",
	       "Append transactions committed or aborted since this process started.", labels,
	       (double)store_fsm_finals(s->fsm));
	store_catalog_txns(s->db, 1, &open);
	metric(&b, "mpcstore_txns_open", "gauge", "Append transactions pending or prepared.",
	       labels, (double)json_array_size(open));
	json_decref(open);
	store_catalog_tables(s->db, 0, &tables);
	json_array_foreach(tables, i, t)
	rows += (double)json_integer_value(json_object_get(t, "rows"));
	metric(&b, "mpcstore_tables", "gauge", "Tables in the catalog.", labels,
	       (double)json_array_size(tables));
	metric(&b, "mpcstore_rows", "gauge", "Rows in all tables.", labels, rows);
	json_decref(tables);
	fuel = s->engine ? engine_service_fuel(s->engine) : NULL;
	json_array_foreach(json_object_get(fuel, "generators"), i, g)
	{
		char gl[128];
		snprintf(gl, sizeof gl, "{party=\"%d\",generator=\"%s\"}", s->conf->party_id,
			 json_string_value(json_object_get(g, "name")));
		metric(&b, "mpcstore_fuel_consumed_total", "counter",
		       "Preprocessing items (triples) consumed.", gl,
		       (double)json_integer_value(json_object_get(g, "consumed")));
	}
	if (fuel != NULL) {
		json_t *mesh = json_object_get(fuel, "mesh");
		metric(&b, "mpcstore_mesh_connected", "gauge", "1 if every engine peer is connected.",
		       labels, json_is_true(json_object_get(mesh, "connected")));
		metric(&b, "mpcstore_mesh_frames_rejected_total", "counter",
		       "Engine frames that failed authentication.", labels,
		       (double)json_integer_value(json_object_get(mesh, "frames_rejected")));
		metric(&b, "mpcstore_mesh_peers_refused_total", "counter",
		       "Engine connections refused (unknown key).", labels,
		       (double)json_integer_value(json_object_get(mesh, "peers_refused")));
	}
	json_decref(fuel);
	return b.data;
}

/* Routes served without a client signature: liveness, the catalog digest
 * that parties compare (verify --all), and party-to-party calls, which
 * carry the pair's MAC instead (api/peer.c). docs/threat-model.md. */
static int route_is_open(const char *method, const char *url)
{
	if (strcmp(method, "GET") == 0)
		return strcmp(url, "/v1/health") == 0 || strcmp(url, "/v1/verify") == 0;
	return strcmp(method, "POST") == 0 && strcmp(url, "/v1/internal/propose") == 0;
}

/* The one check of client signatures, before any route runs (DESIGN.md §6). */
static int authenticate(struct api_server *s, struct MHD_Connection *c, const char *method,
			struct api_req *q, struct api_resp *r)
{
	const char *client = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MPC_REQSIG_HDR_CLIENT);
	const char *time = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MPC_REQSIG_HDR_TIME);
	const char *nonce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MPC_REQSIG_HDR_NONCE);
	const char *sig64 = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MPC_REQSIG_HDR_SIG);
	char err[MPC_ERRMSG_SIZE] = "", *end;
	struct mpc_reqsig sig;
	struct timeval tv;
	int rv;

	if (client == NULL || time == NULL || nonce == NULL || sig64 == NULL) {
		api_set_error(r, MPC_EAUTH,
			      "unsigned request %s %s: the headers " MPC_REQSIG_HDR_CLIENT
			      ", " MPC_REQSIG_HDR_TIME ", " MPC_REQSIG_HDR_NONCE
			      " and " MPC_REQSIG_HDR_SIG " are required (docs/rest-api.md)",
			      method, q->uri);
		return -1;
	}
	memset(&sig, 0, sizeof sig);
	errno = 0;
	sig.time_ms = strtoll(time, &end, 10);
	if (strlen(client) >= sizeof sig.client || strlen(nonce) >= sizeof sig.nonce ||
	    strlen(sig64) >= sizeof sig.sig || errno != 0 || end == time || *end != '\0') {
		api_set_error(r, MPC_EAUTH, "malformed signature headers of %s %s", method, q->uri);
		return -1;
	}
	strcpy(sig.client, client);
	strcpy(sig.nonce, nonce);
	strcpy(sig.sig, sig64);
	gettimeofday(&tv, NULL);
	rv = api_auth_check(s->conf, s->nonces, (int64_t)s->conf->replay_window_s * 1000,
			    (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, &sig, method, q->uri,
			    q->body, q->len, &q->who, err);
	if (rv != 0) {
		api_set_error(r, rv, "%s", err);
		return -1;
	}
	return 0;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request target exactly as sent (the
 * handler only gets the decoded path); becomes the request's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct api_req *q = calloc(1, sizeof *q);
	(void)cls;
	(void)c;
	if (q != NULL && (q->uri = strdup(uri)) == NULL) {
		free(q);
		q = NULL;
	}
	return q;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *q = *con_cls;
	struct api_resp r = {500, NULL};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	if (q == NULL)
		return MHD_NO; /* on_uri ran out of memory */
	if (!q->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		q->started = 1;
		/* One allocation for the announced body instead of growing per piece;
		 * large bodies (share chunks) reuse this connection thread's buffer. */
		q->cap = cl ? strtoull(cl, NULL, 10) : 0;
		if (q->cap > BODY_MAX)
			q->too_big = 1;
		else if (q->cap >= BODY_REUSE_MIN && (q->body = thread_body(q->cap + 1)) != NULL)
			q->borrowed = 1;
		else if (q->cap > 0 && (q->body = malloc(q->cap + 1)) == NULL)
			q->cap = 0;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		if (!q->too_big && q->len + *upload_size <= q->cap) {
			memcpy(q->body + q->len, upload, *upload_size);
			q->len += *upload_size;
			q->body[q->len] = '\0';
		} else if (!q->too_big && !q->borrowed && q->len + *upload_size <= BODY_MAX) {
			char *b = realloc(q->body, q->len + *upload_size + 1);
			if (b == NULL) {
				q->too_big = 1;
			} else {
				memcpy(b + q->len, upload, *upload_size);
				q->body = b;
				q->len += *upload_size;
				q->cap = q->len;
				b[q->len] = '\0';
			}
		} else {
			q->too_big = 1;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0) {
		text = metrics_text(s);
		resp = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : "",
						       text ? MHD_RESPMEM_MUST_FREE
							    : MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
		ret = MHD_queue_response(c, 200, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (q->too_big)
		api_set_error(&r, MPC_EINVAL, "request body larger than %zu bytes", BODY_MAX);
	else if (route_is_open(method, url) || authenticate(s, c, method, q, &r) == 0)
		route(s, c, method, url, q, &r);
	if (r.status >= 500 || (r.status >= 400 && r.status != 404))
		LOG_INFO("%s %s -> %u %s", method, url, r.status,
			 json_string_value(json_object_get(r.json, "error")));
	else
		LOG_DEBUG("%s %s -> %u", method, url, r.status);
	text = json_dumps(r.json ? r.json : json_object(), JSON_COMPACT);
	json_decref(r.json);
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(c, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_req *q = *con_cls;
	if (q != NULL) {
		if (!q->borrowed)
			free(q->body);
		free(q->uri);
		free(q);
		*con_cls = NULL;
	}
}

/* Uploads to txns the log does not know are dropped only when an entry
 * stamped past their deadline is applied (store/upload.h). When this party
 * holds one past its deadline by its own clock and the log's clock has not
 * got there (an idle cluster), it asks the leader for a tick entry: at most
 * once per TICK_CHECK_MS, nothing at all while no upload is overdue. */
#define TICK_CHECK_MS 1000
static void *ticker_main(void *arg)
{
	struct api_server *s = arg;
	struct timespec ts;
	pthread_mutex_lock(&s->tick_mu);
	while (!s->tick_stop) {
		mpc_deadline_after(&ts, TICK_CHECK_MS);
		pthread_cond_timedwait(&s->tick_cv, &s->tick_mu, &ts);
		if (s->tick_stop)
			break;
		pthread_mutex_unlock(&s->tick_mu);
		if (store_upload_tick_due(s->fsm, wall_ms())) {
			char err[MPC_ERRMSG_SIZE] = "";
			uint64_t index;
			int outcome;
			json_t *e = json_pack("{s:s}", "op", "tick");
			if (propose_opt(s, e, 0, &outcome, &index, err) != 0)
				LOG_DEBUG("tick not proposed: %s", err);
			json_decref(e);
		}
		pthread_mutex_lock(&s->tick_mu);
	}
	pthread_mutex_unlock(&s->tick_mu);
	return NULL;
}

int api_server_start(struct store_node *node, struct store_fsm *fsm, struct store_db *db,
		     const struct mpc_party_conf *conf, struct engine_service *engine,
		     struct sched_service *sched, struct api_server **out, char *errmsg)
{
	const struct mpc_party_info *me = &conf->cluster->parties[conf->party_id];
	struct addrinfo hints, *ai = NULL;
	struct api_server *s;
	char port[16];
	int rv;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", me->api_port);
	rv = getaddrinfo(me->host, port, &hints, &ai);
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "api address %s:%u: %s", me->host, me->api_port,
				  gai_strerror(rv));
		return MPC_ECONFIG;
	}
	s = calloc(1, sizeof *s);
	/* room for the nonces of ~2 windows at a few thousand requests per second */
	if (s != NULL && (s->nonces = api_nonce_cache_new((size_t)1 << 18)) == NULL) {
		free(s);
		s = NULL;
	}
	if (s == NULL || api_peer_init(conf) != 0) {
		freeaddrinfo(ai);
		if (s != NULL)
			api_nonce_cache_free(s->nonces);
		free(s);
		mpc_errmsg_printf(errmsg, "cannot derive the party MAC keys");
		return MPC_ECRYPTO;
	}
	s->node = node;
	s->fsm = fsm;
	s->db = db;
	s->conf = conf;
	s->engine = engine;
	s->sched = sched;
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					  MHD_USE_ERROR_LOG,
				  (uint16_t)me->api_port, NULL, NULL, on_request, s,
				  MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
				  on_completed, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				  MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				  MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (s->mhd == NULL) {
		mpc_errmsg_printf(errmsg, "cannot listen on %s:%u (port in use?)", me->host,
				  me->api_port);
		api_peer_free();
		api_nonce_cache_free(s->nonces);
		free(s);
		return MPC_EIO;
	}
	pthread_mutex_init(&s->tick_mu, NULL);
	pthread_cond_init(&s->tick_cv, NULL);
	s->ticker_started = pthread_create(&s->ticker, NULL, ticker_main, s) == 0;
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->tick_mu);
	srv->tick_stop = 1;
	pthread_cond_broadcast(&srv->tick_cv);
	pthread_mutex_unlock(&srv->tick_mu);
	if (srv->ticker_started)
		pthread_join(srv->ticker, NULL);
	pthread_mutex_destroy(&srv->tick_mu);
	pthread_cond_destroy(&srv->tick_cv);
	MHD_stop_daemon(srv->mhd);
	api_peer_free();
	api_nonce_cache_free(srv->nonces);
	free(srv);
}
