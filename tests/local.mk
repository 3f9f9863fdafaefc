# Integration tests (real processes); the Criterion unit tests are added to TESTS by each module's local.mk.
TESTS += tests/integration/store_crash.sh tests/integration/store_snapshot.sh \
	tests/integration/store_badinput.sh tests/integration/engine_e2e.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/store_crash.sh \
	tests/integration/store_snapshot.sh tests/integration/store_badinput.sh \
	tests/integration/engine_e2e.sh

# The Criterion unit tests only (CI runs them again under sanitizers).
print-unit-tests:
	@for t in $(TESTS); do case $$t in test_*) printf '%s ' $$t;; esac; done; echo
.PHONY: print-unit-tests

# The installed programs (tests/integration/tools_help.sh checks each one's --help, --version and man page).
print-installed-programs:
	@echo $(bin_PROGRAMS) $(sbin_PROGRAMS)
.PHONY: print-installed-programs
TESTS += tests/integration/mpcput.sh
EXTRA_DIST += tests/integration/mpcput.sh

# Unit test of the streaming append (client issue): the library's append code against a mock of
# the parties' REST API defined in the test itself (it replaces client/http.c there).
check_PROGRAMS += test_client_stream
TESTS += test_client_stream
test_client_stream_SOURCES = tests/unit/test_client_stream.c client/append.c client/append_stream.c
test_client_stream_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) \
	$(SODIUM_CFLAGS)
test_client_stream_LDADD = libmpccommon.la $(CRITERION_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) \
	-lpthread
# Scheduler end to end (issue 4).
TESTS += tests/integration/jobs_e2e.sh
EXTRA_DIST += tests/integration/jobs_e2e.sh
# reveal NAME to CLIENT: sealed results, recipient checks, no plaintext on the parties
TESTS += tests/integration/jobs_reveal.sh
EXTRA_DIST += tests/integration/jobs_reveal.sh
TESTS += tests/integration/jobs_policy.sh
EXTRA_DIST += tests/integration/jobs_policy.sh
# store TABLE.COLUMN = EXPR: kept shares into tables with the job's last commit
TESTS += tests/integration/jobs_store.sh
EXTRA_DIST += tests/integration/jobs_store.sh
# ... and a party that learns of a store's commit from a raft snapshot (rows from its staging)
TESTS += tests/integration/jobs_store_snapshot.sh
EXTRA_DIST += tests/integration/jobs_store_snapshot.sh
TESTS += tests/integration/tools_help.sh
EXTRA_DIST += tests/integration/tools_help.sh
# mpcfs on a real mount (issue 5); SKIP (77) without /dev/fuse or root.
TESTS += tests/integration/mpcfs.sh
TESTS += tests/integration/mpcfs_jobs.sh
EXTRA_DIST += tests/integration/mpcfs_jobs.sh
EXTRA_DIST += tests/integration/mpcfs.sh
# Signed requests and access control on a real cluster (issues 4 and 7).
TESTS += tests/integration/access.sh
EXTRA_DIST += tests/integration/access.sh

# Raft transport (store/transport.c): encrypted, authenticated channels; impostor peers refused.
TESTS += tests/integration/raft_secure.sh
EXTRA_DIST += tests/integration/raft_secure.sh
noinst_PROGRAMS += mpc-raft-impostor
mpc_raft_impostor_SOURCES = tests/raft_impostor.c
mpc_raft_impostor_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
mpc_raft_impostor_LDADD = libmpccommon.la $(SODIUM_LIBS) $(CRYPTO_LIBS) -lpthread

# Unit test of the job report and results CSV shared by mpcstat/mpcresult and mpcfs (issue 5).
check_PROGRAMS += test_client_jobs
TESTS += test_client_jobs
test_client_jobs_SOURCES = tests/unit/test_client_jobs.c client/jobs.c
test_client_jobs_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
test_client_jobs_LDADD = libmpccommon.la $(CRITERION_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lm
# Shared set-up of the unit tests (headers only; the tests of scheduler/ and engine/ include them).
EXTRA_DIST += tests/unit/sched_fixture.h tests/unit/engine_sim.h tests/unit/test_rng.h
