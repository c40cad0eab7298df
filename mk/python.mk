# Python package: the C extension omendb._omendb, built against the static
# libomendb.a into $(PYB) (tests import it from there: PYTHONPATH=$(PYB)).
#   make python          build the extension in place into build/python/
#   make test-python     run python/tests with pytest (result line in build/test-summary.txt)
#   make install-python  copy the built package into $(PYTHON_SITE)
#   make bench-python    run python/bench/bench_python.py (OmenDB vs LMDB vs LevelDB)
PYB         ?= $(B)/python
PYTHON_SITE ?= $(shell $(PY) -c 'import sys; print("/usr/local/lib/python%d.%d/dist-packages" % sys.version_info[:2])')
PY_SRC      := $(wildcard python/src/*.c python/src/*.h) $(wildcard python/omendb/*.py) \
               $(wildcard python/omendb/*.pyi) python/setup.py include/omendb.h

.PHONY: python test-python install-python bench-python
all: python
install: install-python

python: $(PYB)/.built

# setup.py runs from python/ so setuptools sees relative sources; every
# intermediate goes under $(B), nothing into the source tree.
$(PYB)/.built: $(LIB_A) $(PY_SRC)
	@mkdir -p $(PYB)
	cd python && OMENDB_LIB=$(abspath $(LIB_A)) OMENDB_INCLUDE=$(abspath include) \
	  $(PY) setup.py -q build --build-base $(abspath $(B))/python-base \
	    --build-lib $(abspath $(PYB)) --build-temp $(abspath $(B))/python-tmp --force
	@cp python/omendb/py.typed python/omendb/*.pyi $(PYB)/omendb/
	@rm -rf python/omendb.egg-info
	@touch $@

test-python: python
	@mkdir -p build
	@log=$$(mktemp /tmp/omenpy.XXXXXX); \
	PYTHONPATH=$(abspath $(PYB)) PYTHONDONTWRITEBYTECODE=1 $(PY) -m pytest -q -p no:cacheprovider \
	  python/tests >$$log 2>&1; rc=$$?; cat $$log; \
	p=$$(grep -oE '[0-9]+ passed' $$log | tail -1 | awk '{print $$1}'); \
	f=$$(grep -oE '[0-9]+ (failed|error|errors)' $$log | awk '{s+=$$1} END {print s+0}'); \
	[ -z "$$p" ] && p=0; [ "$$rc" -ne 0 ] && [ "$$f" -eq 0 ] && f=1; \
	echo "python pytest $$p $$f" >> build/test-summary.txt; rm -f $$log; exit $$rc

install-python: python
	install -d $(DESTDIR)$(PYTHON_SITE)/omendb
	install -m 644 $(PYB)/omendb/*.py $(PYB)/omendb/*.pyi $(PYB)/omendb/py.typed $(DESTDIR)$(PYTHON_SITE)/omendb/
	install -m 755 $(PYB)/omendb/_omendb*.so $(DESTDIR)$(PYTHON_SITE)/omendb/

bench-python: python
	PYTHONPATH=$(abspath $(PYB)) $(PY) python/bench/bench_python.py
