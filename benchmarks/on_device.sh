#!/usr/bin/env bash
# The accelerator check, prepared for a lent GPU/TPU machine that already has JAX for its chip
# (no venv: `python3` there; the package runs from this checkout). Usage, from the repo root:
#   OUT=/some/folder benchmarks/on_device.sh      # writes results-accelerator.json, BENCHMARKS.md, logs
#   BENCH_ARGS=--quick for a smoke run (on CPU too), TEST_TIMEOUT=seconds for the tests (240)
# Not yet timed on an accelerator (on a 2-core CPU, BENCH_ARGS=--quick took 5 min and the tests 2 more);
# the tests are capped so that the whole stays within a lent device's budget.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
(nvidia-smi -L || true; $PY -c "import jax; print(jax.__version__, jax.devices())") 2>&1 | tee "$OUT/device.log"
cp BENCHMARKS.md "$OUT/BENCHMARKS.md"
$PY benchmarks/bench.py --accelerator ${BENCH_ARGS:-} --out "$OUT/results-accelerator.json" --markdown "$OUT/BENCHMARKS.md" \
  2>&1 | tee "$OUT/bench.log"
bench_rc=$?
# The training, sweep and f_emp tests on the accelerator (they were written on CPU).
timeout "${TEST_TIMEOUT:-240}" $PY -m pytest -q -x -p no:cacheprovider tests/test_train.py tests/test_sweep.py \
  tests/test_empirical.py 2>&1 | tee "$OUT/tests.log"
echo "bench exit $bench_rc, tests exit $?"
