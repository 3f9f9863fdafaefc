/* Raft transport: socketpair streams for raft, relays on raft's loop, secchan handshake, AEAD
 * frames. */
#include "store/transport.h"

#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/secchan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TP_HS_TIMEOUT_S       3
#define TP_CONNECT_TIMEOUT_MS 3000
#define TP_POLL_MS            100
/* Inbound handshakes in progress at once; more connections are closed at
 * once (each costs a thread for up to TP_HS_TIMEOUT_S). */
#define TP_MAX_HANDSHAKES 32
#define TP_ADDR_MAX       (MPC_HOST_MAX + 8)
/* A failing outbound handshake is retried by raft every 250 ms: warn about
 * it once per this interval and peer. */
#define TP_WARN_EVERY_MS 10000
/* A relay stops reading one side while more than this is queued for the
 * other, and resumes below the low mark (raft_uv_tcp queues without bound). */
#define TP_QUEUE_HIGH ((size_t)8 << 20)
#define TP_QUEUE_LOW  ((size_t)2 << 20)

struct tp;

/* One connection. Set up (dial, handshake) by a thread of its own while
 * listed in tp->chans (under tp->lock, so that close can wake the thread);
 * then handed to the loop, which relays it (listed in tp->live). */
struct tp_chan {
	struct tp *tp;
	int tcp;   /* -1 while dialling */
	int local; /* our end of the socketpair, -1 before setup */
	int peer;  /* expected (outbound) or authenticated party id */
	int inbound;
	struct raft_uv_connect *req; /* outbound: raft's request */
	char addr[TP_ADDR_MAX];      /* peer address, for connecting and logs */
	struct mpc_frame_tx tx;
	struct mpc_frame_rx rx;
	struct tp_chan *next;
	/* relay, on the loop */
	uv_pipe_t local_h;
	uv_tcp_t tcp_h;
	uint8_t *plain; /* raft's bytes as read, STORE_TRANSPORT_CHUNK */
	uint8_t *rxbuf; /* frames as read, one whole frame at most */
	size_t rxlen;
	int shutting, n_closed, local_paused, tcp_paused;
};

/* A finished setup, handed to the loop: a channel to relay, or a failure. */
struct tp_event {
	struct tp_event *next;
	struct raft_uv_connect *req; /* outbound; NULL for inbound */
	int status;                  /* 0 or RAFT_NOCONNECTION */
	int raft_fd;                 /* raft's end of the socketpair, or -1 */
	int peer;
	char addr[TP_ADDR_MAX];
	struct tp_chan *ch; /* on success; ownership passes to the loop */
};

/* One write of a relay: sealed frame or opened payload. */
struct tp_write {
	uv_write_t w;
	struct tp_chan *ch;
	size_t len;
	uint8_t data[];
};

/* An outbound request raft is waiting for (loop thread only). */
struct tp_pending {
	struct raft_uv_connect *req;
	struct tp_pending *next;
};

struct tp {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	const struct mpc_cluster *c;
	int party;
	uint8_t *sk; /* sodium_malloc'd */
	uint8_t pk[MPC_KEY_BYTES];
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	uv_async_t async;
	int closing, async_closing; /* loop thread only */
	struct tp_pending *pending; /* loop thread only */
	struct tp_chan *live;       /* relayed channels, loop thread only */
	int lfd;
	pthread_mutex_t lock; /* guards what follows */
	int stopping;
	int n_threads, n_handshakes;
	struct tp_event *events; /* newest first */
	struct tp_chan *chans;
	uint64_t warned_ms[MPC_MAX_PARTIES];
	struct store_transport_stats st;
};

/* ---- threads ---- */

static int tp_stopping(struct tp *tp)
{
	int s;
	pthread_mutex_lock(&tp->lock);
	s = tp->stopping;
	pthread_mutex_unlock(&tp->lock);
	return s;
}

/* Hands ev to the loop (ownership passes to the loop). */
static void tp_post(struct tp *tp, struct tp_event *ev)
{
	pthread_mutex_lock(&tp->lock);
	ev->next = tp->events;
	tp->events = ev;
	uv_async_send(&tp->async);
	pthread_mutex_unlock(&tp->lock);
}

