/* Absolute CLOCK_REALTIME deadlines for pthread_cond_timedwait(). */
#ifndef MPC_COMMON_DEADLINE_H
#define MPC_COMMON_DEADLINE_H

#include <time.h>

/* Sets *ts to now + ms milliseconds (CLOCK_REALTIME, as pthread condition
 * variables use by default). */
void mpc_deadline_after(struct timespec *ts, long ms);

#endif
