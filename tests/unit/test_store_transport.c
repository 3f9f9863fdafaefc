/* Unit tests for store/transport: channels, forged peers, tampered frames, no plaintext. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/secchan.h"
#include "store/transport.h"

#define N_PARTIES 3
#define MARKER    "RAFT-PLAINTEXT-MARKER-"

static struct mpc_cluster cl;
static uint8_t sk[N_PARTIES][32];
static uv_loop_t loop;
static uv_timer_t tick;
static unsigned proxy_port;

static void tick_cb(uv_timer_t *h)
{
	(void)h;
}

/* Whether ports base..base+3 are free to listen on now. */
static int ports_free(unsigned base)
{
	for (unsigned i = 0; i < 4; i++) {
		struct sockaddr_in sa = {0};
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ok;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)(base + i));
		sa.sin_addr.s_addr = htonl(0x7f000001);
		ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (!ok)
			return 0;
	}
	return 1;
}

static void setup(void)
{
	/* below the ephemeral range, different per test process, skipping
	 * ports that something else on this busy machine holds */
	unsigned base = 21000u + (unsigned)(getpid() % 2000) * 4;
	for (int t = 0; t < 50 && !ports_free(base); t++)
		base = 21000u + (base - 21000u + 4 * 97) % 8000u;

	cr_assert(sodium_init() >= 0);
	signal(SIGPIPE, SIG_IGN); /* as mpcd: libuv writes to pipes with write(2) */
	memset(&cl, 0, sizeof cl);
	randombytes_buf(cl.id, sizeof cl.id);
	cl.n_parties = N_PARTIES;
	for (int i = 0; i < N_PARTIES; i++) {
		cl.parties[i].id = i;
		strcpy(cl.parties[i].host, "127.0.0.1");
		cl.parties[i].raft_port = base + (unsigned)i;
		crypto_box_keypair(cl.parties[i].box_pk, sk[i]);
	}
	proxy_port = base + 3;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, tick_cb, 20, 20); /* the loop wakes up to check the clock */
}

TestSuite(store_transport, .init = setup);

/* Runs the loop until *flag or ms pass. */
static void run_until(const int *flag, int ms)
{
	uint64_t end = uv_hrtime() / 1000000u + (uint64_t)ms;
	while (!*flag && uv_hrtime() / 1000000u < end)
		uv_run(&loop, UV_RUN_ONCE);
}

/* ---- one transport under test, as raft drives it ---- */

struct side {
	struct raft_uv_transport t;
	int party;
	/* accepted */
	int n_accepted;
	raft_id accepted_id;
	char accepted_addr[64];
	uv_stream_t *accepted;
	/* connected */
	struct raft_uv_connect req;
	int connect_done, connect_status;
	uv_stream_t *connected;
	/* bytes read from the accepted stream */
	char got[1 << 16];
	size_t n_got;
	size_t n_checked, n_bad; /* patterned stream: bytes seen, bytes wrong */
	int eof;
	int closed;
};

static void accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
		      uv_stream_t *stream)
{
	struct side *s = t->data;
	s->n_accepted++;
	s->accepted_id = id;
	snprintf(s->accepted_addr, sizeof s->accepted_addr, "%s", address);
	s->accepted = stream;
	stream->data = s;
}

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	struct side *s = req->data;
	s->connect_done = 1;
	s->connect_status = status;
	s->connected = stream;
}

static void side_start(struct side *s, int party, int listen)
{
	char err[MPC_ERRMSG_SIZE] = "", addr[64];

	memset(s, 0, sizeof *s);
	s->party = party;
	cr_assert_eq(store_transport_init(&s->t, &loop, &cl, party, sk[party], err), 0, "%s", err);
	s->t.data = s;
	s->req.data = s;
	snprintf(addr, sizeof addr, "127.0.0.1:%u", cl.parties[party].raft_port);
	cr_assert_eq(s->t.init(&s->t, (raft_id)party + 1, addr), 0);
	if (listen)
		cr_assert_eq(s->t.listen(&s->t, accept_cb), 0, "%s", s->t.errmsg);
}

static void side_connect(struct side *s, int to_party, unsigned port)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	cr_assert_eq(s->t.connect(&s->t, &s->req, (raft_id)to_party + 1, addr, connect_cb), 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[1 << 16];
	(void)h;
	(void)hint;
	*buf = uv_buf_init(chunk, sizeof chunk);
}

/* Byte i of a long patterned stream. */
static uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 131u + (i >> 16)) & 0xff);
}

