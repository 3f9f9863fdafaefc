/* Party mesh: authenticated TCP connections between parties, AES-256-GCM frames, per-peer sender and receiver threads. */
#include "engine/mesh.h"

#include "common/deadline.h"
#include "common/err.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#define MESH_HS_TIMEOUT_S 3
#define MESH_BACKOFF_MIN_MS 50
#define MESH_BACKOFF_MAX_MS 1000

/* A message in the mailbox: unclaimed (nobody posted a receive yet). */
struct mesh_inbox {
	int peer;
	uint64_t session;
	uint32_t round;
	uint8_t type;
	uint8_t *buf;
	size_t len, cap;
	int complete;
	struct mesh_inbox *next;
};

struct mesh_peer {
	struct engine_mesh *m;
	int id;
	pthread_t conn_thread, send_thread;
	int fd;		/* current connection or -1 */
	int pending_fd; /* responder: handed over by the listener */
	struct mpc_secchan_keys pending_keys;
	struct mpc_frame_tx tx;
	struct mpc_frame_rx rx;
	uint64_t gen;
	int sending; /* the sender thread is using fd/tx */
	struct engine_mesh_send *q_head, *q_tail, *cur_send;
	/* receive side: the message being assembled from several frames */
	struct engine_mesh_recv *cur_recv;
	struct mesh_inbox *cur_inbox;
	int decrypting; /* receiver is writing into cur_recv->buf */
	uint8_t *rxbuf, *txbuf;
	size_t bufcap;
	/* the sender thread waits for q_head/fd, the responder's connection
	 * thread for pending_fd: on conditions of their own, not woken by
	 * every frame of every session */
	pthread_cond_t send_cond, conn_cond;
};

/* A thread in engine_mesh_wait(): woken by events of its session only (or
 * by all, any), not by every frame of every session on m->cond. */
struct mesh_waiter {
	uint64_t sid; /* low 32 bits of the wire session */
	int any;
	pthread_cond_t cond;
	struct mesh_waiter *next;
};

struct engine_mesh {
	const struct mpc_cluster *c;
	int party, n;
	uint8_t *sk;
	uint8_t pk[32];
	size_t max_frame;
	int lfd;
	pthread_t listen_thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t event_seq;
	int stopping;
	struct mesh_peer peers[MPC_MAX_PARTIES];
	struct mesh_inbox *inbox;
	struct engine_mesh_recv *posted;
	struct engine_mesh_stats st;
	struct mesh_waiter *waiters;
};

