/* mpcstore-tool fuel: the fuel generators of one party (available, produced, consumed, rate, ranges). */
#ifndef MPC_TOOLS_FUEL_CMD_H
#define MPC_TOOLS_FUEL_CMD_H

#include "client/mpcclient.h"

/* Asks party's API (GET /v1/engine/fuel) and prints a table, or the JSON
 * with json != 0. Returns the process exit status (0 ok, 1 error). */
int tool_fuel_cmd(struct mpc_client *cl, int party, int json);

#endif
