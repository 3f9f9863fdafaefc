/* A growing byte buffer, NUL-terminated, with a write callback usable as libcurl's CURLOPT_WRITEFUNCTION. */
#ifndef MPC_COMMON_DYNBUF_H
#define MPC_COMMON_DYNBUF_H

#include <stddef.h>

struct mpc_dynbuf {
	char *data; /* malloc'd; caller frees with free() */
	size_t len;
};

/* Appends size*n bytes from p to the mpc_dynbuf ud; returns the bytes taken
 * (0 when out of memory, which makes libcurl stop the transfer). */
size_t mpc_dynbuf_write(char *p, size_t size, size_t n, void *ud);

#endif
