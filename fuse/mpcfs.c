/* mpcfs: the client mount (DESIGN.md §8): CSV files dropped into inbox/TABLE/ are appended to TABLE
 * at close; tables/TABLE/schema.json; jobs/ID/{status,result.csv}, jobs/new/ submits a program at
 * close. Entries follow the client's rights in the cluster config (EACCES otherwise). --party mounts
 * a party's store read-only instead (fuse/party.c). */
#define FUSE_USE_VERSION 31

#include "client/mpcclient.h"
#include "client/mpcjobs.h"
#include "common/err.h"
#include "common/pathseg.h"
#include "fuse/mountwatch.h"
#include "fuse/mpcfs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* How long a table list fetched from the cluster answers readdir/getattr. */
#define TABLES_TTL_S 1.0
#define ERRORS_DIR   ".errors"
/* The spools of jobs/new/ carry this in place of a table name (no table can be named so). */
#define JOBS_NEW "/new"
/* A job program larger than this is refused at close (programs are short texts). */
#define PROGRAM_MAX (1u << 20)

/*
 * A file being written into inbox/TABLE/: its bytes live only in a spool
 * file in the private spool dir (mode 0700) until the commit. The commit
 * runs at the flush of the last open handle (close(2) returns its error);
 * afterwards, success or not, the spool file is unlinked and the entry
 * leaves the inbox (the plaintext is not kept).
 */
enum spool_state { SPOOL_OPEN, SPOOL_COMMITTING, SPOOL_DONE, SPOOL_FAILED, SPOOL_DISCARDED };

struct spool {
	struct spool *next;
	char table[64];
	char name[NAME_MAX + 1];
	char path[PATH_MAX]; /* the spool file */
	int fd;
	int opens; /* open handles; the entry is freed by the release of the last */
	enum spool_state state;
	int err;     /* SPOOL_FAILED: the errno close(2) returns */
	int listed;  /* in fs.spools */
	int written; /* a write came (a flush before one is a dup's close, see fs_flush) */
	off_t flushed; /* spool bytes below this were handed to writeback (spool_writeback) */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct timespec mtime;
};

/* The reason a commit failed: inbox/TABLE/.errors/NAME. */
struct fs_error {
	struct fs_error *next;
	char table[64];
	char name[NAME_MAX + 1];
	char *text;
	uid_t uid;
	gid_t gid;
	time_t when;
};

/* A table inbox made with mkdir (the table itself appears with the first commit). */
struct new_inbox {
	struct new_inbox *next;
	char table[64];
	uid_t uid;
	gid_t gid;
};

struct mpcfs {
	char conf[PATH_MAX];      /* absolute path of client.conf */
	char spool_dir[PATH_MAX]; /* private, mode 0700 */
	unsigned timeout_ms;
	int foreground;
	unsigned unmount_timeout_s;
	uid_t uid; /* of the mounting process: owner of the fixed directories */
	gid_t gid;
	time_t mounted;
	pthread_mutex_t lock; /* the lists below */
	struct spool *spools;
	struct fs_error *errors;
	struct new_inbox *inboxes;
	struct handle *handles; /* open files: the kernel sends no release for them at unmount */
	unsigned spool_seq;
	/* Metadata calls (table list, schema) over one client, one at a time;
	 * commits open their own client so a long upload blocks no listing. */
	pthread_mutex_t meta_lock;
	struct mpc_client *meta;
	json_t *tables; /* cached GET /v1/tables "tables" */
	double tables_at;
	/* The client's entry of the cluster config (its rights); NULL: not a member (no rights). */
	const struct mpc_client_info *me;
	uint64_t last_job;   /* submitted through jobs/new/ (jobs/new/.last), 0: none yet */
	int committing;      /* commits (appends, submits) running now */
	struct fuse_session *se;
	pthread_t watchdog;
	int watchdog_started, stopping;
};

static struct mpcfs fs = {.lock = PTHREAD_MUTEX_INITIALIZER,
			  .meta_lock = PTHREAD_MUTEX_INITIALIZER};

/* An open file: a spool, or a snapshot of generated text (schema.json, .errors/NAME). */
struct handle {
	struct handle *prev, *next; /* fs.handles */
	struct spool *sp;
	char *text;
	size_t len;
};

enum loc_kind {
	LOC_NONE,
	LOC_ROOT,
	LOC_INBOX,
	LOC_TABLES,
	LOC_INBOX_TABLE,
	LOC_INBOX_FILE,
	LOC_ERRORS_DIR,
	LOC_ERROR_FILE,
	LOC_TABLE_DIR,
	LOC_SCHEMA,
	LOC_JOBS,
	LOC_JOB_DIR,
	LOC_JOB_STATUS,
	LOC_JOB_RESULT,
	LOC_JOBS_LAST
};

struct loc {
	enum loc_kind kind;
	char table[64]; /* JOBS_NEW for jobs/new/ */
	char name[NAME_MAX + 1];
	uint64_t job;
};

static void fs_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fs_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	syslog(prio, "%s", line);
	if (fs.foreground)
		fprintf(stderr, "mpcfs: %s\n", line);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mpcfs_path_split(const char *path, char part[][NAME_MAX + 1], int max)
{
	int n = mpc_pathseg_split(path, &part[0][0], NAME_MAX + 1, max, NULL);
	return n < 0 ? -1 : n;
}

/* Splits path into the mount's layout; LOC_NONE for anything outside it. */
static void parse_path(const char *path, struct loc *l)
{
	char part[4][NAME_MAX + 1];
	int n, jobs_new = 0;

	memset(l, 0, sizeof *l);
	if ((n = mpcfs_path_split(path, part, 4)) < 0)
		return;
	if (n == 0) {
		l->kind = LOC_ROOT;
		return;
	}
	if (strcmp(part[0], "jobs") == 0 && n >= 2 && strcmp(part[1], "new") == 0) {
		/* jobs/new/ is an inbox whose files are job programs */
		strcpy(part[1], JOBS_NEW);
		jobs_new = 1;
		if (n == 3 && strcmp(part[2], ".last") == 0) {
			l->kind = LOC_JOBS_LAST;
			return;
		}
	} else if (strcmp(part[0], "jobs") == 0) {
		char *end;
		if (n == 1) {
			l->kind = LOC_JOBS;
			return;
		}
		l->job = strtoull(part[1], &end, 10);
		if (*end != '\0' || l->job == 0 || part[1][0] == '0' || n > 3)
			return;
		if (n == 2)
			l->kind = LOC_JOB_DIR;
		else if (strcmp(part[2], "status") == 0)
			l->kind = LOC_JOB_STATUS;
		else if (strcmp(part[2], "result.csv") == 0)
			l->kind = LOC_JOB_RESULT;
		return;
	}
	if (strcmp(part[0], "inbox") == 0 || jobs_new) {
		if (n >= 2) {
			if (strlen(part[1]) >= sizeof l->table)
				return;
			strcpy(l->table, part[1]);
		}
		if (n >= 3)
			strcpy(l->name, part[2]);
		if (n == 1)
			l->kind = LOC_INBOX;
		else if (n == 2)
			l->kind = LOC_INBOX_TABLE;
		else if (n == 3)
			l->kind =
			    strcmp(part[2], ERRORS_DIR) == 0 ? LOC_ERRORS_DIR : LOC_INBOX_FILE;
		else if (strcmp(part[2], ERRORS_DIR) == 0) {
			strcpy(l->name, part[3]);
			l->kind = LOC_ERROR_FILE;
		}
	} else if (strcmp(part[0], "tables") == 0) {
		if (n >= 2) {
			if (strlen(part[1]) >= sizeof l->table)
				return;
			strcpy(l->table, part[1]);
		}
		if (n == 1)
			l->kind = LOC_TABLES;
		else if (n == 2)
			l->kind = LOC_TABLE_DIR;
		else if (n == 3 && strcmp(part[2], "schema.json") == 0)
			l->kind = LOC_SCHEMA;
	}
}

