# Unit tests (Criterion) are listed by each module's local.mk into UNIT_TESTS.
TESTS += tests/integration/store_crash.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/store_crash.sh

# The Criterion unit tests only (CI runs them again under sanitizers).
print-unit-tests:
	@for t in $(TESTS); do case $$t in test_*) printf '%s ' $$t;; esac; done; echo
.PHONY: print-unit-tests
