# Examples under examples/: each is tested with pytest against the built
# Python package ($(PYB)) and hooked into `make test` through test-extra.
#   make test-examples   run examples/*/test_*.py; appends
#                        "examples pytest <passed> <failed>" to build/test-summary.txt
.PHONY: test-examples
test-extra: test-examples

test-examples: python
	@mkdir -p build $(B)/examples-test
	@echo "== pytest examples"
	@rm -f $(B)/examples-test/junit.xml; rc=0; \
	  PYTHONPATH=$(abspath $(PYB)) PYTHONDONTWRITEBYTECODE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --junitxml=$(B)/examples-test/junit.xml examples || rc=$$?; \
	  $(PY) tests/shell/junit_summary.py $(B)/examples-test/junit.xml "examples pytest" >> build/test-summary.txt; \
	  tail -1 build/test-summary.txt | sed 's/^/   /'; \
	  exit $$rc