/* MPC_E* -> the errno of a FUSE reply (the one mapping of this edge). */
static int errno_of(int rv)
{
	switch (rv) {
	case 0: return 0;
	case MPC_EINVAL:
	case MPC_ERANGE: return EINVAL;
	case MPC_EPERM: return EACCES;
	case MPC_ENOENT: return ENOENT;
	case MPC_ENOMEM: return ENOMEM;
	case MPC_ETIMEDOUT: return ETIMEDOUT;
	default: return EIO;
	}
}

/* ---- cluster metadata ---- */

/* The table list (new reference) from the cluster, cached for TABLES_TTL_S. */
static int tables_get(json_t **out)
{
	char errmsg[MPC_ERRMSG_SIZE];
	json_t *resp = NULL;
	int rv = 0;

	pthread_mutex_lock(&fs.meta_lock);
	if (fs.tables == NULL || now_s() - fs.tables_at > TABLES_TTL_S) {
		rv = mpc_client_call_any(fs.meta, "GET", "/v1/tables", NULL, 0, &resp, errmsg);
		if (rv == 0) {
			json_decref(fs.tables);
			fs.tables = json_incref(json_object_get(resp, "tables"));
			fs.tables_at = now_s();
		} else {
			fs_log(LOG_WARNING, "list tables: %s", errmsg);
		}
		json_decref(resp);
	}
	*out = fs.tables ? json_incref(fs.tables) : json_array();
	pthread_mutex_unlock(&fs.meta_lock);
	return rv;
}

static void tables_invalidate(void)
{
	pthread_mutex_lock(&fs.meta_lock);
	fs.tables_at = 0;
	pthread_mutex_unlock(&fs.meta_lock);
}

static int table_in(json_t *arr, const char *table)
{
	json_t *t;
	size_t i;
	json_array_foreach(arr, i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		if (name && strcmp(name, table) == 0)
			return 1;
	}
	return 0;
}

/* Whether table exists; a name missing from the cached list is asked for again (a table another
 * client just created shows at once). */
static int table_known(const char *table)
{
	json_t *arr;
	int found;
	tables_get(&arr);
	found = table_in(arr, table);
	json_decref(arr);
	if (!found) {
		tables_invalidate();
		tables_get(&arr);
		found = table_in(arr, table);
		json_decref(arr);
	}
	return found;
}

/* schema.json of table: {table, columns, rows, version}, from the first party that answers. */
static int schema_text(const char *table, char **text, size_t *len)
{
	char errmsg[MPC_ERRMSG_SIZE], path[256];
	json_t *t = NULL;
	int rv;

	if (!mpc_table_name_valid(table))
		return -ENOENT;
	snprintf(path, sizeof path, "/v1/tables/%s", table);
	pthread_mutex_lock(&fs.meta_lock);
	rv = mpc_client_call_any(fs.meta, "GET", path, NULL, 0, &t, errmsg);
	pthread_mutex_unlock(&fs.meta_lock);
	if (rv != 0) {
		if (rv != MPC_ENOENT)
			fs_log(LOG_WARNING, "tables/%s/schema.json: %s", table, errmsg);
		return -errno_of(rv);
	}
	rv = mpcfs_schema_text(table, t, text, len);
	json_decref(t);
	return rv;
}

int mpcfs_json_text(json_t *j, char **text, size_t *len)
{
	char *t2;
	*text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (*text == NULL)
		return -ENOMEM;
	*len = strlen(*text);
	/* A trailing newline, as cat users expect. */
	if ((t2 = realloc(*text, *len + 2)) == NULL) {
		free(*text);
		return -ENOMEM;
	}
	*text = t2;
	(*text)[(*len)++] = '\n';
	(*text)[*len] = '\0';
	return 0;
}

int mpcfs_schema_text(const char *table, json_t *t, char **text, size_t *len)
{
	json_t *out = json_pack("{s:s, s:O, s:O, s:O}", "table", table, "columns",
				json_object_get(t, "columns"), "rows", json_object_get(t, "rows"),
				"version", json_object_get(t, "version"));
	int rv;
	if (out == NULL)
		return -EIO;
	rv = mpcfs_json_text(out, text, len);
	json_decref(out);
	return rv;
}

/* ---- the client's rights (common/conf.h); the parties enforce the same ---- */

static unsigned rights(void)
{
	return fs.me != NULL ? fs.me->rights : 0;
}

static int may_read(void)
{
	return (rights() & (MPC_RIGHT_READ | MPC_RIGHT_ADMIN)) != 0;
}

static int may_submit(void)
{
	return (rights() & (MPC_RIGHT_SUBMIT | MPC_RIGHT_ADMIN)) != 0;
}

static int may_create(void)
{
	return (rights() & (MPC_RIGHT_CREATE | MPC_RIGHT_ADMIN)) != 0;
}

/* Results revealed to public: the read or output right. */
static int may_see_results(void)
{
	return (rights() & (MPC_RIGHT_READ | MPC_RIGHT_OUTPUT | MPC_RIGHT_ADMIN)) != 0;
}

static int may_append(const char *table)
{
	return fs.me != NULL && mpc_client_may_append(fs.me, table);
}

/* tables/TABLE: with the read right every table; else those it may append to (their schema). */
static int may_see_table(const char *table)
{
	return may_read() || may_append(table);
}

/* ---- jobs ---- */

/* The record of job id if this client may see it (its own; any for admin): 0 or -errno. */
static int job_fetch(uint64_t id, json_t **job)
{
	char errmsg[MPC_ERRMSG_SIZE];
	const char *owner;
	int rv;

	pthread_mutex_lock(&fs.meta_lock);
	rv = mpc_job_get(fs.meta, id, job, errmsg);
	pthread_mutex_unlock(&fs.meta_lock);
	if (rv != 0) {
		if (rv != MPC_ENOENT)
			fs_log(LOG_WARNING, "jobs/%" PRIu64 ": %s", id, errmsg);
		return -errno_of(rv);
	}
	owner = json_string_value(json_object_get(*job, "client"));
	if (!(rights() & MPC_RIGHT_ADMIN) &&
	    (owner == NULL || strcmp(owner, mpc_client_name(fs.meta)) != 0)) {
		json_decref(*job);
		*job = NULL;
		return -EACCES;
	}
	return 0;
}

static int job_completed(json_t *job)
{
	const char *st = json_string_value(json_object_get(job, "state"));
	return st != NULL && strcmp(st, "COMPLETED") == 0;
}

/* The text of a generated read-only file (schema.json, jobs/ID/status, jobs/ID/result.csv,
 * jobs/new/.last): 0, or -errno (EACCES: the client may not read it). */
static int gen_text(const struct loc *l, char **text, size_t *len)
{
	char errmsg[MPC_ERRMSG_SIZE];
	json_t *job = NULL, *res = NULL;
	uint64_t last;
	int rv = 0, r;

	*text = NULL;
	switch (l->kind) {
	case LOC_SCHEMA:
		if (!mpc_table_name_valid(l->table))
			return -ENOENT;
		if (!may_see_table(l->table))
			return table_known(l->table) ? -EACCES : -ENOENT;
		return schema_text(l->table, text, len);
	case LOC_JOBS_LAST:
		pthread_mutex_lock(&fs.lock);
		last = fs.last_job;
		pthread_mutex_unlock(&fs.lock);
		if (last == 0)
			return -ENOENT;
		if (asprintf(text, "%" PRIu64 "\n", last) < 0)
			*text = NULL;
		break;
	case LOC_JOB_STATUS:
		if ((rv = job_fetch(l->job, &job)) != 0)
			return rv;
		*text = mpc_job_report(job);
		break;
	case LOC_JOB_RESULT:
		if ((rv = job_fetch(l->job, &job)) != 0)
			return rv;
		if (!job_completed(job)) {
			rv = -ENOENT; /* no results (yet) */
		} else if (!may_see_results()) {
			rv = -EACCES;
		} else {
			pthread_mutex_lock(&fs.meta_lock);
			r = mpc_job_result(fs.meta, l->job, &res, errmsg);
			pthread_mutex_unlock(&fs.meta_lock);
			if (r != 0) {
				fs_log(LOG_WARNING, "jobs/%" PRIu64 "/result.csv: %s", l->job, errmsg);
				rv = -errno_of(r);
			} else {
				*text = mpc_job_results_csv(res);
			}
		}
		break;
	default: return -ENOENT;
	}
	json_decref(job);
	json_decref(res);
	if (rv == 0 && *text == NULL)
		return -ENOMEM;
	if (rv == 0)
		*len = strlen(*text);
	return rv;
}

