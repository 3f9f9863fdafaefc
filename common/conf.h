/* Cluster, party and client configuration files (INI): the model, loading, and writing. */
#ifndef MPC_COMMON_CONF_H
#define MPC_COMMON_CONF_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_MAX_PARTIES 16
#define MPC_MAX_CLIENTS 256
#define MPC_NAME_MAX 64
#define MPC_HOST_MAX 256
#define MPC_KEY_BYTES 32
#define MPC_SIGN_SK_BYTES 64
#define MPC_CLUSTER_ID_BYTES 16

struct mpc_party_info {
	int id;
	char host[MPC_HOST_MAX];
	unsigned raft_port;
	unsigned api_port;
	unsigned mpc_port;
	uint8_t sign_pk[MPC_KEY_BYTES]; /* Ed25519 */
	uint8_t box_pk[MPC_KEY_BYTES];	/* X25519 */
};

/* Rights of a client, from the comma-separated `rights` list of its section. */
enum {
	MPC_RIGHT_ADMIN = 1 << 0,  /* party admin calls, all tables */
	MPC_RIGHT_CREATE = 1 << 1, /* create tables */
	MPC_RIGHT_APPEND = 1 << 2, /* append to the tables of append_tables ("*" = all) */
	MPC_RIGHT_SUBMIT = 1 << 3, /* submit jobs */
	MPC_RIGHT_READ = 1 << 4,   /* read public results and catalog */
	MPC_RIGHT_OUTPUT = 1 << 5, /* receive outputs revealed to it */
};

struct mpc_client_info {
	char name[MPC_NAME_MAX];
	uint8_t sign_pk[MPC_KEY_BYTES];
	uint8_t box_pk[MPC_KEY_BYTES];
	unsigned rights;
	char append_tables[512]; /* comma-separated table names or "*" */
};

#define MPC_MAX_QUEUES 32

/* A [queue.NAME] section: the scheduler's share and limits (docs/scheduler.md). */
struct mpc_queue_info {
	char name[MPC_NAME_MAX];
	unsigned weight;       /* share of running tasks under contention, default 1 */
	unsigned max_running;  /* tasks of the queue running at once, 0 = no limit */
	int max_priority;      /* priorities above are lowered to it */
	int has_max_priority;
};

struct mpc_cluster {
	uint8_t id[MPC_CLUSTER_ID_BYTES];
	char id_hex[2 * MPC_CLUSTER_ID_BYTES + 1];
	int n_parties;
	struct mpc_party_info parties[MPC_MAX_PARTIES];
	int n_clients;
	struct mpc_client_info clients[MPC_MAX_CLIENTS];
	unsigned txn_timeout_ms; /* [cluster] txn_timeout_ms, default 30000 */
	int n_queues; /* [queue.NAME] sections; one queue "default" when there is none */
	struct mpc_queue_info queues[MPC_MAX_QUEUES];
	unsigned sched_max_tasks;  /* [scheduler] max_tasks, 0 = unset (MPC_SCHED_MAX_TASKS, 16) */
	uint64_t sched_max_fuel;   /* [scheduler] max_fuel_in_flight triples, 0 = no limit */
};

struct mpc_party_conf {
	char path[PATH_MAX];
	char cluster_path[PATH_MAX];
	char data_dir[PATH_MAX];
	int party_id;
	char log_level[16];
	unsigned snapshot_threshold; /* [raft], default 8192 entries */
	unsigned snapshot_trailing;  /* [raft], default 2048 entries */
	unsigned replay_window_s;    /* [api]: signed requests within +-this of our clock; 60 */
	uint8_t *sign_sk; /* sodium_malloc'd, MPC_SIGN_SK_BYTES */
	uint8_t *box_sk;  /* sodium_malloc'd, MPC_KEY_BYTES */
	struct mpc_cluster *cluster;
};

struct mpc_client_conf {
	char path[PATH_MAX];
	char cluster_path[PATH_MAX];
	char name[MPC_NAME_MAX];
	uint8_t *sign_sk; /* sodium_malloc'd */
	uint8_t *box_sk;  /* sodium_malloc'd */
	struct mpc_cluster *cluster;
};

/* Loads a cluster.conf. Caller frees with mpc_cluster_free(). Errors name file:line. */
int mpc_cluster_load(const char *path, struct mpc_cluster **out, char *errmsg);
void mpc_cluster_free(struct mpc_cluster *c);
/* Returns the queue named name or NULL. */
const struct mpc_queue_info *mpc_cluster_queue(const struct mpc_cluster *c, const char *name);
/* Writes the comma-separated queue names into out. */
void mpc_cluster_queue_names(const struct mpc_cluster *c, char *out, size_t size);
/* Returns the client named name or NULL. */
const struct mpc_client_info *mpc_cluster_client(const struct mpc_cluster *c, const char *name);
/* Whether client may append to table (MPC_RIGHT_APPEND and the table listed, or "*"). */
int mpc_client_may_append(const struct mpc_client_info *ci, const char *table);
/* Parses a rights list ("admin, create, append:t1, append:t2, submit, read, output"). */
int mpc_rights_parse(const char *text, unsigned *rights, char *tables, size_t tables_size,
		     char *errmsg);

/* Loads mpcd.conf and the cluster.conf it names. The file must not be
 * accessible by group or others (mode & 0077), since it holds secret keys. Caller frees with
 * mpc_party_conf_free() (which zeroes the keys). */
int mpc_party_conf_load(const char *path, struct mpc_party_conf **out, char *errmsg);
void mpc_party_conf_free(struct mpc_party_conf *pc);

/* Loads client.conf and its cluster.conf; same rules as the party config. */
int mpc_client_conf_load(const char *path, struct mpc_client_conf **out, char *errmsg);
void mpc_client_conf_free(struct mpc_client_conf *cc);
/* Resolves a client config path: explicit (may be NULL), else $MPC_CONFIG,
 * else ~/.config/mpcstore/client.conf. Writes into out (PATH_MAX). */
void mpc_client_conf_path(const char *explicit_path, char *out);

/* Base64 (libsodium original variant) key helpers. */
int mpc_key_decode(const char *b64, uint8_t *out, size_t len);
void mpc_key_encode(const uint8_t *key, size_t len, char *out, size_t out_size);

#endif
