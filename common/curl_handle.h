/* One reusable libcurl easy handle per thread, so HTTP calls keep their connections alive. */
#ifndef MPC_COMMON_CURL_HANDLE_H
#define MPC_COMMON_CURL_HANDLE_H

#include <curl/curl.h>

/* Returns this thread's handle, reset to defaults (NULL when out of memory).
 * The handle stays owned by the thread and is cleaned up when it exits; the
 * caller must not clean it up. Initialises libcurl globally on first use. */
CURL *mpc_curl_thread_handle(void);

#endif