/* ---- in-memory state (callers hold fs.lock) ---- */

static struct spool *spool_find(const char *table, const char *name)
{
	for (struct spool *sp = fs.spools; sp; sp = sp->next)
		if (strcmp(sp->table, table) == 0 && strcmp(sp->name, name) == 0)
			return sp;
	return NULL;
}

static void spool_unlist(struct spool *sp)
{
	for (struct spool **pp = &fs.spools; *pp; pp = &(*pp)->next)
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	sp->listed = 0;
	sp->next = NULL;
}

/* Drops the entry from the inbox and its plaintext from the disk; freed by the last release. */
static void spool_drop(struct spool *sp, enum spool_state state)
{
	if (sp->listed)
		spool_unlist(sp);
	if (sp->path[0] != '\0') {
		unlink(sp->path);
		sp->path[0] = '\0';
	}
	sp->state = state;
}

static void spool_free(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp);
}

/* An opened handle goes on fs.handles (fs.lock held) until its release, or the unmount. */
static void handle_link(struct handle *h)
{
	h->prev = NULL;
	h->next = fs.handles;
	if (fs.handles != NULL)
		fs.handles->prev = h;
	fs.handles = h;
}

/* Unlinks h (fs.lock held) and frees it; its spool goes when no handle and no listing holds it. */
static void handle_free(struct handle *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else if (fs.handles == h)
		fs.handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	if (h->sp != NULL && --h->sp->opens == 0 && !h->sp->listed)
		spool_free(h->sp);
	free(h->text);
	free(h);
}

static struct fs_error **error_slot(const char *table, const char *name)
{
	struct fs_error **pp;
	for (pp = &fs.errors; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->table, table) == 0 && strcmp((*pp)->name, name) == 0)
			break;
	return pp;
}

static void error_remove(const char *table, const char *name)
{
	struct fs_error **pp = error_slot(table, name), *e = *pp;
	if (e != NULL) {
		*pp = e->next;
		free(e->text);
		free(e);
	}
}

static void error_set(const struct spool *sp, const char *text)
{
	struct fs_error *e;
	error_remove(sp->table, sp->name);
	e = calloc(1, sizeof *e);
	if (e == NULL || (e->text = malloc(strlen(text) + 2)) == NULL) {
		free(e);
		return;
	}
	snprintf(e->table, sizeof e->table, "%s", sp->table);
	snprintf(e->name, sizeof e->name, "%s", sp->name);
	sprintf(e->text, "%s\n", text);
	e->uid = sp->uid;
	e->gid = sp->gid;
	e->when = time(NULL);
	e->next = fs.errors;
	fs.errors = e;
}

static struct new_inbox *inbox_find(const char *table)
{
	for (struct new_inbox *n = fs.inboxes; n; n = n->next)
		if (strcmp(n->table, table) == 0)
			return n;
	return NULL;
}

/* Whether inbox/TABLE exists: a table of the cluster, made with mkdir, or holding spools;
 * jobs/new/ (JOBS_NEW) always (without the submit right: not listed, creating fails). */
static int inbox_exists(const char *table, uid_t *uid, gid_t *gid)
{
	int found = 0;
	*uid = fs.uid;
	*gid = fs.gid;
	if (strcmp(table, JOBS_NEW) == 0)
		return 1;
	pthread_mutex_lock(&fs.lock);
	struct new_inbox *n = inbox_find(table);
	if (n != NULL) {
		*uid = n->uid;
		*gid = n->gid;
		found = 1;
	}
	for (struct spool *sp = fs.spools; !found && sp; sp = sp->next)
		found = strcmp(sp->table, table) == 0;
	pthread_mutex_unlock(&fs.lock);
	return found || (mpc_table_name_valid(table) && table_known(table));
}

/* The entry's path in the mount, for messages. */
static void spool_display(const struct spool *sp, char *out, size_t size)
{
	if (strcmp(sp->table, JOBS_NEW) == 0)
		snprintf(out, size, "jobs/new/%s", sp->name);
	else
		snprintf(out, size, "inbox/%s/%s", sp->table, sp->name);
}

/*
 * A file whose name starts with '.' is a temporary file (rsync's .NAME.XXXXXX,
 * an editor's save): its close commits nothing and it stays in the inbox;
 * renaming it to a name without the dot commits it (rename(2) returns the
 * commit's error), and so does a close after such a rename. Caller holds fs.lock.
 */
static int spool_hidden(const struct spool *sp)
{
	return sp->name[0] == '.';
}

/* ---- the commit ---- */

/*
 * After a commit: waits (the party's own bound, 10 s) until every party that
 * answers has applied it, so that a reader of any party sees the rows once
 * close(2) returned. A party that does not answer is only logged: the commit
 * stands, the party catches up from the raft log.
 */
static void commit_barrier(struct mpc_client *cl, const char *txn)
{
	char errmsg[MPC_ERRMSG_SIZE], path[128];

	/* A party answers once its state machine applied the txn's end. */
	snprintf(path, sizeof path, "/v1/txns/%s?wait=10000", txn);
	for (int p = 0; p < mpc_client_cluster(cl)->n_parties; p++)
		if (mpc_client_call(cl, p, "GET", path, NULL, 0, NULL, errmsg) != 0)
			fs_log(LOG_WARNING, "txn %s: not seen applied: %s", txn, errmsg);
}

/* Submits the job program in fd as cl (mpc_job_submit, as mpcsub does): 0 and *id, or MPC_E*. */
static int spool_submit(struct mpc_client *cl, int fd, const char *name, const char *display,
			uint64_t *id, char *errmsg)
{
	struct stat st;
	json_t *job = NULL;
	char *program;
	ssize_t n;
	int rv;

	if (fstat(fd, &st) != 0) {
		mpc_errmsg_printf(errmsg, "%s: spool: %s", display, strerror(errno));
		return MPC_EIO;
	}
	if (st.st_size > PROGRAM_MAX) {
		mpc_errmsg_printf(errmsg, "%s: %lld bytes: a job program is at most %u bytes",
				  display, (long long)st.st_size, PROGRAM_MAX);
		return MPC_EINVAL;
	}
	if ((program = malloc((size_t)st.st_size + 1)) == NULL)
		return MPC_ENOMEM;
	n = pread(fd, program, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		mpc_errmsg_printf(errmsg, "%s: spool: short read", display);
		free(program);
		return MPC_EIO;
	}
	program[n] = '\0';
	if (memchr(program, '\0', (size_t)n) != NULL) {
		mpc_errmsg_printf(errmsg, "%s: not a job program (a NUL byte in the text)", display);
		free(program);
		return MPC_EINVAL;
	}
	rv = mpc_job_submit(cl, name, program, name, NULL, 0, NULL, &job, errmsg);
	free(program);
	if (rv != 0)
		return rv;
	*id = (uint64_t)json_integer_value(json_object_get(job, "id"));
	if (strcmp(json_string_value(json_object_get(job, "state")) ?: "", "FAILED") == 0) {
		mpc_errmsg_printf(errmsg, "%s: job %" PRIu64 " failed at submit: %s", display, *id,
				  json_string_value(json_object_get(job, "error")) ?: "no reason given");
		rv = MPC_EINVAL;
	}
	json_decref(job);
	return rv;
}

/* Appends the spooled file to its table (mpc_client_put_csv, as mpcput does), or submits the
 * job program of jobs/new/; 0 or -errno. A failure is reported (.errors, log) and drops the
 * file, unless keep is set: then it stays in the inbox uncommitted (a failed rename). */
