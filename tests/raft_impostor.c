/* Test program: a peer on a party's raft port that must be refused (unknown key or wrong id). */
#include "common/conf.h"
#include "common/err.h"
#include "common/secchan.h"

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: mpc-raft-impostor CLUSTER.CONF HOST:PORT CLAIM_ID [PARTY_MPCD.CONF]\n"
		"  Runs the raft channel handshake claiming party CLAIM_ID, with a fresh key\n"
		"  or with the X25519 key of the party whose mpcd.conf is given, then sends\n"
		"  bytes a raft message could start with. Prints one JSON line; exits 0 when\n"
		"  the party refused and hung up, 1 when it accepted, 2 on usage errors.\n");
}

static int dial(const char *hostport)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[MPC_HOST_MAX + 8], *colon;
	int fd = -1;

	snprintf(host, sizeof host, "%s", hostport);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int main(int argc, char **argv)
{
	struct mpc_cluster *c = NULL;
	struct mpc_party_conf *pc = NULL;
	struct mpc_secchan_keys keys;
	char err[MPC_ERRMSG_SIZE] = "";
	uint8_t pk[32], sk[32], junk[512];
	struct timeval tv = {5, 0};
	struct pollfd pfd;
	int claim, fd, peer = -1, rv, hung_up;

	if (argc < 4 || argc > 5) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || mpc_cluster_load(argv[1], &c, err) != 0) {
		fprintf(stderr, "mpc-raft-impostor: %s\n", err);
		return 2;
	}
	claim = atoi(argv[3]);
	if (argc == 5) {
		if (mpc_party_conf_load(argv[4], &pc, err) != 0) {
			fprintf(stderr, "mpc-raft-impostor: %s\n", err);
			return 2;
		}
		memcpy(sk, pc->box_sk, sizeof sk);
		crypto_scalarmult_base(pk, sk);
		mpc_party_conf_free(pc);
	} else {
		crypto_box_keypair(pk, sk);
	}
	fd = dial(argv[2]);
	if (fd < 0) {
		fprintf(stderr, "mpc-raft-impostor: cannot connect to %s\n", argv[2]);
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	rv =
	    mpc_secchan_handshake(fd, MPC_SECCHAN_RAFT, 1, c, claim, pk, sk, -1, &peer, &keys, err);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(&keys, sizeof keys);
	/* whatever the outcome: raft_uv_tcp's preamble (protocol 1, id) and more */
	memset(junk, 0, sizeof junk);
	junk[0] = 1;
	junk[8] = (uint8_t)(claim + 1);
	(void)!write(fd, junk, sizeof junk);
	pfd.fd = fd;
	pfd.events = POLLIN;
	hung_up = poll(&pfd, 1, 10000) > 0 && recv(fd, junk, sizeof junk, 0) <= 0;
	close(fd);
	printf("{\"handshake\":\"%s\",\"error\":\"%s\",\"hung_up\":%s}\n",
	       rv == 0 ? "accepted" : "refused", rv == 0 ? "" : err, hung_up ? "true" : "false");
	mpc_cluster_free(c);
	return rv != 0 && hung_up ? 0 : 1;
}
