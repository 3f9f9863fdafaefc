/* Private state of libmpcclient. */
#ifndef MPC_CLIENT_INTERNAL_H
#define MPC_CLIENT_INTERNAL_H

#include "client/mpcclient.h"

struct mpc_client {
	struct mpc_client_conf *conf; /* NULL for a cluster-only client */
	const struct mpc_cluster *cluster;
};

#endif
