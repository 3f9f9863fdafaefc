/* Parsing of REST requests without I/O: URL paths and the JSON bodies of the append and jobs routes. */
#ifndef MPC_API_REQUEST_H
#define MPC_API_REQUEST_H

#include <jansson.h>
#include <stddef.h>

/* Path segments routed on ("v1", "txns", ID, "chunks"), and their size with the NUL. */
#define API_PATH_SEGS 4
#define API_SEG_BYTES 128
/* Longest job program accepted by POST /v1/jobs (bytes). */
#define API_PROGRAM_MAX (1 << 20)

/*
 * Splits url at '/' (runs of '/' count as one, leading ones are skipped)
 * into seg[0..*n-1], NUL-terminated. Returns 0; MPC_EINVAL when a segment
 * has API_SEG_BYTES bytes or more (errmsg says so); MPC_ENOENT when there
 * are more than API_PATH_SEGS segments (no route has that many).
 */
int api_path_split(const char *url, char seg[API_PATH_SEGS][API_SEG_BYTES], int *n,
		   char *errmsg);

/*
 * Body of POST /v1/txns, {table, create, columns, timeout_ms}, signed by
 * client, as the FSM's begin entry for transaction txn_id (a 32-char hex
 * id): on 0 *entry is a new reference; the FSM validates names, rights and
 * columns when it applies it. MPC_EINVAL when len bytes at body are not a
 * JSON object with a string table, MPC_EPERM when the body names another
 * client than the signer (errmsg says which).
 */
int api_txn_begin_entry(const char *body, size_t len, const char *txn_id, const char *client,
			json_t **entry, char *errmsg);

/* A parsed POST /v1/jobs body. The strings and args are borrowed from body. */
struct api_submit {
	json_t *body; /* owned; api_submit_clear() drops it */
	const char *client; /* the signer, borrowed from the caller */
	const char *program, *file, *name, *queue;
	size_t program_len;
	json_int_t priority;
	json_int_t time_limit_s; /* 0: none */
	json_t *args; /* an object, may be empty */
};
#define API_TIME_LIMIT_MAX (366 * 86400) /* seconds */

/*
 * Parses the body of POST /v1/jobs, {program, file, name, queue, priority,
 * time_limit_s, args{}}, signed by client (sub->client), filling the defaults (file
 * "job.mpc", name "job", queue "default", priority 0, args {}). Returns 0
 * (clear *sub with api_submit_clear()), MPC_EINVAL (not an object, program
 * missing or not a string or over API_PROGRAM_MAX bytes, args not an
 * object, time_limit_s not an integer 0..API_TIME_LIMIT_MAX) or MPC_EPERM (the body names another client than the signer);
 * errmsg says which, and *sub is then cleared.
 */
int api_submit_parse(const char *body, size_t len, const char *client, struct api_submit *sub,
		     char *errmsg);
void api_submit_clear(struct api_submit *sub);

#endif