static void tp_post_failure(struct tp *tp, struct raft_uv_connect *req)
{
	struct tp_event *ev = calloc(1, sizeof *ev);
	/* Without memory raft would wait forever for this request: it is
	 * failed when the transport closes at the latest. */
	if (ev == NULL)
		return;
	ev->req = req;
	ev->status = RAFT_NOCONNECTION;
	ev->raft_fd = -1;
	tp_post(tp, ev);
}

static void tp_chan_free(struct tp_chan *ch)
{
	mpc_frame_tx_clear(&ch->tx);
	mpc_frame_rx_clear(&ch->rx);
	if (ch->plain != NULL)
		sodium_memzero(ch->plain, STORE_TRANSPORT_CHUNK);
	free(ch->plain);
	free(ch->rxbuf);
	free(ch);
}

/* Ends a setup thread: unlists ch and either hands it to the loop with ev
 * (ev != NULL: a channel to relay) or closes and frees it. The async send
 * happens under the lock, so the loop cannot have closed the handle yet (it
 * closes it only once n_threads is 0, under the lock). */
static void tp_chan_exit(struct tp_chan *ch, struct tp_event *ev)
{
	struct tp *tp = ch->tp;
	struct tp_chan **pp;

	pthread_mutex_lock(&tp->lock);
	for (pp = &tp->chans; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	ch->next = NULL;
	if (ev != NULL) {
		ev->ch = ch;
		ev->next = tp->events;
		tp->events = ev;
	} else {
		if (ch->tcp >= 0)
			close(ch->tcp);
		if (ch->local >= 0)
			close(ch->local);
		tp_chan_free(ch);
	}
	--tp->n_threads;
	if (ev != NULL || (tp->n_threads == 0 && tp->stopping))
		uv_async_send(&tp->async);
	pthread_mutex_unlock(&tp->lock);
}

static int tp_warn_due(struct tp *tp, int peer)
{
	uint64_t now = uv_hrtime() / 1000000u;
	int due;

	pthread_mutex_lock(&tp->lock);
	due = tp->warned_ms[peer] == 0 || now - tp->warned_ms[peer] >= TP_WARN_EVERY_MS;
	if (due)
		tp->warned_ms[peer] = now;
	pthread_mutex_unlock(&tp->lock);
	return due;
}

static void tp_set_timeouts(int fd, int seconds)
{
	struct timeval tv = {seconds, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* After a handshake: frame keys and the socketpair. Consumes keys
 * (zeroed). Returns the event that hands ch to the loop, or NULL (logged;
 * an outbound request is failed). */
static struct tp_event *tp_chan_ready(struct tp_chan *ch, struct mpc_secchan_keys *keys)
{
	struct tp *tp = ch->tp;
	struct tp_event *ev = calloc(1, sizeof *ev);
	int sv[2] = {-1, -1}, rv;

	rv = mpc_frame_tx_init(&ch->tx, keys->tx, (uint8_t)tp->party);
	if (rv == 0)
		rv = mpc_frame_rx_init(&ch->rx, keys->rx, (uint8_t)ch->peer);
	sodium_memzero(keys, sizeof *keys);
	ch->plain = malloc(STORE_TRANSPORT_CHUNK);
	ch->rxbuf = malloc(mpc_frame_size(STORE_TRANSPORT_CHUNK));
	if (rv == 0 && (ev == NULL || ch->plain == NULL || ch->rxbuf == NULL))
		rv = MPC_ENOMEM;
	if (rv != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		LOG_WARN("raft transport: channel %s party %d (%s): %s",
			 ch->inbound ? "from" : "to", ch->peer, ch->addr,
			 rv != 0 ? mpc_strerror(rv) : strerror(errno));
		free(ev);
		free(ch->plain);
		free(ch->rxbuf);
		ch->plain = ch->rxbuf = NULL;
		if (!ch->inbound)
			tp_post_failure(tp, ch->req);
		return NULL;
	}
	tp_set_timeouts(ch->tcp, 0);
	ch->local = sv[0];
	ev->req = ch->inbound ? NULL : ch->req;
	ev->raft_fd = sv[1];
	ev->peer = ch->peer;
	/* raft answers an inbound message through the address it came with:
	 * the peer's listening address of the cluster file (as raft_uv_tcp's
	 * preamble says), not the connection's source port */
	snprintf(ev->addr, sizeof ev->addr, "%s:%u", tp->c->parties[ch->peer].host,
		 tp->c->parties[ch->peer].raft_port);
	pthread_mutex_lock(&tp->lock);
	tp->st.channels++;
	pthread_mutex_unlock(&tp->lock);
	LOG_DEBUG("raft transport: channel %s party %d (%s) established",
		  ch->inbound ? "from" : "to", ch->peer, ch->addr);
	return ev;
}

/* Connects to "host:port" within TP_CONNECT_TIMEOUT_MS unless the transport
 * stops. Returns the connected blocking socket or -1 (errmsg says why). */
static int tp_dial(struct tp *tp, struct tp_chan *ch, char *errmsg)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[TP_ADDR_MAX], *colon;
	int fd, err = 0, waited = 0;
	socklen_t elen = sizeof err;

	snprintf(host, sizeof host, "%s", ch->addr);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		mpc_errmsg_printf(errmsg, "address %s has no port", ch->addr);
		return -1;
	}
	*colon = '\0';
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		mpc_errmsg_printf(errmsg, "cannot resolve %s", ch->addr);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)) {
		mpc_errmsg_printf(errmsg, "connect: %s", strerror(errno));
		goto err;
	}
	freeaddrinfo(ai);
	ai = NULL;
	for (;;) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		int n = poll(&pfd, 1, TP_POLL_MS);

		if (n > 0)
			break;
		waited += TP_POLL_MS;
		if ((n < 0 && errno != EINTR) || waited >= TP_CONNECT_TIMEOUT_MS ||
		    tp_stopping(tp)) {
			mpc_errmsg_printf(errmsg, "connect: timed out");
			goto err;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
		mpc_errmsg_printf(errmsg, "connect: %s", strerror(err));
		goto err;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
err:
	if (ai != NULL)
		freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	return -1;
}

