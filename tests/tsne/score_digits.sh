#!/usr/bin/env bash
# t-SNE quality on the digits data (1,797 × 64), default preset, exact and Barnes-Hut,
# scored by tests/tsne/tsne_metrics.py. Fails unless each method reaches the issue's bar:
# KL ≤ 0.72, trustworthiness ≥ 0.99, 5-NN accuracy ≥ 0.985.
# Needs: the release `layerlens` binary, and $LAYERLENS_PYTHON with numpy/scipy/sklearn
# (scripts/test sets both up).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LAYERLENS_PYTHON:?set by scripts/lib/setup.sh ensure_python_venv}"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/layerlens/target}/release/layerlens"
data=tests/fixtures/digits.csv
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for method in exact bh; do
  "$bin" tsne --input "$data" --label-column label --drop-columns index \
    --method "$method" --seed 0 --out "$out/$method.csv" 2>"$out/$method.log"
  tail -n 1 "$out/$method.log"
  "$LAYERLENS_PYTHON" tests/tsne/tsne_metrics.py --data "$data" --label-column label \
    --drop-columns index --embedding "$out/$method.csv" >"$out/$method.json"
  "$LAYERLENS_PYTHON" - "$method" "$out/$method.json" <<'PY' || status=1
import json, sys
method, path = sys.argv[1], sys.argv[2]
s = json.load(open(path))
bars = {"kl": (s["kl"], "<=", 0.72), "trustworthiness": (s["trustworthiness"], ">=", 0.99),
        "knn_accuracy": (s["knn_accuracy"], ">=", 0.985)}
ok = True
for name, (value, op, bar) in bars.items():
    good = value <= bar if op == "<=" else value >= bar
    ok &= good
    print(f"  {method:5s} {name:16s} {value:.4f} (needs {op} {bar}) {'ok' if good else 'FAILED'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
