noinst_LTLIBRARIES += libmpcapi.la
libmpcapi_la_SOURCES = api/server.c api/server.h api/peer.c api/peer.h api/internal.h \
	api/engine.c api/jobs.c api/request.c api/request.h
libmpcapi_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS) $(RAFT_CFLAGS) $(UV_CFLAGS) $(ROCKSDB_CFLAGS)
libmpcapi_la_LIBADD = libmpcsched.la libmpcengine.la libmpcstore.la $(MHD_LIBS) $(CURL_LIBS)
