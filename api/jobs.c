/* REST routes of the scheduler (/v1/jobs...). The scheduler is being built (issue 4): no routes yet. */
#include "api/internal.h"

void api_jobs_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		    const char *rest, struct api_req *q, struct api_resp *r)
{
	api_set_error(r, MPC_ENOENT, "no such endpoint: %s /v1/jobs%s (jobs are not built yet)",
		      method, rest);
}