static void tp_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Outbound: dial, prove who we are, check that the party raft asked for
 * answered, relay. */
static void *tp_connect_main(void *arg)
{
	struct tp_chan *ch = arg;
	struct tp *tp = ch->tp;
	struct mpc_secchan_keys keys;
	struct tp_event *ev = NULL;
	char err[MPC_ERRMSG_SIZE] = "";
	int fd, peer = -1, rv;

	fd = tp_dial(tp, ch, err);
	if (fd < 0) {
		/* a party that is down: raft retries every 250 ms, so debug only */
		LOG_DEBUG("raft transport: connect to party %d at %s: %s", ch->peer, ch->addr, err);
		tp_post_failure(tp, ch->req);
		goto out;
	}
	pthread_mutex_lock(&tp->lock);
	ch->tcp = fd;
	if (tp->stopping)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&tp->lock);
	tp_nodelay(fd);
	tp_set_timeouts(fd, TP_HS_TIMEOUT_S);
	rv = mpc_secchan_handshake(fd, MPC_SECCHAN_RAFT, 1, tp->c, tp->party, tp->pk, tp->sk,
				   ch->peer, &peer, &keys, err);
	if (rv != 0) {
		if (tp_warn_due(tp, ch->peer))
			LOG_WARN("raft transport: handshake with party %d at %s failed: %s",
				 ch->peer, ch->addr, err);
		tp_post_failure(tp, ch->req);
		goto out;
	}
	ev = tp_chan_ready(ch, &keys);
out:
	tp_chan_exit(ch, ev);
	return NULL;
}

/* Inbound: the peer must prove a key of the cluster file; its id is the one
 * its key belongs to. */
static void *tp_accept_main(void *arg)
{
	struct tp_chan *ch = arg;
	struct tp *tp = ch->tp;
	struct mpc_secchan_keys keys;
	struct tp_event *ev = NULL;
	char err[MPC_ERRMSG_SIZE] = "";
	int peer = -1, rv;

	tp_nodelay(ch->tcp);
	tp_set_timeouts(ch->tcp, TP_HS_TIMEOUT_S);
	rv = mpc_secchan_handshake(ch->tcp, MPC_SECCHAN_RAFT, 0, tp->c, tp->party, tp->pk, tp->sk,
				   -1, &peer, &keys, err);
	pthread_mutex_lock(&tp->lock);
	tp->n_handshakes--;
	if (rv != 0)
		tp->st.peers_refused++;
	pthread_mutex_unlock(&tp->lock);
	if (rv != 0) {
		LOG_WARN("raft transport: refused peer %s: %s", ch->addr, err);
	} else {
		ch->peer = peer;
		ev = tp_chan_ready(ch, &keys);
	}
	tp_chan_exit(ch, ev);
	return NULL;
}

