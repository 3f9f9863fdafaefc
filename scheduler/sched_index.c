/* In-memory index of the scheduler's active job records: a sorted array of (id, parsed record). */
#include "scheduler/sched_index.h"

#include "common/err.h"
#include "common/log.h"
#include "scheduler/sched_fsm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sched_index_slot {
	uint64_t id;
	json_t *job; /* immutable once here */
};

struct sched_index {
	pthread_mutex_t lock;
	struct sched_index_slot *slots; /* by id */
	size_t n, cap;
	struct store_db *db; /* of the last rebuild: for a rebuild after an ENOMEM */
	int stale;
};

int sched_index_new(struct sched_index **out)
{
	struct sched_index *ix = calloc(1, sizeof *ix);
	if (ix == NULL)
		return MPC_ENOMEM;
	pthread_mutex_init(&ix->lock, NULL);
	*out = ix;
	return 0;
}

static void clear_locked(struct sched_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		json_decref(ix->slots[i].job);
	ix->n = 0;
}

void sched_index_free(struct sched_index *ix)
{
	if (ix == NULL)
		return;
	clear_locked(ix);
	free(ix->slots);
	pthread_mutex_destroy(&ix->lock);
	free(ix);
}

/* First slot whose id is >= id. */
static size_t lower_bound(const struct sched_index *ix, uint64_t id)
{
	size_t lo = 0, hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->slots[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Sets (job != NULL, reference taken) or removes (NULL) the record of id. */
static int set_locked(struct sched_index *ix, uint64_t id, json_t *job)
{
	size_t i = lower_bound(ix, id);
	int here = i < ix->n && ix->slots[i].id == id;
	if (job == NULL) {
		if (here) {
			json_decref(ix->slots[i].job);
			memmove(&ix->slots[i], &ix->slots[i + 1], (ix->n - i - 1) * sizeof *ix->slots);
			ix->n--;
		}
		return 0;
	}
	if (here) {
		json_decref(ix->slots[i].job);
		ix->slots[i].job = json_incref(job);
		return 0;
	}
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		struct sched_index_slot *s = realloc(ix->slots, cap * sizeof *s);
		if (s == NULL)
			return MPC_ENOMEM;
		ix->slots = s;
		ix->cap = cap;
	}
	memmove(&ix->slots[i + 1], &ix->slots[i], (ix->n - i) * sizeof *ix->slots);
	ix->slots[i] = (struct sched_index_slot){id, json_incref(job)};
	ix->n++;
	return 0;
}

static int job_final(json_t *job)
{
	int state = sched_job_state_parse(json_string_value(json_object_get(job, "state")));
	return state < 0 || sched_job_state_final(state);
}

struct rebuild_ctx {
	struct sched_index *ix;
	struct store_db *db;
	int rv;
};

static int rebuild_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct rebuild_ctx *c = vctx;
	uint64_t id = strtoull(key + 7, NULL, 10); /* "jobact/<%012 id>" */
	json_t *job = sched_job_get(c->db, id);
	(void)klen;
	(void)val;
	(void)vlen;
	if (job == NULL) {
		LOG_WARN("sched: jobact/%012llu without its job record", (unsigned long long)id);
		return 0;
	}
	if (!job_final(job))
		c->rv = set_locked(c->ix, id, job);
	json_decref(job);
	return c->rv;
}

static int rebuild_locked(struct sched_index *ix, struct store_db *db)
{
	struct rebuild_ctx c = {ix, db, 0};
	int rv;
	clear_locked(ix);
	ix->db = db;
	rv = store_db_scan(db, STORE_CF_META, NULL, "jobact/", 7, rebuild_one, &c);
	if (rv == 0)
		rv = c.rv;
	if (rv != 0)
		clear_locked(ix);
	ix->stale = rv != 0;
	return rv;
}

int sched_index_rebuild(struct sched_index *ix, struct store_db *db)
{
	int rv;
	pthread_mutex_lock(&ix->lock);
	rv = rebuild_locked(ix, db);
	pthread_mutex_unlock(&ix->lock);
	return rv;
}

int sched_index_put(struct sched_index *ix, json_t *job)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(job, "id"));
	int rv;
	pthread_mutex_lock(&ix->lock);
	rv = set_locked(ix, id, job_final(job) ? NULL : job);
	if (rv != 0) {
		set_locked(ix, id, NULL); /* never an old record of a changed job */
		ix->stale = 1;
	}
	pthread_mutex_unlock(&ix->lock);
	return rv;
}

json_t *sched_index_get(struct sched_index *ix, uint64_t id)
{
	json_t *job = NULL;
	size_t i;
	pthread_mutex_lock(&ix->lock);
	i = lower_bound(ix, id);
	if (i < ix->n && ix->slots[i].id == id)
		job = json_incref(ix->slots[i].job);
	pthread_mutex_unlock(&ix->lock);
	return job;
}

int sched_index_active(struct sched_index *ix, json_t ***jobs, size_t *n)
{
	json_t **out = NULL;
	int rv = 0;
	pthread_mutex_lock(&ix->lock);
	if (ix->stale && ix->db != NULL)
		rebuild_locked(ix, ix->db);
	if (ix->n > 0 && (out = malloc(ix->n * sizeof *out)) == NULL)
		rv = MPC_ENOMEM;
	for (size_t i = 0; rv == 0 && i < ix->n; i++)
		out[i] = json_incref(ix->slots[i].job);
	*n = rv == 0 ? ix->n : 0;
	pthread_mutex_unlock(&ix->lock);
	*jobs = out;
	return rv;
}

void sched_index_release(json_t **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(jobs[i]);
	free(jobs);
}

size_t sched_index_size(struct sched_index *ix)
{
	size_t n;
	pthread_mutex_lock(&ix->lock);
	n = ix->n;
	pthread_mutex_unlock(&ix->lock);
	return n;
}
