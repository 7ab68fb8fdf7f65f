# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The one build: bpf objects -> skeletons -> podmeter, and podmeter-reconciler.
#   make            build $(OUTPUT)/podmeter and $(OUTPUT)/podmeter-reconciler
#   make run        install packages if missing, build, run the agent on this node
#   make test       install packages if missing, build, unit + root integration tests
#   make bench      overhead figures (not a test), then make eval
#   make eval       the anomaly detector's budgets, and its score on the anomaly kit when present
#   make fuzz       libFuzzer harnesses of every parser of outside input, each run
#                   FUZZ_SECONDS (default 60) after replaying tests/fuzz/regress/
#   make vmlinux    refresh bpf/vmlinux.h from this kernel's BTF
#   make format     clang-format the C sources in place (.clang-format)
#   make format-check  list the C sources `make format` would change; fails if any

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CLANG_FORMAT ?= clang-format
LLVM_STRIP ?= llvm-strip
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/;s/ppc64le/powerpc/;s/s390x/s390/')
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKGS := libbpf libmicrohttpd gnutls jansson yaml-0.1 yajl libcurl libprotobuf-c zlib
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -I$(OUTPUT) \
	-DPM_VERSION='"$(VERSION)"' -DPM_GIT_REV='"$(GIT_REV)"' \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz -lpthread -lm
PROTOC_C ?= protoc-c
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf -Iinclude

BPF_NAMES := cpu mem net proc probe gpu cuda
BPF_OBJS := $(patsubst %,$(OUTPUT)/%.bpf.o,$(BPF_NAMES))
SKELS := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_NAMES))

# Shared ground (common/): the snapshot, the name tables, and helpers both the agent and the
# exporter use; it depends on neither (`make layers` checks).
COMMON_SRCS := common/snapshot.c common/names.c common/quantity.c common/listen.c common/curlutil.c \
	common/u64map.c
# Modules without BPF: unit-testable on their own.
MODEL_SRCS := agent/judge/model/sketch.c agent/judge/model/tail.c agent/judge/model/profile.c agent/judge/model/anomaly.c \
	agent/judge/model/pod.c
LIB_SRCS := $(MODEL_SRCS) agent/config.c agent/judge/cost.c agent/judge/detect.c agent/cmd/replay.c agent/signal/cidr.c agent/pod/kubelet.c agent/pod/podpath.c agent/pod/ohpath.c agent/judge/overhead.c agent/pod/cgroupfs.c agent/esc.c agent/signal/elfsym.c agent/signal/podfile.c agent/url.c agent/collect/usage.c \
	exporter/prom.c exporter/json.c exporter/gz.c exporter/report.c \
	exporter/spool.c exporter/pbjson.c exporter/dist.c exporter/webcfg.c $(COMMON_SRCS)
# The collector, in parts (agent/collect/collect.h is their private header).
COLLECT_SRCS := $(addprefix agent/collect/,collector.c ledger.c walk.c assemble.c)
AGENT_SRCS := agent/main.c agent/signal/bpfutil.c agent/signal/cpu.c agent/signal/mem.c agent/signal/net.c agent/signal/proc.c agent/pod/kubemeta.c agent/reporter.c \
	agent/signal/gpu.c agent/signal/cuda.c agent/signal/nvml.c agent/cmd/top.c agent/signal/pin.c agent/caps.c \
	$(COLLECT_SRCS) agent/cmd/check.c exporter/http.c exporter/shipper.c exporter/receiver.c \
	exporter/decode.c
# exporter/podmeter.proto, compiled by protoc-c
PB_GEN := $(OUTPUT)/podmeter.pb-c.c $(OUTPUT)/podmeter.pb-c.h
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS)) $(OUTPUT)/podmeter.pb-c.o
AGENT_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(AGENT_SRCS))

# The reconciler: its own program and libraries (SQLite, PostgreSQL, GnuTLS), which the
# agent does not link.
REC_PKGS := sqlite3 libpq gnutls libmicrohttpd jansson libcurl libprotobuf-c zlib libgit2 yaml-0.1
REC_CFLAGS := $(shell pkg-config --cflags sqlite3 libpq gnutls libgit2 2>/dev/null) -Ireconciler \
	-Ireconciler/gitops
