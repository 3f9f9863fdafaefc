/* REST API of a party (libmicrohttpd): health, raft status, catalog, append transactions, verify. */
#ifndef MPC_API_SERVER_H
#define MPC_API_SERVER_H

#include "common/conf.h"
#include "store/node.h"

struct api_server;

/* Starts serving on the party's api host:port with its own threads. node,
 * fsm, db and conf must outlive the server. */
struct engine_service;
struct sched_service;

/* engine and sched may be NULL (no /v1/engine or /v1/jobs routes). */
int api_server_start(struct store_node *node, struct store_fsm *fsm, struct store_db *db,
		     const struct mpc_party_conf *conf, struct engine_service *engine,
		     struct sched_service *sched, struct api_server **out, char *errmsg);
/* Stops accepting, waits for running requests, frees the server. Call after
 * store_fsm_shutdown() so that waiting requests return. */
void api_server_stop(struct api_server *srv);

#endif
