/* REST routes of the engine (/v1/engine/...). The networked engine is being built (issue 3): no routes yet. */
#include "api/internal.h"

void api_engine_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		      const char *rest, struct api_req *q, struct api_resp *r)
{
	api_set_error(r, MPC_ENOENT, "no such engine endpoint: %s /v1/engine%s", method, rest);
}
