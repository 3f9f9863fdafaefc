/* Cache of compiled and planned job programs, shared by apply, the runner and the API. */
#include "scheduler/sched_plancache.h"

#include "common/err.h"
#include "scheduler/sched_fsm.h"
#include "store/catalog.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLES 32 /* a program reading more is compiled every time */

struct table_stamp {
	char *name;
	uint64_t revision; /* the table's last change; 0: no such table */
};

struct sched_plan_hold {
	int refs; /* atomic: the cache's reference and its users' */
	uint8_t key[crypto_generichash_BYTES];
	struct sched_ir *ir;
	struct sched_plan *plan;
	struct table_stamp *tables;
	size_t n_tables;
	uint64_t used; /* LRU clock of the last hit */
};

struct sched_plan_cache {
	pthread_mutex_t lock;
	struct sched_plan_hold **entries;
	size_t n, max;
	uint64_t clock, hits, misses;
};

struct sched_plan_cache *sched_plan_cache_new(size_t max_entries)
{
	struct sched_plan_cache *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->entries = calloc(max_entries ? max_entries : 1, sizeof *c->entries);
	if (c->entries == NULL) {
		free(c);
		return NULL;
	}
	c->max = max_entries ? max_entries : 1;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void hold_unref(struct sched_plan_hold *h)
{
	if (h == NULL || __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	sched_plan_free(h->plan);
	sched_ir_free(h->ir);
	for (size_t i = 0; i < h->n_tables; i++)
		free(h->tables[i].name);
	free(h->tables);
	free(h);
}

void sched_plan_cache_free(struct sched_plan_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		hold_unref(c->entries[i]);
	free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct sched_ir *sched_plan_hold_ir(const struct sched_plan_hold *h)
{
	return h->ir;
}

const struct sched_plan *sched_plan_hold_plan(const struct sched_plan_hold *h)
{
	return h->plan;
}

void sched_plan_cache_release(struct sched_plan_cache *c, struct sched_plan_hold *h)
{
	(void)c;
	hold_unref(h);
}

void sched_plan_cache_stats(struct sched_plan_cache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static void key_of(uint8_t *key, const char *file, const char *program, json_t *args)
{
	crypto_generichash_state st;
	char *a = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	/* NUL-separated: ("ab", "c") and ("a", "bc") differ */
	crypto_generichash_update(&st, (const uint8_t *)file, strlen(file) + 1);
	crypto_generichash_update(&st, (const uint8_t *)program, strlen(program) + 1);
	if (a != NULL)
		crypto_generichash_update(&st, (const uint8_t *)a, strlen(a));
	crypto_generichash_final(&st, key, crypto_generichash_BYTES);
	free(a);
}

/* Table name's stamp for a read at revision (0: latest): 0 with *rev its last
 * change (0: no such table), or -1 when the table changed after revision (its
 * state at revision is not the current record's) or cannot be read. */
static int table_stamp(struct store_db *db, const char *name, uint64_t revision, uint64_t *rev)
{
	json_t *t;
	int rv = store_catalog_table(db, name, 0, 0, &t);
	if (rv == MPC_ENOENT) {
		*rev = 0;
		return 0;
	}
	if (rv != 0)
		return -1;
	*rev = (uint64_t)json_integer_value(json_object_get(t, "revision"));
	json_decref(t);
	return *rev == 0 || (revision != 0 && *rev > revision) ? -1 : 0;
}

static int stamps_hold(struct store_db *db, const struct sched_plan_hold *h, uint64_t revision)
{
	for (size_t i = 0; i < h->n_tables; i++) {
		uint64_t rev;
		if (table_stamp(db, h->tables[i].name, revision, &rev) != 0 ||
		    rev != h->tables[i].revision)
			return 0;
	}
	return 1;
}

/* The schema callback of a compile that remembers the tables it asked about. */
struct record_ctx {
	struct sched_schema_ctx inner;
	struct sched_plan_hold *h;
	int overflow;
};

static int record_lookup(void *vctx, const char *table, const char *column,
			 struct sched_lang_column *out)
{
	struct record_ctx *rc = vctx;
	struct sched_plan_hold *h = rc->h;
	size_t i;
	for (i = 0; i < h->n_tables && strcmp(h->tables[i].name, table) != 0; i++)
		;
	if (i == h->n_tables) {
		char *name = strdup(table);
		if (h->n_tables == MAX_TABLES || name == NULL) {
			free(name);
			rc->overflow = 1;
		} else {
			/* stamped before it is read: build() compares after */
			h->tables[h->n_tables].name = name;
			if (table_stamp(rc->inner.db, table, rc->inner.revision,
					&h->tables[h->n_tables++].revision) != 0)
				rc->overflow = 1;
		}
	}
	return sched_schema_lookup(&rc->inner, table, column, out);
}

/* Compiles and plans into a new hold (refs 1); *cacheable says whether every
 * table it read had the same stamp before and after (no commit raced with it
 * and none changed the table after revision). */
static int build(struct store_db *db, uint64_t revision, const char *file, const char *program,
		 json_t *args, struct sched_plan_hold **out, int *cacheable, char *err, size_t cap)
{
	struct sched_plan_hold *h = calloc(1, sizeof *h);
	struct record_ctx rc = {{db, revision}, h, 0};
	struct sched_lang_schema schema = {&rc, record_lookup};
	int rv;
	*cacheable = 0;
	if (h == NULL || (h->tables = calloc(MAX_TABLES, sizeof *h->tables)) == NULL) {
		free(h);
		return MPC_ENOMEM;
	}
	h->refs = 1;
	rv = sched_compile_schema(&schema, file, program, args, &h->ir, err, cap);
	if (rv == 0)
		rv = sched_plan_build(h->ir, db, revision, file, &h->plan, err, cap);
	if (rv != 0) {
		hold_unref(h);
		return rv;
	}
	*cacheable = !rc.overflow && stamps_hold(db, h, revision);
	*out = h;
	return 0;
}

int sched_plan_cache_get(struct sched_plan_cache *c, struct store_db *db, uint64_t revision,
			 const char *file, const char *program, json_t *args,
			 struct sched_plan_hold **out, char *err, size_t cap)
{
	uint8_t key[crypto_generichash_BYTES];
	struct sched_plan_hold *h = NULL, *old;
	int cacheable, rv;
	size_t i;

	file = file ? file : "job.mpc";
	program = program ? program : "";
	if (c == NULL)
		return build(db, revision, file, program, args, out, &cacheable, err, cap);
	key_of(key, file, program, args);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n && memcmp(c->entries[i]->key, key, sizeof key) != 0; i++)
		;
	if (i < c->n) {
		h = c->entries[i];
		__atomic_add_fetch(&h->refs, 1, __ATOMIC_ACQ_REL);
		h->used = ++c->clock;
	}
	pthread_mutex_unlock(&c->lock);
	if (h != NULL) {
		/* the tables' records are read outside the lock (the entry's
		 * stamps are immutable) */
		if (stamps_hold(db, h, revision)) {
			pthread_mutex_lock(&c->lock);
			c->hits++;
			pthread_mutex_unlock(&c->lock);
			*out = h;
			return 0;
		}
		hold_unref(h);
	}
	rv = build(db, revision, file, program, args, out, &cacheable, err, cap);
	pthread_mutex_lock(&c->lock);
	c->misses++;
	if (rv != 0 || !cacheable) {
		pthread_mutex_unlock(&c->lock);
		return rv;
	}
	h = *out;
	memcpy(h->key, key, sizeof key);
	h->used = ++c->clock;
	/* replaces the entry of the same key (older tables), else the least
	 * recently used one when full */
	for (i = 0; i < c->n && memcmp(c->entries[i]->key, key, sizeof key) != 0; i++)
		;
	if (i == c->n && c->n == c->max) {
		i = 0;
		for (size_t k = 1; k < c->n; k++)
			if (c->entries[k]->used < c->entries[i]->used)
				i = k;
	}
	old = i < c->n ? c->entries[i] : NULL;
	if (i == c->n)
		c->n++;
	c->entries[i] = h;
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_ACQ_REL); /* the cache's */
	pthread_mutex_unlock(&c->lock);
	hold_unref(old);
	return 0;
}

int sched_plan_cache_get_job(struct sched_plan_cache *c, struct store_db *db, uint64_t revision,
			     const char *file, const char *program, json_t *args, size_t n_tasks,
			     struct sched_plan_hold **out, char *err, size_t cap)
{
	struct sched_plan_hold *h;
	int rv = sched_plan_cache_get(c, db, revision, file, program, args, &h, err, cap);
	if (rv != 0 || sched_plan_n_tasks(h->plan) == n_tasks) {
		if (rv == 0)
			*out = h;
		return rv;
	}
	hold_unref(h);
	/* a record made before the fusion: its own unfused plan, not cached */
	if ((h = calloc(1, sizeof *h)) == NULL)
		return MPC_ENOMEM;
	h->refs = 1;
	file = file ? file : "job.mpc";
	rv = sched_compile(db, revision, file, program ? program : "", args, &h->ir, err, cap);
	if (rv == 0)
		rv = sched_plan_build_job(h->ir, db, revision, file, n_tasks, &h->plan, err, cap);
	if (rv != 0) {
		hold_unref(h);
		return rv;
	}
	*out = h;
	return 0;
}
