/* mpcfs --party: a party's store, read-only, for operators: what mpcstore-tool shows of it
 * (catalog, txns, fuel and raft from the party's API; this party's shares from its data dir). */
#define FUSE_USE_VERSION 31

#include "client/mpcclient.h"
#include "common/conf.h"
#include "common/err.h"
#include "fuse/mountwatch.h"
#include "fuse/mpcfs.h"
#include "store/catalog.h"
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SHARES_SUFFIX ".shares"

static struct {
	struct mpc_party_conf *pc;
	struct mpc_client *cl; /* to this party's API, one call at a time (lock) */
	char db_dir[PATH_MAX + 8];
	pthread_mutex_t lock;
	uid_t uid;
	gid_t gid;
	time_t mounted;
} party = {.lock = PTHREAD_MUTEX_INITIALIZER};

enum ploc_kind {
	P_NONE,
	P_ROOT,
	P_TABLES,
	P_TABLE,
	P_SEGMENTS,
	P_SEGMENT,
	P_SCHEMA,
	P_SHARES,
	P_TXNS,
	P_FUEL,
	P_RAFT
};

struct ploc {
	enum ploc_kind kind;
	char table[64];
	uint64_t segment;
	char column[NAME_MAX + 1];
};

/* The layout: tables/T/{schema.json,segments/N/COLUMN.shares}, txns, fuel, raft. */
static void ploc_parse(const char *path, struct ploc *l)
{
	char part[5][NAME_MAX + 1], *end;
	int n;

	memset(l, 0, sizeof *l);
	if ((n = mpcfs_path_split(path, part, 5)) < 0)
		return;
	if (n == 0) {
		l->kind = P_ROOT;
		return;
	}
	if (n == 1) {
		l->kind = strcmp(part[0], "tables") == 0 ? P_TABLES
			  : strcmp(part[0], "txns") == 0 ? P_TXNS
			  : strcmp(part[0], "fuel") == 0 ? P_FUEL
			  : strcmp(part[0], "raft") == 0 ? P_RAFT
							 : P_NONE;
		return;
	}
	if (strcmp(part[0], "tables") != 0 || !mpc_table_name_valid(part[1]))
		return;
	strcpy(l->table, part[1]);
	if (n == 2) {
		l->kind = P_TABLE;
	} else if (n == 3) {
		l->kind = strcmp(part[2], "schema.json") == 0 ? P_SCHEMA
			  : strcmp(part[2], "segments") == 0  ? P_SEGMENTS
							      : P_NONE;
	} else if (strcmp(part[2], "segments") == 0) {
		l->segment = strtoull(part[3], &end, 10);
		if (*end != '\0' || part[3][0] == '\0' || (part[3][0] == '0' && part[3][1] != '\0'))
			return;
		if (n == 4) {
			l->kind = P_SEGMENT;
		} else {
			size_t len = strlen(part[4]), sl = strlen(SHARES_SUFFIX);
			if (len <= sl || strcmp(part[4] + len - sl, SHARES_SUFFIX) != 0)
				return;
			memcpy(l->column, part[4], len - sl);
			l->column[len - sl] = '\0';
			l->kind = P_SHARES;
		}
	}
}

/* GET path from this party's API: 0 or -errno. */
static int api_get(const char *path, json_t **out)
{
	char errmsg[MPC_ERRMSG_SIZE];
	int rv;
	*out = NULL;
	pthread_mutex_lock(&party.lock);
	rv = mpc_client_call(party.cl, party.pc->party_id, "GET", path, NULL, 0, out, errmsg);
	pthread_mutex_unlock(&party.lock);
	if (rv != 0) {
		if (rv != MPC_ENOENT)
			syslog(LOG_WARNING, "%s", errmsg);
		json_decref(*out);
		*out = NULL;
		return rv == MPC_ENOENT ? -ENOENT : rv == MPC_EUNAVAIL ? -EHOSTDOWN : -EIO;
	}
	return 0;
}

/* The table's catalog record with its segment list (as mpcstore-tool describe). */
static int table_get(const char *table, json_t **t)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/tables/%s?segments=1", table);
	return api_get(path, t);
}

static int segment_known(json_t *t, uint64_t segment)
{
	json_t *seg;
	size_t i;
	json_array_foreach(json_object_get(t, "segment_list"), i, seg)
	if ((uint64_t)json_integer_value(json_object_get(seg, "id")) == segment)
		return 1;
	return 0;
}

static int column_known(json_t *t, const char *column)
{
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(t, "columns"), i, c)
	if (strcmp(json_string_value(json_object_get(c, "name")) ?: "", column) == 0)
		return 1;
	return 0;
}