static int spool_commit(struct spool *sp, int keep)
{
	char errmsg[MPC_ERRMSG_SIZE] = "", display[64 + NAME_MAX + 16], table[64],
						name[NAME_MAX + 1];
	struct mpc_put_opts po = {.timeout_ms = fs.timeout_ms, .display_name = display};
	struct mpc_put_result res = {.txn = ""};
	struct mpc_client *cl = NULL;
	uint64_t job = 0;
	int rv, fd, is_job;
	double t0 = now_s(), t1 = 0;

	pthread_mutex_lock(&fs.lock);
	if (sp->state != SPOOL_OPEN) {
		int err = sp->state == SPOOL_FAILED ? sp->err : 0;
		pthread_mutex_unlock(&fs.lock);
		return -err;
	}
	sp->state = SPOOL_COMMITTING;
	/* The name as of now: a rename (rsync's temp file) before close decides the table. */
	snprintf(table, sizeof table, "%s", sp->table);
	snprintf(name, sizeof name, "%s", sp->name);
	spool_display(sp, display, sizeof display);
	is_job = strcmp(table, JOBS_NEW) == 0;
	fd = open(sp->path, O_RDONLY | O_CLOEXEC);
	fs.committing++;
	pthread_mutex_unlock(&fs.lock);

	fs_log(LOG_INFO, "%s: %s", display, is_job ? "submitting" : "committing");
	if (fd < 0) {
		mpc_errmsg_printf(errmsg, "%s: spool: %s", display, strerror(errno));
		rv = MPC_EIO;
	} else if ((rv = mpc_client_open(fs.conf, &cl, errmsg)) == 0) {
		if (is_job) {
			rv = spool_submit(cl, fd, name, display, &job, errmsg);
		} else {
			rv = mpc_client_put_csv(cl, table, fd, &po, &res, errmsg);
			t1 = now_s();
			if (rv == 0)
				commit_barrier(cl, res.txn);
		}
		mpc_client_close(cl);
	}
	if (fd >= 0)
		close(fd);

	pthread_mutex_lock(&fs.lock);
	fs.committing--;
	if (rv == 0) {
		if (is_job) {
			fs.last_job = job;
			fs_log(LOG_INFO, "%s: submitted job %" PRIu64, display, job);
		} else {
			fs_log(LOG_INFO,
			       "%s: appended %llu rows to %s (txn %s; %.3f s, applied everywhere "
			       "%.3f s later)",
			       display, (unsigned long long)res.rows, table, res.txn, t1 - t0,
			       now_s() - t1);
		}
		error_remove(sp->table, sp->name);
		spool_drop(sp, SPOOL_DONE);
	} else {
		if (is_job)
			fs_log(LOG_ERR, "%s: %s (nothing submitted)", display, errmsg);
		else if (res.txn[0] != '\0')
			fs_log(LOG_ERR, "%s: %s (txn %s %s, nothing appended)", display, errmsg,
			       res.txn, res.state);
		else
			fs_log(LOG_ERR, "%s: %s (nothing appended)", display, errmsg);
		error_set(sp, errmsg);
		sp->err = errno_of(rv);
		if (keep)
			sp->state = SPOOL_OPEN;
		else
			spool_drop(sp, SPOOL_FAILED);
	}
	pthread_mutex_unlock(&fs.lock);
	tables_invalidate();
	return -errno_of(rv);
}

/* ---- FUSE operations ---- */

/*
 * Unmount (fusermount3 -u, SIGTERM) waits for the commits that run: libfuse
 * ends its loop only after the requests in progress were answered, so a
 * closer gets its commit's result. This thread reports the wait and bounds it:
 * after --unmount-timeout the process exits; a commit cut off so never
 * completes its transaction, which the cluster aborts at its txn timeout
 * (nothing of it is appended).
 */
static void *watchdog_main(void *arg)
{
	int pending = 0;
	double until;

	(void)arg;
	for (;;) {
		int stop;
		usleep(100000);
		pthread_mutex_lock(&fs.lock);
		stop = fs.stopping;
		pending = fs.committing;
		pthread_mutex_unlock(&fs.lock);
		if (stop)
			return NULL;
		if (fuse_session_exited(fs.se))
			break;
	}
	if (pending == 0)
		return NULL;
	fs_log(LOG_WARNING, "unmount: waiting up to %u s for %d pending commit(s)",
	       fs.unmount_timeout_s, pending);
	until = now_s() + fs.unmount_timeout_s;
	while (pending > 0 && now_s() < until) {
		usleep(100000);
		pthread_mutex_lock(&fs.lock);
		pending = fs.committing;
		pthread_mutex_unlock(&fs.lock);
	}
	if (pending == 0) {
		fs_log(LOG_INFO, "unmount: pending commits finished");
		return NULL;
	}
	fs_log(LOG_ERR,
	       "unmount: %d commit(s) still pending after %u s: exiting without them (their "
	       "transactions never complete and are aborted by the cluster: nothing of them is "
	       "appended)",
	       pending, fs.unmount_timeout_s);
	_exit(1);
}

static void fs_log_line(int prio, const char *line)
{
	fs_log(prio, "%s", line);
}

/* A file open (handle) or a commit running: a lazy unmount still serves them. */
static int fs_busy(void)
{
	int busy;
	pthread_mutex_lock(&fs.lock);
	busy = fs.handles != NULL || fs.committing > 0;
	pthread_mutex_unlock(&fs.lock);
	return busy;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	char errmsg[MPC_ERRMSG_SIZE];
	(void)conn;
	/* Entries come and go with commits: no kernel caching of names or attributes. */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->hard_remove = 1;
	if (mpc_client_open(fs.conf, &fs.meta, errmsg) != 0) {
		fs_log(LOG_ERR, "%s", errmsg); /* checked in main: not expected */
	} else {
		fs.me = mpc_cluster_client(mpc_client_cluster(fs.meta), mpc_client_name(fs.meta));
		if (fs.me == NULL)
			fs_log(LOG_WARNING, "client '%s' is not in the cluster config: no rights",
			       mpc_client_name(fs.meta));
	}
	fs.se = fuse_get_session(fuse_get_context()->fuse);
	fs.watchdog_started = pthread_create(&fs.watchdog, NULL, watchdog_main, NULL) == 0;
	mpcfs_mountwatch_start(fs.se, fs_log_line, fs_busy);
	return NULL;
}

static void fs_destroy(void *private_data)
{
	char display[64 + NAME_MAX + 16];
	(void)private_data;
	mpcfs_mountwatch_stop(); /* before fs.lock: its thread takes it (fs_busy) */
	pthread_mutex_lock(&fs.lock);
	fs.stopping = 1;
	while (fs.spools != NULL) {
		spool_display(fs.spools, display, sizeof display);
		fs_log(LOG_WARNING, "%s: %s at unmount, discarded (nothing committed)", display,
		       fs.spools->opens > 0 ? "still open" : "a temporary file never renamed");
		struct spool *sp = fs.spools;
		spool_drop(sp, SPOOL_DISCARDED);
		if (sp->opens == 0)
			spool_free(sp);
	}
	while (fs.handles != NULL) /* still open: no release comes after destroy */
		handle_free(fs.handles);
	pthread_mutex_unlock(&fs.lock);
	if (fs.watchdog_started)
		pthread_join(fs.watchdog, NULL);
	rmdir(fs.spool_dir);
	mpc_client_close(fs.meta);
	fs.meta = NULL;
	json_decref(fs.tables);
	fs.tables = NULL;
}

