# make report: every benchmark at one scale, CSV and PNG plots under
# $(B)/report/, and a generated report ($(B)/report/benchmarks.md).
#   make report                    SCALE=small (default): a few minutes
#   make report SCALE=full         the README's headline scale
#   make report PUBLISH=1          also docs/benchmarks.md, docs/img/*.png and
#                                  README.md's headline block
# The vector, server and cluster benchmarks join in when their sources exist.
SCALE ?= small
REPORT_PROGS := $(B)/bench/index_bench $(B)/bench/kv_bench \
                $(if $(wildcard bench/vec_bench*),$(B)/bench/vec_bench) \
                $(if $(wildcard bench/server_bench bench/cluster_bench),$(B)/omendb-server)

.PHONY: report
report: $(REPORT_PROGS)
	$(PY) scripts/report.py --scale $(SCALE) --build $(B) --out $(B)/report \
	    $(if $(filter 1 yes,$(PUBLISH)),--publish)