/* Lists ch and starts fn on a detached thread for it; frees ch on failure. */
static int tp_spawn(struct tp *tp, struct tp_chan *ch, void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t th;
	int rv;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&tp->lock);
	rv = tp->stopping ? EAGAIN : pthread_create(&th, &attr, fn, ch);
	if (rv == 0) {
		ch->next = tp->chans;
		tp->chans = ch;
		tp->n_threads++;
	}
	pthread_mutex_unlock(&tp->lock);
	pthread_attr_destroy(&attr);
	if (rv != 0) {
		if (ch->tcp >= 0)
			close(ch->tcp);
		free(ch);
		return -1;
	}
	return 0;
}

static struct tp_chan *tp_chan_new(struct tp *tp, int tcp, int peer, int inbound)
{
	struct tp_chan *ch = calloc(1, sizeof *ch);
	if (ch == NULL)
		return NULL;
	ch->tp = tp;
	ch->tcp = tcp;
	ch->local = -1;
	ch->peer = peer;
	ch->inbound = inbound;
	return ch;
}

static void *tp_listen_main(void *arg)
{
	struct tp_chan *self = arg; /* the listener counts as a thread too */
	struct tp *tp = self->tp;

	while (!tp_stopping(tp)) {
		struct pollfd pfd = {tp->lfd, POLLIN, 0};
		struct sockaddr_in sa;
		socklen_t salen = sizeof sa;
		struct tp_chan *ch;
		int fd, busy;

		if (poll(&pfd, 1, TP_POLL_MS * 2) <= 0)
			continue;
		fd = accept4(tp->lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&tp->lock);
		busy = tp->n_handshakes >= TP_MAX_HANDSHAKES;
		if (!busy)
			tp->n_handshakes++;
		pthread_mutex_unlock(&tp->lock);
		ch = busy ? NULL : tp_chan_new(tp, fd, -1, 1);
		if (ch == NULL) {
			LOG_WARN(
			    "raft transport: refused peer %s:%u: too many handshakes in progress",
			    inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
			close(fd);
			if (!busy) {
				pthread_mutex_lock(&tp->lock);
				tp->n_handshakes--;
				pthread_mutex_unlock(&tp->lock);
			}
			continue;
		}
		snprintf(ch->addr, sizeof ch->addr, "%s:%u", inet_ntoa(sa.sin_addr),
			 ntohs(sa.sin_port));
		if (tp_spawn(tp, ch, tp_accept_main) != 0) {
			pthread_mutex_lock(&tp->lock);
			tp->n_handshakes--;
			pthread_mutex_unlock(&tp->lock);
		}
	}
	tp_chan_exit(self, NULL);
	return NULL;
}

/* ---- loop side ---- */

/* Wraps fd in a uv_pipe_t for raft (which frees it with raft_free after
 * uv_close). NULL if that fails (fd is closed). */
static uv_stream_t *tp_stream(struct tp *tp, int fd)
{
	uv_pipe_t *p = raft_malloc(sizeof *p);

	if (p == NULL) {
		close(fd);
		return NULL;
	}
	if (uv_pipe_init(tp->loop, p, 0) != 0) {
		raft_free(p);
		close(fd);
		return NULL;
	}
	if (uv_pipe_open(p, fd) != 0) {
		close(fd);
		uv_close((uv_handle_t *)p, (uv_close_cb)raft_free);
		return NULL;
	}
	return (uv_stream_t *)p;
}

/* Removes req from the pending list; whether it was there. */
static int tp_pending_take(struct tp *tp, struct raft_uv_connect *req)
{
	for (struct tp_pending **pp = &tp->pending; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->req == req) {
			struct tp_pending *p = *pp;
			*pp = p->next;
			free(p);
			return 1;
		}
	return 0;
}

static void tp_async_closed(uv_handle_t *h)
{
	struct tp *tp = h->data;
	if (tp->close_cb != NULL)
		tp->close_cb(tp->t);
}

/* Closing, and nothing left (no setup thread, no event, no channel): the
 * async handle closes last, then raft hears that the transport closed. */
static void tp_maybe_done(struct tp *tp)
{
	int done;

	if (!tp->closing || tp->async_closing || tp->live != NULL)
		return;
	pthread_mutex_lock(&tp->lock);
	done = tp->n_threads == 0 && tp->events == NULL;
	pthread_mutex_unlock(&tp->lock);
	if (done) {
		tp->async_closing = 1;
		uv_close((uv_handle_t *)&tp->async, tp_async_closed);
	}
}

static void tp_relay_closed(uv_handle_t *h)
{
	struct tp_chan *ch = h->data;
	struct tp *tp = ch->tp;

	if (++ch->n_closed < 2)
		return;
	for (struct tp_chan **pp = &tp->live; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	tp_chan_free(ch);
	tp_maybe_done(tp);
}

/* Ends a relayed channel: raft then sees its stream end (EOF or EPIPE) and
 * reconnects or forgets it. */
static void tp_relay_shut(struct tp_chan *ch)
{
	if (ch->shutting)
		return;
	ch->shutting = 1;
	LOG_DEBUG("raft transport: channel %s party %d (%s) closed", ch->inbound ? "from" : "to",
		  ch->peer, ch->addr);
	uv_close((uv_handle_t *)&ch->local_h, tp_relay_closed);
	uv_close((uv_handle_t *)&ch->tcp_h, tp_relay_closed);
}

static void tp_local_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void tp_local_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void tp_tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void tp_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void tp_write_done(uv_write_t *w, int status)
{
	struct tp_write *wr = (struct tp_write *)w;
	struct tp_chan *ch = wr->ch;
	uv_stream_t *to = w->handle;

	free(wr);
	if (ch->shutting)
		return;
	if (status != 0) {
		tp_relay_shut(ch);
		return;
	}
	/* backpressure: resume the side that filled this one's queue */
	if (to == (uv_stream_t *)&ch->tcp_h && ch->local_paused &&
	    uv_stream_get_write_queue_size(to) < TP_QUEUE_LOW) {
		ch->local_paused = 0;
		uv_read_start((uv_stream_t *)&ch->local_h, tp_local_alloc, tp_local_read);
	} else if (to == (uv_stream_t *)&ch->local_h && ch->tcp_paused &&
		   uv_stream_get_write_queue_size(to) < TP_QUEUE_LOW) {
		ch->tcp_paused = 0;
		uv_read_start((uv_stream_t *)&ch->tcp_h, tp_tcp_alloc, tp_tcp_read);
	}
}

/* Queues wr on `to` (ownership passes to the write). 0 or -1 (wr freed). */
static int tp_relay_write(struct tp_chan *ch, uv_stream_t *to, struct tp_write *wr)
{
	uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)wr->len);

	wr->ch = ch;
	if (uv_write(&wr->w, to, &b, 1, tp_write_done) != 0) {
		free(wr);
		return -1;
	}
	return 0;
}

