/* Unit tests for engine/mesh: authenticated connections, multi-frame messages, forged peers and tampered frames. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/frame.h"
#include "engine/mesh.h"

static struct mpc_cluster cl;
static uint8_t sk[2][32];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	memset(&cl, 0, sizeof cl);
	randombytes_buf(cl.id, sizeof cl.id);
	cl.n_parties = 2;
	for (int i = 0; i < 2; i++) {
		cl.parties[i].id = i;
		strcpy(cl.parties[i].host, "127.0.0.1");
		/* below the ephemeral range, different per test process */
		cl.parties[i].mpc_port = 20000u + (unsigned)(getpid() % 5000) * 2 + (unsigned)i;
		crypto_box_keypair(cl.parties[i].box_pk, sk[i]);
	}
}

TestSuite(engine_mesh, .init = setup);

static int connect_to(int party)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cl.parties[party].mpc_port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	for (int t = 0; t < 100; t++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
		usleep(20000);
	}
	cr_assert_fail("cannot connect");
	return -1;
}

Test(engine_mesh, message_of_many_frames_arrives_intact)
{
	struct engine_mesh *m0, *m1;
	char err[MPC_ERRMSG_SIZE];
	size_t len = (size_t)5 << 20;
	uint8_t *buf = malloc(len), *got = malloc(len);
	struct engine_mesh_send s = {0}, *sp = &s;
	struct engine_mesh_recv r = {0}, *rp = &r;

	randombytes_buf(buf, len);
	/* 1 MiB frames: the 5 MiB message is 5 frames */
	cr_assert_eq(engine_mesh_start(&cl, 0, sk[0], (size_t)1 << 20, &m0, err), 0, "%s", err);
	cr_assert_eq(engine_mesh_start(&cl, 1, sk[1], (size_t)1 << 20, &m1, err), 0, "%s", err);
	cr_assert_eq(engine_mesh_wait_connected(m0, 5000), 0);
	s.peer = 1, s.session = 7, s.round = 3, s.type = 1, s.buf = buf, s.len = len;
	r.peer = 0, r.session = 7, r.round = 3, r.type = 1, r.buf = got, r.len = len;
	cr_assert_eq(engine_mesh_send(m0, &s), 0);
	cr_assert_eq(engine_mesh_post(m1, &r), 0);
	cr_assert_eq(engine_mesh_wait(m0, &sp, 1, NULL, 0, NULL, 5000), 0);
	cr_assert_eq(engine_mesh_wait(m1, NULL, 0, &rp, 1, NULL, 5000), 0);
	cr_assert_eq(memcmp(buf, got, len), 0);
	engine_mesh_stop(m0);
	engine_mesh_stop(m1);
	free(buf);
	free(got);
}

Test(engine_mesh, forged_peer_with_unknown_key_is_refused)
{
	struct engine_mesh *m1;
	struct engine_mesh_stats st;
	struct mpc_secchan_keys keys;
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t fpk[32], fsk[32];
	int fd, peer, rv;

	cr_assert_eq(engine_mesh_start(&cl, 1, sk[1], 0, &m1, err), 0, "%s", err);
	crypto_box_keypair(fpk, fsk);
	fd = connect_to(1);
	/* claims to be party 0 with a key that is not party 0's */
	rv = mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 1, &cl, 0, fpk, fsk, 1, &peer, &keys, err);
	cr_assert_neq(rv, 0, "a forged peer completed the handshake");
	close(fd);
	/* claims party 0's public key without its secret key: fails the key proof */
	fd = connect_to(1);
	rv = mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 1, &cl, 0, cl.parties[0].box_pk, fsk, 1,
				   &peer, &keys, err);
	cr_assert_neq(rv, 0, "a peer without the secret key completed the handshake");
	close(fd);
	for (int t = 0; t < 100; t++) {
		engine_mesh_get_stats(m1, &st);
		if (st.peers_refused >= 2)
			break;
		usleep(20000);
	}
	cr_assert_geq(st.peers_refused, 2);
	cr_assert_eq(st.connects, 0);
	engine_mesh_stop(m1);
}

Test(engine_mesh, tampered_frame_is_rejected_and_not_delivered)
{
	struct engine_mesh *m1;
	struct engine_mesh_stats st;
	struct mpc_secchan_keys keys;
	struct mpc_frame_tx tx;
	struct mpc_frame_hdr hdr = {0};
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t payload[64], frame[256];
	size_t flen;
	void *buf;
	size_t len;
	int fd, peer;

	cr_assert_eq(engine_mesh_start(&cl, 1, sk[1], 0, &m1, err), 0, "%s", err);
	fd = connect_to(1);
	cr_assert_eq(mpc_secchan_handshake(fd, MPC_SECCHAN_MESH, 1, &cl, 0, cl.parties[0].box_pk,
					   sk[0], 1, &peer, &keys, err),
		     0, "%s", err);
	cr_assert_eq(peer, 1);
	cr_assert_eq(mpc_frame_tx_init(&tx, keys.tx, 0), 0);
	memset(payload, 0x5a, sizeof payload);
	/* first an intact frame: delivered */
	hdr.type = 1, hdr.round = 1, hdr.session = 9;
	cr_assert_eq(mpc_frame_seal(&tx, &hdr, payload, sizeof payload, frame, sizeof frame, &flen),
		     0);
	cr_assert_eq(write(fd, frame, flen), (ssize_t)flen);
	/* then a frame with one flipped ciphertext bit */
	hdr.round = 2;
	cr_assert_eq(mpc_frame_seal(&tx, &hdr, payload, sizeof payload, frame, sizeof frame, &flen),
		     0);
	frame[MPC_FRAME_HDR_BYTES + 5] ^= 1;
	cr_assert_eq(write(fd, frame, flen), (ssize_t)flen);
	for (int t = 0; t < 100; t++) {
		engine_mesh_get_stats(m1, &st);
		if (st.frames_rejected >= 1)
			break;
		usleep(20000);
	}
	cr_assert_eq(st.frames_rejected, 1);
	cr_assert_eq(engine_mesh_take(m1, 0, 9, 1, 1, &buf, &len), 0);
	cr_assert_eq(len, sizeof payload);
	free(buf);
	cr_assert_eq(engine_mesh_take(m1, 0, 9, 2, 1, &buf, &len), MPC_ENOENT);
	mpc_frame_tx_clear(&tx);
	sodium_memzero(&keys, sizeof keys);
	close(fd);
	engine_mesh_stop(m1);
}
