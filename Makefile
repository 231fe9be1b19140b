# pg_topics: PGXS build.
#
#   make && make install      build and install into the pg_config found on PATH
#   make test                 every test layer (test/run; drops root privileges itself)
#   make demo                 throwaway cluster with a demo topic (demo/run)
#   make bench                benchmarks (bench/run)

EXTENSION = pg_topics
MODULE_big = pg_topics
DATA = pg_topics--0.1.sql
DOCS =

OBJS = \
	src/pg_topics.o \
	src/batch.o \
	src/partitioner.o \
	src/offsets.o \
	src/storage.o \
	src/produce.o \
	src/buffer.o \
	src/fetch.o \
	src/fetch_scan.o \
	src/catalog.o \
	src/groups.o \
	src/worker.o

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Werror

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies here: rebuild every object when any
# header of ours changes.
$(OBJS): $(wildcard $(srcdir)/src/*.h)

.PHONY: test demo bench fuzz
test:
	test/run

demo:
	demo/run

bench:
	bench/run

fuzz:
	$(MAKE) -C test/fuzz fuzz
