/* Loading of cluster.conf, mpcd.conf and client.conf on top of the strict INI parser. */
#include "common/conf.h"
#include "common/err.h"
#include "common/ini.h"

#include <errno.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int mpc_key_decode(const char *b64, uint8_t *out, size_t len)
{
	size_t got = 0;
	if (sodium_base642bin(out, len, b64, strlen(b64), NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || got != len)
		return MPC_EINVAL;
	return 0;
}

void mpc_key_encode(const uint8_t *key, size_t len, char *out, size_t out_size)
{
	sodium_bin2base64(out, out_size, key, len, sodium_base64_VARIANT_ORIGINAL);
}

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long x;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x > max || v[0] == '-')
		return MPC_EINVAL;
	*out = (unsigned)x;
	return 0;
}

int mpc_rights_parse(const char *text, unsigned *rights, char *tables, size_t tables_size,
		     char *errmsg)
{
	char buf[1024];
	char *save = NULL, *tok;

	*rights = 0;
	tables[0] = '\0';
	if (strlen(text) >= sizeof buf) {
		/* cut, its last right would be another one ("append:t1234" as "append:t1") */
		mpc_errmsg_printf(errmsg, "rights list longer than %zu bytes", sizeof buf - 1);
		return MPC_ECONFIG;
	}
	snprintf(buf, sizeof buf, "%s", text);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "admin") == 0)
			*rights |= MPC_RIGHT_ADMIN | MPC_RIGHT_CREATE | MPC_RIGHT_READ;
		else if (strcmp(tok, "create") == 0)
			*rights |= MPC_RIGHT_CREATE;
		else if (strcmp(tok, "submit") == 0)
			*rights |= MPC_RIGHT_SUBMIT;
		else if (strcmp(tok, "read") == 0)
			*rights |= MPC_RIGHT_READ;
		else if (strcmp(tok, "output") == 0)
			*rights |= MPC_RIGHT_OUTPUT;
		else if (strncmp(tok, "append:", 7) == 0 && tok[7] != '\0') {
			size_t n = strlen(tables);
			*rights |= MPC_RIGHT_APPEND;
			if (n + strlen(tok + 7) + 2 > tables_size) {
				mpc_errmsg_printf(errmsg, "too many append tables");
				return MPC_ECONFIG;
			}
			snprintf(tables + n, tables_size - n, "%s%s", n ? "," : "", tok + 7);
		} else {
			mpc_errmsg_printf(errmsg,
					  "unknown right '%s' (known: admin, create, append:TABLE, "
					  "append:*, submit, read, output)",
					  tok);
			return MPC_ECONFIG;
		}
	}
	return 0;
}

int mpc_client_may_append(const struct mpc_client_info *ci, const char *table)
{
	char buf[512];
	char *save = NULL, *tok;
	if (ci->rights & MPC_RIGHT_ADMIN)
		return 1;
	if (!(ci->rights & MPC_RIGHT_APPEND))
		return 0;
	snprintf(buf, sizeof buf, "%s", ci->append_tables);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "*") == 0 || strcmp(tok, table) == 0)
			return 1;
	return 0;
}

/* ---- cluster.conf ---- */

struct cluster_ctx {
	struct mpc_cluster *c;
	unsigned seen_party[MPC_MAX_PARTIES]; /* bit mask of keys seen */
	int have_id;
};

