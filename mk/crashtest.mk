# make crashtest: the long crash runs (not part of `make test`).
#
#   - test_crash with CRASH_ITERS SIGKILLs per variant (sync and relaxed);
#   - test_fault with POWER_ITERS simulated power losses per mode and the
#     error loops trying every failure point N (no stride);
#   - test_conc_bank with BANK_KILLS SIGKILLs of the forked bank.
#
# Each program runs in a fresh scratch directory like `make test`.  Override
# the counts or the seed on the command line, e.g.
#   make crashtest CRASH_ITERS=2000 CRASH_SEED=7
CRASH_ITERS ?= 500
POWER_ITERS ?= 300
BANK_KILLS  ?= 100
CRASH_SEED  ?= $(shell date +%s)

crashtest: $(B)/tests/test_crash $(B)/tests/test_fault $(B)/tests/test_conc_bank
	@set -e; for t in test_crash test_fault test_conc_bank; do \
	  scratch=$$(mktemp -d /tmp/omencrash.XXXXXX); \
	  echo "== $$t (seed $(CRASH_SEED))"; \
	  if (cd $$scratch && OMEN_TEST_DIR=$$scratch OMEN_CRASH_ITERS=$(CRASH_ITERS) \
	      OMEN_CRASH_SEED=$(CRASH_SEED) OMEN_POWER_ITERS=$(POWER_ITERS) \
	      OMEN_BANK_KILLS=$(BANK_KILLS) OMEN_FAULT_EXHAUSTIVE=1 $(CURDIR)/$(B)/tests/$$t); then rm -rf $$scratch; \
	  else echo "!! $$t failed; its directory is kept: $$scratch"; exit 1; fi; \
	done
