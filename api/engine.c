/* REST routes of the engine (/v1/engine/...): sessions started by a driver or the scheduler, their results, fuel. */
#include "api/internal.h"

#include "engine/service.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/*
 * docs/engine.md documents these routes:
 *   POST   /v1/engine/sessions        start a session (the same body on every party)
 *   GET    /v1/engine/sessions/ID     state, progress, outputs (?values=1: all public values)
 *   DELETE /v1/engine/sessions/ID     stop and forget the session's spec and checkpoints
 *   GET    /v1/engine/fuel            fuel ledger and mesh counters
 */

static void set_rv_error(struct api_resp *r, int rv, const char *msg)
{
	api_set_error(r, rv, "%s", msg);
	/* an overlapping triple range is a conflict, not a server error */
	if (rv == MPC_EOVERLAP)
		r->status = 409;
}

void api_engine_route(struct api_server *s, struct MHD_Connection *c, const char *method,
		      const char *rest, struct api_req *q, struct api_resp *r)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	    del = strcmp(method, "DELETE") == 0;
	char errmsg[MPC_ERRMSG_SIZE] = "";

	if (s->engine == NULL) {
		api_set_error(r, MPC_EUNAVAIL, "the engine is not running on this party");
		return;
	}
	if (get && strcmp(rest, "/fuel") == 0) {
		if (api_require(q, r, MPC_RIGHT_READ, "read the fuel ledger"))
			api_set_json(r, engine_service_fuel(s->engine));
		return;
	}
	/* sessions are driven by the scheduler in-process; over the API only by an admin */
	if (!api_require(q, r, MPC_RIGHT_ADMIN, "drive engine sessions"))
		return;
	if (post && strcmp(rest, "/sessions") == 0) {
		json_error_t jerr;
		json_t *spec = q->body ? json_loadb(q->body, q->len, 0, &jerr) : NULL;
		int rv;
		if (!json_is_object(spec)) {
			json_decref(spec);
			api_set_error(r, MPC_EINVAL, "body must be a JSON session spec");
			return;
		}
		/* a table input reads the store as a job's task does, without the
		 * scheduler's ACL checks: the scheduler's sessions only */
		size_t k;
		json_t *in;
		json_array_foreach(json_object_get(spec, "inputs"), k, in)
		{
			if (json_object_get(in, "table") != NULL) {
				api_set_error(r, MPC_EINVAL, "session input %zu: table inputs are "
						       "for the scheduler's tasks, not the API", k);
				json_decref(spec);
				return;
			}
		}
		rv = engine_service_session_start(s->engine, spec, errmsg);
		if (rv != 0) {
			set_rv_error(r, rv, errmsg);
		} else {
			json_t *st = engine_service_session_get(
				s->engine, (uint64_t)json_integer_value(json_object_get(spec, "id")), 0);
			api_set_json(r, st ? st : json_object());
		}
		json_decref(spec);
		return;
	}
	if (strncmp(rest, "/sessions/", 10) == 0 && (get || del)) {
		char *end;
		uint64_t id = strtoull(rest + 10, &end, 10);
		if (*end != '\0' || id == 0) {
			api_set_error(r, MPC_EINVAL, "bad session id");
			return;
		}
		if (get) {
			const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "values");
			json_t *st = engine_service_session_get(s->engine, id, v && strcmp(v, "1") == 0);
			if (st == NULL)
				api_set_error(r, MPC_ENOENT, "no session %" PRIu64, id);
			else
				api_set_json(r, st);
		} else {
			int rv = engine_service_session_delete(s->engine, id);
			if (rv != 0)
				api_set_error(r, rv, "no running session %" PRIu64, id);
			else
				api_set_json(r, json_pack("{s:b}", "deleted", 1));
		}
		return;
	}
	api_set_error(r, MPC_ENOENT, "no such engine endpoint: %s /v1/engine%s", method, rest);
}
