# Scale-out: omendb-servers behind twemproxy (Debian nutcracker), run by
# scripts/cluster.
#   make cluster        3 shards behind a proxy on 127.0.0.1:22121, data in ./omendb-cluster
#   make cluster-stop   stop them (by the PIDs scripts/cluster recorded)
#   make test-cluster   pytest tests/cluster (part of make test)
#   make bench-cluster  bench/cluster_bench: one server, and the proxy over 1 and 2 shards
CLUSTER_DIR ?= omendb-cluster
SERVER_BIN  := $(B)/omendb-server

.PHONY: cluster cluster-stop test-cluster bench-cluster
test-extra: test-cluster

cluster: deps $(SERVER_BIN)
	@scripts/cluster start --shards 3 --port 22121 --dir $(CLUSTER_DIR) --server $(SERVER_BIN)

cluster-stop:
	@scripts/cluster stop --dir $(CLUSTER_DIR)

test-cluster: $(SERVER_BIN)
	@mkdir -p build $(B)/cluster-test
	@echo "== pytest tests/cluster"
	@rm -f $(B)/cluster-test/junit.xml; rc=0; \
	  OMENDB_SERVER=$(abspath $(SERVER_BIN)) PYTHONDONTWRITEBYTECODE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --junitxml=$(B)/cluster-test/junit.xml tests/cluster || rc=$$?; \
	  $(PY) tests/shell/junit_summary.py $(B)/cluster-test/junit.xml "cluster test_cluster" >> build/test-summary.txt; \
	  tail -1 build/test-summary.txt | sed 's/^/   /'; \
	  exit $$rc

bench-cluster: $(SERVER_BIN)
	@OMENDB_SERVER=$(abspath $(SERVER_BIN)) bench/cluster_bench --csv
