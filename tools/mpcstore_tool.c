/* mpcstore-tool: cluster set-up and inspection of a party's share store (online via API, offline on a data dir). */
#include "client/mpcclient.h"
#include "common/conf.h"
#include "common/err.h"
#include "store/catalog.h"
#include "store/upload.h"
#include "store/db.h"
#include "store/fsm.h"
#include "store/staging.h"
#include "tools/fuel_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit codes: 0 ok, 1 error, 2 usage, 3 divergence found by verify. */
enum { EXIT_USAGE = 2, EXIT_DIVERGED = 3 };

struct opts {
	const char *conf;
	const char *data_dir;
	const char *dir;
	const char *host;
	const char *column;
	int parties;
	unsigned base_port;
	long limit;
	uint64_t revision;
	int json, all, force;
	int n_clients;			/* cluster init --client NAME=RIGHTS */
	const char *clients[32];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpcstore-tool [-c MPCD.CONF | --data-dir DIR] [--json] COMMAND [ARGS]\n\n"
		"Commands:\n"
		"  cluster init --parties N --dir DIR [--host H] [--base-port P] [--force]\n"
		"               [--client NAME=RIGHTS]...\n"
		"                         write keys and configs for a local N-party cluster;\n"
		"                         each --client adds a client with its rights (e.g.\n"
		"                         alice=append:t1,submit,output) and DIR/client/NAME.conf\n"
		"  tables                 tables, rows, versions\n"
		"  describe TABLE         columns and types, rows, version, segments\n"
		"  dump TABLE [--column C] [--limit N]\n"
		"                         this party's shares (read from its data dir)\n"
		"  raft                   raft state: leader, term, indexes, members\n"
		"  txns [--all]           pending transactions (--all: every one)\n"
		"  verify [--all]         digest of the replicated catalog; --all compares every party\n"
		"  fuel                   preprocessing per generator: available, produced, consumed\n\n"
		"Options:\n"
		"  -c, --config FILE      party config (default $MPC_PARTY_CONFIG, /etc/mpcstore/mpcd.conf)\n"
		"      --data-dir DIR     read a stopped party's data dir offline (read-only)\n"
		"      --revision R       read tables as of raft revision R\n"
		"      --json             machine-readable output\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n\n"
		"Exit status: 0 success, 1 error, 2 usage error, 3 verify found divergence.\n");
}

static int die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "mpcstore-tool: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	return 1;
}

static void print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2));
	puts(text);
	free(text);
}

/* ---- cluster init ---- */

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(text);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A fresh Ed25519 + X25519 key set for one party or client, base64 into the
 * 128-byte strings: sign_pk, box_pk (public) and sign_sk, box_sk (secret;
 * sk and bsk are the caller's sodium_malloc'd scratch). */
static void new_member_keys(uint8_t *sk, uint8_t *bsk, char *sign_pk, char *box_pk,
			    char *sign_sk, char *box_sk)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], bpk[crypto_box_PUBLICKEYBYTES];
	crypto_sign_keypair(pk, sk);
	crypto_box_keypair(bpk, bsk);
	mpc_key_encode(pk, sizeof pk, sign_pk, 128);
	mpc_key_encode(bpk, sizeof bpk, box_pk, 128);
	mpc_key_encode(sk, crypto_sign_SECRETKEYBYTES, sign_sk, 128);
	mpc_key_encode(bsk, crypto_box_SECRETKEYBYTES, box_sk, 128);
}

/* Checks the --client NAME=RIGHTS options before anything is written. */
static int clients_valid(const struct opts *o)
{
	for (int i = 0; i < o->n_clients; i++) {
		const char *eq = strchr(o->clients[i], '=');
		char name[MPC_NAME_MAX], err[MPC_ERRMSG_SIZE] = "", tables[512];
		unsigned rights;
		size_t len = eq ? (size_t)(eq - o->clients[i]) : 0;
		if (eq == NULL || len == 0 || len >= sizeof name) {
			fprintf(stderr, "mpcstore-tool: --client '%s': expected NAME=RIGHTS\n",
				o->clients[i]);
			return 0;
		}
		memcpy(name, o->clients[i], len);
		name[len] = '\0';
		if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
			    len ||
		    strcmp(name, "admin") == 0) {
			fprintf(stderr,
				"mpcstore-tool: --client '%s': the name must be letters, digits, _ "
				"or - and not 'admin'\n",
				o->clients[i]);
			return 0;
		}
		for (int j = 0; j < i; j++)
			if (strncmp(o->clients[j], o->clients[i], len + 1) == 0) {
				fprintf(stderr, "mpcstore-tool: --client %s given twice\n", name);
				return 0;
			}
		if (mpc_rights_parse(eq + 1, &rights, tables, sizeof tables, err) != 0) {
			fprintf(stderr, "mpcstore-tool: --client '%s': %s\n", o->clients[i], err);
			return 0;
		}
	}
	return 1;
}

