# Everything installs itself: `make demo` and `make test` work on a fresh machine with Node 20 and Python 3.
VENV := .venv
PY := $(abspath $(VENV))/bin/python
export SNAKEPIT_PYTHON := $(PY)
NODE_TEST := node --import tsx --test --test-concurrency=1 --test-reporter=spec

.PHONY: system setup test-setup demo doctor test check typecheck lint test-ts test-py test-py-versions test-chaos test-forkserver test-cluster bench bench-cluster clean

# `npm install`, not `npm ci`: some optional platform packages of msgpackr-extract are missing from
# registry mirrors at the locked version, which makes `npm ci` refuse the lock file; install skips them.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

# The bridge is installed in "compat" editable mode: a plain path entry in a .pth file. The default mode
# installs an import hook that every Python start of the venv loads (pathlib and more, ~10 ms), which
# would slow every worker and skew the start-up benchmarks.
$(VENV)/.installed: python/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e './python[dev]' --config-settings editable_mode=compat
	touch $@

# Debian packages the tests need (sandbox, NATS server, headless browser): scripts/system-packages/*.txt
system:
	bash scripts/install-system.sh

setup: node_modules/.installed $(VENV)/.installed

# What the tests need besides: setup, and the Debian packages (as root; else it names the command to run).
test-setup: setup system

demo: setup
	node --import tsx examples/demo.ts

# The environment as the library sees it: Node, the Python chosen and why, packages, accelerators.
doctor: setup
	node --import tsx src/cli/main.ts doctor

typecheck: setup
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p tsconfig.build.json --noEmit

lint: setup
	$(PY) -m ruff check python bench
	$(PY) -m ruff format --check python bench
	cd python && $(PY) -m mypy snakepit_bridge
	npx eslint --max-warnings 0 .
	node scripts/check-imports.mjs

# The core scenarios (calls, errors, deadlines, streams, sessions, crashes) run again over the socket
# transport (docs/architecture.md, Transports).
TRANSPORT_TESTS := test/pool.test.ts test/errors.test.ts test/deadlines.test.ts test/streams.test.ts \
	test/sessions.test.ts test/supervision.test.ts

test-ts: test-setup
	$(NODE_TEST) test/*.test.ts
	SNAKEPIT_TEST_TRANSPORT=socket $(NODE_TEST) $(TRANSPORT_TESTS)
	SNAKEPIT_TEST_START_METHOD=forkserver $(NODE_TEST) $(TRANSPORT_TESTS)

test-py: test-setup
	cd python && $(PY) -m pytest -q -p no:cacheprovider

# The core scenarios again with every pool in fork-server mode (docs/forkserver.md, reliability.md R31).
FORKSERVER_CORE := pool deadlines streams sessions sessions-recycle supervision recycle retry errors host-tools refs events host-exit run-registry min-ready
test-forkserver: test-setup
	SNAKEPIT_TEST_START_METHOD=forkserver $(NODE_TEST) $(FORKSERVER_CORE:%=test/%.test.ts)

# Chaos scenarios (reliability.md R1-R14, R21-R24; then all again in fork-server mode, R31, and with
# sandboxed workers, spawned and forked, docs/security.md), then their combined report (also written to
# test/chaos/results/report.md). Fails if a scenario fails or the report shows a broken invariant.
test-chaos: test-setup
	rm -rf test/chaos/results
	status=0; $(NODE_TEST) test/chaos/*.test.ts || status=$$?; \
	SNAKEPIT_TEST_START_METHOD=forkserver $(NODE_TEST) test/chaos/*.test.ts || status=$$?; \
	SNAKEPIT_TEST_SANDBOX=1 $(NODE_TEST) test/chaos/*.test.ts || status=$$?; \
	SNAKEPIT_TEST_START_METHOD=forkserver SNAKEPIT_TEST_SANDBOX=1 $(NODE_TEST) test/chaos/*.test.ts || status=$$?; \
	node --import tsx test/chaos/report.ts || status=1; \
	exit $$status

# Cluster scenarios against real nats-server processes (docs/cluster.md): acceptance against local and
# remote pools, TLS and auth, faults with their figures (test/cluster/results/), the network cut in
# network namespaces (needs root; skipped otherwise). About a minute.
test-cluster: test-setup
	$(NODE_TEST) test/cluster/*.test.ts

# The fast suite: type checks, lint, TypeScript tests, Python tests (a couple of minutes).
check: typecheck lint test-ts test-py

# The Python suite and the interpreter-sensitive TypeScript tests under Python 3.10, 3.12 and 3.13, where
# this machine has them (a venv each, .venv-py3N; scripts/test-python-versions.sh). A few minutes.
test-py-versions: test-setup
	bash scripts/test-python-versions.sh

# Every test: the fast suite, the other Python versions, then the chaos scenarios (which print their
# report), then the cluster scenarios.
test: check test-py-versions test-chaos test-cluster

bench: setup
	npm run bench:overhead

bench-cluster: setup
	node --import tsx bench/cluster.ts

clean:
	rm -rf node_modules $(VENV) .venv-py3* dist build