REC_LDLIBS := $(shell pkg-config --libs $(REC_PKGS) 2>/dev/null) -lpthread -lm
# part 2: deciding, guardrails, git and forge writing, verification (reconciler/gitops/)
REC_GITOPS_SRCS := $(addprefix reconciler/gitops/,gstore.c yamlt.c policy.c decide.c guard.c \
	targets.c gitw.c forge.c cycle.c verify.c report.c cli.c)
REC_LIB_SRCS := reconciler/serve.c reconciler/server.c reconciler/writer.c reconciler/auth.c \
	reconciler/costs.c reconciler/metrics.c reconciler/ingest.c reconciler/store.c \
	reconciler/store_ingest.c reconciler/schema.c reconciler/db.c reconciler/db_sqlite.c \
	reconciler/db_pg.c exporter/gz.c exporter/dist.c common/quantity.c $(REC_GITOPS_SRCS)
REC_OBJS := $(OUTPUT)/reconciler/main.o $(patsubst %.c,$(OUTPUT)/%.o,$(REC_LIB_SRCS)) \
	$(OUTPUT)/podmeter.pb-c.o
REC_SAN_OBJS := $(patsubst %.c,$(OUTPUT)/san/%.o,$(REC_LIB_SRCS)) $(OUTPUT)/san/podmeter.pb-c.o
REC_UNIT_TESTS := ingest store auth costs decide guard targets

UNIT_TESTS := names listen esc elfsym podfile podpath ohpath prom config u64map cgroupfs cidr quantity kubelet cost report spool detect model replay \
	dist top url usage
# float-cast-overflow: gcc's "undefined" leaves it out; no-recover: a UBSan finding fails the test
SAN := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
UNIT_BINS := $(patsubst %,$(OUTPUT)/tests/test_%,$(UNIT_TESTS)) \
	$(patsubst %,$(OUTPUT)/tests/reconciler/test_%,$(REC_UNIT_TESTS))

.SECONDARY:
.PHONY: all deps test-deps run test unit integration bench eval vmlinux clean format format-check fuzz \
	fuzz-build fuzz-smoke fuzz-seeds fuzz-reconciler layers

all: $(OUTPUT)/podmeter $(OUTPUT)/podmeter-reconciler

deps:
	@packaging/deps.sh

test-deps:
	@packaging/deps.sh test