/* Appends [client.NAME] to the cluster text and writes DIR/client/FILE
 * (mode 0600) with its secret keys. */
static int write_client(const struct opts *o, const char *name, const char *rights,
			const char *file, uint8_t *sk, uint8_t *bsk, char *cluster, size_t *n,
			size_t cap, char *buf)
{
	char path[PATH_MAX], s1[128], s2[128], s3[128], s4[128];
	int rv = 0;
	new_member_keys(sk, bsk, s1, s2, s3, s4);
	*n += (size_t)snprintf(cluster + *n, cap - *n,
			       "[client.%s]\nsign_pk = %s\nbox_pk = %s\nrights = %s\n\n", name, s1,
			       s2, rights);
	snprintf(buf, cap,
		 "# mpcstore client '%s': SECRET keys, keep this file mode 0600\n"
		 "[client]\nname = %s\ncluster = ../cluster.conf\nsign_sk = %s\nbox_sk = %s\n",
		 name, name, s3, s4);
	snprintf(path, sizeof path, "%s/client/%s", o->dir, file);
	if (write_file(path, buf, 0600) != 0)
		rv = die("write %s: %s", path, strerror(errno));
	sodium_memzero(buf, cap);
	sodium_memzero(s3, sizeof s3);
	sodium_memzero(s4, sizeof s4);
	return rv;
}

