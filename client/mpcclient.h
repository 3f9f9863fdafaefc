/* libmpcclient: talk to every party of an mpcstore cluster (HTTP via libcurl), split values into
 * additive shares, seal each party's shares to its key, run append transactions. */
#ifndef MPCCLIENT_H
#define MPCCLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

struct mpc_client;

/* Opens a client from its config file: path, else $MPC_CONFIG, else
 * ~/.config/mpcstore/client.conf. Caller frees with mpc_client_close(). */
int mpc_client_open(const char *path, struct mpc_client **out, char *errmsg);
/* Opens a client for a party's own administrator (mpcstore-tool -c
 * mpcd.conf): requests are signed as "party:N" with the party's key, which
 * that party's API accepts for reading (GET) only and other parties refuse.
 * pc must outlive the client. */
int mpc_client_open_party(const struct mpc_party_conf *pc, struct mpc_client **out);
void mpc_client_close(struct mpc_client *cl);
const struct mpc_cluster *mpc_client_cluster(const struct mpc_client *cl);
/* The client's name ("" for a party admin). */
const char *mpc_client_name(const struct mpc_client *cl);

/* One API call to party. body may be NULL. On a 2xx answer returns 0 and
 * *resp (new reference, may be NULL if not wanted). Otherwise returns the
 * MPC_E* matching the HTTP status (MPC_EUNAVAIL when the party cannot be
 * reached) and writes "party N (host:port): <error>" into errmsg. */
int mpc_client_call(struct mpc_client *cl, int party, const char *method, const char *path,
		    const void *body, size_t len, json_t **resp, char *errmsg);
/* The same, to the first party that answers (tries 0..n-1). */
int mpc_client_call_any(struct mpc_client *cl, const char *method, const char *path,
			const void *body, size_t len, json_t **resp, char *errmsg);

/* ---- append transactions (DESIGN.md §3) ---- */

/* Begins an append to table: signs the begin locally, as the request
 * POST /v1/txns it stands for (its nonce is the txn id; DESIGN.md §6,
 * docs/architecture.md §5); no call is made. columns (borrowed, may be NULL
 * for an existing table) is [{name,type,frac}]. Writes the txn id (33
 * bytes) and *begin, the signed begin as JSON text that every chunk upload
 * carries (malloc'd; caller frees). A party learns of the txn from its first
 * chunk; the log from the commit. */
int mpc_client_txn_begin(struct mpc_client *cl, const char *table, json_t *columns, int create,
			 unsigned timeout_ms, char *txn, char **begin, char *errmsg);
/* Uploads bytes of this party's share stream at offset, sealed to the party,
 * with the signed begin (may be NULL once the party has the txn's upload);
 * with prepare set, the party prepares right after storing them (the last
 * chunk: saves the separate prepare call) and answers its vote. */
int mpc_client_txn_put(struct mpc_client *cl, int party, const char *txn, const char *begin,
		       uint64_t offset, const void *shares, size_t len, int prepare, char *errmsg);
/* Uploads a seed chunk at offset, sealed to the party: msg is a seed message
 * (mpc_chunkseed_pack(), MPC_CHUNKSEED_BYTES) from which the party expands
 * its shares (docs/rest-api.md); other sizes only to test the party's checks. */
int mpc_client_txn_put_seed(struct mpc_client *cl, int party, const char *txn, const char *begin,
			    uint64_t offset, const void *msg, size_t mlen, int prepare,
			    char *errmsg);
/* Asks party to prepare (seal its staged shares) and answer its signed vote,
 * which promises to keep the upload until its keep_until_ms; *vote is a new
 * reference for mpc_client_txn_commit(). */
int mpc_client_txn_prepare_vote(struct mpc_client *cl, int party, const char *txn, json_t **vote,
				char *errmsg);
/* Commits txn with votes, the "signed_vote" objects of the parties' answers to
 * a prepare with vote=1 (borrowed), through party (the leader) first, the
 * others if it is down. 0: committed. An error from a party that answered
 * (errmsg says why) leaves the txn's state to mpc_client_txn_wait(). */
int mpc_client_txn_commit(struct mpc_client *cl, int party, const char *txn, const char *begin,
			  json_t *votes, char *errmsg);