static void tp_local_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tp_chan *ch = h->data;
	(void)hint;
	*buf = uv_buf_init((char *)ch->plain, (unsigned)STORE_TRANSPORT_CHUNK);
}

/* raft wrote: whatever arrived since the last read (one message, or a
 * batch under load) goes out as one frame. */
static void tp_local_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct tp_chan *ch = s->data;
	struct mpc_frame_hdr hdr = {0};
	struct tp_write *wr;
	size_t cap, flen;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0) { /* raft closed its stream */
		tp_relay_shut(ch);
		return;
	}
	cap = mpc_frame_size((size_t)n);
	wr = malloc(sizeof *wr + cap);
	if (wr == NULL ||
	    mpc_frame_seal(&ch->tx, &hdr, ch->plain, (size_t)n, wr->data, cap, &flen) != 0) {
		free(wr);
		tp_relay_shut(ch);
		return;
	}
	wr->len = flen;
	if (tp_relay_write(ch, (uv_stream_t *)&ch->tcp_h, wr) != 0) {
		tp_relay_shut(ch);
		return;
	}
	__atomic_add_fetch(&ch->tp->st.bytes_sent, flen, __ATOMIC_RELAXED);
	if (uv_stream_get_write_queue_size((uv_stream_t *)&ch->tcp_h) > TP_QUEUE_HIGH) {
		uv_read_stop(s);
		ch->local_paused = 1;
	}
}