static int queue_key(struct mpc_cluster *c, const char *name, const char *key, const char *value,
		     char *errmsg)
{
	struct mpc_queue_info *q = NULL;
	unsigned v;
	for (int i = 0; i < c->n_queues; i++)
		if (strcmp(c->queues[i].name, name) == 0)
			q = &c->queues[i];
	if (q == NULL) {
		if (c->n_queues == MPC_MAX_QUEUES || strlen(name) >= MPC_NAME_MAX || name[0] == '\0' ||
		    strpbrk(name, ", \t") != NULL) {
			mpc_errmsg_printf(errmsg,
					  "too many queues (at most %d) or bad queue name '%s' (at "
					  "most %d characters, no ',' or blanks)",
					  MPC_MAX_QUEUES, name, MPC_NAME_MAX - 1);
			return MPC_ECONFIG;
		}
		q = &c->queues[c->n_queues++];
		snprintf(q->name, sizeof q->name, "%s", name);
		q->weight = 1;
	}
	if (strcmp(key, "weight") == 0) {
		if (parse_uint(value, 1000000, &v) != 0 || v == 0) {
			mpc_errmsg_printf(errmsg, "weight of [queue.%s] must be 1..1000000", name);
			return MPC_ECONFIG;
		}
		q->weight = v;
	} else if (strcmp(key, "max_running") == 0) {
		if (parse_uint(value, 4096, &v) != 0) {
			mpc_errmsg_printf(errmsg, "max_running of [queue.%s] must be 0..4096 (0: no limit)",
					  name);
			return MPC_ECONFIG;
		}
		q->max_running = v;
	} else if (strcmp(key, "max_priority") == 0) {
		char *end;
		errno = 0;
		long x = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || x < -1000000 || x > 1000000) {
			mpc_errmsg_printf(errmsg, "max_priority of [queue.%s] must be an integer "
				          "-1000000..1000000", name);
			return MPC_ECONFIG;
		}
		q->max_priority = (int)x;
		q->has_max_priority = 1;
	} else {
		mpc_errmsg_printf(errmsg, "unknown key '%s' in [queue.%s] (known: weight, max_running, "
				  "max_priority)", key, name);
		return MPC_ECONFIG;
	}
	return 0;
}