static void pattern_read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct side *s = stream->data;
	if (n < 0) {
		s->eof = 1;
		return;
	}
	for (ssize_t i = 0; i < n; i++, s->n_checked++)
		s->n_bad += (uint8_t)buf->base[i] != pattern(s->n_checked);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct side *s = stream->data;
	if (n < 0) {
		s->eof = 1;
		return;
	}
	if ((size_t)n > sizeof s->got - s->n_got)
		n = (ssize_t)(sizeof s->got - s->n_got);
	memcpy(s->got + s->n_got, buf->base, (size_t)n);
	s->n_got += (size_t)n;
}

static void close_cb(struct raft_uv_transport *t)
{
	struct side *s = t->data;
	s->closed = 1;
}

/* As raft does: streams closed and freed, then the transport closed. */
static void side_stop(struct side *s)
{
	if (s->accepted != NULL)
		uv_close((uv_handle_t *)s->accepted, (uv_close_cb)raft_free);
	if (s->connected != NULL)
		uv_close((uv_handle_t *)s->connected, (uv_close_cb)raft_free);
	s->t.close(&s->t, close_cb);
	run_until(&s->closed, 10000);
	cr_assert(s->closed, "transport of party %d did not close", s->party);
	store_transport_close(&s->t);
}

static void write_marker(uv_stream_t *stream, char *msg, size_t len)
{
	static uv_write_t w;
	uv_buf_t b = uv_buf_init(msg, (unsigned)len);
	for (size_t i = 0; i < len; i++)
		msg[i] = MARKER[i % (sizeof MARKER - 1)];
	cr_assert_eq(uv_write(&w, stream, &b, 1, NULL), 0);
}

/* ---- a TCP proxy between the parties: records and may tamper ---- */

struct proxy {
	int lfd;
	long tamper_at; /* offset in the client->server stream to flip, or -1 */
	uint8_t wire[1 << 17];
	size_t n_wire;
	pthread_t th;
};

static void *proxy_main(void *arg)
{
	struct proxy *p = arg;
	struct sockaddr_in sa = {0};
	int c = accept(p->lfd, NULL, NULL), s = socket(AF_INET, SOCK_STREAM, 0);
	uint8_t buf[8192];

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cl.parties[0].raft_port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (c < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto out;
	for (;;) {
		struct pollfd pfd[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
		if (poll(pfd, 2, 10000) <= 0)
			break;
		if (pfd[0].revents) {
			ssize_t n = read(c, buf, sizeof buf);
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				if ((long)(p->n_wire + (size_t)i) == p->tamper_at)
					buf[i] ^= 0x01;
			}
			if (p->n_wire + (size_t)n <= sizeof p->wire)
				memcpy(p->wire + p->n_wire, buf, (size_t)n);
			p->n_wire += (size_t)n;
			if (write(s, buf, (size_t)n) != n)
				break;
		}
		if (pfd[1].revents) {
			ssize_t n = read(s, buf, sizeof buf);
			if (n <= 0 || write(c, buf, (size_t)n) != n)
				break;
		}
	}
out:
	if (c >= 0)
		close(c);
	close(s);
	return NULL;
}

static void proxy_start(struct proxy *p, long tamper_at)
{
	struct sockaddr_in sa = {0};
	int one = 1;

	memset(p, 0, sizeof *p);
	p->tamper_at = tamper_at;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)proxy_port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	cr_assert_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(p->lfd, 4), 0);
	pthread_create(&p->th, NULL, proxy_main, p);
}

static int wire_has(const struct proxy *p, const char *needle)
{
	size_t n = strlen(needle), have = p->n_wire < sizeof p->wire ? p->n_wire : sizeof p->wire;
	for (size_t i = 0; i + n <= have; i++)
		if (memcmp(p->wire + i, needle, n) == 0)
			return 1;
	return 0;
}

/* ---- tests ---- */

