/* Crash points driven by $MPC_FAULT, for tests that need a SIGKILL at an exact protocol step. */
#include "common/fault.h"
#include "common/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static char fault_name[32];
static long fault_at, fault_hits;
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static void fault_init(void)
{
	const char *env = getenv("MPC_FAULT");
	const char *colon = env ? strchr(env, ':') : NULL;
	if (colon == NULL || (size_t)(colon - env) >= sizeof fault_name)
		return;
	memcpy(fault_name, env, (size_t)(colon - env));
	fault_at = atol(colon + 1);
}

void mpc_fault_point(const char *point)
{
	int fire;
	pthread_once(&fault_once, fault_init);
	if (fault_at <= 0 || strcmp(point, fault_name) != 0)
		return;
	pthread_mutex_lock(&fault_lock);
	fire = ++fault_hits == fault_at;
	pthread_mutex_unlock(&fault_lock);
	if (fire) {
		LOG_WARN("MPC_FAULT: killing this process at %s #%ld", point, fault_at);
		kill(getpid(), SIGKILL);
		pause();
	}
}