/* This party's shares of one segment's column as text, one ring element per line (mpcstore-tool
 * dump's format), read from the data dir opened read-only (store_catalog_read_segment). */
static int shares_text(const struct ploc *l, char **text, size_t *len)
{
	char errmsg[MPC_ERRMSG_SIZE] = "";
	struct store_db *db = NULL;
	uint64_t *shares = NULL, rows = 0;
	FILE *f;
	int rv;

	pthread_mutex_lock(&party.lock);
	rv = store_db_open(party.db_dir, party.pc->cluster->id_hex, party.pc->party_id, 1, &db,
			   errmsg);
	if (rv == 0) {
		rv = store_catalog_read_segment(db, l->table, l->column, l->segment, &shares, &rows,
						errmsg);
		store_db_close(db);
	}
	pthread_mutex_unlock(&party.lock);
	if (rv != 0) {
		if (rv != MPC_ENOENT)
			syslog(LOG_WARNING, "tables/%s/segments/%" PRIu64 "/%s%s: %s", l->table,
			       l->segment, l->column, SHARES_SUFFIX, errmsg);
		return rv == MPC_ENOENT ? -ENOENT : rv == MPC_ENOMEM ? -ENOMEM : -EIO;
	}
	*text = NULL;
	*len = 0;
	if ((f = open_memstream(text, len)) == NULL) {
		free(shares);
		return -ENOMEM;
	}
	for (uint64_t r = 0; r < rows; r++)
		fprintf(f, "%" PRIu64 "\n", shares[r]);
	sodium_memzero(shares, rows * sizeof *shares);
	free(shares);
	if (fclose(f) != 0) {
		free(*text);
		return -ENOMEM;
	}
	return 0;
}

/* The text of a file of the mount: 0 or -errno. */
static int file_text(const struct ploc *l, char **text, size_t *len)
{
	json_t *j = NULL;
	int rv;

	switch (l->kind) {
	case P_SCHEMA:
		if ((rv = table_get(l->table, &j)) == 0)
			rv = mpcfs_schema_text(l->table, j, text, len);
		break;
	case P_SHARES: return shares_text(l, text, len);
	case P_TXNS:
		if ((rv = api_get("/v1/txns", &j)) == 0)
			rv = mpcfs_json_text(j, text, len);
		break;
	case P_FUEL:
		if ((rv = api_get("/v1/engine/fuel", &j)) == 0)
			rv = mpcfs_json_text(j, text, len);
		break;
	case P_RAFT:
		if ((rv = api_get("/v1/raft", &j)) == 0)
			rv = mpcfs_json_text(j, text, len);
		break;
	default: return -ENOENT;
	}
	json_decref(j);
	return rv;
}

static void pdir_stat(struct stat *st)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = party.uid;
	st->st_gid = party.gid;
	st->st_atime = st->st_mtime = st->st_ctime = party.mounted;
}

/* Whether the directory of l exists (tables, segments, columns checked against the catalog). */
static int pdir_exists(const struct ploc *l)
{
	json_t *t = NULL;
	int rv = table_get(l->table, &t);
	if (rv == 0 && l->kind == P_SEGMENT && !segment_known(t, l->segment))
		rv = -ENOENT;
	json_decref(t);
	return rv;
}

static int pfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct ploc l;
	char *text = NULL;
	size_t len = 0;
	int rv;

	(void)fi;
	memset(st, 0, sizeof *st);
	ploc_parse(path, &l);
	switch (l.kind) {
	case P_NONE: return -ENOENT;
	case P_ROOT:
	case P_TABLES: pdir_stat(st); return 0;
	case P_TABLE:
	case P_SEGMENTS:
	case P_SEGMENT:
		if ((rv = pdir_exists(&l)) != 0)
			return rv;
		pdir_stat(st);
		return 0;
	default:
		if ((rv = file_text(&l, &text, &len)) != 0)
			return rv;
		free(text);
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_uid = party.uid;
		st->st_gid = party.gid;
		st->st_size = (off_t)len;
		st->st_atime = st->st_mtime = st->st_ctime = time(NULL);
		return 0;
	}
}

