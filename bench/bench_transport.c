/* Benchmark of the Raft transport: small-message round trips over encrypted channels vs plain TCP.
 */
#include "common/err.h"
#include "store/transport.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Two endpoints A and B on one loop, each with an outbound stream to the
 * other and the other's inbound stream, as raft uses them (requests on A's
 * outbound stream, replies on B's outbound stream). A keeps `in_flight`
 * messages of msg_bytes outstanding; B answers each with a message of the
 * same size. Prints round trips per second, once over store/transport
 * (party 0 and party 1 of a test cluster) and once over plain libuv TCP
 * (what raft_uv_tcp uses).
 */

struct end {
	uv_stream_t *out, *in;
	size_t got; /* bytes of the current message read so far */
	int is_a;
};

static uv_loop_t loop;
static struct end ea, eb;
static size_t msg_bytes = 256;
static int in_flight = 1;
static uint64_t round_trips, deadline_ms;
static int running;
static char *msg;

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

static void write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void send_msg(uv_stream_t *s)
{
	uv_write_t *w = malloc(sizeof *w);
	uv_buf_t b = uv_buf_init(msg, (unsigned)msg_bytes);
	if (w == NULL || uv_write(w, s, &b, 1, write_done) != 0) {
		fprintf(stderr, "bench_transport: write failed\n");
		exit(1);
	}
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[1 << 16];
	(void)h;
	(void)hint;
	*buf = uv_buf_init(chunk, sizeof chunk);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct end *e = s->data;
	(void)buf;
	if (n < 0) {
		fprintf(stderr, "bench_transport: stream ended: %s\n", uv_strerror((int)n));
		exit(1);
	}
	e->got += (size_t)n;
	while (e->got >= msg_bytes) {
		e->got -= msg_bytes;
		if (!e->is_a) {
			send_msg(eb.out); /* B answers */
		} else {
			round_trips++;
			if (now_ms() < deadline_ms)
				send_msg(ea.out);
			else if (--running == 0)
				uv_stop(&loop);
		}
	}
}

static void run(const char *name)
{
	uint64_t start;

	ea.is_a = 1;
	ea.got = eb.got = 0;
	ea.in->data = &ea;
	eb.in->data = &eb;
	uv_read_start(ea.in, alloc_cb, read_cb);
	uv_read_start(eb.in, alloc_cb, read_cb);
	/* warm-up second, then the measured one */
	for (int pass = 0; pass < 2; pass++) {
		round_trips = 0;
		running = in_flight;
		start = now_ms();
		deadline_ms = start + (pass == 0 ? 500 : 2000);
		for (int i = 0; i < in_flight; i++)
			send_msg(ea.out);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	printf("{\"bench\":\"raft_transport.round_trip\",\"transport\":\"%s\",\"msg_bytes\":%zu,"
	       "\"in_flight\":%d,\"round_trips_per_s\":%.0f}\n",
	       name, msg_bytes, in_flight,
	       (double)round_trips * 1000.0 / (double)(now_ms() - start));
	fflush(stdout);
	uv_read_stop(ea.in);
	uv_read_stop(eb.in);
}

/* ---- encrypted: store/transport ---- */

static struct mpc_cluster cl;
static uint8_t sk[2][32];
static struct raft_uv_transport ta, tb;
static struct raft_uv_connect ra, rb;
static int pending;

static void accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
		      uv_stream_t *stream)
{
	(void)id;
	(void)address;
	(t == &ta ? &ea : &eb)->in = stream;
	if (--pending == 0)
		uv_stop(&loop);
}

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	if (status != 0) {
		fprintf(stderr, "bench_transport: connect failed: %d\n", status);
		exit(1);
	}
	(req == &ra ? &ea : &eb)->out = stream;
	if (--pending == 0)
		uv_stop(&loop);
}

static void close_cb(struct raft_uv_transport *t)
{
	(void)t;
	if (--pending == 0)
		uv_stop(&loop);
}