static int cmd_cluster_init(struct opts *o)
{
	char path[PATH_MAX], *cluster, *buf;
	uint8_t id[MPC_CLUSTER_ID_BYTES], *sk, *bsk;
	char idhex[2 * MPC_CLUSTER_ID_BYTES + 1], s1[128], s2[128], s3[128], s4[128];
	size_t cap = 65536, n = 0;
	struct stat st;

	if (o->dir == NULL || o->parties < 1 || o->parties > MPC_MAX_PARTIES) {
		fprintf(stderr, "mpcstore-tool: cluster init needs --parties 1..%d and --dir DIR\n",
			MPC_MAX_PARTIES);
		return EXIT_USAGE;
	}
	if (!clients_valid(o))
		return EXIT_USAGE;
	if (o->base_port < 1024 || o->base_port + 10u * (unsigned)o->parties > 65535) {
		fprintf(stderr, "mpcstore-tool: --base-port %u leaves no room for %d parties\n",
			o->base_port, o->parties);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof path, "%s/cluster.conf", o->dir);
	if (stat(path, &st) == 0 && !o->force)
		return die("%s exists: refusing to overwrite a cluster (use --force)%s", path, "");
	if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
		return die("mkdir %s: %s", o->dir, strerror(errno));
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	bsk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	cluster = malloc(cap);
	buf = malloc(cap);
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(idhex, sizeof idhex, id, sizeof id);
	n += (size_t)snprintf(cluster + n, cap - n,
			      "# mpcstore cluster: public part, identical on every party and client\n"
			      "[cluster]\nid = %s\ntxn_timeout_ms = 30000\n\n",
			      idhex);
	for (int i = 0; i < o->parties; i++) {
		unsigned port = o->base_port + 10u * (unsigned)i;
		new_member_keys(sk, bsk, s1, s2, s3, s4);
		n += (size_t)snprintf(cluster + n, cap - n,
				      "[party.%d]\nhost = %s\nraft_port = %u\napi_port = %u\n"
				      "mpc_port = %u\nsign_pk = %s\nbox_pk = %s\n\n",
				      i, o->host, port, port + 1, port + 2, s1, s2);
		snprintf(path, sizeof path, "%s/party%d", o->dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return die("mkdir %s: %s", path, strerror(errno));
		snprintf(path, sizeof path, "%s/party%d/data", o->dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return die("mkdir %s: %s", path, strerror(errno));
		snprintf(buf, cap,
			 "# mpcstore party %d: SECRET keys, keep this file mode 0600\n"
			 "[party]\nid = %d\ncluster = ../cluster.conf\ndata_dir = data\n"
			 "sign_sk = %s\nbox_sk = %s\n\n[log]\nlevel = info\n",
			 i, i, s3, s4);
		snprintf(path, sizeof path, "%s/party%d/mpcd.conf", o->dir, i);
		if (write_file(path, buf, 0600) != 0)
			return die("write %s: %s", path, strerror(errno));
		sodium_memzero(buf, cap);
		sodium_memzero(s3, sizeof s3);
		sodium_memzero(s4, sizeof s4);
	}
	snprintf(path, sizeof path, "%s/client", o->dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return die("mkdir %s: %s", path, strerror(errno));
	if (write_client(o, "admin", "admin, create, append:*, submit, read, output", "client.conf",
			 sk, bsk, cluster, &n, cap, buf) != 0)
		return 1;
	for (int i = 0; i < o->n_clients; i++) {
		char name[MPC_NAME_MAX], file[MPC_NAME_MAX + 8];
		size_t len = (size_t)(strchr(o->clients[i], '=') - o->clients[i]);
		memcpy(name, o->clients[i], len);
		name[len] = '\0';
		snprintf(file, sizeof file, "%s.conf", name);
		if (write_client(o, name, o->clients[i] + len + 1, file, sk, bsk, cluster, &n, cap,
				 buf) != 0)
			return 1;
	}
	snprintf(path, sizeof path, "%s/cluster.conf", o->dir);
	if (write_file(path, cluster, 0644) != 0)
		return die("write %s: %s", path, strerror(errno));
	sodium_free(sk);
	sodium_free(bsk);
	free(buf);
	free(cluster);
	if (o->json) {
		json_t *j = json_pack("{s:s, s:i, s:s}", "cluster", idhex, "parties", o->parties,
				      "dir", o->dir);
		print_json(j);
		json_decref(j);
	} else {
		printf("cluster %s: %d parties in %s\n", idhex, o->parties, o->dir);
		for (int i = 0; i < o->parties; i++)
			printf("  party %d: %s/party%d/mpcd.conf  (api %s:%u)\n", i, o->dir, i,
			       o->host, o->base_port + 10u * (unsigned)i + 1);
		printf("  client admin: %s/client/client.conf\n", o->dir);
		for (int i = 0; i < o->n_clients; i++)
			printf("  client %.*s: %s/client/%.*s.conf\n",
			       (int)(strchr(o->clients[i], '=') - o->clients[i]), o->clients[i], o->dir,
			       (int)(strchr(o->clients[i], '=') - o->clients[i]), o->clients[i]);
	}
	return 0;
}

/* ---- context: a party config (online) or a data dir (offline) ---- */

struct ctx {
	struct mpc_party_conf *pc;
	struct mpc_client *cl;
	struct store_db *db; /* offline */
};

static int ctx_open(struct opts *o, int need_db, struct ctx *c)
{
	char err[MPC_ERRMSG_SIZE] = "", dbdir[PATH_MAX + 8];
	const char *conf = o->conf;
	int rv;

	memset(c, 0, sizeof *c);
	if (conf == NULL && o->data_dir == NULL)
		conf = getenv("MPC_PARTY_CONFIG");
	if (conf == NULL && o->data_dir == NULL)
		conf = "/etc/mpcstore/mpcd.conf";
	if (conf != NULL) {
		rv = mpc_party_conf_load(conf, &c->pc, err);
		if (rv != 0) {
			fprintf(stderr, "mpcstore-tool: %s\n", err);
			return 1;
		}
		/* signs as "party:N": this party's API serves its own admin's reads */
		mpc_client_open_party(c->pc, &c->cl);
	}
	if (need_db || o->data_dir != NULL) {
		struct stat st;
		const char *base = o->data_dir ? o->data_dir : c->pc->data_dir;
		snprintf(dbdir, sizeof dbdir, "%s/db", base);
		if (stat(dbdir, &st) != 0)
			snprintf(dbdir, sizeof dbdir, "%s", base);
		rv = store_db_open(dbdir, c->pc ? c->pc->cluster->id_hex : NULL,
				   c->pc ? c->pc->party_id : -1, 1, &c->db, err);
		if (rv != 0) {
			fprintf(stderr, "mpcstore-tool: %s\n", err);
			return 1;
		}
	}
	return 0;
}

static void ctx_close(struct ctx *c)
{
	store_db_close(c->db);
	mpc_client_close(c->cl);
	mpc_party_conf_free(c->pc);
}

/* GET path from this party's API. */
static int api_get(struct ctx *c, const char *path, json_t **out)
{
	char err[MPC_ERRMSG_SIZE] = "";
	int rv = mpc_client_call(c->cl, c->pc->party_id, "GET", path, NULL, 0, out, err);
	if (rv != 0) {
		fprintf(stderr, "mpcstore-tool: %s\n", err);
		json_decref(*out);
		*out = NULL;
		return 1;
	}
	return 0;
}


static int cmd_tables(struct opts *o, struct ctx *c)
{
	json_t *j = NULL, *arr, *t;
	char path[128], cols[512];
	size_t i;

	if (c->db) {
		store_catalog_tables(c->db, o->revision, &arr);
		j = json_pack("{s:o, s:I}", "tables", arr, "revision",
			      (json_int_t)store_catalog_applied(c->db));
	} else {
		snprintf(path, sizeof path, "/v1/tables?revision=%" PRIu64, o->revision);
		if (api_get(c, path, &j) != 0)
			return 1;
	}
	if (o->json) {
		print_json(j);
	} else {
		printf("%-24s %12s %8s %8s  %s\n", "TABLE", "ROWS", "VERSION", "SEGMENTS", "COLUMNS");
		json_array_foreach(json_object_get(j, "tables"), i, t)
		{
			store_columns_describe(json_object_get(t, "columns"), cols, sizeof cols);
			printf("%-24s %12lld %8lld %8lld  %s\n",
			       json_string_value(json_object_get(t, "name")),
			       (long long)json_integer_value(json_object_get(t, "rows")),
			       (long long)json_integer_value(json_object_get(t, "version")),
			       (long long)json_integer_value(json_object_get(t, "segments")), cols);
		}
	}
	json_decref(j);
	return 0;
}

static int cmd_describe(struct opts *o, struct ctx *c, const char *table)
{
	json_t *t = NULL, *v;
	char path[256];
	size_t i;
	int rv;

	if (c->db) {
		rv = store_catalog_table(c->db, table, o->revision, 1, &t);
		if (rv != 0)
			return die("table '%s': %s", table,
				   rv == MPC_ENOENT ? "unknown table" : mpc_strerror(rv));
	} else {
		snprintf(path, sizeof path, "/v1/tables/%s?segments=1&revision=%" PRIu64, table,
			 o->revision);
		if (api_get(c, path, &t) != 0)
			return 1;
	}
	if (o->json) {
		print_json(t);
		json_decref(t);
		return 0;
	}
	printf("table:    %s\nrows:     %lld\nversion:  %lld\nsegments: %lld\ncolumns:\n", table,
	       (long long)json_integer_value(json_object_get(t, "rows")),
	       (long long)json_integer_value(json_object_get(t, "version")),
	       (long long)json_integer_value(json_object_get(t, "segments")));
	json_array_foreach(json_object_get(t, "columns"), i, v)
	{
		const char *type = json_string_value(json_object_get(v, "type"));
		printf("  %-20s %s", json_string_value(json_object_get(v, "name")), type);
		if (strcmp(type, "fixed") == 0)
			printf(" (%lld fractional bits)",
			       (long long)json_integer_value(json_object_get(v, "frac")));
		printf("\n");
	}
	printf("%-8s %10s %10s  %s\n", "SEGMENT", "ROWS", "REVISION", "TXN");
	json_array_foreach(json_object_get(t, "segment_list"), i, v)
	printf("%-8lld %10lld %10lld  %s\n", (long long)json_integer_value(json_object_get(v, "id")),
	       (long long)json_integer_value(json_object_get(v, "rows")),
	       (long long)json_integer_value(json_object_get(v, "revision")),
	       json_string_value(json_object_get(v, "txn")));
	json_decref(t);
	return 0;
}

/* This party's shares of one column (the first without --column): raw ring elements (uint64),
 * one per line, in segment order, read by store_catalog_read_column (as mpcfs --party does). */
static int cmd_dump(struct opts *o, struct ctx *c, const char *table)
{
	char err[MPC_ERRMSG_SIZE] = "";
	const char *col = o->column;
	uint64_t *shares = NULL, rows = 0, n;
	json_t *t = NULL, *values = NULL;
	int rv = store_catalog_table(c->db, table, o->revision, 0, &t);

	if (rv != 0)
		return die("table '%s': %s", table, rv == MPC_ENOENT ? "unknown table" : mpc_strerror(rv));
	if (col == NULL)
		col = json_string_value(json_object_get(json_array_get(json_object_get(t, "columns"), 0), "name"));
	rv = store_catalog_read_column(c->db, table, col ? col : "", o->revision, &shares, &rows, err);
	if (rv != 0) {
		json_decref(t);
		return die("%s%s", err, "");
	}
	n = o->limit >= 0 && (uint64_t)o->limit < rows ? (uint64_t)o->limit : rows;
	if (o->json)
		values = json_array();
	for (uint64_t r = 0; r < n; r++) {
		if (values) {
			char s[24]; /* as text: JSON numbers lose 64-bit precision */
			snprintf(s, sizeof s, "%" PRIu64, shares[r]);
			json_array_append_new(values, json_string(s));
		} else {
			printf("%" PRIu64 "\n", shares[r]);
		}
	}
	if (values) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:o}", "table", table, "column", col, "party",
				      c->pc ? c->pc->party_id : -1, "shares", values);
		print_json(j);
		json_decref(j);
	}
	free(shares);
	json_decref(t);
	return 0;
}

