noinst_PROGRAMS += bench_store
bench_store_SOURCES = bench/bench_store.c
bench_store_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
bench_store_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lpthread