static int cluster_key(void *vctx, const char *section, const char *key, const char *value,
		       char *errmsg)
{
	struct cluster_ctx *ctx = vctx;
	struct mpc_cluster *c = ctx->c;

	if (strcmp(section, "cluster") == 0) {
		if (strcmp(key, "id") == 0) {
			size_t got = 0;
			if (strlen(value) != 2 * MPC_CLUSTER_ID_BYTES ||
			    sodium_hex2bin(c->id, sizeof c->id, value, strlen(value), NULL, &got,
					   NULL) != 0 ||
			    got != sizeof c->id) {
				mpc_errmsg_printf(errmsg, "cluster id must be %d hex digits",
						  2 * MPC_CLUSTER_ID_BYTES);
				return MPC_ECONFIG;
			}
			snprintf(c->id_hex, sizeof c->id_hex, "%s", value);
			ctx->have_id = 1;
			return 0;
		}
		if (strcmp(key, "txn_timeout_ms") == 0) {
			if (parse_uint(value, 86400000u, &c->txn_timeout_ms) != 0 ||
			    c->txn_timeout_ms < 100) {
				mpc_errmsg_printf(errmsg, "txn_timeout_ms must be 100..86400000");
				return MPC_ECONFIG;
			}
			return 0;
		}
		if (strcmp(key, "name") == 0)
			return 0;
		mpc_errmsg_printf(errmsg, "unknown key '%s' in [cluster]", key);
		return MPC_ECONFIG;
	}
	if (strncmp(section, "party.", 6) == 0) {
		unsigned id;
		struct mpc_party_info *p;
		if (parse_uint(section + 6, MPC_MAX_PARTIES - 1, &id) != 0) {
			mpc_errmsg_printf(errmsg, "party section must be [party.N], N < %d",
					  MPC_MAX_PARTIES);
			return MPC_ECONFIG;
		}
		p = &c->parties[id];
		p->id = (int)id;
		if ((int)id + 1 > c->n_parties)
			c->n_parties = (int)id + 1;
		if (strcmp(key, "host") == 0) {
			if (strlen(value) >= sizeof p->host || value[0] == '\0') {
				mpc_errmsg_printf(errmsg, "bad host");
				return MPC_ECONFIG;
			}
			strcpy(p->host, value);
			ctx->seen_party[id] |= 1;
		} else if (strcmp(key, "raft_port") == 0 || strcmp(key, "api_port") == 0 ||
			   strcmp(key, "mpc_port") == 0) {
			unsigned port;
			if (parse_uint(value, 65535, &port) != 0 || port == 0) {
				mpc_errmsg_printf(errmsg, "%s must be 1..65535", key);
				return MPC_ECONFIG;
			}
			if (key[0] == 'r') {
				p->raft_port = port;
				ctx->seen_party[id] |= 2;
			} else if (key[0] == 'a') {
				p->api_port = port;
				ctx->seen_party[id] |= 4;
			} else {
				p->mpc_port = port;
				ctx->seen_party[id] |= 8;
			}
		} else if (strcmp(key, "sign_pk") == 0 || strcmp(key, "box_pk") == 0) {
			uint8_t *dst = key[0] == 's' ? p->sign_pk : p->box_pk;
			if (mpc_key_decode(value, dst, MPC_KEY_BYTES) != 0) {
				mpc_errmsg_printf(errmsg, "%s must be a base64 32-byte key", key);
				return MPC_ECONFIG;
			}
			ctx->seen_party[id] |= key[0] == 's' ? 16 : 32;
		} else {
			mpc_errmsg_printf(errmsg, "unknown key '%s' in [%s]", key, section);
			return MPC_ECONFIG;
		}
		return 0;
	}
	if (strncmp(section, "client.", 7) == 0) {
		const char *name = section + 7;
		struct mpc_client_info *ci = NULL;
		for (int i = 0; i < c->n_clients; i++)
			if (strcmp(c->clients[i].name, name) == 0)
				ci = &c->clients[i];
		if (ci == NULL) {
			if (c->n_clients == MPC_MAX_CLIENTS || strlen(name) >= MPC_NAME_MAX ||
			    name[0] == '\0' || strpbrk(name, ": \t") != NULL) {
				/* ':' is kept for the "party:N" admin identity (common/reqsig.h) */
				mpc_errmsg_printf(errmsg,
						  "too many clients or bad client name '%s' (at most "
						  "%d characters, no ':' or blanks)",
						  name, MPC_NAME_MAX - 1);
				return MPC_ECONFIG;
			}
			ci = &c->clients[c->n_clients++];
			strcpy(ci->name, name);
		}
		if (strcmp(key, "sign_pk") == 0 || strcmp(key, "box_pk") == 0) {
			uint8_t *dst = key[0] == 's' ? ci->sign_pk : ci->box_pk;
			if (mpc_key_decode(value, dst, MPC_KEY_BYTES) != 0) {
				mpc_errmsg_printf(errmsg, "%s must be a base64 32-byte key", key);
				return MPC_ECONFIG;
			}
		} else if (strcmp(key, "rights") == 0) {
			return mpc_rights_parse(value, &ci->rights, ci->append_tables,
						sizeof ci->append_tables, errmsg);
		} else {
			mpc_errmsg_printf(errmsg, "unknown key '%s' in [%s]", key, section);
			return MPC_ECONFIG;
		}
		return 0;
	}
	if (strncmp(section, "queue.", 6) == 0)
		return queue_key(c, section + 6, key, value, errmsg);
	if (strcmp(section, "scheduler") == 0) {
		unsigned v;
		if (strcmp(key, "max_tasks") == 0) {
			if (parse_uint(value, 4096, &v) != 0 || v == 0) {
				mpc_errmsg_printf(errmsg, "max_tasks must be 1..4096");
				return MPC_ECONFIG;
			}
			c->sched_max_tasks = v;
			return 0;
		}
		if (strcmp(key, "max_fuel_in_flight") == 0) {
			char *end;
			errno = 0;
			unsigned long long x = strtoull(value, &end, 10);
			if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
			    x > (1ull << 40)) {
				mpc_errmsg_printf(errmsg,
						  "max_fuel_in_flight must be 0..2^40 triples (0: no limit)");
				return MPC_ECONFIG;
			}
			c->sched_max_fuel = x;
			return 0;
		}
		mpc_errmsg_printf(errmsg, "unknown key '%s' in [scheduler] (known: max_tasks, "
				  "max_fuel_in_flight)", key);
		return MPC_ECONFIG;
	}
	mpc_errmsg_printf(errmsg, "unknown section [%s]", section);
	return MPC_ECONFIG;
}

int mpc_cluster_load(const char *path, struct mpc_cluster **out, char *errmsg)
{
	struct cluster_ctx ctx;
	int rv;

	memset(&ctx, 0, sizeof ctx);
	ctx.c = calloc(1, sizeof *ctx.c);
	if (ctx.c == NULL)
		return MPC_ENOMEM;
	ctx.c->txn_timeout_ms = 30000;
	rv = ini_parse_file(path, cluster_key, &ctx, errmsg);
	if (rv != 0)
		goto err;
	rv = MPC_ECONFIG;
	if (!ctx.have_id) {
		mpc_errmsg_printf(errmsg, "%s: [cluster] id is missing", path);
		goto err;
	}
	if (ctx.c->n_parties < 1) {
		mpc_errmsg_printf(errmsg, "%s: no [party.N] sections", path);
		goto err;
	}
	for (int i = 0; i < ctx.c->n_parties; i++) {
		if (ctx.seen_party[i] != 63) {
			mpc_errmsg_printf(errmsg,
					  "%s: [party.%d] needs host, raft_port, api_port, "
					  "mpc_port, sign_pk and box_pk",
					  path, i);
			goto err;
		}
	}
	if (ctx.c->n_queues == 0) {
		ctx.c->n_queues = 1;
		snprintf(ctx.c->queues[0].name, sizeof ctx.c->queues[0].name, "default");
		ctx.c->queues[0].weight = 1;
	}
	*out = ctx.c;
	return 0;
err:
	free(ctx.c);
	return rv;
}