static void dir_stat(struct stat *st, uid_t uid, gid_t gid, mode_t mode)
{
	st->st_mode = S_IFDIR | mode;
	st->st_nlink = 2;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_atime = st->st_mtime = st->st_ctime = fs.mounted;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct loc l;
	uid_t uid;
	gid_t gid;
	int rv = 0;

	(void)fi;
	memset(st, 0, sizeof *st);
	parse_path(path, &l);
	switch (l.kind) {
	case LOC_ROOT:
	case LOC_INBOX: dir_stat(st, fs.uid, fs.gid, 0755); return 0;
	case LOC_TABLES:
	case LOC_JOBS: dir_stat(st, fs.uid, fs.gid, 0555); return 0;
	case LOC_INBOX_TABLE:
	case LOC_ERRORS_DIR:
		if (!inbox_exists(l.table, &uid, &gid))
			return -ENOENT;
		/* The inbox of a table this client may not append to: not listed, not writable. */
		dir_stat(st, uid, gid,
			 l.kind == LOC_ERRORS_DIR ||
				 (strcmp(l.table, JOBS_NEW) == 0 ? !may_submit()
								 : !may_append(l.table))
			     ? 0555
			     : 0755);
		return 0;
	case LOC_TABLE_DIR:
		if (!mpc_table_name_valid(l.table) || !table_known(l.table))
			return -ENOENT;
		dir_stat(st, fs.uid, fs.gid, may_see_table(l.table) ? 0555 : 0);
		return 0;
	case LOC_JOB_DIR: {
		json_t *job;
		if ((rv = job_fetch(l.job, &job)) != 0)
			return rv;
		json_decref(job);
		dir_stat(st, fs.uid, fs.gid, 0555);
		return 0;
	}
	case LOC_INBOX_FILE: {
		struct stat sst;
		pthread_mutex_lock(&fs.lock);
		struct spool *sp = spool_find(l.table, l.name);
		if (sp == NULL || fstat(sp->fd, &sst) != 0) {
			rv = -ENOENT;
		} else {
			st->st_mode = S_IFREG | (sp->mode & 07777);
			st->st_nlink = 1;
			st->st_uid = sp->uid;
			st->st_gid = sp->gid;
			st->st_size = sst.st_size;
			st->st_blocks = sst.st_blocks;
			st->st_atim = st->st_mtim = sp->mtime;
			st->st_ctim = sst.st_ctim;
		}
		pthread_mutex_unlock(&fs.lock);
		return rv;
	}
	case LOC_ERROR_FILE: {
		pthread_mutex_lock(&fs.lock);
		struct fs_error *e = *error_slot(l.table, l.name);
		if (e == NULL) {
			rv = -ENOENT;
		} else {
			st->st_mode = S_IFREG | 0444;
			st->st_nlink = 1;
			st->st_uid = e->uid;
			st->st_gid = e->gid;
			st->st_size = (off_t)strlen(e->text);
			st->st_atime = st->st_mtime = st->st_ctime = e->when;
		}
		pthread_mutex_unlock(&fs.lock);
		return rv;
	}
	case LOC_SCHEMA:
	case LOC_JOB_STATUS:
	case LOC_JOB_RESULT:
	case LOC_JOBS_LAST: {
		char *text;
		size_t len = 0;
		rv = gen_text(&l, &text, &len);
		if (rv != 0 && rv != -EACCES)
			return rv;
		free(text);
		/* A file the client may not read shows without permissions; open fails (EACCES). */
		st->st_mode = S_IFREG | (rv == 0 ? 0444 : 0);
		st->st_nlink = 1;
		st->st_uid = fs.uid;
		st->st_gid = fs.gid;
		st->st_size = (off_t)len;
		st->st_atime = st->st_mtime = st->st_ctime = time(NULL);
		return 0;
	}
	default: return -ENOENT;
	}
}

/* readdir's set of names, without duplicates. */
struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;
		char **v = realloc(ns->v, cap * sizeof *v);
		if (v == NULL)
			return;
		ns->v = v;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(name)) != NULL)
		ns->n++;
}

/* The cluster's tables that pass filter (the client's rights). */
static void names_add_tables(struct names *ns, int (*filter)(const char *table))
{
	json_t *arr, *t;
	size_t i;
	tables_get(&arr);
	json_array_foreach(arr, i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		if (name != NULL && filter(name))
			names_add(ns, name);
	}
	json_decref(arr);
}

/* jobs/: new (with the submit right) and the ids of this client's jobs. */
static int names_add_jobs(struct names *ns)
{
	char errmsg[MPC_ERRMSG_SIZE], id[24];
	json_t *jobs = NULL, *job;
	size_t i;
	int rv;

	if (may_submit())
		names_add(ns, "new");
	pthread_mutex_lock(&fs.meta_lock);
	rv = mpc_job_list(fs.meta, NULL, mpc_client_name(fs.meta), &jobs, errmsg);
	pthread_mutex_unlock(&fs.meta_lock);
	if (rv != 0) {
		fs_log(LOG_WARNING, "list jobs: %s", errmsg);
		return -errno_of(rv);
	}
	json_array_foreach(jobs, i, job)
	{
		snprintf(id, sizeof id, "%" PRId64,
			 (int64_t)json_integer_value(json_object_get(job, "id")));
		names_add(ns, id);
	}
	json_decref(jobs);
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct names ns = {0};
	struct loc l;
	uid_t uid;
	gid_t gid;

	(void)off;
	(void)fi;
	(void)flags;
	parse_path(path, &l);
	switch (l.kind) {
	case LOC_ROOT:
		names_add(&ns, "inbox");
		names_add(&ns, "tables");
		names_add(&ns, "jobs");
		break;
	case LOC_INBOX:
		names_add_tables(&ns, may_append);
		pthread_mutex_lock(&fs.lock);
		for (struct new_inbox *n = fs.inboxes; n; n = n->next)
			names_add(&ns, n->table);
		for (struct spool *sp = fs.spools; sp; sp = sp->next)
			if (strcmp(sp->table, JOBS_NEW) != 0)
				names_add(&ns, sp->table);
		pthread_mutex_unlock(&fs.lock);
		break;
	case LOC_TABLES: names_add_tables(&ns, may_see_table); break;
	case LOC_JOBS: {
		int rv = names_add_jobs(&ns);
		if (rv != 0) {
			for (size_t i = 0; i < ns.n; i++)
				free(ns.v[i]);
			free(ns.v);
			return rv;
		}
		break;
	}
	case LOC_JOB_DIR: {
		json_t *job;
		int rv = job_fetch(l.job, &job);
		if (rv != 0)
			return rv;
		names_add(&ns, "status");
		if (job_completed(job) && may_see_results())
			names_add(&ns, "result.csv");
		json_decref(job);
		break;
	}
	case LOC_INBOX_TABLE:
		if (!inbox_exists(l.table, &uid, &gid))
			return -ENOENT;
		names_add(&ns, ERRORS_DIR);
		if (strcmp(l.table, JOBS_NEW) == 0 && fs.last_job != 0)
			names_add(&ns, ".last");
		pthread_mutex_lock(&fs.lock);
		for (struct spool *sp = fs.spools; sp; sp = sp->next)
			if (strcmp(sp->table, l.table) == 0)
				names_add(&ns, sp->name);
		pthread_mutex_unlock(&fs.lock);
		break;
	case LOC_ERRORS_DIR:
		if (!inbox_exists(l.table, &uid, &gid))
			return -ENOENT;
		pthread_mutex_lock(&fs.lock);
		for (struct fs_error *e = fs.errors; e; e = e->next)
			if (strcmp(e->table, l.table) == 0)
				names_add(&ns, e->name);
		pthread_mutex_unlock(&fs.lock);
		break;
	case LOC_TABLE_DIR:
		if (!mpc_table_name_valid(l.table) || !table_known(l.table))
			return -ENOENT;
		if (!may_see_table(l.table))
			return -EACCES;
		names_add(&ns, "schema.json");
		break;
	case LOC_NONE: return -ENOENT;
	default: return -ENOTDIR;
	}
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < ns.n; i++) {
		filler(buf, ns.v[i], NULL, 0, 0);
		free(ns.v[i]);
	}
	free(ns.v);
	return 0;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct fuse_context *ctx = fuse_get_context();
	struct new_inbox *n;
	struct loc l;
	uid_t uid;
	gid_t gid;

	(void)mode;
	parse_path(path, &l);
	if (l.kind == LOC_ROOT || l.kind == LOC_INBOX || l.kind == LOC_TABLES || l.kind == LOC_JOBS)
		return -EEXIST;
	if (l.kind != LOC_INBOX_TABLE || strcmp(l.table, JOBS_NEW) == 0)
		return -EACCES;
	if (!mpc_table_name_valid(l.table))
		return -EINVAL;
	if (inbox_exists(l.table, &uid, &gid))
		return -EEXIST;
	/* A new table: the create right, and the right to append to it. */
	if (!may_create() || !may_append(l.table))
		return -EACCES;
	if ((n = calloc(1, sizeof *n)) == NULL)
		return -ENOMEM;
	snprintf(n->table, sizeof n->table, "%s", l.table);
	n->uid = ctx->uid;
	n->gid = ctx->gid;
	pthread_mutex_lock(&fs.lock);
	if (inbox_find(l.table) != NULL) {
		pthread_mutex_unlock(&fs.lock);
		free(n);
		return -EEXIST;
	}
	n->next = fs.inboxes;
	fs.inboxes = n;
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

