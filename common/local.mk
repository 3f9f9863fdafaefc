noinst_LTLIBRARIES += libmpccommon.la
libmpccommon_la_SOURCES = common/err.c common/err.h common/log.c common/log.h
libmpccommon_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