void mpc_cluster_free(struct mpc_cluster *c)
{
	free(c);
}

const struct mpc_queue_info *mpc_cluster_queue(const struct mpc_cluster *c, const char *name)
{
	for (int i = 0; name != NULL && i < c->n_queues; i++)
		if (strcmp(c->queues[i].name, name) == 0)
			return &c->queues[i];
	return NULL;
}

void mpc_cluster_queue_names(const struct mpc_cluster *c, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < c->n_queues && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", c->queues[i].name);
}

const struct mpc_client_info *mpc_cluster_client(const struct mpc_cluster *c, const char *name)
{
	for (int i = 0; i < c->n_clients; i++)
		if (strcmp(c->clients[i].name, name) == 0)
			return &c->clients[i];
	return NULL;
}

/* ---- shared helpers for the files holding secret keys ---- */

static int check_secret_file(const char *path, char *errmsg)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		mpc_errmsg_printf(errmsg, "%s: %s", path, strerror(errno));
		return MPC_ECONFIG;
	}
	if (st.st_mode & 0077) {
		mpc_errmsg_printf(errmsg,
				  "%s: holds secret keys but is readable by group or others "
				  "(mode %03o); run chmod 600 %s",
				  path, (unsigned)(st.st_mode & 0777), path);
		return MPC_EPERM;
	}
	return 0;
}

/* Resolves rel against the directory of file into out (PATH_MAX). */
static void resolve_path(const char *file, const char *rel, char *out)
{
	char dir[PATH_MAX];
	if (rel[0] == '/') {
		snprintf(out, PATH_MAX, "%s", rel);
		return;
	}
	snprintf(dir, sizeof dir, "%s", file);
	snprintf(out, PATH_MAX, "%s/%s", dirname(dir), rel);
}

/* The secret keys of a config file must be those of its public keys in the
 * cluster file (section `who`, e.g. "party.0" or "client.alice"). */
static int keys_match(const uint8_t *sign_sk, const uint8_t *box_sk, const uint8_t *sign_pk,
		      const uint8_t *box_pk, const char *path, const char *who,
		      const char *cluster_path, char *errmsg)
{
	uint8_t pk[MPC_KEY_BYTES];
	crypto_sign_ed25519_sk_to_pk(pk, sign_sk);
	if (sodium_memcmp(pk, sign_pk, sizeof pk) != 0) {
		mpc_errmsg_printf(errmsg, "%s: sign_sk does not match [%s] sign_pk in %s", path, who,
				  cluster_path);
		return MPC_ECONFIG;
	}
	crypto_scalarmult_base(pk, box_sk);
	if (sodium_memcmp(pk, box_pk, sizeof pk) != 0) {
		mpc_errmsg_printf(errmsg, "%s: box_sk does not match [%s] box_pk in %s", path, who,
				  cluster_path);
		return MPC_ECONFIG;
	}
	return 0;
}

static int secret_key(const char *value, uint8_t **dst, size_t len, const char *key, char *errmsg)
{
	if (*dst == NULL)
		*dst = sodium_malloc(len);
	if (*dst == NULL)
		return MPC_ENOMEM;
	if (mpc_key_decode(value, *dst, len) != 0) {
		mpc_errmsg_printf(errmsg, "%s must be a base64 %zu-byte key", key, len);
		return MPC_ECONFIG;
	}
	return 0;
}

/* ---- mpcd.conf ---- */

