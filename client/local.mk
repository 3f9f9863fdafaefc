noinst_LTLIBRARIES += libmpcclient.la
libmpcclient_la_SOURCES = client/mpcclient.h client/internal.h client/http.c client/append.c \
	client/append_stream.c
libmpcclient_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
libmpcclient_la_LIBADD = libmpccommon.la $(CURL_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lpthread
# Job API of the client library (issue 4): submit, list, show, cancel, results.
libmpcclient_la_SOURCES += client/mpcjobs.h client/jobs.c
# CSV uploads (mpcput, mpcfs): the CSV parser (libmpccsv) is part of the client library.
libmpcclient_la_SOURCES += client/put.c
libmpcclient_la_LIBADD += libmpccsv.la
