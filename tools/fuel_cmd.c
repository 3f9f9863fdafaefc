/* mpcstore-tool fuel: prints a party's fuel ledger from GET /v1/engine/fuel. */
#include "tools/fuel_cmd.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>

int tool_fuel_cmd(struct mpc_client *cl, int party, int json)
{
	char err[MPC_ERRMSG_SIZE] = "";
	json_t *j = NULL, *g, *m;
	size_t i;

	if (mpc_client_call(cl, party, "GET", "/v1/engine/fuel", NULL, 0, &j, err) != 0) {
		fprintf(stderr, "mpcstore-tool: %s\n", err);
		json_decref(j);
		return 1;
	}
	if (json) {
		char *text = json_dumps(j, JSON_INDENT(2));
		puts(text);
		free(text);
		json_decref(j);
		return 0;
	}
	printf("%-6s %-20s %-14s %-14s %-14s %s\n", "GEN", "HIGH-WATER-MARK", "PRODUCED", "CONSUMED",
	       "RATE/S", "AVAILABLE");
	json_array_foreach(json_object_get(j, "generators"), i, g)
	{
		printf("%-6s %-20s %-14lld %-14lld %-14.0f %s\n",
		       json_string_value(json_object_get(g, "name")),
		       json_string_value(json_object_get(g, "high_water_mark")),
		       (long long)json_integer_value(json_object_get(g, "produced")),
		       (long long)json_integer_value(json_object_get(g, "consumed")),
		       json_real_value(json_object_get(g, "rate_per_s")),
		       json_string_value(json_object_get(g, "available")));
		printf("  %zu range(s) handed out\n", json_array_size(json_object_get(g, "ranges")));
	}
	m = json_object_get(j, "mesh");
	printf("mesh: %s, %lld bytes sent, %lld frames rejected, %lld peers refused\n",
	       json_is_true(json_object_get(m, "connected")) ? "all peers connected"
							     : "peers missing",
	       (long long)json_integer_value(json_object_get(m, "bytes_sent")),
	       (long long)json_integer_value(json_object_get(m, "frames_rejected")),
	       (long long)json_integer_value(json_object_get(m, "peers_refused")));
	json_decref(j);
	return 0;
}
