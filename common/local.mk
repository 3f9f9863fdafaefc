noinst_LTLIBRARIES += libmpccommon.la
libmpccommon_la_SOURCES = common/err.c common/err.h common/log.c common/log.h \
	common/ini.c common/ini.h common/conf.c common/conf.h \
	common/fault.c common/fault.h common/dynbuf.c common/dynbuf.h \
	common/curl_handle.c common/curl_handle.h common/deadline.c common/deadline.h \
	common/reqsig.c common/reqsig.h common/chunkbox.c common/chunkbox.h common/sigmemo.c common/sigmemo.h \
	common/frame.c common/frame.h common/secchan.c common/secchan.h \
	common/pathseg.c common/pathseg.h common/pairkey.c common/pairkey.h
libmpccommon_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) $(CURL_CFLAGS)
libmpccommon_la_LIBADD = $(SODIUM_LIBS) $(CRYPTO_LIBS) $(CURL_LIBS) -lpthread

check_PROGRAMS += test_common_conf
TESTS += test_common_conf
test_common_conf_SOURCES = tests/unit/test_common_conf.c
test_common_conf_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_common_conf_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

# AEAD frames and the authenticated channel handshake (party mesh and raft transport).
check_PROGRAMS += test_common_frame
TESTS += test_common_frame
test_common_frame_SOURCES = tests/unit/test_common_frame.c
test_common_frame_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS)
test_common_frame_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS) $(CRYPTO_LIBS)

# Share chunks boxed to a party (one X25519 exchange per client and party).
check_PROGRAMS += test_common_chunkbox
TESTS += test_common_chunkbox
test_common_chunkbox_SOURCES = tests/unit/test_common_chunkbox.c
test_common_chunkbox_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS)
test_common_chunkbox_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

# Ed25519 with a memo of signatures already checked or made by this process.
check_PROGRAMS += test_common_sigmemo
TESTS += test_common_sigmemo
test_common_sigmemo_SOURCES = tests/unit/test_common_sigmemo.c
test_common_sigmemo_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS)
test_common_sigmemo_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

# Path segments shared by the REST router and the mount.
check_PROGRAMS += test_common_pathseg
TESTS += test_common_pathseg
test_common_pathseg_SOURCES = tests/unit/test_common_pathseg.c
test_common_pathseg_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_common_pathseg_LDADD = libmpccommon.la $(CRITERION_LIBS)

# Pairwise party MAC keys (forwarded proposals, vote tags).
check_PROGRAMS += test_common_pairkey
TESTS += test_common_pairkey
test_common_pairkey_SOURCES = tests/unit/test_common_pairkey.c
test_common_pairkey_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS)
test_common_pairkey_LDADD = libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)
