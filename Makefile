# The two fresh-machine commands are `make run` and `make test`; each installs what it needs.
SWIFT ?= swift
# Numeric tests run 10-100x slower unoptimised, so tests build in release with testability enabled.
TEST_FLAGS := -c release -Xswiftc -enable-testing

.PHONY: run test fuzz deps build bench-engine bench-http bench-sasrec bench-codes bench-mscgrec bench-text bench-rqdino bench-server bench-server-1m fixtures clean

deps:
	@scripts/install-deps.sh build

build: deps
	$(SWIFT) build -c release

# The main job: the server on the demo bundle (created once from a synthetic catalog, .demo/), localhost:$(PORT).
PORT ?= 8080
DEMO ?= .demo
run: build
	@scripts/demo-bundle.sh .build/release/mscgrec-trainer $(DEMO)
	@echo "try:  curl -s localhost:$(PORT)/recommend -H 'content-type: application/json' -d '{\"history\": [\"1\", \"2\", \"3\"], \"k\": 5}'"
	.build/release/mscgrec-server --bundles $(DEMO)/bundles --port $(PORT)

test:
	@scripts/install-deps.sh test
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	MSCGREC_TEXT_MODELS=$(CURDIR)/.build/text-models scripts/run-tests.sh $(TEST_FLAGS) --skip-build
	scripts/pipeline-smoke.sh "$$($(SWIFT) build $(TEST_FLAGS) --show-bin-path)/mscgrec-trainer"
	scripts/server-e2e.sh "$$($(SWIFT) build $(TEST_FLAGS) --show-bin-path)"
	python3 scripts/check-server-deps.py
	python3 scripts/testdata/test_systemd_notify_check.py
	FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) scripts/fuzz.sh

# Coverage-guided fuzzing of every reader of untrusted bytes (libFuzzer + AddressSanitizer), FUZZ_SECONDS per
# target; `make test` runs each for FUZZ_TEST_SECONDS. Prints executions/s and coverage per target (scripts/fuzz.sh).
FUZZ_SECONDS ?= 180
FUZZ_TEST_SECONDS ?= 5
fuzz:
	@scripts/install-deps.sh test
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Engine benchmark: one T5 block forward+backward, ours vs PyTorch in the same run.
bench-engine:
	@scripts/install-deps.sh bench
	$(SWIFT) build -c release --product mscgrec-bench
	.build/release/mscgrec-bench engine

# HTTP benchmark: our server vs Hummingbird 2 on the same JSON endpoint, h2load over HTTP/2 (h2c) and HTTP/1.1, same
# run. A separate package (Benchmarks/HTTPBench) so the product never depends on Hummingbird/SwiftNIO.
bench-http:
	@scripts/install-deps.sh test
	cd Benchmarks/HTTPBench/OurServer && $(SWIFT) build -c release --product our-server
	cd Benchmarks/HTTPBench && $(SWIFT) build -c release --product http-bench
	Benchmarks/HTTPBench/.build/release/http-bench --ours Benchmarks/HTTPBench/OurServer/.build/release/our-server

# SASRec seconds per training epoch on Amazon 2014 Beauty, ours vs the PyTorch reference (same data, config, threads):
# CE and BCE on every core, BCE on one.
bench-sasrec:
	@scripts/install-deps.sh bench
	$(SWIFT) build -c release --product mscgrec-bench
	.build/release/mscgrec-bench sasrec --loss ce
	.build/release/mscgrec-bench sasrec --loss bce
	.build/release/mscgrec-bench sasrec --loss bce --threads 1

# MSCGRec training samples/s on Beauty-shaped batches: ours vs the PyTorch reference and HF T5 (same shapes, threads),
# on 2 threads and on 1. MSCGREC_WORK=<work dir with text + collaborative codes>; default random codes of that shape.
MSCGREC_WORK ?= /tmp/mscgrec-bench-sasrec
bench-mscgrec:
	@scripts/install-deps.sh bench
	python3 -c 'import transformers' 2>/dev/null || pip install -q transformers
	$(SWIFT) build -c release --product mscgrec-bench
	.build/release/mscgrec-bench mscgrec --work $(MSCGREC_WORK)
	.build/release/mscgrec-bench mscgrec --work $(MSCGREC_WORK) --threads 1

# Item codes: RQ-k-means 3x256 on Beauty text and collaborative embeddings (CODES_COLLABORATIVE=<SASRec
# item_embedding.safetensors>; default a random-projection stand-in) and on 1M synthetic 768-d items: time, peak memory,
# utilisation, collisions, prefix-tree bytes per item vs the targets; sgemm vs naive nearest-code search in the same run.
CODES_COLLABORATIVE ?=
bench-codes:
	@scripts/install-deps.sh bench
	$(SWIFT) build -c release --product mscgrec-bench
	.build/release/mscgrec-bench codes $(if $(CODES_COLLABORATIVE),--collaborative $(CODES_COLLABORATIVE))

# Text embedding items/s on Beauty's titles, all-MiniLM-L6-v2 and all-mpnet-base-v2: ours vs sentence-transformers on
# PyTorch, same texts, batch and threads, one run (scripts/bench_text.py is the reference side).
bench-text:
	@scripts/install-deps.sh bench
	$(SWIFT) build -c release --product mscgrec-bench
	.build/release/mscgrec-bench text

# RQ-DINO training images/s, ours vs the PyTorch reference (HF Dinov2Model) on the same step, shapes and 1 thread.
bench-rqdino:
	@scripts/install-deps.sh bench
	python3 -c 'import transformers' 2>/dev/null || pip install -q transformers
	$(SWIFT) build -c release --product mscgrec-trainer
	python3 scripts/bench_torch_rqdino.py --threads 1 --trainer .build/release/mscgrec-trainer

# Regenerates the PyTorch reference fixtures under Tests/*/Fixtures (needs torch==2.13.0).
fixtures:
	@scripts/install-deps.sh bench
	python3 scripts/make_fixtures.py
	python3 scripts/make_sasrec_fixtures.py
	python3 scripts/make_safetensors_fixtures.py
	python3 scripts/make_codes_fixtures.py
	python3 scripts/make_mscgrec_fixtures.py
	python3 scripts/make_beam_fixtures.py
	python3 scripts/make_text_fixtures.py .build/text-models
	python3 scripts/make_image_fixtures.py
	python3 scripts/make_vit_fixtures.py
	python3 scripts/make_rqdino_fixtures.py

clean:
	rm -rf .build

# Serving benchmark: h2load 32 clients × 8 streams for 30 s on POST /recommend with batching on and off, and the raw
# batched beam search on the same bundle and history (scripts/bench-server.py). BUNDLES=<root with current>: a Beauty
# bundle (`mscgrec-trainer export --run runs/beauty/models/mscgrec --out runs/beauty/bundles` after `run`).
BUNDLES ?= runs/beauty/bundles
bench-server:
	@scripts/install-deps.sh test
	$(SWIFT) build -c release --product mscgrec-server --product mscgrec-bench
	python3 scripts/bench-server.py --bundles $(BUNDLES) --inter ../shared/datasets/amazon14-beauty/Beauty.inter.json \
	  --raw ".build/release/mscgrec-bench beam --bundle $(BUNDLES) --users 256 --no-torch --history {history}"

# Start-up time and RSS of the server on a 1,000,000-item synthetic bundle (and how the collision level copes).
bench-server-1m:
	$(SWIFT) build -c release --product mscgrec-server --product mscgrec-bench
	.build/release/mscgrec-bench synth-bundle --items 1000000 --out .build/bundle-1m
	python3 scripts/bench-server.py --bundles .build/bundle-1m --startup-only