/* rmdir inbox/NAME: only an empty inbox made with mkdir (a table is not removed from here). */
static int fs_rmdir(const char *path)
{
	struct loc l;
	int rv = -EACCES;

	parse_path(path, &l);
	if (l.kind != LOC_INBOX_TABLE || strcmp(l.table, JOBS_NEW) == 0)
		return l.kind == LOC_NONE ? -ENOENT : -EACCES;
	pthread_mutex_lock(&fs.lock);
	for (struct new_inbox **pp = &fs.inboxes; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->table, l.table) != 0)
			continue;
		rv = 0;
		for (struct spool *sp = fs.spools; sp; sp = sp->next)
			if (strcmp(sp->table, l.table) == 0)
				rv = -ENOTEMPTY;
		if (rv == 0) {
			struct new_inbox *n = *pp;
			*pp = n->next;
			free(n);
		}
		break;
	}
	pthread_mutex_unlock(&fs.lock);
	if (rv == -EACCES && !table_known(l.table))
		rv = -ENOENT;
	return rv;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_context *ctx = fuse_get_context();
	struct handle *h;
	struct spool *sp;
	struct loc l;
	uid_t uid;
	gid_t gid;
	int err;

	parse_path(path, &l);
	if (l.kind == LOC_ERRORS_DIR)
		return -EEXIST;
	if (l.kind != LOC_INBOX_FILE)
		return -EACCES;
	if (!inbox_exists(l.table, &uid, &gid))
		return -ENOENT;
	if (strcmp(l.table, JOBS_NEW) == 0 ? !may_submit()
					   : !may_append(l.table) ||
						 (!may_create() && !table_known(l.table)))
		return -EACCES;
	h = calloc(1, sizeof *h);
	sp = calloc(1, sizeof *sp);
	if (h == NULL || sp == NULL) {
		free(h);
		free(sp);
		return -ENOMEM;
	}
	snprintf(sp->table, sizeof sp->table, "%s", l.table);
	snprintf(sp->name, sizeof sp->name, "%s", l.name);
	sp->uid = ctx->uid;
	sp->gid = ctx->gid;
	sp->mode = mode & 0777 & ~ctx->umask;
	clock_gettime(CLOCK_REALTIME, &sp->mtime);
	sp->opens = 1;
	sp->listed = 1;

	pthread_mutex_lock(&fs.lock);
	if (spool_find(l.table, l.name) != NULL) {
		/* A race with another create (O_EXCL is the kernel's, after a lookup). */
		pthread_mutex_unlock(&fs.lock);
		free(h);
		free(sp);
		return -EEXIST;
	}
	snprintf(sp->path, sizeof sp->path, "%s/spool.%u", fs.spool_dir, fs.spool_seq++);
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		err = errno;
		pthread_mutex_unlock(&fs.lock);
		fs_log(LOG_ERR, "spool %s: %s", sp->path, strerror(err));
		free(h);
		free(sp);
		return -err;
	}
	sp->next = fs.spools;
	fs.spools = sp;
	/* A new file of this name: an old failure report no longer applies. */
	error_remove(l.table, l.name);
	h->sp = sp;
	handle_link(h);
	pthread_mutex_unlock(&fs.lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct handle *h;
	struct loc l;
	int rv = 0;

	parse_path(path, &l);
	if ((h = calloc(1, sizeof *h)) == NULL)
		return -ENOMEM;
	switch (l.kind) {
	case LOC_INBOX_FILE:
		pthread_mutex_lock(&fs.lock);
		h->sp = spool_find(l.table, l.name);
		if (h->sp == NULL) {
			rv = -ENOENT;
		} else {
			h->sp->opens++;
			if ((fi->flags & O_TRUNC) && ftruncate(h->sp->fd, 0) != 0)
				rv = -errno;
		}
		pthread_mutex_unlock(&fs.lock);
		break;
	case LOC_ERROR_FILE:
	case LOC_SCHEMA:
	case LOC_JOB_STATUS:
	case LOC_JOB_RESULT:
	case LOC_JOBS_LAST:
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			rv = -EACCES;
			break;
		}
		if (l.kind != LOC_ERROR_FILE) {
			rv = gen_text(&l, &h->text, &h->len);
		} else {
			pthread_mutex_lock(&fs.lock);
			struct fs_error *e = *error_slot(l.table, l.name);
			if (e == NULL || (h->text = strdup(e->text)) == NULL)
				rv = e == NULL ? -ENOENT : -ENOMEM;
			else
				h->len = strlen(h->text);
			pthread_mutex_unlock(&fs.lock);
		}
		/* Generated text: its size may change between stat and read. */
		fi->direct_io = 1;
		break;
	default: rv = l.kind == LOC_NONE ? -ENOENT : -EISDIR;
	}
	pthread_mutex_lock(&fs.lock);
	if (rv != 0)
		handle_free(h); /* gives back the spool's open count */
	else
		handle_link(h);
	pthread_mutex_unlock(&fs.lock);
	if (rv != 0)
		return rv;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	ssize_t n;

	(void)path;
	if (h->sp == NULL) {
		if ((size_t)off >= h->len)
			return 0;
		if (size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		memcpy(buf, h->text + off, size);
		return (int)size;
	}
	n = pread(h->sp->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/*
 * Starts the writeback of the spool every SPOOL_WRITEBACK bytes while it is
 * written. Otherwise a large file's dirty pages are written out during its
 * commit, when the parties' RocksDB fsyncs on the same disk wait behind them
 * (measured: 10^7 rows took 1.4x mpcput's time, see bench/bench_mpcfs.sh).
 */
#define SPOOL_WRITEBACK (8 << 20)
static void spool_writeback(struct spool *sp, off_t end)
{
	if (end - sp->flushed < SPOOL_WRITEBACK)
		return;
	/* Waits for the range before the last one (bounds the dirty data), starts this one. */
	sync_file_range(sp->fd, sp->flushed, end - sp->flushed,
			SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE);
	sp->flushed = end;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	ssize_t n;

	(void)path;
	if (h->sp == NULL)
		return -EBADF;
	if (h->sp->state != SPOOL_OPEN)
		return -EIO; /* written after its commit (or discard) */
	n = pwrite(h->sp->fd, buf, size, off);
	if (n < 0)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &h->sp->mtime);
	h->sp->written = 1;
	spool_writeback(h->sp, off + n);
	return (int)n;
}

/* Reports a file closed without a write: empty, never committed. Caller holds fs.lock. */
static void spool_empty(struct spool *sp)
{
	char text[64 + 2 * NAME_MAX], display[64 + NAME_MAX + 16];
	spool_display(sp, display, sizeof display);
	snprintf(text, sizeof text, "%s: empty file (nothing written): not %s", display,
		 strcmp(sp->table, JOBS_NEW) == 0 ? "submitted" : "appended");
	error_set(sp, text);
}

/*
 * close(2) returns flush's error: the last handle's flush commits. A flush
 * while other handles are open (a reader, a dup in another process) waits
 * for theirs.
 *
 * The kernel sends a flush for every close(2), also of a descriptor that
 * has a dup (a shell's `> FILE`: open, dup2 to 1, close, then write); the
 * two cannot be told apart here. So a file that got no write yet is not
 * committed at flush: the close fails with EINVAL ("empty file", which is
 * what cp of an empty file should see) and the file stays open for writes;
 * its last release drops it unless a later flush committed it.
 */
static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int last, empty;

	(void)path;
	if (h->sp == NULL)
		return 0;
	pthread_mutex_lock(&fs.lock);
	last = h->sp->opens == 1 && !spool_hidden(h->sp);
	empty = h->sp->state == SPOOL_OPEN && !h->sp->written;
	if (last && empty)
		spool_empty(h->sp);
	pthread_mutex_unlock(&fs.lock);
	if (!last)
		return 0;
	return empty ? -EINVAL : spool_commit(h->sp, 0);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct spool *sp = h->sp;
	int last = 0, empty = 0;

	(void)path;
	if (sp != NULL) {
		pthread_mutex_lock(&fs.lock);
		last = sp->opens == 1 && !spool_hidden(sp);
		if (last && sp->state == SPOOL_OPEN && !sp->written) {
			empty = 1;
			spool_empty(sp);
			fs_log(LOG_ERR, "%s/%s: empty file (nothing written): not committed",
			       strcmp(sp->table, JOBS_NEW) == 0 ? "jobs/new" : sp->table, sp->name);
			spool_drop(sp, SPOOL_FAILED);
		}
		pthread_mutex_unlock(&fs.lock);
		/* Written but no flush came for the last handle (it is not always sent):
		 * commit now; the error can only go to .errors and the log. */
		if (last && !empty)
			spool_commit(sp, 0);
	}
	pthread_mutex_lock(&fs.lock);
	handle_free(h);
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

/*
 * fsync(2) of an inbox (or jobs/new/) file commits it now, as its close would:
 * what was written so far is appended in one transaction (or submitted), and
 * fsync returns the commit's error. Afterwards the file has left the inbox;
 * writes to it fail (EIO) and its close returns 0 (or the same error). An
 * fsync before the first write fails with EINVAL (empty) and commits nothing.
 */
static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int empty;
	(void)path;
	(void)datasync;
	if (h == NULL || h->sp == NULL)
		return 0;
	pthread_mutex_lock(&fs.lock);
	if (spool_hidden(h->sp)) {
		/* A temporary file is committed by its rename. */
		pthread_mutex_unlock(&fs.lock);
		return 0;
	}
	empty = h->sp->state == SPOOL_OPEN && !h->sp->written;
	if (empty)
		spool_empty(h->sp);
	pthread_mutex_unlock(&fs.lock);
	return empty ? -EINVAL : spool_commit(h->sp, 0);
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct loc l;
	int rv = 0;

	parse_path(path, &l);
	if (l.kind != LOC_INBOX_FILE)
		return l.kind == LOC_NONE ? -ENOENT : -EACCES;
	pthread_mutex_lock(&fs.lock);
	struct spool *sp =
	    fi ? ((struct handle *)(uintptr_t)fi->fh)->sp : spool_find(l.table, l.name);
	if (sp == NULL)
		rv = -ENOENT;
	else if (sp->state != SPOOL_OPEN)
		rv = -EIO;
	else if (ftruncate(sp->fd, size) != 0)
		rv = -errno;
	pthread_mutex_unlock(&fs.lock);
	return rv;
}

