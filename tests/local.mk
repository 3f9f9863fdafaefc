# Unit tests (Criterion) are listed by each module's local.mk into UNIT_TESTS.