/* ---- socket helpers ---- */

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {seconds, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- mailbox (under m->lock) ---- */

/* Something changed: m->cond's waiters (engine_mesh_wait_event, cancels,
 * teardown) look again, and so do the engine_mesh_wait() callers of the
 * session (all: of every session, and the senders, after a connection
 * change or at the stop). */
static void wake_locked(struct engine_mesh *m, int all, uint64_t session)
{
	m->event_seq++;
	pthread_cond_broadcast(&m->cond);
	for (struct mesh_waiter *w = m->waiters; w != NULL; w = w->next)
		if (all || w->any || w->sid == (session & 0xffffffffu))
			pthread_cond_signal(&w->cond);
	for (int i = 0; all && i < m->n; i++) {
		pthread_cond_broadcast(&m->peers[i].send_cond);
		pthread_cond_broadcast(&m->peers[i].conn_cond);
	}
}

static void event_locked(struct engine_mesh *m)
{
	wake_locked(m, 1, 0);
}

static struct engine_mesh_recv *posted_find(struct engine_mesh *m, int peer, uint64_t session,
					    uint32_t round, uint8_t type)
{
	for (struct engine_mesh_recv *r = m->posted; r != NULL; r = r->next)
		if (r->peer == peer && r->session == session && r->round == round &&
		    r->type == type && !r->done && r->got == 0)
			return r;
	return NULL;
}

static void posted_remove(struct engine_mesh *m, struct engine_mesh_recv *r)
{
	for (struct engine_mesh_recv **pp = &m->posted; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return;
		}
}

static void inbox_unlink(struct engine_mesh *m, struct mesh_inbox *e)
{
	for (struct mesh_inbox **pp = &m->inbox; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			return;
		}
}

static void inbox_free(struct mesh_inbox *e)
{
	if (e == NULL)
		return;
	if (e->buf != NULL) {
		sodium_memzero(e->buf, e->len);
		free(e->buf);
	}
	free(e);
}

/* Completes r from a complete mailbox entry e (which is then freed). */
static void deliver_inbox(struct engine_mesh *m, struct engine_mesh_recv *r, struct mesh_inbox *e)
{
	if (e->len != r->len) {
		r->rv = MPC_EPROTO;
	} else {
		memcpy(r->buf, e->buf, e->len);
		r->got = e->len;
		r->rv = 0;
	}
	r->done = 1;
	posted_remove(m, r);
	inbox_unlink(m, e);
	inbox_free(e);
}

/* ---- connection life cycle ---- */

static void conn_install(struct mesh_peer *p, int fd, struct mpc_secchan_keys *keys)
{
	struct engine_mesh *m = p->m;
	int rv;

	set_timeouts(fd, 0);
	set_nodelay(fd);
	pthread_mutex_lock(&m->lock);
	rv = mpc_frame_tx_init(&p->tx, keys->tx, (uint8_t)m->party);
	if (rv == 0)
		rv = mpc_frame_rx_init(&p->rx, keys->rx, (uint8_t)p->id);
	sodium_memzero(keys, sizeof *keys);
	if (rv != 0) {
		mpc_frame_tx_clear(&p->tx);
		pthread_mutex_unlock(&m->lock);
		close(fd);
		return;
	}
	p->fd = fd;
	p->gen++;
	m->st.connects++;
	event_locked(m);
	pthread_mutex_unlock(&m->lock);
	LOG_INFO("mesh: connected to party %d", p->id);
}

static void conn_teardown(struct mesh_peer *p)
{
	struct engine_mesh *m = p->m;

	pthread_mutex_lock(&m->lock);
	shutdown(p->fd, SHUT_RDWR);
	while (p->sending)
		pthread_cond_wait(&m->cond, &m->lock);
	close(p->fd);
	p->fd = -1;
	mpc_frame_tx_clear(&p->tx);
	mpc_frame_rx_clear(&p->rx);
	p->gen++;
	if (p->cur_recv != NULL)
		p->cur_recv->got = 0; /* part of a message is lost; it stays posted */
	p->cur_recv = NULL;
	if (p->cur_inbox != NULL) {
		inbox_unlink(m, p->cur_inbox);
		inbox_free(p->cur_inbox);
		p->cur_inbox = NULL;
	}
	event_locked(m);
	pthread_mutex_unlock(&m->lock);
	if (!m->stopping)
		LOG_INFO("mesh: connection to party %d lost", p->id);
}

/* Reads frames until the connection fails. */
static void receive_loop(struct mesh_peer *p)
{
	struct engine_mesh *m = p->m;
	char addr_err[MPC_ERRMSG_SIZE];

	for (;;) {
		struct mpc_frame_hdr hdr, h2;
		size_t frame_len, plen;
		uint8_t *dest;
		uint8_t type;
		int more, rv;

		if (mpc_secchan_read_full(p->fd, p->rxbuf, MPC_FRAME_HDR_BYTES) != 0)
			return;
		if (mpc_frame_peek(p->rxbuf, MPC_FRAME_HDR_BYTES, &hdr, &frame_len) != 0 ||
		    frame_len > p->bufcap) {
			LOG_WARN("mesh: malformed frame header from party %d; closing", p->id);
			pthread_mutex_lock(&m->lock);
			m->st.frames_rejected++;
			pthread_mutex_unlock(&m->lock);
			return;
		}
		if (mpc_secchan_read_full(p->fd, p->rxbuf + MPC_FRAME_HDR_BYTES,
					  frame_len - MPC_FRAME_HDR_BYTES) != 0)
			return;
		plen = (size_t)hdr.payload_len;
		type = hdr.type & (uint8_t)~ENGINE_MESH_MORE;
		more = (hdr.type & ENGINE_MESH_MORE) != 0;

		/* Where does the payload go? (The header is not authenticated
		 * yet: nothing is committed until unseal succeeds.) */
		pthread_mutex_lock(&m->lock);
		m->st.bytes_received += frame_len;
		dest = NULL;
		if (p->cur_recv == NULL && p->cur_inbox == NULL) {
			struct engine_mesh_recv *r =
				posted_find(m, p->id, hdr.session, hdr.round, type);
			if (r != NULL) {
				p->cur_recv = r;
			} else {
				struct mesh_inbox *e = calloc(1, sizeof *e);
				if (e == NULL) {
					pthread_mutex_unlock(&m->lock);
					return;
				}
				e->peer = p->id;
				e->session = hdr.session;
				e->round = hdr.round;
				e->type = type;
				e->next = m->inbox;
				m->inbox = e;
				p->cur_inbox = e;
			}
		}
		if (p->cur_recv != NULL) {
			struct engine_mesh_recv *r = p->cur_recv;
			if (r->got + plen > r->len) {
				pthread_mutex_unlock(&m->lock);
				LOG_WARN("mesh: message from party %d longer than expected", p->id);
				return;
			}
			dest = (uint8_t *)r->buf + r->got;
			p->decrypting = 1;
		} else {
			struct mesh_inbox *e = p->cur_inbox;
			if (e->len + plen > e->cap) {
				size_t cap = e->cap ? e->cap : plen;
				uint8_t *nb;
				while (cap < e->len + plen)
					cap *= 2;
				nb = malloc(cap > 0 ? cap : 1);
				if (nb == NULL) {
					pthread_mutex_unlock(&m->lock);
					return;
				}
				if (e->buf != NULL) {
					memcpy(nb, e->buf, e->len);
					sodium_memzero(e->buf, e->len);
					free(e->buf);
				}
				e->buf = nb;
				e->cap = cap;
			}
			dest = e->buf + e->len;
		}
		pthread_mutex_unlock(&m->lock);

		rv = mpc_frame_unseal(&p->rx, p->rxbuf, frame_len, &h2, dest, plen);

		pthread_mutex_lock(&m->lock);
		p->decrypting = 0;
		if (rv != 0) {
			m->st.frames_rejected++;
			event_locked(m);
			pthread_mutex_unlock(&m->lock);
			snprintf(addr_err, sizeof addr_err, "%s", mpc_strerror(rv));
			LOG_WARN("mesh: frame from party %d rejected (%s); closing the connection",
				 p->id, addr_err);
			return;
		}
		if (p->cur_recv != NULL) {
			struct engine_mesh_recv *r = p->cur_recv;
			r->got += plen;
			if (!more) {
				r->rv = r->got == r->len ? 0 : MPC_EPROTO;
				r->done = 1;
				posted_remove(m, r);
				p->cur_recv = NULL;
			}
		} else {
			struct mesh_inbox *e = p->cur_inbox;
			e->len += plen;
			if (!more) {
				struct engine_mesh_recv *r;
				e->complete = 1;
				p->cur_inbox = NULL;
				r = posted_find(m, e->peer, e->session, e->round, e->type);
				if (r != NULL)
					deliver_inbox(m, r, e);
			}
		}
		wake_locked(m, 0, h2.session);
		pthread_mutex_unlock(&m->lock);
	}
}

/* Sleeps ms unless the mesh stops. */
static void mesh_sleep(struct engine_mesh *m, int ms)
{
	struct timespec ts;
	mpc_deadline_after(&ts, ms);
	pthread_mutex_lock(&m->lock);
	if (!m->stopping)
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	pthread_mutex_unlock(&m->lock);
}

/* Initiator side: connects to the peer with backoff and runs the handshake. */
static int connect_peer(struct mesh_peer *p, struct mpc_secchan_keys *keys)
{
	struct engine_mesh *m = p->m;
	const struct mpc_party_info *pi = &m->c->parties[p->id];
	int backoff = MESH_BACKOFF_MIN_MS;
	char port[16], err[MPC_ERRMSG_SIZE];
	int logged = 0;

	snprintf(port, sizeof port, "%u", pi->mpc_port);
	while (!m->stopping) {
		struct addrinfo hints = {0}, *ai = NULL;
		int fd = -1, peer, rv;

		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(pi->host, port, &hints, &ai) == 0) {
			fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
				close(fd);
				fd = -1;
			}
			freeaddrinfo(ai);
		}
		if (fd >= 0) {
			set_timeouts(fd, MESH_HS_TIMEOUT_S);
			rv = mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 1, m->c, m->party, m->pk,
						   m->sk, p->id, &peer, keys, err);
			if (rv == 0)
				return fd;
			close(fd);
			if (!logged)
				LOG_WARN("mesh: handshake with party %d at %s:%u failed: %s", p->id,
					 pi->host, pi->mpc_port, err);
			logged = 1;
		}
		mesh_sleep(m, backoff);
		backoff = backoff * 2 > MESH_BACKOFF_MAX_MS ? MESH_BACKOFF_MAX_MS : backoff * 2;
	}
	return -1;
}

