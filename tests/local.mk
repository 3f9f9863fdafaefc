# Unit tests (Criterion) are listed by each module's local.mk into UNIT_TESTS.
TESTS += tests/integration/store_crash.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/store_crash.sh