static int pfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct ploc l;
	json_t *j = NULL, *e;
	char name[NAME_MAX + 1];
	size_t i;
	int rv = 0;

	(void)off;
	(void)fi;
	(void)flags;
	ploc_parse(path, &l);
	switch (l.kind) {
	case P_ROOT:
		filler(buf, "tables", NULL, 0, 0);
		filler(buf, "txns", NULL, 0, 0);
		filler(buf, "fuel", NULL, 0, 0);
		filler(buf, "raft", NULL, 0, 0);
		break;
	case P_TABLES:
		if ((rv = api_get("/v1/tables", &j)) != 0)
			return rv;
		json_array_foreach(json_object_get(j, "tables"), i, e)
		filler(buf, json_string_value(json_object_get(e, "name")), NULL, 0, 0);
		break;
	case P_TABLE:
		if ((rv = pdir_exists(&l)) != 0)
			return rv;
		filler(buf, "schema.json", NULL, 0, 0);
		filler(buf, "segments", NULL, 0, 0);
		break;
	case P_SEGMENTS:
	case P_SEGMENT:
		if ((rv = table_get(l.table, &j)) != 0)
			return rv;
		if (l.kind == P_SEGMENT && !segment_known(j, l.segment)) {
			json_decref(j);
			return -ENOENT;
		}
		if (l.kind == P_SEGMENTS) {
			json_array_foreach(json_object_get(j, "segment_list"), i, e)
			{
				snprintf(name, sizeof name, "%lld",
					 (long long)json_integer_value(json_object_get(e, "id")));
				filler(buf, name, NULL, 0, 0);
			}
		} else {
			json_array_foreach(json_object_get(j, "columns"), i, e)
			{
				snprintf(name, sizeof name, "%s%s",
					 json_string_value(json_object_get(e, "name")), SHARES_SUFFIX);
				filler(buf, name, NULL, 0, 0);
			}
		}
		break;
	case P_NONE: return -ENOENT;
	default: return -ENOTDIR;
	}
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	json_decref(j);
	return 0;
}

struct ptext {
	char *text;
	size_t len;
};

static int pfs_open(const char *path, struct fuse_file_info *fi)
{
	struct ptext *h;
	struct ploc l;
	int rv;

	ploc_parse(path, &l);
	if (l.kind == P_NONE)
		return -ENOENT;
	if (l.kind < P_SCHEMA)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	if ((h = calloc(1, sizeof *h)) == NULL)
		return -ENOMEM;
	if (l.kind == P_SHARES) {
		/* Unknown column: ENOENT before a data dir read. */
		json_t *t = NULL;
		if ((rv = table_get(l.table, &t)) == 0 &&
		    (!segment_known(t, l.segment) || !column_known(t, l.column)))
			rv = -ENOENT;
		json_decref(t);
		if (rv != 0) {
			free(h);
			return rv;
		}
	}
	if ((rv = file_text(&l, &h->text, &h->len)) != 0) {
		free(h);
		return rv;
	}
	/* A snapshot taken at open: its size may differ from an earlier stat. */
	fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int pfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ptext *h = (struct ptext *)(uintptr_t)fi->fh;
	(void)path;
	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->text + off, size);
	return (int)size;
}

static int pfs_release(const char *path, struct fuse_file_info *fi)
{
	struct ptext *h = (struct ptext *)(uintptr_t)fi->fh;
	(void)path;
	free(h->text);
	free(h);
	return 0;
}

static void pfs_log_line(int prio, const char *line)
{
	syslog(prio, "%s", line);
}

static void *pfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	/* read-only: nothing to finish before the session ends */
	mpcfs_mountwatch_start(fuse_get_session(fuse_get_context()->fuse), pfs_log_line, NULL);
	return NULL;
}

static void pfs_destroy(void *private_data)
{
	(void)private_data;
	mpcfs_mountwatch_stop();
}

static const struct fuse_operations party_ops = {
    .init = pfs_init,
    .destroy = pfs_destroy,
    .getattr = pfs_getattr,
    .readdir = pfs_readdir,
    .open = pfs_open,
    .read = pfs_read,
    .release = pfs_release,
};

int mpcfs_party_main(struct fuse_args *args, const char *party_conf)
{
	char errmsg[MPC_ERRMSG_SIZE] = "";
	int rv;

	if (sodium_init() < 0)
		return 1;
	if (mpc_party_conf_load(party_conf, &party.pc, errmsg) != 0) {
		fprintf(stderr, "mpcfs: %s\n", errmsg);
		return 1;
	}
	if (mpc_client_open_party(party.pc, &party.cl) != 0) {
		fprintf(stderr, "mpcfs: out of memory\n");
		mpc_party_conf_free(party.pc);
		return 1;
	}
	/* The same RocksDB dir as mpcd's (data_dir/db), read-only at each read. */
	snprintf(party.db_dir, sizeof party.db_dir, "%s/db", party.pc->data_dir);
	party.uid = getuid();
	party.gid = getgid();
	party.mounted = time(NULL);
	fuse_opt_insert_arg(args, 1, "-oro,auto_unmount,fsname=mpcfs-party,subtype=mpcfs");
	openlog("mpcfs", LOG_PID, LOG_USER);
	rv = fuse_main(args->argc, args->argv, &party_ops, NULL);
	closelog();
	mpc_client_close(party.cl);
	mpc_party_conf_free(party.pc);
	return rv;
}