static void tp_tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tp_chan *ch = h->data;
	(void)hint;
	*buf = uv_buf_init((char *)ch->rxbuf + ch->rxlen,
			   (unsigned)(mpc_frame_size(STORE_TRANSPORT_CHUNK) - ch->rxlen));
}

/* The peer's frames: each whole one is authenticated and its payload given
 * to raft; anything that fails ends the channel. */
static void tp_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct tp_chan *ch = s->data;
	size_t off = 0;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0) { /* the peer ended the connection */
		tp_relay_shut(ch);
		return;
	}
	ch->rxlen += (size_t)n;
	__atomic_add_fetch(&ch->tp->st.bytes_received, (uint64_t)n, __ATOMIC_RELAXED);
	while (ch->rxlen - off >= MPC_FRAME_HDR_BYTES) {
		struct mpc_frame_hdr hdr;
		struct tp_write *wr = NULL;
		size_t flen;
		int rv = mpc_frame_peek(ch->rxbuf + off, ch->rxlen - off, &hdr, &flen);

		if (rv == 0 && hdr.payload_len > STORE_TRANSPORT_CHUNK)
			rv = MPC_EPROTO;
		if (rv == 0 && ch->rxlen - off < flen)
			break; /* wait for the rest of the frame */
		if (rv == 0) {
			wr = malloc(sizeof *wr + (size_t)hdr.payload_len);
			rv = wr == NULL ? MPC_ENOMEM
					: mpc_frame_unseal(&ch->rx, ch->rxbuf + off, flen, &hdr,
							   wr->data, (size_t)hdr.payload_len);
		}
		if (rv != 0) {
			free(wr);
			LOG_WARN(
			    "raft transport: frame from party %d (%s) rejected (%s); closing the "
			    "connection",
			    ch->peer, ch->addr, mpc_strerror(rv));
			if (rv != MPC_ENOMEM)
				__atomic_add_fetch(&ch->tp->st.frames_rejected, 1,
						   __ATOMIC_RELAXED);
			tp_relay_shut(ch);
			return;
		}
		off += flen;
		wr->len = (size_t)hdr.payload_len;
		if (wr->len == 0) {
			free(wr);
			continue;
		}
		if (tp_relay_write(ch, (uv_stream_t *)&ch->local_h, wr) != 0) {
			tp_relay_shut(ch);
			return;
		}
	}
	memmove(ch->rxbuf, ch->rxbuf + off, ch->rxlen - off);
	ch->rxlen -= off;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&ch->local_h) > TP_QUEUE_HIGH) {
		uv_read_stop(s);
		ch->tcp_paused = 1;
	}
}

/* Starts relaying ch on the loop (ch joins tp->live). 0, or -1 when its
 * handles cannot be opened (ch is then closed and freed). */
static int tp_relay_start(struct tp *tp, struct tp_chan *ch)
{
	int rv;

	ch->next = tp->live;
	tp->live = ch;
	uv_pipe_init(tp->loop, &ch->local_h, 0);
	uv_tcp_init(tp->loop, &ch->tcp_h);
	ch->local_h.data = ch;
	ch->tcp_h.data = ch;
	rv = uv_pipe_open(&ch->local_h, ch->local);
	if (rv != 0)
		close(ch->local);
	ch->local = -1; /* the handle owns it now */
	if (rv == 0) {
		rv = uv_tcp_open(&ch->tcp_h, ch->tcp);
		if (rv != 0)
			close(ch->tcp);
	} else {
		close(ch->tcp);
	}
	ch->tcp = -1;
	if (rv == 0)
		rv = uv_read_start((uv_stream_t *)&ch->local_h, tp_local_alloc, tp_local_read);
	if (rv == 0)
		rv = uv_read_start((uv_stream_t *)&ch->tcp_h, tp_tcp_alloc, tp_tcp_read);
	if (rv != 0) {
		LOG_WARN("raft transport: channel %s party %d (%s): %s",
			 ch->inbound ? "from" : "to", ch->peer, ch->addr, uv_strerror(rv));
		tp_relay_shut(ch);
		return -1;
	}
	return 0;
}

