noinst_LTLIBRARIES += libmpccommon.la
libmpccommon_la_SOURCES = common/err.c common/err.h common/log.c common/log.h \
	common/ini.c common/ini.h common/conf.c common/conf.h
libmpccommon_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
libmpccommon_la_LIBADD = $(SODIUM_LIBS)
