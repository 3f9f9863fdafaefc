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
/* Opens an unauthenticated client over a cluster description, for admin
 * tools running with a party config. c must outlive the client. */
int mpc_client_open_cluster(const struct mpc_cluster *c, struct mpc_client **out);
void mpc_client_close(struct mpc_client *cl);
const struct mpc_cluster *mpc_client_cluster(const struct mpc_client *cl);
/* The client's name ("" for a cluster-only client). */
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

/* Begins an append to table on party; columns (borrowed, may be NULL for an
 * existing table) is [{name,type,frac}]. Writes the txn id (33 bytes) and the
 * raft revision of the begin, which later calls pass on so that a party that
 * lags behind waits until it knows the txn. */
int mpc_client_txn_begin(struct mpc_client *cl, int party, const char *table, json_t *columns,
			 int create, unsigned timeout_ms, char *txn, uint64_t *revision,
			 int *leader, char *errmsg);
/* Uploads bytes of this party's share stream at offset, sealed to the party;
 * with prepare set, the party prepares right after storing them (the last
 * chunk: saves the separate prepare call). */
int mpc_client_txn_put(struct mpc_client *cl, int party, const char *txn, uint64_t revision,
		       uint64_t offset, const void *shares, size_t len, int prepare, char *errmsg);
/* Asks party to prepare (seal its staged shares and vote). */
int mpc_client_txn_prepare(struct mpc_client *cl, int party, const char *txn, uint64_t revision,
			   char *errmsg);
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

/* Splits n plaintext values into `parties` additive shares: out[p] must hold n values. */
void mpc_share_split(const uint64_t *values, size_t n, int parties, uint64_t **out);

#endif
