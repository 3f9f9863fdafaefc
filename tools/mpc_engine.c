/* mpc-engine: drives a vector computation on the 3 parties of a running local cluster (no scheduler); for tests and benchmarks. */
#include "client/mpcclient.h"
#include "common/conf.h"
#include "common/err.h"
#include "engine/fixed.h"
#include "engine/mesh.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NP 3

struct opt {
	const char *conf, *op;
	size_t n, chunk;
	uint64_t seed;
	unsigned f;
	int ckpt, delay, stagger, fuel_ready, seeded, keep, timeout_s, party, quiet;
	uint32_t id;
	uint64_t t0; /* 0: above every party's high-water mark */
};

struct input {
	const char *name;
	uint64_t *plain;	/* n values */
	uint8_t seeds[NP][32];	/* seeded mode */
};

static struct mpc_client *cl;
static struct mpc_client_conf *cc;
static char err[MPC_ERRMSG_SIZE];

static void die(const char *what)
{
	fprintf(stderr, "mpc-engine: %s\n", what);
	exit(1);
}

/* splitmix64: reproducible inputs from --seed */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static char *b64(const uint8_t *bin, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);
	if (out == NULL)
		die("out of memory");
	sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

static char *sealed_b64(const void *plain, size_t len, const uint8_t *pk)
{
	uint8_t *c = malloc(len + crypto_box_SEALBYTES);
	char *out;
	if (c == NULL)
		die("out of memory");
	crypto_box_seal(c, plain, len, pk);
	out = b64(c, len + crypto_box_SEALBYTES);
	free(c);
	return out;
}

/* The spec's input entry for party p. */
static json_t *input_json(const struct opt *o, struct input *in, int p, uint64_t **shares)
{
	const uint8_t *pk = mpc_client_cluster(cl)->parties[p].box_pk;
	json_t *j = json_pack("{s:s, s:I}", "name", in->name, "n", (json_int_t)o->n);
	char *s = o->seeded ? sealed_b64(in->seeds[p], 32, pk)
			    : sealed_b64(shares[p], o->n * 8, pk);
	json_object_set_new(j, o->seeded ? "seed" : "sealed", json_string(s));
	free(s);
	return j;
}

static void make_input(const struct opt *o, struct input *in, int fixed, int small)
{
	in->plain = malloc(o->n * 8 + 8);
	if (in->plain == NULL)
		die("out of memory");
	if (o->seeded) {
		uint64_t *tmp = malloc(o->n * 8 + 8);
		memset(in->plain, 0, o->n * 8);
		for (int p = 0; p < NP; p++) {
			for (int k = 0; k < 32; k++)
				in->seeds[p][k] = (uint8_t)rnd();
			randombytes_buf_deterministic(tmp, o->n * 8, in->seeds[p]);
			for (size_t k = 0; k < o->n; k++)
				in->plain[k] += tmp[k];
		}
		free(tmp);
		return;
	}
	for (size_t k = 0; k < o->n; k++) {
		if (fixed) {
			/* reals in [-B, B], B = 32 (|product| <= 2^10: fmul fails with
			 * probability < 2^-22 per element, docs/engine-fixed-point.md),
			 * the bound itself and tiny values included */
			double B = small ? 32.0 : 1e6, v;
			switch (k % 5) {
			case 0: v = B; break;
			case 1: v = -B; break;
			case 2: v = ((double)(rnd() % 2000001) - 1000000.0) * 1e-6 * (1.0 / 65536); break;
			default: v = ((double)(rnd() >> 11) / 9007199254740992.0 * 2 - 1) * B;
			}
			if (engine_fixed_from_double(v, o->f, &in->plain[k]) != 0)
				die("fixed-point encoding");
		} else {
			in->plain[k] = rnd(); /* any int64, negatives included */
		}
	}
}

static uint64_t **split(const struct opt *o, const uint64_t *plain)
{
	uint64_t **sh = calloc(NP, sizeof *sh);
	for (int p = 0; p < NP; p++)
		sh[p] = malloc(o->n * 8 + 8);
	mpc_share_split(plain, o->n, NP, sh);
	return sh;
}

static void shares_free(const struct opt *o, uint64_t **shares[], int n_in)
{
	for (int k = 0; k < n_in; k++) {
		for (int p = 0; shares[k] != NULL && p < NP; p++) {
			sodium_memzero(shares[k][p], o->n * 8);
			free(shares[k][p]);
		}
		free(shares[k]);
		shares[k] = NULL;
	}
}