static int party_key(void *vctx, const char *section, const char *key, const char *value,
		     char *errmsg)
{
	struct mpc_party_conf *pc = vctx;
	if (strcmp(section, "party") == 0) {
		if (strcmp(key, "id") == 0) {
			unsigned id;
			if (parse_uint(value, MPC_MAX_PARTIES - 1, &id) != 0) {
				mpc_errmsg_printf(errmsg, "id must be 0..%d", MPC_MAX_PARTIES - 1);
				return MPC_ECONFIG;
			}
			pc->party_id = (int)id;
		} else if (strcmp(key, "cluster") == 0) {
			resolve_path(pc->path, value, pc->cluster_path);
		} else if (strcmp(key, "data_dir") == 0) {
			resolve_path(pc->path, value, pc->data_dir);
		} else if (strcmp(key, "sign_sk") == 0) {
			return secret_key(value, &pc->sign_sk, MPC_SIGN_SK_BYTES, key, errmsg);
		} else if (strcmp(key, "box_sk") == 0) {
			return secret_key(value, &pc->box_sk, MPC_KEY_BYTES, key, errmsg);
		} else {
			mpc_errmsg_printf(errmsg, "unknown key '%s' in [party]", key);
			return MPC_ECONFIG;
		}
		return 0;
	}
	if (strcmp(section, "raft") == 0 &&
	    (strcmp(key, "snapshot_threshold") == 0 || strcmp(key, "snapshot_trailing") == 0)) {
		unsigned v;
		if (parse_uint(value, 1u << 30, &v) != 0 || v < 8) {
			mpc_errmsg_printf(errmsg, "%s must be a number of entries >= 8", key);
			return MPC_ECONFIG;
		}
		if (key[9] == 't' && key[10] == 'h')
			pc->snapshot_threshold = v;
		else
			pc->snapshot_trailing = v;
		return 0;
	}
	if (strcmp(section, "api") == 0 && strcmp(key, "replay_window_s") == 0) {
		if (parse_uint(value, 3600, &pc->replay_window_s) != 0 || pc->replay_window_s < 1) {
			mpc_errmsg_printf(errmsg, "replay_window_s must be 1..3600 seconds");
			return MPC_ECONFIG;
		}
		return 0;
	}
	if (strcmp(section, "log") == 0 && strcmp(key, "level") == 0) {
		if (strlen(value) >= sizeof pc->log_level) {
			mpc_errmsg_printf(errmsg, "bad log level");
			return MPC_ECONFIG;
		}
		strcpy(pc->log_level, value);
		return 0;
	}
	mpc_errmsg_printf(errmsg, "unknown key '%s' in [%s]", key, section);
	return MPC_ECONFIG;
}

/* Frees what a party's and a client's config share: secret keys (zeroed) and cluster. */
static void conf_identity_free(uint8_t *sign_sk, uint8_t *box_sk, struct mpc_cluster *cluster)
{
	sodium_free(sign_sk);
	sodium_free(box_sk);
	mpc_cluster_free(cluster);
}

int mpc_party_conf_load(const char *path, struct mpc_party_conf **out, char *errmsg)
{
	struct mpc_party_conf *pc;
	int rv;

	if (sodium_init() < 0)
		return MPC_ECRYPTO;
	rv = check_secret_file(path, errmsg);
	if (rv != 0)
		return rv;
	pc = calloc(1, sizeof *pc);
	if (pc == NULL)
		return MPC_ENOMEM;
	pc->party_id = -1;
	snprintf(pc->path, sizeof pc->path, "%s", path);
	strcpy(pc->log_level, "info");
	/* DESIGN.md §11: below 8192 canonical/raft stalls ~100 ms per snapshot */
	pc->snapshot_threshold = 8192;
	pc->snapshot_trailing = 2048;
	pc->replay_window_s = 60;
	rv = ini_parse_file(path, party_key, pc, errmsg);
	if (rv != 0)
		goto err;
	rv = MPC_ECONFIG;
	if (pc->party_id < 0 || pc->cluster_path[0] == '\0' || pc->data_dir[0] == '\0' ||
	    pc->sign_sk == NULL || pc->box_sk == NULL) {
		mpc_errmsg_printf(errmsg,
				  "%s: [party] needs id, cluster, data_dir, sign_sk and box_sk", path);
		goto err;
	}
	rv = mpc_cluster_load(pc->cluster_path, &pc->cluster, errmsg);
	if (rv != 0)
		goto err;
	rv = MPC_ECONFIG;
	if (pc->party_id >= pc->cluster->n_parties) {
		mpc_errmsg_printf(errmsg, "%s: party id %d is not in %s (%d parties)", path,
				  pc->party_id, pc->cluster_path, pc->cluster->n_parties);
		goto err;
	}
	{
		char who[32];
		const struct mpc_party_info *me = &pc->cluster->parties[pc->party_id];
		snprintf(who, sizeof who, "party.%d", pc->party_id);
		rv = keys_match(pc->sign_sk, pc->box_sk, me->sign_pk, me->box_pk, path, who,
				pc->cluster_path, errmsg);
		if (rv != 0)
			goto err;
	}
	*out = pc;
	return 0;
err:
	mpc_party_conf_free(pc);
	return rv;
}