/* unlink of an inbox file discards it (nothing committed); of .errors/NAME clears the report. */
static int fs_unlink(const char *path)
{
	struct loc l;
	int rv = 0;

	parse_path(path, &l);
	pthread_mutex_lock(&fs.lock);
	if (l.kind == LOC_INBOX_FILE) {
		struct spool *sp = spool_find(l.table, l.name);
		if (sp == NULL)
			rv = -ENOENT;
		else if (sp->state == SPOOL_COMMITTING)
			rv = -EBUSY;
		else {
			spool_drop(sp, SPOOL_DISCARDED);
			if (sp->opens == 0)
				spool_free(sp);
		}
	} else if (l.kind == LOC_ERROR_FILE) {
		if (*error_slot(l.table, l.name) == NULL)
			rv = -ENOENT;
		else
			error_remove(l.table, l.name);
	} else {
		rv = l.kind == LOC_NONE ? -ENOENT : -EACCES;
	}
	pthread_mutex_unlock(&fs.lock);
	return rv;
}

/* rename within the inbox (rsync's temp file, an editor's save): an open file is committed
 * to the table of the name it has at its last close; a closed temporary (dot) file renamed to a
 * visible name is committed now, and rename fails with EIO if the commit failed (not EINVAL:
 * mv and rsync read EINVAL from rename as "flag not supported" and retry). */
static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	struct spool *commit = NULL;
	struct loc a, b;
	uid_t uid;
	gid_t gid;
	int rv = 0;

	parse_path(from, &a);
	parse_path(to, &b);
	if (a.kind != LOC_INBOX_FILE || b.kind != LOC_INBOX_FILE)
		return a.kind == LOC_NONE ? -ENOENT : -EACCES;
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if ((strcmp(a.table, JOBS_NEW) == 0) != (strcmp(b.table, JOBS_NEW) == 0))
		return -EXDEV; /* a job program into an inbox, or a CSV into jobs/new/ */
	if (strcmp(a.table, b.table) != 0 && !inbox_exists(b.table, &uid, &gid))
		return -ENOENT;
	if (strcmp(b.table, JOBS_NEW) != 0 &&
	    (!may_append(b.table) || (!may_create() && !table_known(b.table))))
		return -EACCES;
	pthread_mutex_lock(&fs.lock);
	struct spool *sp = spool_find(a.table, a.name), *old = spool_find(b.table, b.name);
	if (sp == NULL)
		rv = -ENOENT;
	else if (sp == old)
		rv = 0;
	else if (old != NULL && (flags & RENAME_NOREPLACE))
		rv = -EEXIST;
	else if (sp->state == SPOOL_COMMITTING || (old && old->state == SPOOL_COMMITTING))
		rv = -EBUSY;
	else {
		if (old != NULL) {
			spool_drop(old, SPOOL_DISCARDED);
			if (old->opens == 0)
				spool_free(old);
		}
		snprintf(sp->table, sizeof sp->table, "%s", b.table);
		snprintf(sp->name, sizeof sp->name, "%s", b.name);
		if (sp->opens == 0 && !spool_hidden(sp)) {
			/* A closed temporary file got its final name: commit it now; if that
			 * fails, the rename fails and the file keeps its old name. */
			error_remove(sp->table, sp->name);
			if (!sp->written) {
				spool_empty(sp);
				rv = -EIO;
			} else {
				sp->opens++; /* held while committing (unlink answers EBUSY) */
				commit = sp;
			}
		}
	}
	if (commit != NULL) {
		pthread_mutex_unlock(&fs.lock);
		rv = spool_commit(commit, 1) != 0 ? -EIO : 0;
		pthread_mutex_lock(&fs.lock);
		--commit->opens;
	}
	if (rv != 0 && sp != NULL && sp->listed && spool_find(a.table, a.name) == NULL) {
		snprintf(sp->table, sizeof sp->table, "%s", a.table);
		snprintf(sp->name, sizeof sp->name, "%s", a.name);
	}
	if (commit != NULL && commit->opens == 0 && !commit->listed)
		spool_free(commit); /* committed: it left the inbox */
	pthread_mutex_unlock(&fs.lock);
	return rv;
}

/* The spool of the inbox file at path, for a change of its attributes: returned with fs.lock
 * held, or NULL with *rv set (-ENOENT, -EACCES outside the inbox files) and fs.lock not held. */
