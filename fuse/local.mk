# fuse/: mpcfs, the client mount (DESIGN.md §8) on libfuse3's high-level API and libmpcclient.
bin_PROGRAMS += mpcfs
mpcfs_SOURCES = fuse/mpcfs.c
mpcfs_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
mpcfs_LDADD = libmpcclient.la libmpccommon.la $(FUSE_LIBS) $(CURL_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) -lm -lpthread
