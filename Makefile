# The README's two commands: `make demo` (greentune's main job on its default) and `make test`.
# Both install what is missing (scripts/setup.sh) and build Release first.

SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
# Data we are given lives beside the checkout; users without it get IMDB downloaded on first use.
SHARED_DIR ?= $(abspath ../shared)
IMDB_TARBALL := $(SHARED_DIR)/data/imdb/aclImdb_v1_labeled.tar.gz
DEMO_DATA ?= $(if $(wildcard $(IMDB_TARBALL)),$(IMDB_TARBALL),imdb)
DEMO_VOCAB ?= $(wildcard $(SHARED_DIR)/data/vocab/bert-base-uncased-vocab.txt)

.PHONY: all setup configure build cli test demo demo-run bench clean sanitize fuzz fuzz-configure

all: build

setup:
	bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The command-line tool alone (the demo needs nothing else).
cli: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target greentune

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Untrusted input (fuzz/README.md): a torch-free clang build with ASan + UBSan of every library that reads a
# file a user or a hub hands us. `make sanitize` runs its unit tests and replays the fuzz seeds and
# regression inputs; `make fuzz` then mutates them for FUZZ_SECONDS per target (CI: a short bounded run).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 600
fuzz-configure:
	bash scripts/setup.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGREENTUNE_WITH_TORCH=OFF -DGREENTUNE_SANITIZE=ON -DGREENTUNE_FUZZ=ON -DGREENTUNE_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)

sanitize: fuzz-configure
	cd $(FUZZ_BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

fuzz: fuzz-configure
	bash fuzz/run.sh --build $(FUZZ_BUILD_DIR) --seconds $(FUZZ_SECONDS) --jobs $(JOBS)

# The demo runs the demo study (configs/demo.toml): the proposal's strategy grid on a small DistilBERT-shaped
# model (configs/demo-model, random init), trained on 4,000 IMDB reviews and tested on 2,000, with the BERT
# uncased vocabulary (DEMO_VOCAB=path/to/vocab.txt when ../shared is not there). Started again, it skips finished runs.
# A finished demo (studies/demo/finished, newer than the study file) only says where its report is.
DEMO_REPORT_NOTE := demo report: studies/demo/report.md (also report.html, report.tex, plots/, results.csv)
demo:
	@if [ studies/demo/finished -nt configs/demo.toml ]; then echo "$(DEMO_REPORT_NOTE)"; else $(MAKE) --no-print-directory demo-run; fi

demo-run: cli
	@test -n "$(DEMO_VOCAB)" || { echo "make demo needs the BERT uncased vocab.txt: run make demo DEMO_VOCAB=path/to/vocab.txt"; exit 2; }
	./$(BUILD_DIR)/greentune study configs/demo.toml --output studies/demo --set data=$(DEMO_DATA) --set vocab=$(DEMO_VOCAB)
	@touch studies/demo/finished
	@echo "$(DEMO_REPORT_NOTE)"

bench: build
	bash bench/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
