# dae-theory: two commands set everything up on a fresh clone.
#   make test      install (venv + package + data) and run the test suite
#   make figures   install and produce every figure under figures/ (results under results/)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
RESULTS ?= results

.PHONY: install data test figures bench bench-accelerator clean

install: $(STAMP) data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,data]'
	touch $(STAMP)

# Fashion-MNIST comes from Debian's offline package; nothing is downloaded at run time.
data:
	@if [ -f $(FMNIST) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing the Debian package dataset-fashion-mnist"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
	    || { echo "error: apt-get could not install dataset-fashion-mnist" >&2; exit 1; }; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else \
	  echo "warning: Fashion-MNIST is missing ($(FMNIST)) and cannot be installed here without root."; \
	  echo "         Run 'sudo apt-get install dataset-fashion-mnist'; tests that need it are skipped until then."; \
	  if [ -n "$$CI" ]; then exit 1; fi; \
	fi

test: install
	$(PY) -m pytest -q

figures: install
	$(PY) experiments/denoisers_on_mixture.py --out $(RESULTS)/denoisers_on_mixture
	$(PY) experiments/plot_denoisers_on_mixture.py --results $(RESULTS)/denoisers_on_mixture --out figures
	$(PY) experiments/regimes_on_synthetic_data.py --out $(RESULTS)/regimes_on_synthetic_data
	$(PY) experiments/plot_regimes_on_synthetic_data.py --results $(RESULTS)/regimes_on_synthetic_data --out figures
	$(PY) experiments/regime_transition.py --out $(RESULTS)/regime_transition
	$(PY) experiments/plot_regime_transition.py --results $(RESULTS)/regime_transition --out figures/regime_transition.png
	$(PY) experiments/fashion_mnist_regimes.py --out $(RESULTS)/fashion_mnist_regimes
	$(PY) experiments/plot_fashion_mnist_regimes.py --results $(RESULTS)/fashion_mnist_regimes --out figures/fashion_mnist_regimes.png
	$(PY) experiments/diffusion_fashion_mnist.py --out $(RESULTS)/diffusion_fashion_mnist
	$(PY) experiments/plot_diffusion_fashion_mnist.py --results $(RESULTS)/diffusion_fashion_mnist \
	  --out figures/diffusion_fashion_mnist.png
	$(PY) experiments/diffusion_transition.py --out $(RESULTS)/diffusion_transition
	$(PY) experiments/plot_diffusion_transition.py --results $(RESULTS)/diffusion_transition \
	  --out figures/diffusion_transition.png
	$(PY) experiments/write_diffusion_tables.py --results $(RESULTS) --doc docs/diffusion.md --keep-sources docs/results
	$(PY) experiments/finite_noise.py --out $(RESULTS)/finite_noise
	$(PY) experiments/plot_finite_noise.py --results $(RESULTS)/finite_noise --out figures/finite_noise.png
	mkdir -p docs/results/finite_noise && cp $(RESULTS)/finite_noise/*.json docs/results/finite_noise/
	$(PY) experiments/memorization_detection.py --out $(RESULTS)/memorization_detection
	$(PY) experiments/plot_memorization_detection.py --results $(RESULTS)/memorization_detection --out figures
	$(PY) experiments/write_detection_tables.py --results $(RESULTS) --doc docs/detection-and-steering.md \
	  --keep-sources docs/results

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Speed and memory against baselines measured in the same run: benchmarks/results.json, BENCHMARKS.md.
bench: install
	$(PY) -m pip install --quiet -e '.[test,data,bench]'
	$(PY) benchmarks/bench.py

# The GPU/TPU rows only (sized for minutes; not yet timed on an accelerator): benchmarks/results-accelerator.json and the accelerator table of
# BENCHMARKS.md. Needs JAX for the chip in .venv (e.g. .venv/bin/pip install -U "jax[cuda13]").
bench-accelerator: install
	$(PY) benchmarks/bench.py --accelerator