/* Asks for an abort. */
int mpc_client_txn_abort(struct mpc_client *cl, int party, const char *txn, const char *reason,
			 char *errmsg);
/* Waits (long poll) until txn is committed or aborted, asking party first
 * (-1: any; the leader knows first) and the others if it is down; state gets
 * "committed"/"aborted"/"pending"/"prepared" and reason the abort reason. */
int mpc_client_txn_wait(struct mpc_client *cl, int party, const char *txn, int timeout_ms,
			char *state, char *reason, size_t reason_size, char *errmsg);

struct mpc_append {
	const char *table;
	json_t *columns;	/* borrowed; NULL: the table's */
	int create;		/* create the table if missing */
	const uint64_t *values; /* row-major rows x ncols ring elements (plaintext) */
	uint64_t rows;
	size_t ncols;
	size_t chunk_bytes; /* 0: 4 MiB */
	unsigned timeout_ms;
};

struct mpc_append_result {
	char txn[33];
	uint64_t revision; /* of the begin */
	int leader;	   /* raft leader when the begin was accepted */
	char state[16];
	char reason[256];
};

/* Splits values into n additive shares over Z_2^64 (n-1 uniformly random,
 * the last the difference), uploads each party's shares sealed to it, in
 * parallel, prepares on every party and waits for the outcome. Returns 0 when
 * committed; MPC_ECONFLICT/... with result->reason when aborted; on any
 * client-side failure aborts the txn so nothing becomes visible. */
int mpc_client_append(struct mpc_client *cl, const struct mpc_append *req,
		      struct mpc_append_result *result, char *errmsg);

/* ---- streaming appends ----
 *
 * One append transaction fed with rows as they come (e.g. from a CSV
 * parser), whatever the total size, in bounded memory: per party at most
 * MPC_APPEND_STREAM_SLOTS chunks of shares plus one sealed chunk.
 * mpc_client_append() is a wrapper over it.
 *
 * Flow: begin proposes the txn (POST /v1/txns on the first party that
 * answers); rows() splits rows into additive shares, seed-compressed (of
 * chunk i, party i mod n gets the values minus the others' streams, the
 * others a fresh secret seed they expand with AES-256-CTR), and
 * buffers a chunk per party; a chunk full when more rows arrive goes to that
 * party's upload thread (one per party, over the party's persistent
 * connection, started with the first full chunk). commit() sends the last
 * chunk with prepare=1 (all of it as one parallel batch without threads when
 * the whole append fits in one chunk) and waits for the outcome.
 *
 * Resume: a chunk stays in its buffer until the party acknowledged it (the
 * client keeps the unacknowledged data or seed; a seeded party's rest of a
 * chunk is the same seed from the byte it has). When an
 * upload fails with a connection error, the stream backs off, asks the party
 * for its received count (GET /v1/txns/ID, "local"."received"; a vote already
 * recorded for the last chunk counts as done) and sends the rest of the chunk
 * from there, up to `retries` times per chunk; then the upload fails, and
 * commit()/abort() abort the txn so nothing becomes visible.
 *
 * A stream is used by one thread at a time. */
#define MPC_APPEND_STREAM_SLOTS 3

struct mpc_append_stream;

struct mpc_append_stream_opts {
	size_t ncols;	     /* values per row; 0: the length of columns, else the table's */
	size_t chunk_bytes;  /* per party and chunk; 0: 4 MiB; whole rows, at most 64 MiB */
	unsigned timeout_ms; /* txn timeout from its begin; 0: the cluster's txn_timeout_ms */
	int retries;	     /* reconnects per chunk after a connection error; 0: 4; <0: none */
	unsigned backoff_ms; /* first wait before a reconnect, doubled each time; 0: 250 */
};

/* Begins an append transaction on table (see mpc_client_txn_begin(): columns
 * is borrowed, may be NULL for an existing table; create the table if create
 * is set). opts may be NULL (defaults). On 0 *out is a new stream that
 * mpc_append_stream_commit() or mpc_append_stream_abort() frees; otherwise
 * (begin refused, no party reachable, ENOMEM) the MPC_E* code and errmsg. */