$(OUTPUT) $(OUTPUT)/agent $(OUTPUT)/exporter $(OUTPUT)/common $(OUTPUT)/tests $(OUTPUT)/san/agent \
		$(OUTPUT)/san/exporter:
	@mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/vmlinux.h $(wildcard bpf/*.bpf.h) $(wildcard include/podmeter/*.h) | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@ # DWARF: libbpf reads BTF only, and the skeleton embeds the object

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/agent/%.o: agent/%.c $(wildcard include/podmeter/*.h agent/collect/*.h) $(SKELS) | $(OUTPUT)/agent
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(PB_GEN) &: exporter/podmeter.proto | $(OUTPUT)
	$(PROTOC_C) --c_out=$(OUTPUT) -Iexporter $<

$(OUTPUT)/podmeter.pb-c.o: $(OUTPUT)/podmeter.pb-c.c $(OUTPUT)/podmeter.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/podmeter.pb-c.o: $(OUTPUT)/podmeter.pb-c.c $(OUTPUT)/podmeter.pb-c.h | $(OUTPUT)/san/exporter
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(OUTPUT)/exporter/%.o: exporter/%.c $(wildcard include/podmeter/*.h) $(PB_GEN) | $(OUTPUT)/exporter
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/common/%.o: common/%.c $(wildcard include/podmeter/*.h) | $(OUTPUT)/common
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/podmeter: $(AGENT_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

REC_HDRS := $(wildcard reconciler/*.h reconciler/gitops/*.h)

$(OUTPUT)/reconciler/%.o: reconciler/%.c $(REC_HDRS) $(wildcard include/podmeter/*.h) $(PB_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(REC_CFLAGS) -c $< -o $@

$(OUTPUT)/podmeter-reconciler: $(REC_OBJS)
	$(CC) $(CFLAGS) $^ $(REC_LDLIBS) -o $@

# Unit tests: the library modules rebuilt with sanitizers, linked with cmocka.
$(OUTPUT)/san/%.o: %.c $(wildcard include/podmeter/*.h) $(PB_GEN) | $(OUTPUT)/san/agent $(OUTPUT)/san/exporter
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(patsubst %.c,$(OUTPUT)/san/%.o,$(LIB_SRCS)) $(OUTPUT)/san/podmeter.pb-c.o | $(OUTPUT)/tests
	$(CC) $(CFLAGS) $(SAN) $^ $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/san/reconciler/%.o: reconciler/%.c $(REC_HDRS) $(wildcard include/podmeter/*.h) $(PB_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(REC_CFLAGS) $(SAN) -c $< -o $@

# the reconciler's unit tests: its modules with sanitizers; PostgreSQL ones when
# PM_TEST_PG is a libpq URL (tests/integration/test_reconciler_pg.sh sets it)
$(OUTPUT)/tests/reconciler/test_%: tests/unit/reconciler/test_%.c tests/unit/reconciler/fixture.h \
		$(REC_SAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(REC_CFLAGS) -Ireconciler $(SAN) $(filter %.c %.o,$^) $(REC_LDLIBS) -lcmocka -o $@

# top is no library module: it comes along
$(OUTPUT)/tests/test_top: tests/unit/test_top.c $(patsubst %.c,$(OUTPUT)/san/%.o,$(LIB_SRCS) \
		agent/cmd/top.c) $(OUTPUT)/san/podmeter.pb-c.o | $(OUTPUT)/tests
	$(CC) $(CFLAGS) $(SAN) $^ $(LDLIBS) -lcmocka -o $@

run: deps
	@$(MAKE) --no-print-directory all
	$(OUTPUT)/podmeter run $(ARGS)

test: test-deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(OUTPUT)/tests/pm_alloc $(OUTPUT)/tests/mover \
		$(OUTPUT)/tests/gpu_ioctl $(OUTPUT)/tests/fake_cuda/cuda_driver $(OUTPUT)/tests/hostile \
		$(OUTPUT)/bench/reconciler_load $(OUTPUT)/tests/rec_fleet fuzz-build
	@$(MAKE) --no-print-directory layers unit fuzz-smoke fuzz-reconciler integration

# One direction, no back-edges (DESIGN.md): neither exporter/ nor common/ uses a symbol agent/
# defines, common/ none that exporter/ defines, and the library code there does not log (no
# stderr, stdout, perror, syslog: it returns errors, its callers log).
LAYER_AGENT := $(filter $(OUTPUT)/agent/%,$(LIB_OBJS) $(AGENT_OBJS))
LAYER_EXPORTER := $(filter $(OUTPUT)/exporter/%,$(LIB_OBJS) $(AGENT_OBJS))
LAYER_COMMON := $(filter $(OUTPUT)/common/%,$(LIB_OBJS) $(AGENT_OBJS))
LAYER_QUIET := $(LAYER_COMMON) $(patsubst %,$(OUTPUT)/exporter/%.o,prom json report spool pbjson \
	dist webcfg gz)
LAYER_LOGS := stderr|stdout|perror|syslog|vsyslog|printf|vprintf|puts|warnx?|errx?

layers: $(LAYER_AGENT) $(LAYER_EXPORTER) $(LAYER_COMMON)
	@set -e; bad=0; \
	defs() { nm -g --defined-only "$$@" | awk 'NF == 3 { print $$3 }' | sort -u; }; \
	uses() { nm -u "$$1" | awk '{ print $$2 }' | sort -u; }; \
	check() { for o in $$2; do for s in $$(uses $$o | comm -12 - "$$1"); do \
		echo "layers: $$o uses $$s, $$3"; bad=1; done; done; }; \
	tmp=$$(mktemp -d); defs $(LAYER_AGENT) >$$tmp/agent; \
	defs $(LAYER_EXPORTER) >$$tmp/exporter; \
	check $$tmp/agent "$(LAYER_EXPORTER) $(LAYER_COMMON)" "defined in agent/"; \
	check $$tmp/exporter "$(LAYER_COMMON)" "defined in exporter/"; \
	for o in $(LAYER_QUIET); do for s in $$(uses $$o | grep -xE '$(LAYER_LOGS)'); do \
		echo "layers: $$o uses $$s: library code returns errors, its callers log"; bad=1; \
	done; done; \
	rm -rf $$tmp; \
	[ $$bad = 0 ] && echo "layers: no back-edges into agent/ or exporter/"; \
	exit $$bad

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

$(OUTPUT)/tests/pm_alloc: tests/integration/pm_alloc.c | $(OUTPUT)/tests
	$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/tests/gpu_ioctl: tests/integration/gpu_ioctl.c | $(OUTPUT)/tests
	$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/tests/mover: tests/integration/mover.c | $(OUTPUT)/tests
	$(CC) $(CFLAGS) -pthread $< -o $@

# static: it also runs chrooted, standing in for a container's process
$(OUTPUT)/tests/hostile: tests/integration/hostile.c | $(OUTPUT)/tests
	$(CC) $(CFLAGS) -static $< -o $@

# A fake libcuda.so.1 (real signatures, no GPU) and a program driving it
$(OUTPUT)/tests/fake_cuda/libcuda.so.1: tests/integration/fake_cuda/libcuda.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O0 -shared -fPIC -Wl,-soname,libcuda.so.1 $< -o $@

$(OUTPUT)/tests/fake_cuda/cuda_driver: tests/integration/fake_cuda/cuda_driver.c $(OUTPUT)/tests/fake_cuda/libcuda.so.1
	$(CC) $(CFLAGS) $^ -Wl,-rpath,'$$ORIGIN' -o $@

integration: all $(OUTPUT)/tests/pm_alloc $(OUTPUT)/tests/mover $(OUTPUT)/tests/gpu_ioctl $(OUTPUT)/tests/fake_cuda/cuda_driver \
		$(OUTPUT)/tests/hostile $(OUTPUT)/bench/reconciler_load $(OUTPUT)/tests/reconciler/test_store \
		$(OUTPUT)/tests/rec_fleet
	@REC_FLEET=$(OUTPUT)/tests/rec_fleet PODMETER=$(OUTPUT)/podmeter PM_ALLOC=$(OUTPUT)/tests/pm_alloc MOVER=$(OUTPUT)/tests/mover GPU_IOCTL=$(OUTPUT)/tests/gpu_ioctl \
		CUDA_DRIVER=$(OUTPUT)/tests/fake_cuda/cuda_driver HOSTILE=$(OUTPUT)/tests/hostile \
		RECONCILER=$(OUTPUT)/podmeter-reconciler LOAD=$(OUTPUT)/bench/reconciler_load \
		STORE_TEST=$(OUTPUT)/tests/reconciler/test_store tests/integration/run.sh

bench: test-deps
	@$(MAKE) --no-print-directory all $(OUTPUT)/bench/floor $(OUTPUT)/bench/report_bench \
		$(OUTPUT)/bench/gpu_floor $(OUTPUT)/bench/model_bench $(OUTPUT)/bench/reconciler_load \
		$(OUTPUT)/bench/idle_procs $(OUTPUT)/bench/pod_farm
	@PODMETER=$(OUTPUT)/podmeter FLOOR=$(OUTPUT)/bench/floor tests/bench/cpu_overhead.sh
	@PODMETER=$(OUTPUT)/podmeter POD_FARM=$(OUTPUT)/bench/pod_farm \
		SCALE_OUT=$(OUTPUT)/bench/pod_scale.txt tests/bench/pod_scale.sh
	@PODMETER=$(OUTPUT)/podmeter POD_FARM=$(OUTPUT)/bench/pod_farm \
		SCALE_OUT=$(OUTPUT)/bench/pod_scale.txt tests/bench/churn.sh
	@PODMETER=$(OUTPUT)/podmeter tests/bench/net_mem_overhead.sh
	@PODMETER=$(OUTPUT)/podmeter IDLE_PROCS=$(OUTPUT)/bench/idle_procs tests/bench/mem_seed.sh
	@$(OUTPUT)/bench/report_bench 1000
	@GPU_FLOOR=$(OUTPUT)/bench/gpu_floor tests/bench/syscall_overhead.sh
	@RECONCILER=$(OUTPUT)/podmeter-reconciler LOAD=$(OUTPUT)/bench/reconciler_load \
		PODMETER=$(OUTPUT)/podmeter tests/bench/reconciler_bench.sh
	@$(MAKE) --no-print-directory eval

# The anomaly kit (NAB data, labels, scorer) sits next to the repository when there is one.
ANOMALY_KIT ?= ../shared/anomaly-bench

eval: all $(OUTPUT)/bench/model_bench
	@$(OUTPUT)/bench/model_bench
	@if [ -f $(ANOMALY_KIT)/score.py ]; then \
		echo "anomaly kit $(ANOMALY_KIT): podmeter replay on every file, NAB scores"; \
		python3 $(ANOMALY_KIT)/score.py --run '$(abspath $(OUTPUT))/podmeter replay {}'; \
	else \
		echo "eval: no anomaly kit at $(ANOMALY_KIT) (ANOMALY_KIT=...); kit score skipped"; \
	fi

$(OUTPUT)/bench/idle_procs: tests/bench/idle_procs.c
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/bench/pod_farm: tests/bench/pod_farm.c
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/bench/floor: tests/bench/floor.c $(OUTPUT)/probe.skel.h
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $< $(LDLIBS) -o $@

$(OUTPUT)/bench/gpu_floor: tests/bench/gpu_floor.c $(OUTPUT)/agent/signal/gpu.o $(OUTPUT)/agent/signal/bpfutil.o $(OUTPUT)/agent/signal/pin.o $(OUTPUT)/agent/caps.o
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# compiled from the sources: no BPF skeletons needed
$(OUTPUT)/bench/model_bench: tests/bench/model_bench.c $(MODEL_SRCS) agent/judge/detect.c common/snapshot.c \
		$(wildcard include/podmeter/*.h)
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) tests/bench/model_bench.c $(MODEL_SRCS) agent/judge/detect.c common/snapshot.c -lm -o $@

# synthetic fleets for the propose tests (tests/unit/reconciler/fleet.h over HTTP)
$(OUTPUT)/tests/rec_fleet: tests/integration/rec_fleet.c tests/unit/reconciler/fleet.h \
		tests/unit/reconciler/fixture.h $(OUTPUT)/exporter/gz.o $(OUTPUT)/exporter/dist.o \
		$(OUTPUT)/podmeter.pb-c.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(shell pkg-config --libs libcurl libprotobuf-c zlib 2>/dev/null) -lm -o $@

$(OUTPUT)/bench/reconciler_load: tests/bench/reconciler_load.c $(OUTPUT)/exporter/gz.o \
		$(OUTPUT)/exporter/dist.o $(OUTPUT)/podmeter.pb-c.o
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $^ $(shell pkg-config --libs libcurl libprotobuf-c zlib 2>/dev/null) -lpthread -lm -o $@

$(OUTPUT)/bench/report_bench: tests/bench/report_bench.c $(LIB_OBJS)
	@mkdir -p $(OUTPUT)/bench
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# ---- fuzzing: libFuzzer (clang), ASan + UBSan; tests/fuzz/README.md ----
FUZZ_NAMES := kubelet quantity podpath ohpath mountinfo cidr duration listen config webcfg bearer gz pbjson \
	spool elfsym esc decode replay top url
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 10000
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -O2 -O3,$(CFLAGS)) -O1 $(FUZZ_SAN)
FUZZ_LIB_SRCS := $(LIB_SRCS) agent/cmd/top.c exporter/decode.c
FUZZ_LIB := $(OUTPUT)/fuzz/libpodmeter.a
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_NAMES))

$(OUTPUT)/fuzz/obj/%.o: %.c $(wildcard include/podmeter/*.h) $(PB_GEN)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/obj/podmeter.pb-c.o: $(OUTPUT)/podmeter.pb-c.c $(OUTPUT)/podmeter.pb-c.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(patsubst %.c,$(OUTPUT)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS)) $(OUTPUT)/fuzz/obj/podmeter.pb-c.o
	rm -f $@
	ar rcs $@ $^

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# rewrites the seeds podmeter's own code makes (reports, spool files, /v1/pods)
$(OUTPUT)/fuzz/mkseeds: tests/fuzz/mkseeds.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

fuzz-seeds: $(OUTPUT)/fuzz/mkseeds
	$(OUTPUT)/fuzz/mkseeds tests/fuzz/corpus

# every harness FUZZ_SECONDS after its regression inputs; FUZZ=name,... for some of them,
# FUZZ_ARGS for more libFuzzer flags (-use_value_profile=1)
fuzz: test-deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BIN_DIR=$(OUTPUT)/fuzz FUZZ_ARGS="$(FUZZ_ARGS)" tests/fuzz/run.sh campaign \
		$(FUZZ_SECONDS) $(FUZZ)

# in `make test`: the regression inputs, then a few seconds of each harness
fuzz-smoke: fuzz-build
	@FUZZ_BIN_DIR=$(OUTPUT)/fuzz tests/fuzz/run.sh smoke $(FUZZ_SMOKE_RUNS)

# The reconciler's parsers (reports, token files, /v1/costs queries): harnesses in
# tests/unit/reconciler/fuzz/, each run FUZZ_SMOKE_RUNS inputs from a fixed seed on seeds
# the load generator writes; `make fuzz-reconciler FUZZ_SECONDS=60` for a campaign.
REC_FUZZ_NAMES := rec_ingest rec_tokens rec_gitops
REC_FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(REC_FUZZ_NAMES))
REC_FUZZ_OBJS := $(patsubst %.c,$(OUTPUT)/fuzz/obj/%.o,$(REC_LIB_SRCS)) $(OUTPUT)/fuzz/obj/podmeter.pb-c.o

$(OUTPUT)/fuzz/obj/reconciler/%.o: reconciler/%.c $(REC_HDRS) $(PB_GEN)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(REC_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/fuzz_rec_%: tests/unit/reconciler/fuzz/fuzz_rec_%.c $(REC_FUZZ_OBJS)
	$(CLANG) $(FUZZ_CFLAGS) $(REC_CFLAGS) -Ireconciler -fsanitize=fuzzer $^ $(REC_LDLIBS) -o $@

fuzz-reconciler: $(REC_FUZZ_BINS) $(OUTPUT)/bench/reconciler_load
	@set -e; w=$(OUTPUT)/fuzz/work/reconciler; mkdir -p $$w/rec_ingest $$w/rec_tokens $$w/rec_gitops; \
	cp tests/unit/reconciler/fuzz/seed_gitops $$w/rec_gitops/; \
	$(OUTPUT)/bench/reconciler_load --dump $$w/seed.gz --pods 5 --seq-start 3 && \
		gzip -dc <$$w/seed.gz >$$w/rec_ingest/seed.pb; \
	printf 'node-a tok-1\nlab/node-b tok-2\n# c\n' >$$w/rec_tokens/seed.txt; \
	printf 'label:team\0007d' >$$w/rec_tokens/seed.query; \
	for n in $(REC_FUZZ_NAMES); do \
		if [ -n "$(FUZZ_SECONDS_REC)" ]; then a="-max_total_time=$(FUZZ_SECONDS_REC)"; \
		else a="-runs=$(FUZZ_SMOKE_RUNS) -seed=1"; fi; \
		echo "== fuzz_$$n $$a"; \
		$(OUTPUT)/fuzz/fuzz_$$n $$a -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$$w/ $$w/$$n 2>&1 | tail -2; \
	done

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

# every C source and header of the tree, less the generated bpf/vmlinux.h
FORMAT_DIRS := $(wildcard agent exporter common reconciler include bpf tests)
FORMAT_SRCS = $(filter-out bpf/vmlinux.h,$(shell find $(FORMAT_DIRS) -name '*.[ch]' -type f | sort))

format:
	@echo "$(FORMAT_SRCS)" | xargs $(CLANG_FORMAT) -i

format-check:
	@bad=0; for f in $(FORMAT_SRCS); do \
		$(CLANG_FORMAT) "$$f" | cmp -s - "$$f" || { echo "$$f"; bad=1; }; \
	done; \
	if [ $$bad -ne 0 ]; then echo "format-check: the files above differ from .clang-format; run make format" >&2; exit 1; fi

clean:
	rm -rf $(OUTPUT)
