# pgml — machine learning inside PostgreSQL, in C.
#
#   make            build libpgml (core/) and the extension (pg/)
#   make install    install the extension into PostgreSQL 15 (needs root)
#   make test       build and run every test suite; ends with "N passed, N failed"
#   make run        install dependencies, build, install, start a local cluster and run the SQL tour
#   make bench      run the benchmarks (writes bench/results/*.md)

SANITIZE ?= 0
export SANITIZE

all: core pg

core:
	$(MAKE) -C core

pg: core
	$(MAKE) -C pg
	$(MAKE) -C pg/test/modules/pgml_test

install: all
	$(MAKE) -C pg install

test:
	tools/run-tests

run:
	tools/run-tour

bench: all
	bench/run

clean:
	$(MAKE) -C core clean
	$(MAKE) -C pg clean
	$(MAKE) -C pg/test/modules/pgml_test clean
	rm -rf build

.PHONY: all core pg install test run bench clean
