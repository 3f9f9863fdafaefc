# scheduler/: job language front end (lexer, parser, checker, IR); the task scheduler arrives next.
noinst_LTLIBRARIES += libmpcsched.la
libmpcsched_la_SOURCES = \
	scheduler/lang.h scheduler/lang_int.h \
	scheduler/lang_compile.c \
	scheduler/lang_lex.c \
	scheduler/lang_parse.c \
	scheduler/lang_check.c \
	scheduler/lang_ir.c \
	scheduler/lang_dump.c
libmpcsched_la_CFLAGS = $(AM_CFLAGS)

check_PROGRAMS += test_sched_lang
TESTS += test_sched_lang
test_sched_lang_SOURCES = tests/unit/test_sched_lang.c
test_sched_lang_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_sched_lang_LDADD = libmpcsched.la libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

EXTRA_DIST += docs/job-language.md examples/stats.mpc examples/salaries.mpc
