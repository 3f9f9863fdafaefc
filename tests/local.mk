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
