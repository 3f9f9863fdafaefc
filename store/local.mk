noinst_LTLIBRARIES += libmpcstore.la
libmpcstore_la_SOURCES = store/db.c store/db.h store/staging.c store/staging.h store/shares.c store/shares.h store/upload.c store/upload.h \
	store/fsm.c store/fsm.h store/catalog.c store/catalog.h \
	store/node.c store/node.h store/signed_req.c store/signed_req.h store/entry_bin.c store/entry_bin.h \
	store/json_canon.c store/json_canon.h \
	store/transport.c store/transport.h store/sst_file.cc store/sst_file.h
libmpcstore_la_CFLAGS = $(AM_CFLAGS) $(ROCKSDB_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS) \
	$(RAFT_CFLAGS) $(UV_CFLAGS) $(CRYPTO_CFLAGS)
libmpcstore_la_CXXFLAGS = -Wall -Wextra $(ROCKSDB_CFLAGS)
# Linked as C: with the CXX tag libtool drops -lstdc++ from what the programs
# linking this library inherit (it counts it among g++'s own libraries).
libmpcstore_la_LINK = $(LIBTOOL) $(AM_V_lt) --tag=CC $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) \
	--mode=link $(CCLD) $(libmpcstore_la_CFLAGS) $(CFLAGS) $(libmpcstore_la_LDFLAGS) \
	$(LDFLAGS) -o $@
libmpcstore_la_LIBADD = libmpccommon.la $(ROCKSDB_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS) \
	$(RAFT_LIBS) $(UV_LIBS) -lstdc++ -lpthread

check_PROGRAMS += test_store_fsm
TESTS += test_store_fsm
test_store_fsm_SOURCES = tests/unit/test_store_fsm.c
test_store_fsm_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS)
test_store_fsm_LDADD = libmpcstore.la libmpccommon.la $(CRITERION_LIBS)
test_store_fsm_CFLAGS += $(ROCKSDB_CFLAGS) $(SODIUM_CFLAGS)
test_store_fsm_LDADD += $(ROCKSDB_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lpthread

check_PROGRAMS += test_store_upload
TESTS += test_store_upload
test_store_upload_SOURCES = tests/unit/test_store_upload.c
test_store_upload_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS) \
	$(SODIUM_CFLAGS)
test_store_upload_LDADD = libmpcstore.la libmpccommon.la $(CRITERION_LIBS) $(ROCKSDB_LIBS) \
	$(JANSSON_LIBS) $(SODIUM_LIBS) -lpthread

check_PROGRAMS += test_store_transport
TESTS += test_store_transport
test_store_transport_SOURCES = tests/unit/test_store_transport.c
test_store_transport_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS) $(RAFT_CFLAGS) $(UV_CFLAGS)
test_store_transport_LDADD = libmpcstore.la libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS) \
	$(CRYPTO_LIBS) $(RAFT_LIBS) $(UV_LIBS) -lpthread
