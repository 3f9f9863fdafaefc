/* Private to api/: the server state and the request/answer types shared by the route files. */
#ifndef MPC_API_INTERNAL_H
#define MPC_API_INTERNAL_H

#include "api/auth.h"
#include "common/conf.h"
#include "store/node.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

struct engine_service;
struct sched_service;

struct api_server {
	struct MHD_Daemon *mhd;
	struct store_node *node;
	struct store_fsm *fsm;
	struct store_db *db;
	const struct mpc_party_conf *conf;
	struct engine_service *engine; /* may be NULL */
	struct sched_service *sched;   /* may be NULL */
	struct api_nonce_cache *nonces; /* of accepted signed requests */
	/* proposes a tick when an upload here passed its deadline (server.c) */
	pthread_t ticker;
	pthread_mutex_t tick_mu;
	pthread_cond_t tick_cv;
	int tick_stop, ticker_started;
};

struct api_req {
	char *body; /* NUL-terminated, may be NULL */
	size_t len;
	size_t cap; /* allocated for body (from Content-Length) */
	int too_big;
	int borrowed; /* body is this connection thread's reusable buffer */
	int started;  /* the headers were seen (first call of the handler) */
	char *uri;    /* the request target as sent (path?query): what was signed */
	struct api_caller who; /* the authenticated sender (open routes: none) */
};

struct api_resp {
	unsigned status;
	json_t *json; /* owned */
};

/* The one mapping from MPC_E* to an HTTP status. */
unsigned api_http_status(int rv);
/* Sets r to {"error": text, "code": name} with the status of rv. */
void api_set_error(struct api_resp *r, int rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets r to 200 with j (ownership passes to r). */
void api_set_json(struct api_resp *r, json_t *j);
/* Whether the sender of q holds right (admin holds all); else sets r to 403
 * naming the client, the right and what it is needed for. */
int api_require(struct api_req *q, struct api_resp *r, unsigned right, const char *what);
/* Whether the sender of q is `client` (the owner of a job or txn) or holds
 * right; else sets r to 403. */
int api_require_owner(struct api_req *q, struct api_resp *r, const char *client, unsigned right,
		      const char *what);

/* Routes /v1/engine/...: rest is the path after "/v1/engine" ("" or "/..."). In api/engine.c. */
void api_engine_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		      const char *rest, struct api_req *q, struct api_resp *r);

/* Routes /v1/jobs...: rest is the path after "/v1/jobs" ("" or "/..."). In api/jobs.c. */
void api_jobs_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		    const char *rest, struct api_req *q, struct api_resp *r);

/* Proposes entry through the leader (forwarding when this party does not
 * lead); with wait_local also waits until this party applied it. */
int api_propose(struct api_server *s, json_t *entry, int wait_local, int *outcome,
		uint64_t *index, char *errmsg);

#endif