Test(store_transport, stream_carries_bytes_and_the_authenticated_id)
{
	struct side a, b;
	static char msg[40000];
	char want[64];

	side_start(&a, 0, 1);
	side_start(&b, 1, 0);
	side_connect(&b, 0, cl.parties[0].raft_port);
	run_until(&b.connect_done, 10000);
	cr_assert_eq(b.connect_status, 0, "connect failed: %d", b.connect_status);
	run_until(&a.n_accepted, 10000);
	cr_assert_eq(a.n_accepted, 1);
	/* the id is the one the peer's key proved; the address is its raft
	 * address from the cluster file (raft answers through it) */
	cr_assert_eq(a.accepted_id, 2);
	snprintf(want, sizeof want, "127.0.0.1:%u", cl.parties[1].raft_port);
	cr_assert_str_eq(a.accepted_addr, want);
	uv_read_start(a.accepted, alloc_cb, read_cb);
	write_marker(b.connected, msg, sizeof msg);
	for (int t = 0; t < 200 && a.n_got < sizeof msg && !a.eof; t++) {
		int more = 0;
		run_until(&more, 50);
	}
	cr_assert_eq(a.n_got, sizeof msg, "only %zu of %zu bytes arrived", a.n_got, sizeof msg);
	cr_assert_eq(memcmp(a.got, msg, sizeof msg), 0);
	/* raft closing its outbound stream ends the channel: the receiver sees EOF */
	uv_close((uv_handle_t *)b.connected, (uv_close_cb)raft_free);
	b.connected = NULL;
	run_until(&a.eof, 10000);
	cr_assert(a.eof, "the accepted stream did not end");
	side_stop(&b);
	side_stop(&a);
}

Test(store_transport, large_transfer_to_a_slow_reader_arrives_intact)
{
	struct side a, b;
	size_t len = (size_t)40 << 20;
	uint8_t *big = malloc(len);
	uv_write_t w;
	uv_buf_t buf;

	for (size_t i = 0; i < len; i++)
		big[i] = pattern(i);
	buf = uv_buf_init((char *)big, (unsigned)len);
	side_start(&a, 0, 1);
	side_start(&b, 1, 0);
	side_connect(&b, 0, cl.parties[0].raft_port);
	run_until(&b.connect_done, 10000);
	cr_assert_eq(b.connect_status, 0);
	run_until(&a.n_accepted, 10000);
	/* 40 MiB while the receiver reads nothing for a second: both relays'
	 * queues fill past the 8 MiB mark and they pause, then resume */
	cr_assert_eq(uv_write(&w, b.connected, &buf, 1, NULL), 0);
	{
		int never = 0;
		run_until(&never, 1000);
	}
	uv_read_start(a.accepted, alloc_cb, pattern_read_cb);
	for (int t = 0; t < 1200 && a.n_checked < len && !a.eof; t++) {
		int more = 0;
		run_until(&more, 50);
	}
	cr_assert_eq(a.n_checked, len, "%zu of %zu bytes arrived", a.n_checked, len);
	cr_assert_eq(a.n_bad, 0, "%zu bytes differ", a.n_bad);
	side_stop(&b);
	side_stop(&a);
	free(big);
}

Test(store_transport, wire_carries_no_plaintext)
{
	struct side a, b;
	struct proxy p;
	static char msg[20000];
	struct store_transport_stats st;

	side_start(&a, 0, 1);
	side_start(&b, 1, 0);
	proxy_start(&p, -1);
	side_connect(&b, 0, proxy_port);
	run_until(&b.connect_done, 10000);
	cr_assert_eq(b.connect_status, 0);
	run_until(&a.n_accepted, 10000);
	uv_read_start(a.accepted, alloc_cb, read_cb);
	write_marker(b.connected, msg, sizeof msg);
	for (int t = 0; t < 200 && a.n_got < sizeof msg; t++) {
		int more = 0;
		run_until(&more, 50);
	}
	cr_assert_eq(a.n_got, sizeof msg, "the message did not pass the proxy");
	cr_assert_eq(memcmp(a.got, msg, sizeof msg), 0);
	/* the proxy saw the handshake and frames, never the marker */
	cr_assert_geq(p.n_wire, sizeof msg + MPC_SECCHAN_HELLO_BYTES);
	cr_assert(!wire_has(&p, "PLAINTEXT"), "plaintext on the wire");
	store_transport_get_stats(&a.t, &st);
	cr_assert_eq(st.channels, 1);
	cr_assert_eq(st.frames_rejected, 0);
	side_stop(&b);
	side_stop(&a);
	pthread_join(p.th, NULL);
	close(p.lfd);
}

