#!/usr/bin/env bash
# The bridge under the other Python versions it supports (pyproject: >=3.10): for each of 3.10, 3.12 and
# 3.13 found on this machine (on PATH, or among pyenv's versions), a venv of its own (.venv-py3N) with
# the packages the Python suite uses (torch aside: its CPU build is only at hand for the main
# interpreter, so the tensor tests run there), then the whole Python suite and the TypeScript tests
# that depend most on the interpreter (codecs, signatures and stubs, the fork server), with
# SNAKEPIT_PYTHON set to it. A version this machine lacks is reported as not tested.
set -uo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(msgpack numpy pandas pyarrow polars scikit-learn pydantic typing_extensions pytest pytest-timeout hypothesis
  'opentelemetry-api>=1.20' 'opentelemetry-sdk>=1.20' 'opentelemetry-exporter-otlp-proto-http>=1.20' 'nats-py>=2.6')
TS_TESTS=()
for name in pool streams sessions data data-ndarray codegen host-tools errors deadlines forkserver; do TS_TESTS+=("test/$name.test.ts"); done
status=0
for minor in 10 12 13; do
  # The first candidate that runs as 3.N (pyenv's shims are on PATH for versions that are not selected).
  py=""
  for candidate in $(command -v "python3.$minor" 2>/dev/null) \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$minor".*/bin/python3."$minor" 2>/dev/null | sort -V -r); do
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != (3, $minor))" >/dev/null 2>&1; then
      py=$candidate
      break
    fi
  done
  if [ -z "$py" ]; then
    echo "Python 3.$minor: not on this machine, not tested"
    continue
  fi
  venv=".venv-py3$minor"
  echo "== Python 3.$minor ($py)"
  if [ ! -f "$venv/.installed" ]; then
    rm -rf "$venv"
    # (grep drops the warnings of a pip configuration whose extra package folders are absent.)
    if ! "$py" -m venv "$venv" ||
      ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "${PACKAGES[@]}" 2>&1 | { grep -v '^WARNING: Location' || true; }; then
      echo "Python 3.$minor: could not install the test packages"
      status=1
      continue
    fi
    touch "$venv/.installed"
  fi
  (cd python && PYTHONPATH="$PWD" "../$venv/bin/python" -m pytest -q -p no:cacheprovider tests) || status=1
  SNAKEPIT_PYTHON="$PWD/$venv/bin/python" node --import tsx --test --test-concurrency=1 "${TS_TESTS[@]}" 2>&1 |
    grep -E '^# (tests|pass|fail)|not ok' || status=1
done
exit $status
