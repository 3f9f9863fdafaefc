noinst_PROGRAMS += bench_store
bench_store_SOURCES = bench/bench_store.c
bench_store_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
bench_store_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lpthread
EXTRA_DIST += bench/run.sh bench/bench_mpcput.sh

# Raft transport (store/transport.c): small-message round trips, encrypted channels vs plain TCP.
noinst_PROGRAMS += bench_transport
bench_transport_SOURCES = bench/bench_transport.c
bench_transport_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(RAFT_CFLAGS) $(UV_CFLAGS)
bench_transport_LDADD = libmpcstore.la libmpccommon.la $(SODIUM_LIBS) $(CRYPTO_LIBS) $(RAFT_LIBS) \
	$(UV_LIBS) -lpthread
