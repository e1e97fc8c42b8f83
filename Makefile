# Makefile for the ivm extension (PGXS)

EXTENSION = ivm
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = ivm
OBJS = \
	src/agg.o \
	src/capture.o \
	src/catalog.o \
	src/checkpoint.o \
	src/ckptfile.o \
	src/diff.o \
	src/evidence.o \
	src/fill.o \
	src/exec.o \
	src/fixpoint.o \
	src/full.o \
	src/incr.o \
	src/ivm.o \
	src/join.o \
	src/joinorder.o \
	src/margin.o \
	src/normalize.o \
	src/outer.o \
	src/progress.o \
	src/push.o \
	src/qtree.o \
	src/recursive.o \
	src/restore.o \
	src/rights.o \
	src/route.o \
	src/rows.o \
	src/s3.o \
	src/scalar.o \
	src/semi.o \
	src/shape.o \
	src/shard.o \
	src/shmem.o \
	src/tick.o \
	src/topk.o \
	src/utility.o \
	src/vector.o \
	src/view.o \
	src/window.o \
	src/watch.o \
	src/worker.o

# the install and upgrade scripts, found in the source directory (srcdir is
# "./", or the source tree in a build from another directory, as Debian's
# pg_buildext makes one per PostgreSQL version)
DATA = $(notdir $(wildcard $(srcdir)/ivm--*.sql))

REGRESS = ddl capture tick dag watch errors quarantine shapes every_tick dropext
REGRESS_OPTS = --load-extension=ivm
ISOLATION = watch_notify tick_concurrency step_lock_timeout ddl_locks progress fill_reader tick_fast_path log_halves
ISOLATION_OPTS = --load-extension=ivm

# libcurl: HTTP and AWS SigV4 signing for checkpoints in object storage (s3.c)
PG_CPPFLAGS += $(shell pkg-config --cflags libxxhash libzstd libcurl)
SHLIB_LINK += $(shell pkg-config --libs libxxhash libzstd libcurl)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# A build outside the source tree (make -f /path/to/Makefile VPATH=/path/to)
# writes the objects to src/ of the build directory: make it there.
ifeq ($(wildcard src/.),)
$(shell mkdir -p src)
endif

# distance loops: let the compiler vectorise the sums (their order may change)
src/vector.o: CFLAGS += -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math

# every object is rebuilt when a shared header changes
$(OBJS): src/compat.h src/ivm.h src/exec.h src/catalog.h src/rows.h src/operators.h src/strategies.h src/work.h src/checkpoint.h src/s3.h

# the files of a view's shape share a private header
src/shape.o src/join.o src/joinorder.o src/agg.o: src/shape_int.h
