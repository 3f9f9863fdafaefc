noinst_LTLIBRARIES += libmpcapi.la
libmpcapi_la_SOURCES = api/server.c api/server.h api/peer.c api/peer.h api/internal.h \
	api/engine.c api/jobs.c api/auth.c api/auth.h api/request.c api/request.h
libmpcapi_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS) $(RAFT_CFLAGS) $(UV_CFLAGS) $(ROCKSDB_CFLAGS)
libmpcapi_la_LIBADD = libmpcsched.la libmpcengine.la libmpcstore.la $(MHD_LIBS) $(CURL_LIBS)

# Signed requests (issue 7): canonical string, sign/verify, nonce cache, request check.
check_PROGRAMS += test_api_auth
TESTS += test_api_auth
test_api_auth_SOURCES = tests/unit/test_api_auth.c api/auth.c api/auth.h
test_api_auth_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS)
test_api_auth_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS) -lpthread