static void setup_encrypted(unsigned base)
{
	char err[MPC_ERRMSG_SIZE] = "", addr[64];

	memset(&cl, 0, sizeof cl);
	randombytes_buf(cl.id, sizeof cl.id);
	cl.n_parties = 2;
	for (int i = 0; i < 2; i++) {
		strcpy(cl.parties[i].host, "127.0.0.1");
		cl.parties[i].raft_port = base + (unsigned)i;
		crypto_box_keypair(cl.parties[i].box_pk, sk[i]);
	}
	if (store_transport_init(&ta, &loop, &cl, 0, sk[0], err) != 0 ||
	    store_transport_init(&tb, &loop, &cl, 1, sk[1], err) != 0) {
		fprintf(stderr, "bench_transport: %s\n", err);
		exit(1);
	}
	snprintf(addr, sizeof addr, "127.0.0.1:%u", base);
	ta.init(&ta, 1, addr);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", base + 1);
	tb.init(&tb, 2, addr);
	if (ta.listen(&ta, accept_cb) != 0 || tb.listen(&tb, accept_cb) != 0) {
		fprintf(stderr, "bench_transport: listen: %s%s\n", ta.errmsg, tb.errmsg);
		exit(1);
	}
	pending = 4;
	ta.connect(&ta, &ra, 2, addr, connect_cb);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", base);
	tb.connect(&tb, &rb, 1, addr, connect_cb);
	uv_run(&loop, UV_RUN_DEFAULT);
}

static void teardown(void)
{
	uv_close((uv_handle_t *)ea.in, (uv_close_cb)free);
	uv_close((uv_handle_t *)ea.out, (uv_close_cb)free);
	uv_close((uv_handle_t *)eb.in, (uv_close_cb)free);
	uv_close((uv_handle_t *)eb.out, (uv_close_cb)free);
}

/* ---- plain libuv TCP ---- */

static uv_tcp_t lis[2];
static uv_connect_t creq[2];

static void tcp_accept(uv_stream_t *server, int status)
{
	uv_tcp_t *c = malloc(sizeof *c);
	(void)status;
	uv_tcp_init(&loop, c);
	uv_accept(server, (uv_stream_t *)c);
	uv_tcp_nodelay(c, 1);
	(server == (uv_stream_t *)&lis[0] ? &ea : &eb)->in = (uv_stream_t *)c;
	if (--pending == 0)
		uv_stop(&loop);
}

static void tcp_connected(uv_connect_t *req, int status)
{
	if (status != 0) {
		fprintf(stderr, "bench_transport: tcp connect: %s\n", uv_strerror(status));
		exit(1);
	}
	uv_tcp_nodelay((uv_tcp_t *)req->handle, 1);
	(req == &creq[0] ? &ea : &eb)->out = req->handle;
	if (--pending == 0)
		uv_stop(&loop);
}

static void setup_tcp(unsigned base)
{
	struct sockaddr_in sa;
	pending = 4;
	for (int i = 0; i < 2; i++) {
		uv_ip4_addr("127.0.0.1", (int)(base + (unsigned)i), &sa);
		uv_tcp_init(&loop, &lis[i]);
		if (uv_tcp_bind(&lis[i], (struct sockaddr *)&sa, 0) != 0 ||
		    uv_listen((uv_stream_t *)&lis[i], 16, tcp_accept) != 0) {
			fprintf(stderr, "bench_transport: cannot listen on %u\n",
				base + (unsigned)i);
			exit(1);
		}
	}
	for (int i = 0; i < 2; i++) {
		uv_tcp_t *c = malloc(sizeof *c);
		uv_tcp_init(&loop, c);
		uv_ip4_addr("127.0.0.1", (int)(base + 1 - (unsigned)i), &sa);
		uv_tcp_connect(&creq[i], c, (struct sockaddr *)&sa, tcp_connected);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv)
{
	unsigned base = 24000u + (unsigned)(getpid() % 1000) * 4;
	int flights[] = {1, 64};

	if (argc > 1)
		msg_bytes = strtoul(argv[1], NULL, 10);
	if (msg_bytes == 0 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_transport [MSG_BYTES]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	msg = calloc(1, msg_bytes);
	uv_loop_init(&loop);

	setup_tcp(base);
	for (int i = 0; i < 2; i++) {
		in_flight = flights[i];
		run("tcp");
	}
	teardown();
	uv_close((uv_handle_t *)&lis[0], NULL);
	uv_close((uv_handle_t *)&lis[1], NULL);
	uv_run(&loop, UV_RUN_DEFAULT);

	setup_encrypted(base + 2);
	for (int i = 0; i < 2; i++) {
		in_flight = flights[i];
		run("encrypted");
	}
	teardown();
	pending = 2;
	ta.close(&ta, close_cb);
	tb.close(&tb, close_cb);
	uv_run(&loop, UV_RUN_DEFAULT);
	store_transport_close(&ta);
	store_transport_close(&tb);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(msg);
	return 0;
}
