# omendb-server (src/server/*.c): a Redis-protocol server over libomendb.
# It is a program, not library code (the Makefile keeps src/server out of
# LIB_SRC).  Its pytest suite runs in `make test` via test-extra; the
# side-by-side benchmark against redis-server runs in `make bench`.
#
#   make server        build build/omendb-server
#   make serve         run it on ./omendb-data (port 6379, loopback)
#   make test-server   pytest tests/server (summary line in build/test-summary.txt)
#   make bench-server  bench/server_bench (omendb-server vs redis-server)
SERVER_SRC := $(sort $(wildcard src/server/*.c))
SERVER_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(SERVER_SRC))
SERVER_BIN := $(B)/omendb-server
# make install puts it beside the shell (mk/dist.mk).
INSTALL_PROGS += $(SERVER_BIN)

.PHONY: server serve test-server bench-server
all: server
server: $(SERVER_BIN)

$(SERVER_BIN): $(SERVER_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(SERVER_OBJ) $(LIB_A) $(LIBS)

-include $(SERVER_OBJ:.o=.d)

serve: $(SERVER_BIN)
	$(SERVER_BIN) --dir ./omendb-data

test-extra: test-server

# Test-only: the server over the engine's fault-injecting file env
# (tests/server/test_faults.py); its main is tests/server/shim/fault_main.c.
SERVER_FAULT_BIN := $(B)/tests/omendb-server-fault
$(B)/tests/server_main_renamed.o: src/server/server.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Dmain=omen_server_main -c $< -o $@
# It links the testing library, which holds the fault env (tests/support).
$(SERVER_FAULT_BIN): tests/server/shim/fault_main.c $(B)/tests/server_main_renamed.o \
                     $(filter-out $(B)/obj/src/server/server.o,$(SERVER_OBJ)) $(TLIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

test-server: $(SERVER_BIN) $(SERVER_FAULT_BIN)
	@mkdir -p build $(B)/server-test
	@echo "== pytest tests/server"
	@rm -f $(B)/server-test/junit.xml; rc=0; \
	  OMENDB_SERVER=$(abspath $(SERVER_BIN)) OMENDB_SERVER_FAULT=$(abspath $(SERVER_FAULT_BIN)) \
	  PYTHONDONTWRITEBYTECODE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --junitxml=$(B)/server-test/junit.xml tests/server || rc=$$?; \
	  $(PY) tests/shell/junit_summary.py $(B)/server-test/junit.xml "server test_server" >> build/test-summary.txt; \
	  tail -1 build/test-summary.txt | sed 's/^/   /'; \
	  exit $$rc

# `make bench` builds the server and puts the script beside the other
# benchmark programs (build/bench/server_bench finds ../omendb-server).
bench: $(B)/bench/server_bench
$(B)/bench/server_bench: bench/server_bench $(SERVER_BIN)
	@mkdir -p $(dir $@)
	cp bench/server_bench $@

bench-server: $(SERVER_BIN)
	bench/server_bench --server $(abspath $(SERVER_BIN))

# The protocol parser's libFuzzer target (mk/fuzz.mk runs every
# fuzz/fuzz_*.c): it needs src/server/proto.c, which is not library code.
build/fuzz/fuzz_resp: fuzz/fuzz_resp.c src/server/proto.c src/server/proto.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) fuzz/fuzz_resp.c src/server/proto.c -o $@
