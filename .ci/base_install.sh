#!/usr/bin/env bash
# The gate box install (`pip install .`) in a fresh venv: torch must be absent, it must fit the gate-box issue's
# 700 MB, and `lpr read` must read a shipped sample; then the test tools of [dev] are added and the gate tests must
# pass against the installed package.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/venv"
install() {  # pip's output only when it fails (the package index here warns about every missing location)
  if ! "$work/venv/bin/pip" install -q "$1" > "$work/pip.log" 2>&1; then
    grep -v "^WARNING: Location" "$work/pip.log" >&2; echo "base install: pip install $1 failed" >&2; exit 1
  fi
}
install "$repo"
if "$work/venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "base install: torch is installed, expected a torch-free gate box" >&2; exit 1
fi
size=$(du -sm "$work/venv" | cut -f1)
echo "base install: $size MB, no torch"
[ "$size" -le 700 ] || { echo "base install: $size MB, expected at most 700 MB" >&2; exit 1; }
cd "$work"  # away from the source tree: the tests import the installed package
TIMEFORMAT=%R
{ time "$work/venv/bin/lpr" read "$repo/lpr/samples/images/gate_1.jpg" > "$work/read.txt"; } 2> "$work/time.txt"
out="$(cat "$work/read.txt")"
echo "base install: lpr read gate_1.jpg -> ${out//$'\n'/ } ($(tail -n 1 "$work/time.txt") s wall)"
grep -q "78-141-76" <<<"$out" || { echo "base install: sample not read as 78-141-76" >&2; exit 1; }
install "$repo[dev]"
echo "base install with the test tools: $(du -sm "$work/venv" | cut -f1) MB"
if "$work/venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "base install: the test tools brought torch in" >&2; exit 1
fi
"$work/venv/bin/pytest" -q -p no:cacheprovider -m "slow or not slow" --rootdir "$repo" -c "$repo/pyproject.toml" \
  "$repo/tests/gate" "$repo/tests/lpr/test_input_edges.py" "$repo/tests/lpr/test_ctc_pass.py"
