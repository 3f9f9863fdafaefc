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

# The scheduler (issue 4): replicated job state (FSM extension), the plan that turns a compiled job
# into tasks (one engine session each), and the service (leader duties + per-party runner) in mpcd.
libmpcsched_la_SOURCES += scheduler/sched_fsm.h scheduler/sched_fsm.c \
	scheduler/sched_plan.h scheduler/sched_plan.c \
	scheduler/sched_service.h scheduler/sched_service.c
libmpcsched_la_CFLAGS += $(JANSSON_CFLAGS) $(SODIUM_CFLAGS) $(ROCKSDB_CFLAGS) $(RAFT_CFLAGS) \
	$(UV_CFLAGS) $(CURL_CFLAGS)
EXTRA_DIST += docs/scheduler.md

check_PROGRAMS += test_sched_fsm
TESTS += test_sched_fsm
test_sched_fsm_SOURCES = tests/unit/test_sched_fsm.c
test_sched_fsm_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
test_sched_fsm_LDADD = libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la \
	$(CRITERION_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)

# Queues, priorities, task and fuel limits (issue 4): the leader's choice of tasks, a pure function.
libmpcsched_la_SOURCES += scheduler/sched_policy.h scheduler/sched_policy.c
# The FSM's in-memory index of active job records (what the leader and runner threads read).
libmpcsched_la_SOURCES += scheduler/sched_index.h scheduler/sched_index.c
# Compiled and planned programs, cached by program and the revisions of the tables they read.
libmpcsched_la_SOURCES += scheduler/sched_plancache.h scheduler/sched_plancache.c
check_PROGRAMS += test_sched_index
TESTS += test_sched_index
test_sched_index_SOURCES = tests/unit/test_sched_index.c
test_sched_index_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
test_sched_index_LDADD = libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la \
	$(CRITERION_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)
check_PROGRAMS += test_sched_policy
TESTS += test_sched_policy
test_sched_policy_SOURCES = tests/unit/test_sched_policy.c
test_sched_policy_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_sched_policy_LDADD = libmpcsched.la libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS)

# store TABLE.COLUMN = EXPR: rights/shape checks at submit, kept shares into a table segment at the
# job's last task_commit (docs/scheduler.md, *store*).
libmpcsched_la_SOURCES += scheduler/sched_store.h scheduler/sched_store.c
EXTRA_DIST += examples/store.mpc
check_PROGRAMS += test_sched_store
TESTS += test_sched_store
test_sched_store_SOURCES = tests/unit/test_sched_store.c
test_sched_store_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
test_sched_store_LDADD = libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la \
	$(CRITERION_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)
check_PROGRAMS += test_sched_plancache
TESTS += test_sched_plancache
test_sched_plancache_SOURCES = tests/unit/test_sched_plancache.c
test_sched_plancache_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
test_sched_plancache_LDADD = libmpcsched.la libmpcengine.la libmpcstore.la libmpccommon.la \
	$(CRITERION_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)

# The job record on the apply path: copy-on-write copy and sorted compact JSON (docs/scheduler.md).
libmpcsched_la_SOURCES += scheduler/sched_record.h scheduler/sched_record.c
check_PROGRAMS += test_sched_record
TESTS += test_sched_record
test_sched_record_SOURCES = tests/unit/test_sched_record.c
test_sched_record_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS)
test_sched_record_LDADD = libmpcsched.la libmpcstore.la libmpccommon.la $(CRITERION_LIBS) $(JANSSON_LIBS)