Test(store_transport, tampered_frame_drops_the_connection)
{
	struct side a, b;
	struct proxy p;
	static char msg[1000];
	struct store_transport_stats st;

	side_start(&a, 0, 1);
	side_start(&b, 1, 0);
	/* one flipped bit in the first frame's ciphertext (after the initiator's
	 * hello and tag and the 32-byte frame header) */
	proxy_start(&p, MPC_SECCHAN_HELLO_BYTES + MPC_SECCHAN_TAG_BYTES + 32 + 10);
	side_connect(&b, 0, proxy_port);
	run_until(&b.connect_done, 10000);
	cr_assert_eq(b.connect_status, 0);
	run_until(&a.n_accepted, 10000);
	uv_read_start(a.accepted, alloc_cb, read_cb);
	write_marker(b.connected, msg, sizeof msg);
	run_until(&a.eof, 10000);
	cr_assert(a.eof, "the tampered connection was not dropped");
	cr_assert_eq(a.n_got, 0, "bytes of a tampered frame reached raft");
	store_transport_get_stats(&a.t, &st);
	cr_assert_eq(st.frames_rejected, 1);
	side_stop(&b);
	side_stop(&a);
	pthread_join(p.th, NULL);
	close(p.lfd);
}

static int dial(unsigned port)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	for (int t = 0; t < 100; t++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
		usleep(20000);
	}
	cr_assert_fail("cannot connect");
	return -1;
}

/* Runs the handshake as party `claim` with the given keys; then, whatever
 * the outcome, sends bytes a raft message could start with. Returns the
 * handshake's result. */
static int impostor(const char *magic, int claim, const uint8_t *pk, const uint8_t *isk)
{
	struct mpc_secchan_keys keys;
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t junk[256];
	int fd = dial(cl.parties[0].raft_port), peer = -1, rv;
	struct pollfd pfd = {fd, POLLIN, 0};

	rv = mpc_secchan_handshake(fd, magic, 1, &cl, claim, pk, isk, 0, &peer, &keys, err);
	memset(junk, 1, sizeof junk);
	(void)!write(fd, junk, sizeof junk);
	/* the party hangs up */
	cr_assert_gt(poll(&pfd, 1, 10000), 0, "the party kept the connection of a refused peer");
	close(fd);
	return rv;
}

Test(store_transport, unknown_key_wrong_id_or_protocol_is_refused)
{
	struct side a;
	struct store_transport_stats st;
	uint8_t fpk[32], fsk[32];

	side_start(&a, 0, 1);
	crypto_box_keypair(fpk, fsk);
	/* a key not in the cluster file, claiming party 1 */
	cr_assert_neq(impostor(MPC_SECCHAN_RAFT, 1, fpk, fsk), 0);
	/* party 2's real key pair claiming party 1's id */
	cr_assert_neq(impostor(MPC_SECCHAN_RAFT, 1, cl.parties[2].box_pk, sk[2]), 0);
	/* party 1's public key without its secret key */
	cr_assert_neq(impostor(MPC_SECCHAN_RAFT, 1, cl.parties[1].box_pk, fsk), 0);
	/* party 1 itself, speaking the mesh's protocol: a mesh connection cannot
	 * be replayed into raft */
	cr_assert_neq(impostor(MPC_SECCHAN_MESH, 1, cl.parties[1].box_pk, sk[1]), 0);
	for (int t = 0; t < 100; t++) {
		int more = 0;
		store_transport_get_stats(&a.t, &st);
		if (st.peers_refused >= 4)
			break;
		run_until(&more, 50);
	}
	cr_assert_eq(st.peers_refused, 4);
	cr_assert_eq(st.channels, 0);
	cr_assert_eq(a.n_accepted, 0, "raft was handed a stream of a refused peer");
	side_stop(&a);
}

Test(store_transport, connect_to_the_wrong_party_fails)
{
	struct side a, b;

	side_start(&a, 0, 1);
	side_start(&b, 1, 0);
	/* raft asks for party 2 at an address where party 0 answers */
	side_connect(&b, 2, cl.parties[0].raft_port);
	run_until(&b.connect_done, 10000);
	cr_assert(b.connect_done);
	cr_assert_eq(b.connect_status, RAFT_NOCONNECTION);
	cr_assert_null(b.connected);
	side_stop(&b);
	side_stop(&a);
}

Test(store_transport, close_cancels_a_pending_connect)
{
	struct side b;
	int fd, lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {0};

	/* a listener that accepts and never answers the hello */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)proxy_port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	side_start(&b, 1, 0);
	side_connect(&b, 0, proxy_port);
	fd = accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	b.t.close(&b.t, close_cb);
	cr_assert(b.connect_done, "close did not cancel the pending connect");
	cr_assert_eq(b.connect_status, RAFT_CANCELED);
	run_until(&b.closed, 10000);
	cr_assert(b.closed);
	store_transport_close(&b.t);
	close(fd);
	close(lfd);
}