int mpc_append_stream_begin(struct mpc_client *cl, const char *table, json_t *columns, int create,
			    const struct mpc_append_stream_opts *opts,
			    struct mpc_append_stream **out, char *errmsg);

/* Adds rows x ncols plaintext ring elements (row-major; borrowed, only read
 * during the call). Blocks while every buffer of a party waits for its upload.
 * Returns 0, or the upload error that stopped the stream (text in
 * mpc_append_stream_errmsg()); the caller then aborts. */
int mpc_append_stream_rows(struct mpc_append_stream *s, const uint64_t *values, uint64_t rows);

/* Uploads the rest, prepares on every party and waits for the outcome; frees
 * s. Returns 0 when committed; MPC_EINVAL when no row was added; otherwise
 * the upload error or MPC_ECONFLICT with result->reason when aborted. On any
 * client-side failure the txn is aborted first, so nothing becomes visible.
 * result is filled in every case (txn, revision, leader, state, reason). */
int mpc_append_stream_commit(struct mpc_append_stream *s, struct mpc_append_result *result,
			     char *errmsg);

/* Stops the uploads, aborts the txn ("aborted by client: REASON") through the
 * first party that answers, and frees s. Returns 0 or the abort call's error. */
int mpc_append_stream_abort(struct mpc_append_stream *s, const char *reason);

/* The txn id (32 hex digits) of the stream. Owned by s. */
const char *mpc_append_stream_txn(const struct mpc_append_stream *s);
/* Rows added so far. */
uint64_t mpc_append_stream_row_count(const struct mpc_append_stream *s);
/* Text of the error that stopped the stream ("" if none). Owned by s. */
const char *mpc_append_stream_errmsg(const struct mpc_append_stream *s);

/* Splits n plaintext values into `parties` additive shares: out[p] must hold n values. */
void mpc_share_split(const uint64_t *values, size_t n, int parties, uint64_t **out);

/* ---- CSV uploads (mpcput, mpcfs) ----
 *
 * One CSV input appended to a table in one streaming append transaction:
 * the header names the columns; an existing table gives the schema (the
 * header must equal its columns), a missing one is created (unless
 * no_create) with types inferred from the first rows (integers: int64,
 * decimals: fixed). Parse errors read "NAME:LINE:COL (COLUMN): what". On
 * any error the txn is aborted, so nothing is appended on any party. */
struct mpc_put_opts {
	unsigned char delimiter;  /* 0: ',' */
	int no_create;		  /* a missing table is an error (MPC_ENOENT) */
	const char *display_name; /* the input's name in messages; NULL: "<input>" */
	unsigned timeout_ms;	  /* txn timeout from its begin; 0: one hour */
	/* Called (may be NULL) after each piece of input, and with final set
	 * once before the commit; rows are those handed to the upload. */
	void (*progress)(void *ctx, uint64_t rows, uint64_t bytes, int final);
	void *progress_ctx;
};

struct mpc_put_result {
	char txn[33];	/* "" if no txn was begun */
	char state[16]; /* committed, aborted, refused (begin refused), pending (abort not
			   confirmed: the cluster aborts at the txn timeout), failed */
	uint64_t rows;	/* rows appended (0 unless committed) */
	uint64_t bytes; /* input bytes read */
	int created;	/* the table was created by this put */
};

/* Reads fd (borrowed, not closed; read until EOF from its current offset)
 * as CSV and appends its rows to table. opts may be NULL. Returns 0 when
 * committed; MPC_EINVAL/MPC_ERANGE for bad input (empty file, header only,
 * ragged row, non-numeric or out-of-range value, header differing from the
 * table's), MPC_ENOENT (no_create), MPC_EIO (read error), or the append's
 * error (MPC_EUNAVAIL, MPC_EPERM, MPC_ECONFLICT, ...); errmsg says why and
 * res (may be NULL) is filled in every case. */
int mpc_client_put_csv(struct mpc_client *cl, const char *table, int fd,
		       const struct mpc_put_opts *opts, struct mpc_put_result *res, char *errmsg);

/* Whether name is a valid table name: [A-Za-z_][A-Za-z0-9_]{0,62}. */
int mpc_table_name_valid(const char *name);

#endif
