/* The job record on the apply path: its copy-on-write copy (its text: store_json_canon). */
#include "scheduler/sched_record.h"

/* ---- copy ---- */

/* A new array holding a shallow copy of each object of arr (other values by
 * reference); for each copied object, the members named in sub (NULL-ended)
 * that are objects are shallow-copied too. */
static json_t *copy_objects(json_t *arr, const char *const *sub)
{
	json_t *out = json_array(), *v;
	size_t i;
	if (out == NULL)
		return NULL;
	json_array_foreach(arr, i, v)
	{
		json_t *c = json_is_object(v) ? json_copy(v) : json_incref(v);
		for (const char *const *s = sub; c != NULL && json_is_object(v) && *s != NULL;
		     s++) {
			json_t *m = json_object_get(v, *s);
			if (json_is_object(m) && json_object_set_new(c, *s, json_copy(m)) != 0) {
				json_decref(c);
				c = NULL;
			}
		}
		if (c == NULL || json_array_append_new(out, c) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *sched_record_copy(json_t *job)
{
	static const char *const none[] = {NULL};
	static const char *const attempt_parts[] = {"done", "sealed", NULL};
	json_t *c = json_copy(job), *tasks = json_object_get(job, "tasks"),
	       *attempts = json_object_get(job, "attempts");
	if (c == NULL || !json_is_object(job))
		return c;
	if (json_is_array(tasks) && json_object_set_new(c, "tasks", copy_objects(tasks, none)) != 0)
		goto err;
	if (json_is_array(attempts) &&
	    json_object_set_new(c, "attempts", copy_objects(attempts, attempt_parts)) != 0)
		goto err;
	return c;
err:
	json_decref(c);
	return NULL;
}