void mpc_party_conf_free(struct mpc_party_conf *pc)
{
	if (pc == NULL)
		return;
	conf_identity_free(pc->sign_sk, pc->box_sk, pc->cluster);
	free(pc);
}

/* ---- client.conf ---- */

static int client_key(void *vctx, const char *section, const char *key, const char *value,
		      char *errmsg)
{
	struct mpc_client_conf *cc = vctx;
	if (strcmp(section, "client") != 0) {
		mpc_errmsg_printf(errmsg, "unknown section [%s]", section);
		return MPC_ECONFIG;
	}
	if (strcmp(key, "name") == 0) {
		if (strlen(value) >= sizeof cc->name || value[0] == '\0') {
			mpc_errmsg_printf(errmsg, "bad client name");
			return MPC_ECONFIG;
		}
		strcpy(cc->name, value);
	} else if (strcmp(key, "cluster") == 0) {
		resolve_path(cc->path, value, cc->cluster_path);
	} else if (strcmp(key, "sign_sk") == 0) {
		return secret_key(value, &cc->sign_sk, MPC_SIGN_SK_BYTES, key, errmsg);
	} else if (strcmp(key, "box_sk") == 0) {
		return secret_key(value, &cc->box_sk, MPC_KEY_BYTES, key, errmsg);
	} else {
		mpc_errmsg_printf(errmsg, "unknown key '%s' in [client]", key);
		return MPC_ECONFIG;
	}
	return 0;
}

int mpc_client_conf_load(const char *path, struct mpc_client_conf **out, char *errmsg)
{
	struct mpc_client_conf *cc;
	int rv;

	if (sodium_init() < 0)
		return MPC_ECRYPTO;
	rv = check_secret_file(path, errmsg);
	if (rv != 0)
		return rv;
	cc = calloc(1, sizeof *cc);
	if (cc == NULL)
		return MPC_ENOMEM;
	snprintf(cc->path, sizeof cc->path, "%s", path);
	rv = ini_parse_file(path, client_key, cc, errmsg);
	if (rv != 0)
		goto err;
	rv = MPC_ECONFIG;
	if (cc->name[0] == '\0' || cc->cluster_path[0] == '\0' || cc->sign_sk == NULL ||
	    cc->box_sk == NULL) {
		mpc_errmsg_printf(errmsg, "%s: [client] needs name, cluster, sign_sk and box_sk",
				  path);
		goto err;
	}
	rv = mpc_cluster_load(cc->cluster_path, &cc->cluster, errmsg);
	if (rv != 0)
		goto err;
	{
		const struct mpc_client_info *ci = mpc_cluster_client(cc->cluster, cc->name);
		char who[MPC_NAME_MAX + 8];
		snprintf(who, sizeof who, "client.%s", cc->name);
		if (ci == NULL) {
			mpc_errmsg_printf(errmsg, "%s: client '%s' has no [%s] section in %s", path,
					  cc->name, who, cc->cluster_path);
			rv = MPC_ECONFIG;
			goto err;
		}
		rv = keys_match(cc->sign_sk, cc->box_sk, ci->sign_pk, ci->box_pk, path, who,
				cc->cluster_path, errmsg);
		if (rv != 0)
			goto err;
	}
	*out = cc;
	return 0;
err:
	mpc_client_conf_free(cc);
	return rv;
}

void mpc_client_conf_free(struct mpc_client_conf *cc)
{
	if (cc == NULL)
		return;
	conf_identity_free(cc->sign_sk, cc->box_sk, cc->cluster);
	free(cc);
}

void mpc_client_conf_path(const char *explicit_path, char *out)
{
	const char *env = getenv("MPC_CONFIG");
	const char *home = getenv("HOME");
	if (explicit_path != NULL && explicit_path[0] != '\0')
		snprintf(out, PATH_MAX, "%s", explicit_path);
	else if (env != NULL && env[0] != '\0')
		snprintf(out, PATH_MAX, "%s", env);
	else
		snprintf(out, PATH_MAX, "%s/.config/mpcstore/client.conf", home ? home : ".");
}