static void tp_deliver(struct tp *tp, struct tp_event *ev)
{
	uv_stream_t *s;

	if (tp->closing || (ev->req != NULL && !tp_pending_take(tp, ev->req))) {
		if (ev->raft_fd >= 0)
			close(ev->raft_fd);
		if (ev->ch != NULL) {
			close(ev->ch->tcp);
			close(ev->ch->local);
			tp_chan_free(ev->ch);
		}
		return;
	}
	s = NULL;
	if (ev->ch != NULL && tp_relay_start(tp, ev->ch) != 0)
		close(ev->raft_fd);
	else if (ev->ch != NULL)
		s = tp_stream(tp, ev->raft_fd); /* closes raft_fd if it fails */
	if (ev->req != NULL) {
		ev->req->cb(ev->req, s, s != NULL ? 0 : RAFT_NOCONNECTION);
		return;
	}
	if (s != NULL && tp->accept_cb != NULL)
		tp->accept_cb(tp->t, (raft_id)ev->peer + 1, ev->addr, s);
	else if (s != NULL)
		uv_close((uv_handle_t *)s, (uv_close_cb)raft_free);
}

static void tp_async_cb(uv_async_t *h)
{
	struct tp *tp = h->data;
	struct tp_event *list, *rev = NULL;

	pthread_mutex_lock(&tp->lock);
	list = tp->events;
	tp->events = NULL;
	pthread_mutex_unlock(&tp->lock);
	while (list != NULL) { /* oldest first */
		struct tp_event *ev = list;
		list = ev->next;
		ev->next = rev;
		rev = ev;
	}
	while (rev != NULL) {
		struct tp_event *ev = rev;
		rev = ev->next;
		tp_deliver(tp, ev);
		free(ev);
	}
	tp_maybe_done(tp);
}

/* ---- raft_uv_transport methods (loop thread) ---- */

static int tp_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct tp *tp = t->impl;
	(void)address;
	if (id != (raft_id)tp->party + 1) {
		snprintf(t->errmsg, sizeof t->errmsg, "raft id %llu is not party %d's",
			 (unsigned long long)id, tp->party);
		return RAFT_INVALID;
	}
	return 0;
}

static int tp_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct tp *tp = t->impl;
	const struct mpc_party_info *me = &tp->c->parties[tp->party];
	struct addrinfo hints = {0}, *ai = NULL;
	struct tp_chan *self;
	char port[16];
	int one = 1;

	tp->accept_cb = cb;
	snprintf(port, sizeof port, "%u", me->raft_port);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(me->host, port, &hints, &ai) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "cannot resolve %s", me->host);
		return RAFT_IOERR;
	}
	tp->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tp->lfd >= 0)
		setsockopt(tp->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (tp->lfd < 0 || bind(tp->lfd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(tp->lfd, 64) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "listen on %s:%u: %s", me->host,
			 me->raft_port, strerror(errno));
		freeaddrinfo(ai);
		if (tp->lfd >= 0)
			close(tp->lfd);
		tp->lfd = -1;
		return RAFT_IOERR;
	}
	freeaddrinfo(ai);
	self = tp_chan_new(tp, -1, -1, 1);
	if (self == NULL || tp_spawn(tp, self, tp_listen_main) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "cannot start the listener thread");
		close(tp->lfd);
		tp->lfd = -1;
		return RAFT_NOMEM;
	}
	return 0;
}

static int tp_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
		      const char *address, raft_uv_connect_cb cb)
{
	struct tp *tp = t->impl;
	struct tp_pending *p;
	struct tp_chan *ch;

	if (tp->closing)
		return RAFT_CANCELED;
	if (id < 1 || id > (raft_id)tp->c->n_parties || id == (raft_id)tp->party + 1) {
		snprintf(t->errmsg, sizeof t->errmsg, "connect: raft id %llu is not a peer",
			 (unsigned long long)id);
		return RAFT_NOCONNECTION;
	}
	p = malloc(sizeof *p);
	ch = tp_chan_new(tp, -1, (int)id - 1, 0);
	if (p == NULL || ch == NULL) {
		free(p);
		free(ch);
		return RAFT_NOMEM;
	}
	req->cb = cb;
	ch->req = req;
	snprintf(ch->addr, sizeof ch->addr, "%s", address);
	p->req = req;
	p->next = tp->pending;
	tp->pending = p;
	if (tp_spawn(tp, ch, tp_connect_main) != 0) {
		tp_pending_take(tp, req);
		return RAFT_NOCONNECTION;
	}
	return 0;
}