/* GET with retries while a party restarts (30 s). */
static int get_retry(int p, const char *path, json_t **j)
{
	int rv;
	for (int tries = 0;; tries++) {
		*j = NULL;
		rv = mpc_client_call(cl, p, "GET", path, NULL, 0, j, err);
		if (rv != MPC_EUNAVAIL || tries > 300)
			return rv;
		usleep(100000);
	}
}

static uint64_t max_hwm(void)
{
	uint64_t hwm = 0;
	for (int p = 0; p < NP; p++) {
		json_t *j = NULL;
		const char *h;
		if (get_retry(p, "/v1/engine/fuel", &j) != 0)
			die(err);
		h = json_string_value(json_object_get(json_array_get(json_object_get(j, "generators"), 0),
						      "high_water_mark"));
		if (h != NULL && strtoull(h, NULL, 10) > hwm)
			hwm = strtoull(h, NULL, 10);
		json_decref(j);
	}
	return hwm;
}

static uint64_t bytes_sent_total(void)
{
	uint64_t sum = 0;
	for (int p = 0; p < NP; p++) {
		json_t *j = NULL;
		if (get_retry(p, "/v1/engine/fuel", &j) != 0)
			die(err);
		sum += (uint64_t)json_integer_value(json_object_get(json_object_get(j, "mesh"), "bytes_sent"));
		json_decref(j);
	}
	return sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The program of op over inputs x (and y): name of the checked output(s). */
static json_t *program(const char *op, const struct opt *o)
{
	char k1[24], half[24];
	uint64_t enc;
	engine_fixed_from_double(1.5, o->f, &enc);
	snprintf(half, sizeof half, "%" PRId64, (int64_t)enc);
	snprintf(k1, sizeof k1, "%d", -3);
	if (strcmp(op, "all") == 0)
		return json_pack("[[sss s][ssss][ssss][sss][ssss][ssss][ssss][ssss][sss][ssss][sss][sss]"
				 "[ss s][ss s][ss s][ss s][ss s][ss s][ss s][ss s][ss s][ss s][ss s][sss s]]",
				 "mul", "p", "i", "j", "add", "s", "i", "j", "sub", "d", "i", "j",
				 "neg", "g", "i", "mulc", "m", "i", k1, "addc", "a", "x", half,
				 "fmul", "q", "x", "y", "dot", "t", "i", "j", "square", "sq", "i",
				 "dot", "tf", "x", "y", "sum", "sm", "i", "trunc", "tr", "x",
				 "open", "o_p", "p", "open", "o_s", "s", "open", "o_d", "d", "open",
				 "o_g", "g", "open", "o_m", "m", "open", "o_a", "a", "open", "o_q",
				 "q", "open", "o_t", "t", "open", "o_sq", "sq", "open", "o_sm", "sm",
				 "open", "o_tr", "tr", "reveal", "r_p", "p", mpc_client_name(cl));
	if (strcmp(op, "dot") == 0 || strcmp(op, "mul") == 0 || strcmp(op, "fmul") == 0)
		return json_pack("[[ssss][sss]]", op, "z", "x", "y", "open", "o_z", "z");
	if (strcmp(op, "add") == 0)
		return json_pack("[[ssss][sss]]", op, "z", "x", "y", "open", "o_z", "z");
	if (strcmp(op, "square") == 0 || strcmp(op, "trunc") == 0 || strcmp(op, "sum") == 0 ||
	    strcmp(op, "sumsq") == 0)
		return json_pack("[[sss][sss]]", op, "z", "x", "open", "o_z", "z");
	if (strcmp(op, "chain") == 0) /* many rounds: resume tests */
		return json_pack("[[ssss][ssss][ssss][ssss][ssss][ssss][ssss][ssss][sss][ssss][sss]]",
				 "mul", "z1", "x", "y", "mul", "z2", "z1", "y", "add", "z3", "z2",
				 "x", "mul", "z4", "z3", "x", "mul", "z5", "z4", "y", "sub", "z6",
				 "z5", "z1", "mul", "z7", "z6", "x", "mul", "z8", "z7", "y", "square",
				 "z9", "z8", "dot", "z10", "z9", "x", "open", "o_z", "z10");
	die("unknown operation (all, mul, fmul, dot, square, sumsq, trunc, sum, chain)");
	return NULL;
}

static int64_t fl_shift(uint64_t v, unsigned f)
{
	return (int64_t)v >> f; /* arithmetic: floor */
}

static int check_trunc(uint64_t got, __int128 x, unsigned f)
{
	int64_t want = (int64_t)(x >> f);
	int64_t d = (int64_t)(got - (uint64_t)want);
	return d == 0 || d == 1;
}

/* Verifies output name of party 0's answer against the plaintext; returns failures. */
static long verify(json_t *outs, const char *name, const uint64_t *want, size_t n, int approx,
		   const __int128 *wide, unsigned f)
{
	json_t *o = json_object_get(outs, name), *vals = json_object_get(o, "values");
	long bad = 0;
	if (o == NULL)
		return (long)n + 1;
	if (vals == NULL) { /* compare the digest */
		uint8_t h[32];
		char hex[65];
		crypto_generichash(h, 32, (const uint8_t *)want, n * 8, NULL, 0);
		sodium_bin2hex(hex, sizeof hex, h, 32);
		return strcmp(hex, json_string_value(json_object_get(o, "digest"))) != 0;
	}
	if (json_array_size(vals) != n)
		return (long)n + 1;
	for (size_t k = 0; k < n; k++) {
		uint64_t got = (uint64_t)strtoll(json_string_value(json_array_get(vals, k)), NULL, 10);
		if (approx ? !check_trunc(got, wide[k], f) : got != want[k]) {
			if (bad < 3)
				fprintf(stderr, "mpc-engine: %s[%zu] = %" PRId64 ", want %" PRId64 "\n",
					name, k, (int64_t)got, approx ? (int64_t)(wide[k] >> f) : (int64_t)want[k]);
			bad++;
		}
	}
	return bad;
}

static int forge(const struct opt *o)
{
	const struct mpc_cluster *c = mpc_client_cluster(cl);
	const struct mpc_party_info *pi = &c->parties[o->party];
	struct addrinfo hints = {0}, *ai;
	struct mpc_secchan_keys keys;
	uint8_t pk[32], sk[32];
	char port[16], e2[MPC_ERRMSG_SIZE] = "";
	int fd, peer, rv;

	crypto_box_keypair(pk, sk);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", pi->mpc_port);
	if (getaddrinfo(pi->host, port, &hints, &ai) != 0)
		die("resolve");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("connect");
	freeaddrinfo(ai);
	/* claim to be party 0 (the lowest id dials everyone) with a key not in the cluster */
	rv = mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 1, c, 0, pk, sk, o->party, &peer, &keys,
				   e2);
	close(fd);
	printf("{\"forged_peer\": \"%s\", \"detail\": \"%s\"}\n", rv == 0 ? "accepted" : "refused", e2);
	return rv == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"n", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},	  {"f", required_argument, NULL, 'f'},
		{"chunk", required_argument, NULL, 'C'},  {"checkpoint", required_argument, NULL, 'K'},
		{"delay", required_argument, NULL, 'D'},  {"fuel-ready", no_argument, NULL, 'R'},
		{"seeded", no_argument, NULL, 'S'},	  {"keep", no_argument, NULL, 'k'},
		{"id", required_argument, NULL, 'i'},	  {"t0", required_argument, NULL, 'T'},
		{"timeout", required_argument, NULL, 'W'}, {"party", required_argument, NULL, 'p'},
		{"quiet", no_argument, NULL, 'q'},	  {"stagger", required_argument, NULL, 'G'},
		{NULL, 0, NULL, 0}};
	struct opt o = {NULL, NULL, 1000, 0, 1, 16, 0, 0, 0, 0, 0, 0, 120, 1, 0, 0, 0};
	struct input X = {.name = "x"}, Y = {.name = "y"}, I = {.name = "i"}, J = {.name = "j"};
	struct input *ins[4];
	json_t *ops, *outs = NULL, *st[NP] = {NULL};
	uint64_t need = 0, t0, bytes0, bytes1;
	double t_start, online = 0, op0 = 0;
	int n_in, c, all;
	long bad = 0;

	while ((c = getopt_long(argc, argv, "c:n:s:f:q", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.conf = optarg; break;
		case 'n': o.n = strtoull(optarg, NULL, 10); break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		case 'f': o.f = (unsigned)atoi(optarg); break;
		case 'C': o.chunk = strtoull(optarg, NULL, 10); break;
		case 'K': o.ckpt = atoi(optarg); break;
		case 'D': o.delay = atoi(optarg); break;
		case 'G': o.stagger = atoi(optarg); break;
		case 'R': o.fuel_ready = 1; break;
		case 'S': o.seeded = 1; break;
		case 'k': o.keep = 1; break;
		case 'i': o.id = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'T': o.t0 = strtoull(optarg, NULL, 10); break;
		case 'W': o.timeout_s = atoi(optarg); break;
		case 'p': o.party = atoi(optarg); break;
		case 'q': o.quiet = 1; break;
		default:
			fprintf(stderr, "Usage: mpc-engine -c CLIENT.CONF OP [--n N] [--seed S] [--f F] "
					"[--chunk C] [--checkpoint K] [--delay MS] [--stagger MS] [--fuel-ready] [--seeded] "
					"[--id ID] [--t0 T] [--keep]\n"
					"OP: all mul fmul dot square sumsq trunc sum chain | forge --party P\n");
			return 2;
		}
	}
	if (optind >= argc)
		die("needs an operation (all, mul, fmul, dot, square, sumsq, trunc, sum, chain, forge)");
	o.op = argv[optind];
	if (sodium_init() < 0)
		die("libsodium");
	if (mpc_client_open(o.conf, &cl, err) != 0 || mpc_client_conf_load(o.conf, &cc, err) != 0)
		die(err);
	if (mpc_client_cluster(cl)->n_parties != NP)
		die("the engine needs a 3-party cluster");
	if (strcmp(o.op, "forge") == 0)
		return forge(&o);
	rng_state = o.seed;
	if (o.id == 0)
		o.id = (uint32_t)(randombytes_uniform(0x7fffffff) + 1);
	all = strcmp(o.op, "all") == 0;
	if (all && o.seeded)
		die("all needs explicit inputs (no --seeded)");
	/* integer inputs i, j for ring ops; fixed-point x, y near the bounds */
	if (all) {
		make_input(&o, &I, 0, 0);
		make_input(&o, &J, 0, 0);
		make_input(&o, &X, 1, 1);
		make_input(&o, &Y, 1, 1);
		ins[0] = &I, ins[1] = &J, ins[2] = &X, ins[3] = &Y;
		n_in = 4;
	} else {
		int fx = strcmp(o.op, "fmul") == 0 || strcmp(o.op, "trunc") == 0;
		make_input(&o, &X, fx, 1);
		make_input(&o, &Y, fx, 1);
		ins[0] = &X, ins[1] = &Y;
		n_in = 2;
	}
	ops = program(o.op, &o);
	for (size_t k = 0; k < json_array_size(ops); k++) {
		const char *name = json_string_value(json_array_get(json_array_get(ops, k), 0));
		if (!strcmp(name, "mul") || !strcmp(name, "square") || !strcmp(name, "dot") ||
		    !strcmp(name, "sumsq") ||
		    !strcmp(name, "trunc") || !strcmp(name, "reveal"))
			need += o.n;
		else if (!strcmp(name, "fmul"))
			need += 2 * o.n;
	}
	if (need == 0)
		need = 1;
	t0 = o.t0 ? o.t0 : max_hwm();
	bytes0 = bytes_sent_total();
	t_start = now_s();
	uint64_t **shares[4] = {NULL, NULL, NULL, NULL};
	for (int k = 0; k < n_in; k++)
		shares[k] = o.seeded ? NULL : split(&o, ins[k]->plain);
	for (int p = 0; p < NP; p++) {
		json_t *spec, *inputs = json_array();
		char a[24], b[24], *body;
		for (int k = 0; k < n_in; k++)
			json_array_append_new(inputs, input_json(&o, ins[k], p, shares[k]));
		snprintf(a, sizeof a, "%" PRIu64, t0);
		snprintf(b, sizeof b, "%" PRIu64, need);
		spec = json_pack("{s:I, s:s, s:s, s:i, s:I, s:i, s:i, s:b, s:o, s:O}", "id",
				 (json_int_t)o.id, "t0", a, "n", b, "f", (int)o.f, "chunk",
				 (json_int_t)o.chunk, "checkpoint_every", o.ckpt, "delay_ms", o.delay,
				 "fuel_ready", o.fuel_ready, "inputs", inputs, "ops", ops);
		body = json_dumps(spec, JSON_COMPACT);
		json_decref(spec);
		/* a party that is restarting answers later: the same spec again is idempotent */
		int rv;
		for (int tries = 0;; tries++) {
			rv = mpc_client_call(cl, p, "POST", "/v1/engine/sessions", body, strlen(body),
					     NULL, err);
			if ((rv != MPC_EUNAVAIL && rv != MPC_EPROTO) || tries > 300)
				break;
			usleep(100000);
		}
		if (rv != 0) {
			fprintf(stderr, "mpc-engine: start: %s\n", err);
			printf("{\"op\": \"%s\", \"ok\": false, \"error\": \"start\"}\n", o.op);
			free(body);
			shares_free(&o, shares, n_in);
			bad = 1;
			goto out; /* st[] is still all NULL */
		}
		free(body);
		/* --stagger: the next party starts its session later (its peers run ahead) */
		if (o.stagger > 0 && p + 1 < NP)
			usleep((useconds_t)o.stagger * 1000);
	}
	shares_free(&o, shares, n_in);
	/* wait until every party is done */
	for (;;) {
		char path[64];
		int done = 0;
		snprintf(path, sizeof path, "/v1/engine/sessions/%u%s", o.id, o.n <= 65536 ? "?values=1" : "");
		for (int p = 0; p < NP; p++) {
			st[p] = NULL;
			if (mpc_client_call(cl, p, "GET", path, NULL, 0, &st[p], err) != 0) {
				st[p] = NULL;
				continue; /* a party may be restarting */
			}
			const char *s = json_string_value(json_object_get(st[p], "state"));
			if (s && strcmp(s, "failed") == 0) {
				fprintf(stderr, "mpc-engine: party %d: %s\n", p,
					json_string_value(json_object_get(st[p], "error")));
				while (++p < NP)
					st[p] = NULL; /* the previous round's, decref'd */
				bad = 1;
				goto out;
			}
			done += s && strcmp(s, "done") == 0;
		}
		if (done == NP)
			break;
		for (int p = 0; p < NP; p++)
			json_decref(st[p]);
		if (now_s() - t_start > o.timeout_s)
			die("timed out waiting for the session");
		usleep(20000);
	}
	bytes1 = bytes_sent_total();
	for (int p = 0; p < NP; p++) {
		double ms = json_real_value(json_object_get(st[p], "online_ms"));
		double m0 = json_real_value(json_array_get(json_object_get(st[p], "op_ms"), 0));
		if (ms > online)
			online = ms;
		if (m0 > op0)
			op0 = m0;
	}
	outs = json_object_get(st[0], "outputs");
	/* check against plaintext */
	{
		size_t n = o.n;
		uint64_t *w = malloc(n * 8 + 8);
		__int128 *wide = malloc(n * sizeof *wide + 16);
		const uint64_t *i = I.plain, *j = J.plain, *x = X.plain, *y = Y.plain;
		if (all) {
			uint64_t acc = 0, accf = 0, sm = 0;
#define CHECK(name, expr)                                   \
	do {                                                \
		for (size_t k = 0; k < n; k++)              \
			w[k] = (expr);                      \
		bad += verify(outs, name, w, n, 0, NULL, o.f); \
	} while (0)
			CHECK("o_p", i[k] * j[k]);
			CHECK("o_s", i[k] + j[k]);
			CHECK("o_d", i[k] - j[k]);
			CHECK("o_g", -i[k]);
			CHECK("o_m", i[k] * (uint64_t)-3);
			{
				uint64_t enc;
				engine_fixed_from_double(1.5, o.f, &enc);
				CHECK("o_a", x[k] + enc);
			}
			CHECK("o_sq", i[k] * i[k]);
			for (size_t k = 0; k < n; k++) {
				acc += i[k] * j[k];
				accf += x[k] * y[k];
				sm += i[k];
				wide[k] = (__int128)(int64_t)x[k] * (int64_t)y[k];
			}
			bad += verify(outs, "o_t", &acc, 1, 0, NULL, o.f);
			bad += verify(outs, "o_sm", &sm, 1, 0, NULL, o.f);
			bad += verify(outs, "o_q", NULL, n, 1, wide, o.f);
			for (size_t k = 0; k < n; k++)
				wide[k] = (__int128)(int64_t)x[k];
			bad += verify(outs, "o_tr", NULL, n, 1, wide, o.f);
			(void)accf;
			/* reveal: open the three sealed share vectors with the client key */
			{
				uint8_t pk[32];
				uint64_t *sum = calloc(n, 8), *part = malloc(n * 8);
				crypto_scalarmult_base(pk, cc->box_sk);
				for (int p = 0; p < NP; p++) {
					const char *s = json_string_value(json_object_get(
						json_object_get(json_object_get(st[p], "outputs"), "r_p"), "sealed"));
					size_t blen = s ? strlen(s) : 0;
					uint8_t *bin = malloc(blen + 1);
					if (s == NULL ||
					    sodium_base642bin(bin, blen, s, blen, NULL, &blen, NULL,
							      sodium_base64_VARIANT_ORIGINAL) != 0 ||
					    blen != n * 8 + crypto_box_SEALBYTES ||
					    crypto_box_seal_open((uint8_t *)part, bin, blen, pk, cc->box_sk) != 0) {
						bad++;
						free(bin);
						continue;
					}
					for (size_t k = 0; k < n; k++)
						sum[k] += part[k];
					free(bin);
				}
				for (size_t k = 0; k < n; k++)
					if (sum[k] != i[k] * j[k])
						bad++;
				free(sum);
				free(part);
			}
		} else if (!strcmp(o.op, "mul")) {
			CHECK("o_z", x[k] * y[k]);
		} else if (!strcmp(o.op, "add")) {
			CHECK("o_z", x[k] + y[k]);
		} else if (!strcmp(o.op, "square")) {
			CHECK("o_z", x[k] * x[k]);
		} else if (!strcmp(o.op, "dot") || !strcmp(o.op, "sum") || !strcmp(o.op, "sumsq")) {
			uint64_t acc = 0;
			for (size_t k = 0; k < n; k++)
				acc += strcmp(o.op, "dot") == 0	    ? x[k] * y[k]
				       : strcmp(o.op, "sumsq") == 0 ? x[k] * x[k]
								    : x[k];
			bad += verify(outs, "o_z", &acc, 1, 0, NULL, o.f);
		} else if (!strcmp(o.op, "fmul") || !strcmp(o.op, "trunc")) {
			for (size_t k = 0; k < n; k++)
				wide[k] = !strcmp(o.op, "fmul") ? (__int128)(int64_t)x[k] * (int64_t)y[k]
								: (__int128)(int64_t)x[k];
			if (json_object_get(json_object_get(outs, "o_z"), "values") != NULL)
				bad += verify(outs, "o_z", NULL, n, 1, wide, o.f);
		} else if (!strcmp(o.op, "chain")) {
			uint64_t acc = 0;
			for (size_t k = 0; k < n; k++) {
				uint64_t z1 = x[k] * y[k], z2 = z1 * y[k], z3 = z2 + x[k], z4 = z3 * x[k];
				uint64_t z5 = z4 * y[k], z6 = z5 - z1, z7 = z6 * x[k], z8 = z7 * y[k];
				acc += z8 * z8 * x[k];
			}
			bad += verify(outs, "o_z", &acc, 1, 0, NULL, o.f);
		}
		free(w);
		free(wide);
	}
	(void)fl_shift;
	{
		json_t *res = json_pack("{s:s, s:I, s:b, s:I, s:I, s:s, s:f, s:f, s:f, s:f, s:b, s:b, s:I, s:I}",
					"op", o.op, "n", (json_int_t)o.n, "ok", bad == 0, "bad",
					(json_int_t)bad, "session", (json_int_t)o.id, "t0", "",
					"online_ms", online, "op0_ms", op0, "op0_per_s",
					op0 > 0 ? o.n / (op0 / 1e3) : 0.0, "bytes_per_elem",
					(double)(bytes1 - bytes0) / (double)o.n, "fuel_ready",
					o.fuel_ready, "seeded", o.seeded, "fuel_need", (json_int_t)need,
					"resyncs", json_integer_value(json_object_get(st[0], "resyncs")));
		char a[24], *text;
		json_t *per = json_array();
		for (int p = 0; p < NP; p++)
			json_array_append_new(per, json_real(json_real_value(
				json_array_get(json_object_get(st[p], "op_ms"), 0))));
		json_object_set_new(res, "op0_ms_party", per);
		snprintf(a, sizeof a, "%" PRIu64, t0);
		json_object_set_new(res, "t0", json_string(a));
		text = json_dumps(res, JSON_COMPACT);
		puts(text);
		free(text);
		json_decref(res);
	}
	if (!o.keep)
		for (int p = 0; p < NP; p++) {
			char path[64];
			snprintf(path, sizeof path, "/v1/engine/sessions/%u", o.id);
			mpc_client_call(cl, p, "DELETE", path, NULL, 0, NULL, err);
		}
out:
	for (int k = 0; k < n_in; k++) {
		sodium_memzero(ins[k]->plain, o.n * 8);
		free(ins[k]->plain);
	}
	for (int p = 0; p < NP; p++)
		json_decref(st[p]);
	json_decref(ops);
	return bad == 0 ? 0 : 1;
}