static struct spool *inbox_spool_lock(const char *path, int *rv)
{
	struct loc l;
	struct spool *sp;
	parse_path(path, &l);
	if (l.kind != LOC_INBOX_FILE) {
		*rv = l.kind == LOC_NONE ? -ENOENT : -EACCES;
		return NULL;
	}
	pthread_mutex_lock(&fs.lock);
	if ((sp = spool_find(l.table, l.name)) == NULL) {
		pthread_mutex_unlock(&fs.lock);
		*rv = -ENOENT;
	}
	return sp;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int rv = 0;
	struct spool *sp = inbox_spool_lock(path, &rv);
	(void)fi;
	if (sp == NULL)
		return rv;
	sp->mode = mode & 07777;
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct fuse_context *ctx = fuse_get_context();
	int rv = 0;
	struct spool *sp = inbox_spool_lock(path, &rv);
	(void)fi;
	if (sp == NULL)
		return rv;
	if (ctx->uid != 0 && ((uid != (uid_t)-1 && uid != sp->uid)))
		rv = -EPERM;
	else {
		if (uid != (uid_t)-1)
			sp->uid = uid;
		if (gid != (gid_t)-1)
			sp->gid = gid;
	}
	pthread_mutex_unlock(&fs.lock);
	return rv;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int rv = 0;
	struct spool *sp = inbox_spool_lock(path, &rv);
	(void)fi;
	if (sp == NULL)
		return rv;
	if (tv == NULL || tv[1].tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &sp->mtime);
	else if (tv[1].tv_nsec != UTIME_OMIT)
		sp->mtime = tv[1];
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	/* Space for spooling is the spool dir's. */
	return statvfs(fs.spool_dir, st) == 0 ? 0 : -errno;
}

static const struct fuse_operations mpcfs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .mkdir = fs_mkdir,
    .rmdir = fs_rmdir,
    .create = fs_create,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .fsync = fs_fsync,
    .truncate = fs_truncate,
    .unlink = fs_unlink,
    .rename = fs_rename,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
    .statfs = fs_statfs,
};

/* ---- command line ---- */

struct cmdline {
	char *conf;
	const char *mountpoint; /* in argv */
	unsigned timeout_s, unmount_timeout_s;
	int party, help, version;
};

#define CMD_OPT(t, p)                                                                              \
	{                                                                                          \
		t, offsetof(struct cmdline, p), 1                                                  \
	}
static const struct fuse_opt cmd_spec[] = {CMD_OPT("-c %s", conf),
					   CMD_OPT("--config=%s", conf),
					   CMD_OPT("--timeout=%u", timeout_s),
					   CMD_OPT("--unmount-timeout=%u", unmount_timeout_s),
					   CMD_OPT("--party", party),
					   CMD_OPT("-h", help),
					   CMD_OPT("--help", help),
					   CMD_OPT("-V", version),
					   CMD_OPT("--version", version),
					   FUSE_OPT_END};

/* Options not ours: -f, -d, -s and the -o list go on to fuse_main; anything else is an error. */
static int cmd_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct cmdline *cmd = data;
	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT && cmd->mountpoint == NULL)
		cmd->mountpoint = arg; /* the first: fuse_main refuses a second */
	if (key != FUSE_OPT_KEY_OPT || arg[0] != '-')
		return 1; /* the mount point, or one option of an -o list */
	if (strcmp(arg, "-f") == 0 || strcmp(arg, "-d") == 0 || strcmp(arg, "-s") == 0 ||
	    strncmp(arg, "-o", 2) == 0)
		return 1;
	fprintf(stderr, "mpcfs: unknown option '%s' (see mpcfs --help)\n", arg);
	return -1;
}

static void usage(void)
{
	printf("Usage: mpcfs [-c CONF] MOUNTPOINT [-f] [-o OPTION,...]\n"
	       "       mpcfs --party -c MPCD.CONF MOUNTPOINT [-f] [-o OPTION,...]\n\n"
	       "Mounts an mpcstore cluster as the client of CONF. A CSV file written into\n"
	       "MOUNTPOINT/inbox/TABLE/ is split into secret shares on this host and appended to\n"
	       "TABLE in one transaction when it is closed; close(2) fails if the append failed,\n"
	       "and then nothing was appended (the reason: inbox/TABLE/.errors/FILE).\n"
	       "mkdir inbox/NAME makes the inbox of a new table. tables/TABLE/schema.json shows\n"
	       "the columns, types, rows and version of a table. jobs/ID/status is the mpcstat -l\n"
	       "report of a job, jobs/ID/result.csv its results once it COMPLETED; a program\n"
	       "written into jobs/new/ is submitted at close (its id: jobs/new/.last).\n"
	       "Entries follow the client's rights (EACCES otherwise).\n\n"
	       "With --party, mounts the store of the party of MPCD.CONF read-only: tables/TABLE/\n"
	       "{schema.json,segments/N/COLUMN.shares}, txns, fuel, raft (what mpcstore-tool shows).\n\n"
	       "Options:\n"
	       "  -c, --config=FILE   client config (default $MPC_CONFIG,\n"
	       "                      ~/.config/mpcstore/client.conf)\n"
	       "  --party             mount a party's store read-only (-c names its mpcd.conf)\n"
	       "  --timeout=SEC       abort an append not committed within SEC (default 3600)\n"
	       "  --unmount-timeout=SEC  at unmount, wait at most SEC for running commits\n"
	       "                      (default 600; then exit, their txns abort)\n"
	       "  -f                  stay in the foreground (log to stderr too)\n"
	       "  -d                  FUSE debug output (implies -f)\n"
	       "  -s                  single-threaded\n"
	       "  -o OPTION           FUSE mount options (default: auto_unmount)\n"
	       "  -h, --help          this text and the FUSE options\n"
	       "  -V, --version       print the version\n\n");
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cmdline cmd = {.timeout_s = 3600, .unmount_timeout_s = 600};
	char errmsg[MPC_ERRMSG_SIZE], conf[PATH_MAX];
	struct mpc_client *probe;
	int rv;

	if (fuse_opt_parse(&args, &cmd, cmd_spec, cmd_proc) == -1) {
		rv = 2;
		goto out;
	}
	if (cmd.version) {
		printf("mpcfs (mpcstore) %s, libfuse %s\n", PACKAGE_VERSION, fuse_pkgversion());
		rv = 0;
		goto out;
	}
	if (cmd.help) {
		usage();
		/* fuse_main prints the FUSE options (no usage line: empty program name). */
		fuse_opt_add_arg(&args, "--help");
		args.argv[0][0] = '\0';
		rv = fuse_main(args.argc, args.argv, &mpcfs_ops, NULL);
		goto out;
	}
	mpcfs_mountwatch_prepare(cmd.mountpoint);
	if (cmd.party) {
		if (cmd.conf == NULL) {
			fprintf(stderr, "mpcfs: --party needs -c MPCD.CONF\n");
			rv = 2;
			goto out;
		}
		rv = mpcfs_party_main(&args, cmd.conf);
		goto out;
	}
	/* Commits open the config again after daemonizing (cwd /): resolve it now, and fail
	 * before mounting if it does not load. */
	mpc_client_conf_path(cmd.conf, conf);
	if (realpath(conf, fs.conf) == NULL) {
		fprintf(stderr, "mpcfs: %s: %s\n", conf, strerror(errno));
		rv = 1;
		goto out;
	}
	if (mpc_client_open(fs.conf, &probe, errmsg) != 0) {
		fprintf(stderr, "mpcfs: %s\n", errmsg);
		rv = 1;
		goto out;
	}
	mpc_client_close(probe);
	fs.timeout_ms = cmd.timeout_s * 1000u;
	fs.unmount_timeout_s = cmd.unmount_timeout_s;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.mounted = time(NULL);
	for (int i = 1; i < args.argc; i++)
		if (strcmp(args.argv[i], "-f") == 0 || strcmp(args.argv[i], "-d") == 0)
			fs.foreground = 1;

	snprintf(fs.spool_dir, sizeof fs.spool_dir, "%s/mpcfs-spool.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fs.spool_dir) == NULL) { /* mode 0700 */
		fprintf(stderr, "mpcfs: spool dir %s: %s\n", fs.spool_dir, strerror(errno));
		rv = 1;
		goto out;
	}
	fuse_opt_insert_arg(&args, 1, "-oauto_unmount,fsname=mpcfs,subtype=mpcfs");
	openlog("mpcfs", LOG_PID, LOG_USER);
	rv = fuse_main(args.argc, args.argv, &mpcfs_ops, NULL);
	rmdir(fs.spool_dir); /* empty unless mounting failed before init */
	closelog();
out:
	fuse_opt_free_args(&args);
	free(cmd.conf);
	return rv;
}