static void tp_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct tp *tp = t->impl;

	tp->closing = 1;
	tp->close_cb = cb;
	/* raft's clients wait for their connect callbacks (RAFT_CANCELED) */
	while (tp->pending != NULL) {
		struct tp_pending *p = tp->pending;
		tp->pending = p->next;
		p->req->cb(p->req, NULL, RAFT_CANCELED);
		free(p);
	}
	pthread_mutex_lock(&tp->lock);
	tp->stopping = 1;
	for (struct tp_chan *ch = tp->chans; ch != NULL; ch = ch->next) {
		if (ch->tcp >= 0)
			shutdown(ch->tcp, SHUT_RDWR);
		if (ch->local >= 0)
			shutdown(ch->local, SHUT_RDWR);
	}
	pthread_mutex_unlock(&tp->lock);
	for (struct tp_chan *ch = tp->live; ch != NULL; ch = ch->next)
		tp_relay_shut(ch);
	/* setup threads end within a poll interval, the last one wakes the
	 * loop; the relays' handles close on the next loop turn */
	uv_async_send(&tp->async);
}

/* ---- public ---- */

int store_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct mpc_cluster *c,
			 int party, const uint8_t *box_sk, char *errmsg)
{
	struct tp *tp;

	memset(t, 0, sizeof *t);
	if (party < 0 || party >= c->n_parties) {
		mpc_errmsg_printf(errmsg, "raft transport: bad party %d", party);
		return MPC_EINVAL;
	}
	tp = calloc(1, sizeof *tp);
	if (tp == NULL)
		return MPC_ENOMEM;
	tp->sk = sodium_malloc(MPC_KEY_BYTES);
	if (tp->sk == NULL) {
		free(tp);
		return MPC_ENOMEM;
	}
	memcpy(tp->sk, box_sk, MPC_KEY_BYTES);
	crypto_scalarmult_base(tp->pk, tp->sk);
	tp->t = t;
	tp->loop = loop;
	tp->c = c;
	tp->party = party;
	tp->lfd = -1;
	pthread_mutex_init(&tp->lock, NULL);
	uv_async_init(loop, &tp->async, tp_async_cb);
	tp->async.data = tp;
	t->impl = tp;
	t->init = tp_init;
	t->listen = tp_listen;
	t->connect = tp_connect;
	t->close = tp_close;
	return 0;
}

static void tp_free(struct tp *tp)
{
	if (tp->lfd >= 0)
		close(tp->lfd);
	sodium_free(tp->sk);
	pthread_mutex_destroy(&tp->lock);
	free(tp);
}

static void tp_free_cb(uv_handle_t *h)
{
	tp_free(h->data);
}

void store_transport_close(struct raft_uv_transport *t)
{
	struct tp *tp = t->impl;

	if (tp == NULL)
		return;
	t->impl = NULL;
	if (tp->async_closing) {
		tp_free(tp); /* raft closed the transport: every thread has ended */
		return;
	}
	/* raft never started it (an error before raft_start): no threads, only
	 * the async handle, freed on the loop's next turn */
	tp->async_closing = 1;
	uv_close((uv_handle_t *)&tp->async, tp_free_cb);
}

void store_transport_get_stats(struct raft_uv_transport *t, struct store_transport_stats *st)
{
	struct tp *tp = t->impl;

	pthread_mutex_lock(&tp->lock);
	*st = tp->st;
	pthread_mutex_unlock(&tp->lock);
	st->bytes_sent = __atomic_load_n(&tp->st.bytes_sent, __ATOMIC_RELAXED);
	st->bytes_received = __atomic_load_n(&tp->st.bytes_received, __ATOMIC_RELAXED);
}