static void *conn_main(void *arg)
{
	struct mesh_peer *p = arg;
	struct engine_mesh *m = p->m;
	pthread_setname_np(pthread_self(), "mesh-recv");

	while (!m->stopping) {
		struct mpc_secchan_keys keys;
		int fd;

		if (m->party < p->id) {
			fd = connect_peer(p, &keys);
		} else {
			pthread_mutex_lock(&m->lock);
			while (!m->stopping && p->pending_fd < 0)
				pthread_cond_wait(&p->conn_cond, &m->lock);
			fd = p->pending_fd;
			p->pending_fd = -1;
			keys = p->pending_keys;
			sodium_memzero(&p->pending_keys, sizeof p->pending_keys);
			pthread_mutex_unlock(&m->lock);
		}
		if (fd < 0)
			break;
		if (m->stopping) {
			close(fd);
			sodium_memzero(&keys, sizeof keys);
			break;
		}
		conn_install(p, fd, &keys);
		if (p->fd < 0)
			continue;
		receive_loop(p);
		conn_teardown(p);
	}
	return NULL;
}

static void *send_main(void *arg)
{
	struct mesh_peer *p = arg;
	struct engine_mesh *m = p->m;
	pthread_setname_np(pthread_self(), "mesh-send");

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct engine_mesh_send *s;
		size_t off = 0;
		int fd, rv = 0;

		while (!m->stopping && (p->q_head == NULL || p->fd < 0))
			pthread_cond_wait(&p->send_cond, &m->lock);
		if (m->stopping)
			break;
		s = p->q_head;
		p->q_head = s->next;
		if (p->q_head == NULL)
			p->q_tail = NULL;
		s->next = NULL;
		p->cur_send = s;
		p->sending = 1;
		fd = p->fd;
		pthread_mutex_unlock(&m->lock);

		do {
			struct mpc_frame_hdr hdr = {0};
			size_t step = s->len - off, flen;

			if (step > m->max_frame)
				step = m->max_frame;
			hdr.type = s->type | (off + step < s->len ? ENGINE_MESH_MORE : 0);
			hdr.round = s->round;
			hdr.session = s->session;
			rv = mpc_frame_seal(&p->tx, &hdr, (const uint8_t *)s->buf + off, step,
					    p->txbuf, p->bufcap, &flen);
			if (rv == 0 && mpc_secchan_write_full(fd, p->txbuf, flen) != 0)
				rv = MPC_EIO;
			if (rv != 0)
				break;
			off += step;
			__atomic_add_fetch(&m->st.bytes_sent, flen, __ATOMIC_RELAXED);
		} while (off < s->len);

		uint64_t sess = s->session; /* s is freed below if a copy */
		pthread_mutex_lock(&m->lock);
		p->sending = 0;
		p->cur_send = NULL;
		if (rv != 0)
			shutdown(fd, SHUT_RDWR);
		if (s->copy != NULL) {
			sodium_memzero(s->copy, s->len);
			free(s->copy);
			free(s);
		} else {
			s->rv = rv;
			s->done = 1;
		}
		wake_locked(m, rv != 0, sess);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void *listen_main(void *arg)
{
	struct engine_mesh *m = arg;

	while (!m->stopping) {
		struct pollfd pfd = {m->lfd, POLLIN, 0};
		struct sockaddr_in sa;
		socklen_t salen = sizeof sa;
		struct mpc_secchan_keys keys;
		char err[MPC_ERRMSG_SIZE] = "", addr[64];
		int fd, peer, rv;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		fd = accept4(m->lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		snprintf(addr, sizeof addr, "%s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
		set_timeouts(fd, MESH_HS_TIMEOUT_S);
		rv = mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 0, m->c, m->party, m->pk, m->sk,
					   -1, &peer, &keys, err);
		if (rv == 0 && peer > m->party) {
			/* the lower id connects; a higher one dialling in is not our rule */
			rv = MPC_EPERM;
			mpc_errmsg_printf(err, "party %d must be dialled, not dial in", peer);
			sodium_memzero(&keys, sizeof keys);
		}
		if (rv != 0) {
			LOG_WARN("mesh: refused peer %s: %s", addr, err);
			pthread_mutex_lock(&m->lock);
			m->st.peers_refused++;
			pthread_mutex_unlock(&m->lock);
			close(fd);
			continue;
		}
		pthread_mutex_lock(&m->lock);
		{
			struct mesh_peer *p = &m->peers[peer];
			if (p->pending_fd >= 0)
				close(p->pending_fd);
			p->pending_fd = fd;
			p->pending_keys = keys;
			/* the old connection (if the peer restarted) is dead */
			if (p->fd >= 0)
				shutdown(p->fd, SHUT_RDWR);
			pthread_cond_signal(&p->conn_cond);
		}
		sodium_memzero(&keys, sizeof keys);
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
	}
	return NULL;
}

/* ---- public API ---- */

int engine_mesh_start(const struct mpc_cluster *c, int party, const uint8_t *box_sk,
		      size_t max_frame, struct engine_mesh **out, char *errmsg)
{
	const struct mpc_party_info *me;
	struct addrinfo hints = {0}, *ai = NULL;
	struct engine_mesh *m;
	char port[16];
	int one = 1, rv;

	if (party < 0 || party >= c->n_parties || c->n_parties > MPC_MAX_PARTIES) {
		mpc_errmsg_printf(errmsg, "mesh: bad party %d", party);
		return MPC_EINVAL;
	}
	me = &c->parties[party];
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return MPC_ENOMEM;
	m->c = c;
	m->party = party;
	m->n = c->n_parties;
	m->max_frame = max_frame ? max_frame : ENGINE_MESH_DEFAULT_FRAME;
	m->sk = sodium_malloc(32);
	if (m->sk == NULL) {
		free(m);
		return MPC_ENOMEM;
	}
	memcpy(m->sk, box_sk, 32);
	crypto_scalarmult_base(m->pk, m->sk);
	if (sodium_memcmp(m->pk, me->box_pk, 32) != 0) {
		mpc_errmsg_printf(errmsg, "mesh: box_sk does not match party %d's box_pk", party);
		rv = MPC_ECONFIG;
		goto err_keys;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	for (int i = 0; i < MPC_MAX_PARTIES; i++) {
		pthread_cond_init(&m->peers[i].send_cond, NULL);
		pthread_cond_init(&m->peers[i].conn_cond, NULL);
	}

	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", me->mpc_port);
	if (getaddrinfo(me->host, port, &hints, &ai) != 0) {
		mpc_errmsg_printf(errmsg, "mesh: cannot resolve %s", me->host);
		rv = MPC_ECONFIG;
		goto err_keys;
	}
	m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (m->lfd < 0 || bind(m->lfd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(m->lfd, 16) != 0) {
		mpc_errmsg_printf(errmsg, "mesh: cannot listen on %s:%u: %s", me->host,
				  me->mpc_port, strerror(errno));
		freeaddrinfo(ai);
		if (m->lfd >= 0)
			close(m->lfd);
		rv = MPC_EIO;
		goto err_keys;
	}
	freeaddrinfo(ai);
	for (int i = 0; i < m->n; i++) {
		struct mesh_peer *p = &m->peers[i];
		p->m = m;
		p->id = i;
		p->fd = -1;
		p->pending_fd = -1;
		if (i == party)
			continue;
		p->bufcap = mpc_frame_size(m->max_frame);
		p->rxbuf = malloc(p->bufcap);
		p->txbuf = malloc(p->bufcap);
		if (p->rxbuf == NULL || p->txbuf == NULL) {
			rv = MPC_ENOMEM;
			goto err_threads;
		}
	}
	pthread_create(&m->listen_thread, NULL, listen_main, m);
	for (int i = 0; i < m->n; i++) {
		if (i == party)
			continue;
		pthread_create(&m->peers[i].conn_thread, NULL, conn_main, &m->peers[i]);
		pthread_create(&m->peers[i].send_thread, NULL, send_main, &m->peers[i]);
	}
	*out = m;
	return 0;

err_threads:
	for (int i = 0; i < m->n; i++) {
		free(m->peers[i].rxbuf);
		free(m->peers[i].txbuf);
	}
	close(m->lfd);
err_keys:
	sodium_free(m->sk);
	free(m);
	return rv;
}

void engine_mesh_stop(struct engine_mesh *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	for (int i = 0; i < m->n; i++)
		if (m->peers[i].fd >= 0)
			shutdown(m->peers[i].fd, SHUT_RDWR);
	event_locked(m);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->listen_thread, NULL);
	for (int i = 0; i < m->n; i++) {
		struct mesh_peer *p = &m->peers[i];
		if (i == m->party)
			continue;
		pthread_join(p->conn_thread, NULL);
		pthread_join(p->send_thread, NULL);
		if (p->pending_fd >= 0)
			close(p->pending_fd);
		/* queued copies belong to the mesh; caller-owned sends fail */
		while (p->q_head != NULL) {
			struct engine_mesh_send *s = p->q_head;
			p->q_head = s->next;
			if (s->copy != NULL) {
				free(s->copy);
				free(s);
			} else {
				s->done = 1;
				s->rv = MPC_ESHUTDOWN;
			}
		}
		free(p->rxbuf);
		free(p->txbuf);
	}
	close(m->lfd);
	while (m->inbox != NULL) {
		struct mesh_inbox *e = m->inbox;
		m->inbox = e->next;
		inbox_free(e);
	}
	sodium_free(m->sk);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	for (int i = 0; i < MPC_MAX_PARTIES; i++) {
		pthread_cond_destroy(&m->peers[i].send_cond);
		pthread_cond_destroy(&m->peers[i].conn_cond);
	}
	free(m);
}

int engine_mesh_party(const struct engine_mesh *m)
{
	return m->party;
}

int engine_mesh_n_parties(const struct engine_mesh *m)
{
	return m->n;
}

void engine_mesh_get_stats(struct engine_mesh *m, struct engine_mesh_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	st->bytes_sent = __atomic_load_n(&m->st.bytes_sent, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
}

int engine_mesh_gens(struct engine_mesh *m, uint64_t *gens)
{
	int all = 1;
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->n; i++) {
		gens[i] = i == m->party ? 0 : m->peers[i].gen;
		if (i != m->party && m->peers[i].fd < 0)
			all = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return all;
}


int engine_mesh_wait_connected(struct engine_mesh *m, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	mpc_deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&m->lock);
	for (;;) {
		int all = 1;
		for (int i = 0; i < m->n; i++)
			if (i != m->party && m->peers[i].fd < 0)
				all = 0;
		if (all)
			break;
		if (m->stopping || pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT) {
			rv = MPC_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rv;
}

static int queue_send_locked(struct engine_mesh *m, struct engine_mesh_send *s)
{
	struct mesh_peer *p;
	if (s->peer < 0 || s->peer >= m->n || s->peer == m->party || s->type >= ENGINE_MESH_MORE)
		return MPC_EINVAL;
	p = &m->peers[s->peer];
	s->done = 0;
	s->rv = 0;
	s->next = NULL;
	if (p->q_tail != NULL)
		p->q_tail->next = s;
	else
		p->q_head = s;
	p->q_tail = s;
	pthread_cond_signal(&p->send_cond);
	return 0;
}

int engine_mesh_send(struct engine_mesh *m, struct engine_mesh_send *s)
{
	int rv;
	s->copy = NULL;
	pthread_mutex_lock(&m->lock);
	rv = queue_send_locked(m, s);
	pthread_mutex_unlock(&m->lock);
	return rv;
}

int engine_mesh_send_copy(struct engine_mesh *m, int peer, uint64_t session, uint32_t round,
			  uint8_t type, const void *buf, size_t len)
{
	struct engine_mesh_send *s = calloc(1, sizeof *s);
	int rv;

	if (s == NULL)
		return MPC_ENOMEM;
	s->copy = malloc(len > 0 ? len : 1);
	if (s->copy == NULL) {
		free(s);
		return MPC_ENOMEM;
	}
	memcpy(s->copy, buf, len);
	s->peer = peer;
	s->session = session;
	s->round = round;
	s->type = type;
	s->buf = s->copy;
	s->len = len;
	pthread_mutex_lock(&m->lock);
	rv = queue_send_locked(m, s);
	pthread_mutex_unlock(&m->lock);
	if (rv != 0) {
		free(s->copy);
		free(s);
	}
	return rv;
}

int engine_mesh_post(struct engine_mesh *m, struct engine_mesh_recv *r)
{
	if (r->peer < 0 || r->peer >= m->n || r->peer == m->party)
		return MPC_EINVAL;
	r->got = 0;
	r->done = 0;
	r->rv = 0;
	pthread_mutex_lock(&m->lock);
	r->next = m->posted;
	m->posted = r;
	for (struct mesh_inbox *e = m->inbox; e != NULL; e = e->next)
		if (e->complete && e->peer == r->peer && e->session == r->session &&
		    e->round == r->round && e->type == r->type) {
			deliver_inbox(m, r, e);
			break;
		}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void engine_mesh_cancel(struct engine_mesh *m, struct engine_mesh_send **s, int ns,
			struct engine_mesh_recv **r, int nr)
{
	pthread_mutex_lock(&m->lock);
	for (int k = 0; k < ns; k++) {
		struct mesh_peer *p = &m->peers[s[k]->peer];
		struct engine_mesh_send **pp;
		if (s[k]->done)
			continue;
		for (pp = &p->q_head; *pp != NULL; pp = &(*pp)->next)
			if (*pp == s[k]) {
				*pp = s[k]->next;
				break;
			}
		p->q_tail = NULL;
		for (struct engine_mesh_send *q = p->q_head; q != NULL; q = q->next)
			p->q_tail = q;
		while (p->cur_send == s[k])
			pthread_cond_wait(&m->cond, &m->lock);
		s[k]->done = 1;
		if (s[k]->rv == 0)
			s[k]->rv = MPC_ESHUTDOWN;
	}
	for (int k = 0; k < nr; k++) {
		struct mesh_peer *p = &m->peers[r[k]->peer];
		if (r[k]->done)
			continue;
		while (p->cur_recv == r[k] && p->decrypting)
			pthread_cond_wait(&m->cond, &m->lock);
		if (p->cur_recv == r[k]) {
			/* the rest of the message is not wanted any more: drop it */
			struct mesh_inbox *e = calloc(1, sizeof *e);
			p->cur_recv = NULL;
			if (e != NULL) {
				e->peer = r[k]->peer;
				e->session = r[k]->session;
				e->round = r[k]->round;
				e->type = r[k]->type;
				e->next = m->inbox;
				m->inbox = e;
				p->cur_inbox = e;
			}
		}
		posted_remove(m, r[k]);
		r[k]->done = 1;
		if (r[k]->rv == 0)
			r[k]->rv = MPC_ESHUTDOWN;
	}
	pthread_mutex_unlock(&m->lock);
}

static int watch_hit_locked(struct engine_mesh *m, const struct engine_mesh_watch *w)
{
	if (w->gens != NULL)
		for (int i = 0; i < m->n; i++)
			if (i != m->party && m->peers[i].gen != w->gens[i])
				return MPC_EUNAVAIL;
	if (w->watch_type != 0)
		for (struct mesh_inbox *e = m->inbox; e != NULL; e = e->next)
			if (e->complete && e->type == w->watch_type &&
			    (e->session & 0xffffffffu) == w->sid &&
			    (uint32_t)(e->session >> 32) != w->epoch)
				return MPC_ESTATE;
	return 0;
}

int engine_mesh_wait(struct engine_mesh *m, struct engine_mesh_send **s, int ns,
		     struct engine_mesh_recv **r, int nr, const struct engine_mesh_watch *w,
		     int timeout_ms)
{
	struct timespec ts;
	struct mesh_waiter me = {.sid = w != NULL ? w->sid & 0xffffffffu : 0, .any = w == NULL};
	int rv = 0;

	if (timeout_ms >= 0)
		mpc_deadline_after(&ts, timeout_ms);
	pthread_cond_init(&me.cond, NULL);
	pthread_mutex_lock(&m->lock);
	me.next = m->waiters;
	m->waiters = &me;
	for (;;) {
		int all = 1;
		for (int k = 0; k < ns && rv == 0; k++) {
			if (!s[k]->done)
				all = 0;
			else if (s[k]->rv != 0)
				rv = s[k]->rv == MPC_EIO ? MPC_EUNAVAIL : s[k]->rv;
		}
		for (int k = 0; k < nr && rv == 0; k++) {
			if (!r[k]->done)
				all = 0;
			else if (r[k]->rv != 0)
				rv = r[k]->rv;
		}
		/* with nothing to wait for, wait for the watch (or the timeout) */
		if (rv != 0 || (all && ns + nr > 0))
			break;
		if (w != NULL && (rv = watch_hit_locked(m, w)) != 0)
			break;
		if (m->stopping) {
			rv = MPC_ESHUTDOWN;
			break;
		}
		if (timeout_ms >= 0) {
			if (pthread_cond_timedwait(&me.cond, &m->lock, &ts) == ETIMEDOUT) {
				rv = MPC_ETIMEDOUT;
				break;
			}
		} else {
			pthread_cond_wait(&me.cond, &m->lock);
		}
	}
	for (struct mesh_waiter **pp = &m->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	pthread_mutex_unlock(&m->lock);
	pthread_cond_destroy(&me.cond);
	return rv;
}

static int take_locked(struct engine_mesh *m, struct mesh_inbox *e, void **buf, size_t *len)
{
	inbox_unlink(m, e);
	*buf = e->buf != NULL ? e->buf : malloc(1);
	*len = e->len;
	e->buf = NULL;
	free(e);
	return *buf != NULL ? 0 : MPC_ENOMEM;
}

int engine_mesh_take(struct engine_mesh *m, int peer, uint64_t session, uint32_t round,
		     uint8_t type, void **buf, size_t *len)
{
	int rv = MPC_ENOENT;
	pthread_mutex_lock(&m->lock);
	for (struct mesh_inbox *e = m->inbox; e != NULL; e = e->next)
		if (e->complete && e->peer == peer && e->session == session &&
		    e->round == round && e->type == type) {
			rv = take_locked(m, e, buf, len);
			break;
		}
	pthread_mutex_unlock(&m->lock);
	return rv;
}

int engine_mesh_take_any(struct engine_mesh *m, uint64_t sid, uint8_t type, int *peer_out,
			 uint64_t *session_out, void **buf, size_t *len)
{
	int rv = MPC_ENOENT;
	pthread_mutex_lock(&m->lock);
	/* oldest first: the list is newest first */
	{
		struct mesh_inbox *found = NULL;
		for (struct mesh_inbox *e = m->inbox; e != NULL; e = e->next)
			if (e->complete && e->type == type && (e->session & 0xffffffffu) == sid)
				found = e;
		if (found != NULL) {
			*peer_out = found->peer;
			*session_out = found->session;
			rv = take_locked(m, found, buf, len);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rv;
}

void engine_mesh_purge(struct engine_mesh *m, uint64_t sid, uint32_t epoch)
{
	pthread_mutex_lock(&m->lock);
	for (struct mesh_inbox **pp = &m->inbox; *pp != NULL;) {
		struct mesh_inbox *e = *pp;
		int busy = 0;
		for (int i = 0; i < m->n; i++)
			if (m->peers[i].cur_inbox == e)
				busy = 1;
		if (!busy && (e->session & 0xffffffffu) == sid &&
		    (uint32_t)(e->session >> 32) < epoch) {
			*pp = e->next;
			inbox_free(e);
		} else {
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void engine_mesh_wake(struct engine_mesh *m, uint64_t session)
{
	pthread_mutex_lock(&m->lock);
	wake_locked(m, 0, session);
	pthread_mutex_unlock(&m->lock);
}

int engine_mesh_wait_event(struct engine_mesh *m, uint64_t *seq, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	mpc_deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&m->lock);
	while (m->event_seq == *seq && !m->stopping)
		if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT) {
			rv = MPC_ETIMEDOUT;
			break;
		}
	if (m->stopping)
		rv = MPC_ESHUTDOWN;
	*seq = m->event_seq;
	pthread_mutex_unlock(&m->lock);
	return rv;
}
