/* Parsing of REST requests without I/O: URL paths and JSON bodies, shared by the handlers and fuzz/fuzz_api.c. */
#include "api/request.h"
#include "common/err.h"
#include "common/pathseg.h"

#include <string.h>

int api_path_split(const char *url, char seg[API_PATH_SEGS][API_SEG_BYTES], int *n,
		   char *errmsg)
{
	size_t len = 0;
	int rv = mpc_pathseg_split(url, &seg[0][0], API_SEG_BYTES, API_PATH_SEGS, &len);

	*n = 0;
	if (rv == MPC_PATHSEG_TOO_LONG) {
		mpc_errmsg_printf(errmsg, "path segment too long (%zu bytes, at most %d)", len,
				  API_SEG_BYTES - 1);
		return MPC_EINVAL;
	}
	if (rv < 0)
		return MPC_ENOENT;
	*n = rv;
	return 0;
}

int api_txn_begin_entry(const char *body, size_t len, const char *txn_id, const char *client,
			json_t **entry, char *errmsg)
{
	json_t *b = body ? json_loadb(body, len, 0, NULL) : NULL, *e;
	const char *table, *named;

	*entry = NULL;
	if (!json_is_object(b)) {
		mpc_errmsg_printf(errmsg, "body must be a JSON object {table, create, columns}");
		json_decref(b);
		return MPC_EINVAL;
	}
	table = json_string_value(json_object_get(b, "table"));
	named = json_string_value(json_object_get(b, "client"));
	if (table == NULL) {
		mpc_errmsg_printf(errmsg, "begin needs 'table'");
		json_decref(b);
		return MPC_EINVAL;
	}
	if (named != NULL && strcmp(named, client) != 0) {
		mpc_errmsg_printf(errmsg, "body names client '%s' but the request is signed by '%s'",
				  named, client);
		json_decref(b);
		return MPC_EPERM;
	}
	e = json_pack("{s:s, s:s, s:s, s:s, s:b}", "op", "begin", "txn", txn_id, "table", table,
		      "client", client, "create", json_is_true(json_object_get(b, "create")));
	if (e == NULL) {
		json_decref(b);
		mpc_errmsg_printf(errmsg, "out of memory");
		return MPC_ENOMEM;
	}
	if (json_object_get(b, "columns"))
		json_object_set(e, "columns", json_object_get(b, "columns"));
	if (json_integer_value(json_object_get(b, "timeout_ms")) > 0)
		json_object_set(e, "timeout_ms", json_object_get(b, "timeout_ms"));
	json_decref(b);
	*entry = e;
	return 0;
}

void api_submit_clear(struct api_submit *sub)
{
	json_decref(sub->body);
	memset(sub, 0, sizeof *sub);
}

int api_submit_parse(const char *body, size_t len, const char *client, struct api_submit *sub,
		     char *errmsg)
{
	const char *named;
	json_t *b = body ? json_loadb(body, len, 0, NULL) : NULL, *program;

	memset(sub, 0, sizeof *sub);
	if (!json_is_object(b)) {
		mpc_errmsg_printf(errmsg, "body must be a JSON object {program, args, ...}");
		json_decref(b);
		return MPC_EINVAL;
	}
	sub->body = b;
	sub->client = client;
	named = json_string_value(json_object_get(b, "client"));
	if (named != NULL && strcmp(named, client) != 0) {
		mpc_errmsg_printf(errmsg, "body names client '%s' but the request is signed by '%s'",
				  named, client);
		api_submit_clear(sub);
		return MPC_EPERM;
	}
	program = json_object_get(b, "program");
	sub->program = json_string_value(program);
	sub->program_len = json_string_length(program);
	sub->args = json_object_get(b, "args");
	if (sub->program == NULL || sub->program_len > API_PROGRAM_MAX ||
	    (sub->args != NULL && !json_is_object(sub->args))) {
		mpc_errmsg_printf(errmsg, "submit needs program (<= 1 MiB) and args {}");
		api_submit_clear(sub);
		return MPC_EINVAL;
	}
	sub->file = json_string_value(json_object_get(b, "file")) ?: "job.mpc";
	sub->name = json_string_value(json_object_get(b, "name")) ?: "job";
	sub->queue = json_string_value(json_object_get(b, "queue")) ?: "default";
	sub->priority = json_integer_value(json_object_get(b, "priority"));
	{
		json_t *tl = json_object_get(b, "time_limit_s");
		if (tl != NULL && (!json_is_integer(tl) || json_integer_value(tl) < 0 ||
				   json_integer_value(tl) > API_TIME_LIMIT_MAX)) {
			mpc_errmsg_printf(errmsg, "time_limit_s must be 0..%d seconds (0: none)",
					  API_TIME_LIMIT_MAX);
			api_submit_clear(sub);
			return MPC_EINVAL;
		}
		sub->time_limit_s = json_integer_value(tl);
	}
	if (sub->args == NULL) {
		sub->args = json_object();
		json_object_set_new(b, "args", sub->args); /* owned by body from now */
	}
	return 0;
}
