noinst_PROGRAMS += bench_store
bench_store_SOURCES = bench/bench_store.c
bench_store_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
bench_store_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lpthread
# scheduler (issue 4): trivial jobs per second and submit->COMPLETED latency (bench/bench_jobs.sh)
noinst_PROGRAMS += bench_jobs
bench_jobs_SOURCES = bench/bench_jobs.c
bench_jobs_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
bench_jobs_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lpthread
