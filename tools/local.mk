sbin_PROGRAMS += mpcd
mpcd_SOURCES = tools/mpcd.c
mpcd_CFLAGS = $(AM_CFLAGS) $(UV_CFLAGS) $(RAFT_CFLAGS) $(ROCKSDB_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS) $(CURL_CFLAGS)
# Layers top to bottom (STYLE.md): api -> scheduler -> engine -> store -> common.
mpcd_LDADD = libmpcapi.la libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la $(MHD_LIBS) \
	$(CURL_LIBS) $(RAFT_LIBS) $(UV_LIBS) $(ROCKSDB_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) \
	$(CRYPTO_LIBS) -lm -lpthread

bin_PROGRAMS += mpcstore-tool
mpcstore_tool_SOURCES = tools/mpcstore_tool.c tools/fuel_cmd.c tools/fuel_cmd.h
mpcstore_tool_CFLAGS = $(AM_CFLAGS) $(ROCKSDB_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS) \
	$(CURL_CFLAGS)
mpcstore_tool_LDADD = libmpcclient.la libmpcstore.la libmpccommon.la $(CURL_LIBS) \
	$(ROCKSDB_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lpthread

# Test client of the store issue (used by integration tests and benchmarks; not installed).
noinst_PROGRAMS += mpc-testclient
mpc_testclient_SOURCES = tests/mpc_testclient.c
mpc_testclient_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
mpc_testclient_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lpthread

# Engine driver (issue 3): runs a vector computation on a local 3-party cluster; tests and benchmarks.
noinst_PROGRAMS += mpc-engine
mpc_engine_SOURCES = tools/mpc_engine.c
mpc_engine_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
mpc_engine_LDADD = libmpcclient.la libmpcengine.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) $(CRYPTO_LIBS) -lm -lpthread

# mpcput: a CSV file appended as one transaction (streamed, bounded memory).
bin_PROGRAMS += mpcput
mpcput_SOURCES = tools/mpcput.c
mpcput_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
mpcput_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lm -lpthread

# The job tools: mpcsub, mpcstat, mpcresult, mpccancel.
MPC_JOB_TOOL_LDADD = libmpcclient.la libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) \
	-lm -lpthread
MPC_JOB_TOOL_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
bin_PROGRAMS += mpcsub mpcstat mpcresult mpccancel
mpcsub_SOURCES = tools/mpcsub.c
mpcsub_CFLAGS = $(MPC_JOB_TOOL_CFLAGS)
mpcsub_LDADD = $(MPC_JOB_TOOL_LDADD)
mpcstat_SOURCES = tools/mpcstat.c
mpcstat_CFLAGS = $(MPC_JOB_TOOL_CFLAGS)
mpcstat_LDADD = $(MPC_JOB_TOOL_LDADD)
mpcresult_SOURCES = tools/mpcresult.c
mpcresult_CFLAGS = $(MPC_JOB_TOOL_CFLAGS)
mpcresult_LDADD = $(MPC_JOB_TOOL_LDADD)
mpccancel_SOURCES = tools/mpccancel.c
mpccancel_CFLAGS = $(MPC_JOB_TOOL_CFLAGS)
mpccancel_LDADD = $(MPC_JOB_TOOL_LDADD)

# Helper of the access tests (issue 7): signed headers for curl, one signed call, raw proposals.
noinst_PROGRAMS += mpc-signreq
mpc_signreq_SOURCES = tests/mpc_signreq.c
mpc_signreq_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
mpc_signreq_LDADD = libmpcapi.la libmpcclient.la libmpcsched.la libmpcengine.la libmpcstore.la \
	libmpccommon.la $(MHD_LIBS) $(CURL_LIBS) $(RAFT_LIBS) $(UV_LIBS) $(ROCKSDB_LIBS) \
	$(JANSSON_LIBS) $(SODIUM_LIBS) $(CRYPTO_LIBS) -lm -lpthread
