#!/usr/bin/env bash
# The gate box install (`pip install .`, plus the test tools of [dev]) in a fresh venv: torch must be absent,
# `lpr read` must read a shipped sample, and the gate tests must pass against the installed package.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/venv"
if ! "$work/venv/bin/pip" install -q "$repo[dev]" > "$work/pip.log" 2>&1; then
  grep -v "^WARNING: Location" "$work/pip.log" >&2; echo "base install: pip install failed" >&2; exit 1
fi
if "$work/venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "base install: torch is installed, expected a torch-free gate box" >&2; exit 1
fi
echo "base install: $(du -sm "$work/venv" | cut -f1) MB, no torch"
cd "$work"  # away from the source tree: the tests import the installed package
TIMEFORMAT=%R
{ time "$work/venv/bin/lpr" read "$repo/lpr/samples/images/gate_1.jpg" > "$work/read.txt"; } 2> "$work/time.txt"
out="$(cat "$work/read.txt")"
echo "base install: lpr read gate_1.jpg -> ${out//$'\n'/ } ($(tail -n 1 "$work/time.txt") s wall)"
grep -q "78-141-76" <<<"$out" || { echo "base install: sample not read as 78-141-76" >&2; exit 1; }
"$work/venv/bin/pytest" -q -p no:cacheprovider -m "slow or not slow" --rootdir "$repo" -c "$repo/pyproject.toml" \
  "$repo/tests/gate" "$repo/tests/lpr/test_input_edges.py" "$repo/tests/lpr/test_ctc_pass.py"
