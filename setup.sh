#!/usr/bin/env bash
# One entry point for a fresh machine: make .venv (once), install the project, then run a job.
#   ./setup.sh demo   set up and run the main job on the bundled sample data (SQLite file ledger)
#   ./setup.sh test   set up and run the test suite (the slow tests too with: -m "slow or not slow")
#   ./setup.sh check  set up and run ruff and mypy (strict on gate/)
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-demo}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch first and pinned (this machine's pip takes it from local disk); a second run installs nothing
if ! .venv/bin/python -c "import torch, torchvision" >/dev/null 2>&1; then
  .venv/bin/pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi
stamp=.venv/.plategate-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q -e ".[dev,train,peers]"  # the gate box alone: pip install . (no torch)
  touch "$stamp"
fi
export YOLO_OFFLINE=true
case "$job" in
  test) exec .venv/bin/python -m pytest -q "${@:2}" ;;
  # lint the whole repository; type-check gate/ strictly (pyproject.toml [tool.mypy])
  check) .venv/bin/ruff check . && exec .venv/bin/mypy ;;
  demo) exec .venv/bin/python -m gate.demo "${@:2}" ;;
  *) echo "usage: ./setup.sh demo|test|check" >&2; exit 2 ;;
esac
