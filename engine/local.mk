# engine/: Beaver-triple MPC engine: compute core (ring, fixed point, Beaver, prss fuel),
# party mesh, fuel ledger, programs, resumable sessions and the service run by mpcd.
noinst_LTLIBRARIES += libmpcengine.la
libmpcengine_la_SOURCES = \
	engine/ring.c engine/ring.h \
	engine/fixed.c engine/fixed.h \
	engine/beaver.c engine/beaver.h \
	engine/fuel.h \
	engine/fuel_prss.c engine/fuel_prss.h \
	engine/mesh.c engine/mesh.h \
	engine/ledger.c engine/ledger.h \
	engine/exec.c engine/exec.h \
	engine/session.c engine/session.h \
	engine/service.c engine/service.h
# gcc -O2 uses the "very-cheap" vector cost model, which leaves the uint64_t
# share loops scalar on baseline x86-64; "cheap" allows the runtime alias
# check that in-place use needs (see engine/ring.c). VECT_CFLAGS is empty under clang.
libmpcengine_la_CFLAGS = $(AM_CFLAGS) $(VECT_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) \
	$(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
libmpcengine_la_LIBADD = -lm

ENGINE_TESTS = test_engine_ring test_engine_fixed test_engine_beaver \
	test_engine_prss test_engine_mesh test_engine_exec
check_PROGRAMS += $(ENGINE_TESTS)
TESTS += $(ENGINE_TESTS)

ENGINE_TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS)
ENGINE_TEST_LDADD = libmpcengine.la libmpccommon.la $(CRITERION_LIBS) $(SODIUM_LIBS) $(CRYPTO_LIBS) -lpthread

test_engine_ring_SOURCES = tests/unit/test_engine_ring.c
test_engine_ring_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_ring_LDADD = $(ENGINE_TEST_LDADD)
test_engine_fixed_SOURCES = tests/unit/test_engine_fixed.c tests/unit/engine_sim.h
test_engine_fixed_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_fixed_LDADD = $(ENGINE_TEST_LDADD)
test_engine_beaver_SOURCES = tests/unit/test_engine_beaver.c tests/unit/engine_sim.h
test_engine_beaver_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_beaver_LDADD = $(ENGINE_TEST_LDADD)
test_engine_prss_SOURCES = tests/unit/test_engine_prss.c
test_engine_prss_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_prss_LDADD = $(ENGINE_TEST_LDADD)
test_engine_mesh_SOURCES = tests/unit/test_engine_mesh.c
test_engine_mesh_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_mesh_LDADD = $(ENGINE_TEST_LDADD)
test_engine_exec_SOURCES = tests/unit/test_engine_exec.c
test_engine_exec_CFLAGS = $(ENGINE_TEST_CFLAGS) $(JANSSON_CFLAGS)
test_engine_exec_LDADD = libmpcengine.la libmpcstore.la libmpccommon.la $(CRITERION_LIBS) \
	$(SODIUM_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) -lpthread

# Benchmarks: built by make, run by make bench (JSON lines).
noinst_PROGRAMS += bench_engine
BENCH_BINS += bench_engine
bench_engine_SOURCES = bench/bench_engine.c
bench_engine_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS)
bench_engine_LDADD = libmpcengine.la libmpccommon.la $(SODIUM_LIBS) $(CRYPTO_LIBS) -lpthread

# The fuel ledger's claims (one seek per claim, not a scan of every range).
check_PROGRAMS += test_engine_ledger
TESTS += test_engine_ledger
test_engine_ledger_SOURCES = tests/unit/test_engine_ledger.c
test_engine_ledger_CFLAGS = $(ENGINE_TEST_CFLAGS)
test_engine_ledger_LDADD = libmpcengine.la libmpcstore.la libmpccommon.la $(CRITERION_LIBS) \
	$(SODIUM_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) -lpthread

# Three parties' engine services in one process: a session's release.
check_PROGRAMS += test_engine_service
TESTS += test_engine_service
test_engine_service_SOURCES = tests/unit/test_engine_service.c
test_engine_service_CFLAGS = $(ENGINE_TEST_CFLAGS) $(JANSSON_CFLAGS) $(ROCKSDB_CFLAGS)
test_engine_service_LDADD = libmpcengine.la libmpcstore.la libmpccommon.la $(CRITERION_LIBS) \
	$(SODIUM_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) -lpthread
