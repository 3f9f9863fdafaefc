# fuse/: mpcfs, the client mount (DESIGN.md §8) on libfuse3's high-level API and libmpcclient;
# --party (fuse/party.c) mounts a party's store read-only through store/'s catalog reads.
bin_PROGRAMS += mpcfs
mpcfs_SOURCES = fuse/mpcfs.c fuse/mpcfs.h fuse/party.c fuse/mountwatch.c fuse/mountwatch.h
mpcfs_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS) \
	$(ROCKSDB_CFLAGS)
mpcfs_LDADD = libmpcclient.la libmpcstore.la libmpccommon.la $(FUSE_LIBS) $(CURL_LIBS) \
	$(ROCKSDB_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lm -lpthread
