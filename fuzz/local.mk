# fuzz/: libFuzzer harnesses (docs/fuzzing.md). With --enable-fuzz (CC=clang) they link libFuzzer's
# main and `make fuzz` runs each for FUZZ_SECONDS; otherwise they link fuzz/replay.c, and make check
# replays the seed corpora and the regression inputs of found crashes (fuzz/replay.sh).
FUZZ_PROGS = fuzz_csv fuzz_lang fuzz_api fuzz_frame fuzz_fsm fuzz_conf
if FUZZ
FUZZ_DRIVER =
else
FUZZ_DRIVER = fuzz/replay.c
endif
check_PROGRAMS += $(FUZZ_PROGS)
TESTS += fuzz/replay.sh
EXTRA_DIST += fuzz/replay.c fuzz/replay.sh fuzz/run.sh fuzz/corpus fuzz/regress docs/fuzzing.md
FUZZ_LINK = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
FUZZ_ALL_LIBS = libmpcapi.la libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la \
	$(MHD_LIBS) $(CURL_LIBS) $(RAFT_LIBS) $(UV_LIBS) $(ROCKSDB_LIBS) $(JANSSON_LIBS) \
	$(SODIUM_LIBS) $(CRYPTO_LIBS) -lm -lpthread

fuzz_csv_SOURCES = fuzz/fuzz_csv.c $(FUZZ_DRIVER)
fuzz_csv_LDFLAGS = $(FUZZ_LINK)
fuzz_csv_LDADD = libmpccsv.la libmpccommon.la $(SODIUM_LIBS)

fuzz_lang_SOURCES = fuzz/fuzz_lang.c $(FUZZ_DRIVER)
fuzz_lang_LDFLAGS = $(FUZZ_LINK)
fuzz_lang_LDADD = libmpcsched.la libmpccommon.la $(SODIUM_LIBS)

fuzz_api_SOURCES = fuzz/fuzz_api.c $(FUZZ_DRIVER)
fuzz_api_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS) $(ROCKSDB_CFLAGS) \
	$(RAFT_CFLAGS) $(UV_CFLAGS)
fuzz_api_LDFLAGS = $(FUZZ_LINK)
fuzz_api_LDADD = $(FUZZ_ALL_LIBS)

fuzz_frame_SOURCES = fuzz/fuzz_frame.c $(FUZZ_DRIVER)
fuzz_frame_LDFLAGS = $(FUZZ_LINK)
fuzz_frame_LDADD = libmpcengine.la libmpccommon.la $(SODIUM_LIBS) $(CRYPTO_LIBS) -lm -lpthread

fuzz_fsm_SOURCES = fuzz/fuzz_fsm.c $(FUZZ_DRIVER)
fuzz_fsm_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS) $(ROCKSDB_CFLAGS)
fuzz_fsm_LDFLAGS = $(FUZZ_LINK)
fuzz_fsm_LDADD = $(FUZZ_ALL_LIBS)

fuzz_conf_SOURCES = fuzz/fuzz_conf.c $(FUZZ_DRIVER)
fuzz_conf_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
fuzz_conf_LDFLAGS = $(FUZZ_LINK)
fuzz_conf_LDADD = libmpccommon.la $(SODIUM_LIBS)

# make fuzz: each harness for FUZZ_SECONDS (make or environment variable; default 60) from its
# seeds; needs --enable-fuzz.
fuzz: $(FUZZ_PROGS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_LDFLAGS="$(FUZZ_LDFLAGS)" $(SHELL) $(srcdir)/fuzz/run.sh \
		$(abs_top_builddir) $(abs_top_srcdir) $(FUZZ_PROGS)
.PHONY: fuzz
