# client/csv: the client library's streaming CSV parser (a convenience library to link into libmpcclient), its unit test and benchmark.
# Users link libmpccsv.la and libmpccommon.la; engine/fixed (and what it pulls in) comes with libmpccsv.la.
noinst_LTLIBRARIES += libmpccsv.la
libmpccsv_la_SOURCES = client/csv.c client/csv.h
libmpccsv_la_LIBADD = libmpcengine.la $(SODIUM_LIBS)

check_PROGRAMS += test_client_csv
TESTS += test_client_csv
test_client_csv_SOURCES = tests/unit/test_client_csv.c
test_client_csv_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_client_csv_LDADD = libmpccsv.la libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

# Benchmark: built by make, run by make bench (JSON lines).
noinst_PROGRAMS += bench_csv
BENCH_BINS += bench_csv
bench_csv_SOURCES = bench/bench_csv.c
bench_csv_LDADD = libmpccsv.la libmpccommon.la $(SODIUM_LIBS)
