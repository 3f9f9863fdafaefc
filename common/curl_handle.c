/* Per-thread libcurl easy handles: libcurl keeps each handle's connections open across calls. */
#include "common/curl_handle.h"

#include <pthread.h>

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void handle_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_key_create(&handle_key, handle_free);
}

CURL *mpc_curl_thread_handle(void)
{
	CURL *h;
	pthread_once(&handle_once, handle_init);
	h = pthread_getspecific(handle_key);
	if (h == NULL) {
		h = curl_easy_init();
		if (h != NULL)
			pthread_setspecific(handle_key, h);
	} else {
		curl_easy_reset(h);
	}
	return h;
}