static int cmd_raft(struct opts *o, struct ctx *c)
{
	json_t *j = NULL, *m;
	size_t i;
	if (c->db != NULL) {
		j = json_pack("{s:s, s:I}", "state", "offline", "applied_index",
			      (json_int_t)store_catalog_applied(c->db));
	} else if (api_get(c, "/v1/raft", &j) != 0) {
		return 1;
	}
	if (o->json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	if (c->db != NULL) {
		printf("offline data dir: applied index %lld\n",
		       (long long)json_integer_value(json_object_get(j, "applied_index")));
		json_decref(j);
		return 0;
	}
	printf("party %lld: %s, term %lld, leader %s, commit %lld, applied %lld, last %lld\n",
	       (long long)json_integer_value(json_object_get(j, "party")),
	       json_string_value(json_object_get(j, "state")),
	       (long long)json_integer_value(json_object_get(j, "term")),
	       json_is_string(json_object_get(j, "leader"))
		       ? json_string_value(json_object_get(j, "leader"))
		       : "none",
	       (long long)json_integer_value(json_object_get(j, "commit_index")),
	       (long long)json_integer_value(json_object_get(j, "applied_index")),
	       (long long)json_integer_value(json_object_get(j, "last_index")));
	printf("%-6s %-22s %-8s %-9s %s\n", "PARTY", "ADDRESS", "ROLE", "STATE", "MATCH");
	json_array_foreach(json_object_get(j, "members"), i, m)
	{
		json_t *mi = json_object_get(m, "match_index");
		char match[24] = "-";
		if (mi)
			snprintf(match, sizeof match, "%lld", (long long)json_integer_value(mi));
		printf("%-6lld %-22s %-8s %-9s %s\n",
		       (long long)json_integer_value(json_object_get(m, "party")),
		       json_string_value(json_object_get(m, "address")),
		       json_string_value(json_object_get(m, "role")),
		       json_string_value(json_object_get(m, "state")), match);
	}
	json_decref(j);
	return 0;
}

static int cmd_txns(struct opts *o, struct ctx *c)
{
	json_t *j = NULL, *arr, *t;
	size_t i;
	if (c->db) {
		json_t *uploads;
		store_catalog_txns(c->db, !o->all, &arr);
		/* txns that exist only as uploads to this party (store/upload.h) */
		uploads = store_upload_list(c->db, -1);
		json_array_extend(arr, uploads);
		json_decref(uploads);
		j = json_pack("{s:o}", "txns", arr);
	} else if (api_get(c, o->all ? "/v1/txns" : "/v1/txns?open=1", &j) != 0) {
		return 1;
	}
	if (o->json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	printf("%-32s %-16s %-10s %-10s %8s %9s  %s\n", "TXN", "TABLE", "CLIENT", "STATE", "ROWS",
	       "PREPARED", "REASON");
	json_array_foreach(json_object_get(j, "txns"), i, t)
	printf("%-32s %-16s %-10s %-10s %8lld %5zu/%-3d  %s\n",
	       json_string_value(json_object_get(t, "id")),
	       json_string_value(json_object_get(t, "table")),
	       json_string_value(json_object_get(t, "client")),
	       json_string_value(json_object_get(t, "state")),
	       (long long)json_integer_value(json_object_get(t, "rows")),
	       json_object_size(json_object_get(t, "prepared")),
	       c->cl != NULL ? mpc_client_cluster(c->cl)->n_parties : 0,
	       json_string_value(json_object_get(t, "reason"))
		       ? json_string_value(json_object_get(t, "reason"))
		       : "");
	json_decref(j);
	return 0;
}

static int cmd_verify(struct opts *o, struct ctx *c)
{
	const struct mpc_cluster *cl;
	json_t *answers[MPC_MAX_PARTIES] = {0};
	char err[MPC_ERRMSG_SIZE];
	int n, tries, unreachable = 0, diverged = 0, same_index = 0;

	if (!o->all) {
		json_t *j = NULL;
		char hex[65];
		uint64_t applied;
		if (c->db) {
			store_catalog_digest(c->db, &applied, hex);
			j = json_pack("{s:I, s:s}", "applied_index", (json_int_t)applied, "digest", hex);
		} else if (api_get(c, "/v1/verify", &j) != 0) {
			return 1;
		}
		if (o->json)
			print_json(j);
		else
			printf("applied %lld digest %s\n",
			       (long long)json_integer_value(json_object_get(j, "applied_index")),
			       json_string_value(json_object_get(j, "digest")));
		json_decref(j);
		return 0;
	}
	if (c->cl == NULL)
		return die("verify --all needs a party config (-c)%s%s", "", "");
	cl = mpc_client_cluster(c->cl);
	n = cl->n_parties;
	/* Digests are comparable at the same applied index: retry until all agree on one. */
	for (tries = 0; tries < 50; tries++) {
		json_int_t idx = -1;
		unreachable = 0;
		same_index = 1;
		for (int p = 0; p < n; p++) {
			json_decref(answers[p]);
			answers[p] = NULL;
			if (mpc_client_call(c->cl, p, "GET", "/v1/verify", NULL, 0, &answers[p], err) != 0) {
				unreachable++;
				json_decref(answers[p]);
				answers[p] = json_pack("{s:s}", "error", err);
				continue;
			}
			json_int_t a = json_integer_value(json_object_get(answers[p], "applied_index"));
			if (idx >= 0 && a != idx)
				same_index = 0;
			idx = a;
		}
		if (unreachable == 0 && same_index)
			break;
		usleep(200000);
	}
	for (int p = 1; p < n; p++) {
		const char *d0 = json_string_value(json_object_get(answers[0], "digest"));
		const char *dp = json_string_value(json_object_get(answers[p], "digest"));
		if (d0 && dp && strcmp(d0, dp) != 0)
			diverged = 1;
	}
	if (o->json) {
		json_t *arr = json_array();
		for (int p = 0; p < n; p++)
			json_array_append(arr, answers[p]);
		json_t *j = json_pack("{s:o, s:b, s:b, s:i}", "parties", arr, "consistent",
				      !diverged && !unreachable && same_index, "same_index",
				      same_index, "unreachable", unreachable);
		print_json(j);
		json_decref(j);
	} else {
		printf("%-6s %10s  %s\n", "PARTY", "APPLIED", "DIGEST");
		for (int p = 0; p < n; p++) {
			if (json_object_get(answers[p], "error"))
				printf("%-6d %10s  %s\n", p, "-",
				       json_string_value(json_object_get(answers[p], "error")));
			else
				printf("%-6d %10lld  %s\n", p,
				       (long long)json_integer_value(json_object_get(answers[p], "applied_index")),
				       json_string_value(json_object_get(answers[p], "digest")));
		}
	}
	for (int p = 0; p < n; p++)
		json_decref(answers[p]);
	if (unreachable) {
		fprintf(stderr, "mpcstore-tool: verify: %d of %d parties unreachable\n", unreachable, n);
		return 1;
	}
	if (!same_index) {
		fprintf(stderr, "mpcstore-tool: verify: parties did not reach a common applied index "
				"within 10 s (cluster busy?)\n");
		return 1;
	}
	if (diverged) {
		fprintf(stderr, "mpcstore-tool: verify: catalog digests DIFFER between parties\n");
		return EXIT_DIVERGED;
	}
	if (!o->json)
		printf("all %d parties agree\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"data-dir", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},	  {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {"parties", required_argument, NULL, 'n'},
		{"dir", required_argument, NULL, 'd'},	  {"host", required_argument, NULL, 'H'},
		{"base-port", required_argument, NULL, 'P'}, {"force", no_argument, NULL, 'f'},
		{"column", required_argument, NULL, 'C'}, {"limit", required_argument, NULL, 'L'},
		{"all", no_argument, NULL, 'a'},	  {"revision", required_argument, NULL, 'R'},
		{"client", required_argument, NULL, 'K'}, {NULL, 0, NULL, 0}};
	struct opts o = {.host = "127.0.0.1", .base_port = 7100, .limit = -1};
	struct ctx c;
	const char *cmd;
	int ch, rv;

	while ((ch = getopt_long(argc, argv, "c:jhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o.conf = optarg; break;
		case 'D': o.data_dir = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpcstore-tool (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		case 'n': o.parties = atoi(optarg); break;
		case 'd': o.dir = optarg; break;
		case 'H': o.host = optarg; break;
		case 'P': o.base_port = (unsigned)atoi(optarg); break;
		case 'f': o.force = 1; break;
		case 'C': o.column = optarg; break;
		case 'L': o.limit = atol(optarg); break;
		case 'a': o.all = 1; break;
		case 'R': o.revision = strtoull(optarg, NULL, 10); break;
		case 'K':
			if (o.n_clients == (int)(sizeof o.clients / sizeof o.clients[0])) {
				fprintf(stderr, "mpcstore-tool: at most 32 --client options\n");
				return EXIT_USAGE;
			}
			o.clients[o.n_clients++] = optarg;
			break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0)
		return 1;
	cmd = argv[optind];
	if (strcmp(cmd, "cluster") == 0) {
		if (optind + 1 >= argc || strcmp(argv[optind + 1], "init") != 0) {
			fprintf(stderr, "mpcstore-tool: cluster: the subcommand is 'init'\n");
			return EXIT_USAGE;
		}
		return cmd_cluster_init(&o);
	}
	if ((strcmp(cmd, "describe") == 0 || strcmp(cmd, "dump") == 0) && optind + 1 >= argc) {
		fprintf(stderr, "mpcstore-tool: %s needs a TABLE\n", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "tables") && strcmp(cmd, "describe") && strcmp(cmd, "dump") &&
	    strcmp(cmd, "raft") && strcmp(cmd, "txns") && strcmp(cmd, "verify") &&
	    strcmp(cmd, "fuel")) {
		fprintf(stderr, "mpcstore-tool: unknown command '%s' (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	if (ctx_open(&o, strcmp(cmd, "dump") == 0, &c) != 0)
		return 1;
	if (strcmp(cmd, "tables") == 0)
		rv = cmd_tables(&o, &c);
	else if (strcmp(cmd, "describe") == 0)
		rv = cmd_describe(&o, &c, argv[optind + 1]);
	else if (strcmp(cmd, "dump") == 0)
		rv = cmd_dump(&o, &c, argv[optind + 1]);
	else if (strcmp(cmd, "raft") == 0)
		rv = cmd_raft(&o, &c);
	else if (strcmp(cmd, "txns") == 0)
		rv = cmd_txns(&o, &c);
	else if (strcmp(cmd, "fuel") == 0 && c.cl == NULL)
		rv = die("fuel asks a running party: it needs -c MPCD.CONF%s%s", "", "");
	else if (strcmp(cmd, "fuel") == 0)
		rv = tool_fuel_cmd(c.cl, c.pc->party_id, o.json);
	else
		rv = cmd_verify(&o, &c);
	ctx_close(&c);
	return rv;
}
