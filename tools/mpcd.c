/* mpcd: one party's daemon: RocksDB store, Raft member, REST API. */
#include "api/peer.h"
#include "api/server.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/pairkey.h"
#include "engine/service.h"
#include "scheduler/sched_service.h"
#include "scheduler/sched_store.h"
#include "store/db.h"
#include "store/fsm.h"
#include "store/node.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mpcd {
	uv_loop_t loop;
	struct mpc_party_conf *conf;
	struct store_db *db;
	struct store_fsm fsm;
	struct mpc_pairkeys pairkeys; /* the FSM's: votes checked by MAC */
	struct store_node node;
	struct api_server *api;
	struct engine_service *engine;
	struct sched_service *sched;
	uv_signal_t sigint, sigterm;
	uv_async_t stop_async;
	pthread_t stopper;
	int stopping;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: mpcd -c MPCD.CONF [--daemon] [--pid-file FILE] [--log-level LEVEL]\n"
		   "Runs one mpcstore party in the foreground: its RocksDB store, its member of\n"
		   "the Raft group and its REST API. SIGTERM or SIGINT shut it down cleanly.\n\n"
		   "  -c, --config FILE    party config (written by mpcstore-tool cluster init)\n"
		   "  -d, --daemon         detach from the terminal\n"
		   "  -p, --pid-file FILE  write the process id to FILE\n"
		   "  -l, --log-level L    debug, info, warn or error (default: config, else info)\n"
		   "  -h, --help           this text\n"
		   "  -V, --version        print the version\n\n"
		   "Exit status: 0 after a clean shutdown, 1 on a configuration or start-up error.\n");
}

static void node_closed(struct store_node *node)
{
	struct mpcd *d = (struct mpcd *)((char *)node - offsetof(struct mpcd, node));
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->stop_async, NULL);
}

static void stop_cb(uv_async_t *h)
{
	struct mpcd *d = h->data;
	pthread_join(d->stopper, NULL);
	store_node_close(&d->node, node_closed);
}

/* Stops the API off the loop: its handlers may wait on raft, which needs the loop running. */
static void *stopper_main(void *arg)
{
	struct mpcd *d = arg;
	sched_service_release_waiters(d->sched); /* long polls (GET /v1/jobs/ID?wait_ms) */
	api_server_stop(d->api);
	d->api = NULL;
	uv_async_send(&d->stop_async);
	return NULL;
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct mpcd *d = h->data;
	if (d->stopping)
		return;
	d->stopping = 1;
	LOG_INFO("%s: shutting down", strsignal(signum));
	store_fsm_shutdown(&d->fsm);
	d->node.closing = 1;
	pthread_create(&d->stopper, NULL, stopper_main, d);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"daemon", no_argument, NULL, 'd'},
					     {"pid-file", required_argument, NULL, 'p'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *conf_path = NULL, *pid_file = NULL, *level_arg = NULL;
	char errmsg[MPC_ERRMSG_SIZE] = "", dbdir[PATH_MAX + 8], tag[32];
	enum mpc_log_level level;
	struct mpcd *d;
	int daemonize = 0, c, rv;

	while ((c = getopt_long(argc, argv, "c:dp:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf_path = optarg; break;
		case 'd': daemonize = 1; break;
		case 'p': pid_file = optarg; break;
		case 'l': level_arg = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpcd (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (conf_path == NULL || optind != argc) {
		usage(stderr);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mpcd: libsodium failed to initialise\n");
		return 1;
	}
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return 1;
	rv = mpc_party_conf_load(conf_path, &d->conf, errmsg);
	if (rv != 0) {
		fprintf(stderr, "mpcd: %s\n", errmsg);
		goto fail;
	}
	if (mpc_log_parse_level(level_arg ? level_arg : d->conf->log_level, &level) != 0) {
		fprintf(stderr, "mpcd: unknown log level '%s' (debug, info, warn, error)\n",
			level_arg ? level_arg : d->conf->log_level);
		goto fail;
	}
	snprintf(tag, sizeof tag, "mpcd[p%d]", d->conf->party_id);
	mpc_log_init(level, tag);
	if (mkdir(d->conf->data_dir, 0700) != 0 && errno != EEXIST) {
		LOG_ERROR("cannot create data dir %s: %s", d->conf->data_dir, strerror(errno));
		goto fail;
	}
	/* Fork before RocksDB (or anything else) starts threads or takes the
	 * data dir's lock: a child keeps neither. */
	if (daemonize && daemon(1, 1) != 0) {
		LOG_ERROR("daemon: %s", strerror(errno));
		goto fail;
	}
	snprintf(dbdir, sizeof dbdir, "%s/db", d->conf->data_dir);
	rv = store_db_open(dbdir, d->conf->cluster->id_hex, d->conf->party_id, 0, &d->db, errmsg);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		goto fail;
	}
	if (pid_file != NULL) {
		FILE *f = fopen(pid_file, "w");
		if (f == NULL) {
			LOG_ERROR("pid file %s: %s", pid_file, strerror(errno));
			goto fail;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rv = store_fsm_init(&d->fsm, d->db, d->conf->cluster, d->conf->party_id);
	if (rv != 0) { /* settling uploads left by a crash failed */
		LOG_ERROR("store: %s", d->fsm.errmsg[0] ? d->fsm.errmsg : mpc_strerror(rv));
		return 1;
	}
	if (mpc_pairkeys_derive(&d->pairkeys, d->conf->cluster, d->conf->party_id,
				d->conf->box_sk) != 0) {
		LOG_ERROR("party keys: cannot derive the pairwise MAC keys from box_sk");
		return 1;
	}
	d->fsm.pairkeys = &d->pairkeys; /* before raft applies anything */
	sched_fsm_attach(&d->fsm, d->db, d->conf->cluster->n_parties); /* before raft re-applies */
	sched_store_set_key(&d->fsm, d->conf->box_sk); /* opens this party's stored shares */
	uv_loop_init(&d->loop);
	rv = store_node_start(&d->node, &d->loop, d->conf, &d->fsm, errmsg);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		return 1;
	}
	rv = engine_service_start(d->conf, d->db, &d->engine, errmsg);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		return 1;
	}
	rv = sched_service_start(d->conf, &d->node, &d->fsm, d->db, d->engine, &d->sched, errmsg);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		return 1;
	}
	rv = api_server_start(&d->node, &d->fsm, d->db, d->conf, d->engine, d->sched, &d->api,
			      errmsg);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		return 1;
	}
	sched_service_set_forward(d->sched, api_peer_propose); /* after api_peer_init */
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_async_init(&d->loop, &d->stop_async, stop_cb);
	d->sigint.data = d->sigterm.data = d->stop_async.data = d;
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	LOG_INFO("party %d of cluster %s serving api on %s:%u, data in %s", d->conf->party_id,
		 d->conf->cluster->id_hex, d->conf->cluster->parties[d->conf->party_id].host,
		 d->conf->cluster->parties[d->conf->party_id].api_port, d->conf->data_dir);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	sched_service_stop(d->sched);
	engine_service_stop(d->engine);
	store_fsm_close(&d->fsm);
	mpc_pairkeys_free(&d->pairkeys);
	store_db_close(d->db);
	if (pid_file != NULL)
		unlink(pid_file);
	LOG_INFO("stopped");
	mpc_party_conf_free(d->conf);
	curl_global_cleanup();
	free(d);
	return 0;
fail: /* before any thread or handle started */
	if (d->db != NULL)
		store_db_close(d->db);
	mpc_party_conf_free(d->conf);
	free(d);
	return 1;
}
