# dae-theory: two commands set everything up on a fresh clone.
#   make test      install (venv + package + data) and run the whole test suite
#   make figures   install and produce every figure under figures/ (results under results/)
# make figures SIZE=fast (every figure in minutes, into results-fast/) or SIZE=full (the authors'
# step counts and sizes, for accelerator hosts, into results-full/); make test-fast skips slow tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SIZE   ?= default
ifeq ($(SIZE),default)
RESULTS ?= results
FIGURES ?= figures
DOCS    ?= docs
else
RESULTS ?= results-$(SIZE)
FIGURES ?= $(RESULTS)/figures
DOCS    ?= $(RESULTS)/docs
endif
# One experiment into $(RESULTS)/<name>; its figures from the saved results into $(FIGURES).
experiment = $(PY) experiments/$(1).py --out $(RESULTS)/$(1) --size $(SIZE)
plot       = $(PY) experiments/plot_$(1).py --results $(RESULTS)/$(1) --out $(FIGURES)

.PHONY: install data test test-fast figures bench bench-accelerator clean

install: $(STAMP) data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,data]'
	touch $(STAMP)

# PyTorch and diffusers, for the tests of dae_theory.torch_hooks (make figures does not need them).
ADAPTERS := $(VENV)/.adapters
$(ADAPTERS): $(STAMP)
	$(PY) -m pip install --quiet -e '.[adapters]'
	touch $(ADAPTERS)

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

# One pytest worker per core; a file's tests stay in one worker (they share module fixtures).
test: install $(ADAPTERS)
	$(PY) -m pytest -q -n auto --dist loadfile

test-fast: install $(ADAPTERS)
	$(PY) -m pytest -q -n auto --dist loadfile -m "not slow"

# Tables and findings are written into $(DOCS): docs/ at the default size, a copy under
# $(RESULTS)/docs at the others (so a smoke run never rewrites the committed findings).
# make -j starts the goals in this order, each when a job is free: longest first by measured times
# (diffusion_fashion_mnist before deep_denoisers, so that memorization_detection, which reuses its
# model, never waits), so that the two jobs end close together whatever the host's noise. Most of
# an experiment's time is one thread, so JOBS = 2 suits 2 cores; JOBS=1 runs them one after
# another. Each experiment prints its log when it finishes. OpenBLAS on one thread, for every
# target: its idle threads spin, and with two jobs on two cores they made LAPACK calls (the
# Jacobian's eigenvalues) over 100x slower.
JOBS ?= 2
OPENBLAS_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS
EXPERIMENTS := diffusion_transition fashion_mnist_regimes diffusion_fashion_mnist deep_denoisers \
  memorization_detection finite_noise regime_transition regimes_on_synthetic_data denoisers_on_mixture \
  hybrid_regime fashion_mnist_separability

figures: install
	@case "$(SIZE)" in fast|default|full) ;; \
	  *) echo "SIZE must be fast, default or full, got '$(SIZE)'" >&2; exit 2;; esac
	@if [ "$(DOCS)" != docs ]; then mkdir -p $(DOCS) && cp docs/*.md $(DOCS)/; fi
	@$(MAKE) --no-print-directory -j $(JOBS) --output-sync=target $(addprefix figure-,$(EXPERIMENTS)) \
	  tables-diffusion SIZE=$(SIZE) RESULTS=$(RESULTS) FIGURES=$(FIGURES) DOCS=$(DOCS)
	$(PY) experiments/write_findings.py --results $(RESULTS) --keep-sources $(DOCS)/results

# One experiment and its figure (make figure-<name>; figures runs them all).
PLAIN := diffusion_fashion_mnist fashion_mnist_regimes regime_transition regimes_on_synthetic_data \
  denoisers_on_mixture hybrid_regime
$(addprefix figure-,$(PLAIN)): figure-%:
	$(call experiment,$*)
	$(call plot,$*)

figure-diffusion_transition:
	$(call experiment,diffusion_transition)
	$(call plot,diffusion_transition)

# docs/diffusion.md's tables read both diffusion experiments.
tables-diffusion: figure-diffusion_fashion_mnist figure-diffusion_transition
	$(PY) experiments/write_diffusion_tables.py --results $(RESULTS) --doc $(DOCS)/diffusion.md \
	  --keep-sources $(DOCS)/results

figure-finite_noise:
	$(call experiment,finite_noise)
	$(call plot,finite_noise)
	mkdir -p $(DOCS)/results/finite_noise && cp $(addprefix $(RESULTS)/finite_noise/,config.json summary.json \
	  closed_forms.json memorization.json flat_cut.json) $(DOCS)/results/finite_noise/

# It reuses the generalising model of diffusion_fashion_mnist when that is the same model.
figure-memorization_detection: figure-diffusion_fashion_mnist
	$(call experiment,memorization_detection)
	$(call plot,memorization_detection)
	$(PY) experiments/write_detection_tables.py --results $(RESULTS) --doc $(DOCS)/detection-and-steering.md \
	  --keep-sources $(DOCS)/results

figure-deep_denoisers:
	$(call experiment,deep_denoisers)
	$(call plot,deep_denoisers)
	$(PY) experiments/write_deep_tables.py --results $(RESULTS) --doc $(DOCS)/deep-denoisers.md \
	  --keep-sources $(DOCS)/results

figure-fashion_mnist_separability:
	$(call experiment,fashion_mnist_separability)

.PHONY: $(addprefix figure-,$(EXPERIMENTS)) tables-diffusion

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Speed and memory against baselines measured in the same run: benchmarks/results.json, BENCHMARKS.md.
bench: install
	$(PY) -m pip install --quiet -e '.[test,data,adapters,bench]'
	$(PY) benchmarks/bench.py

# The GPU/TPU rows only (sized for minutes; not yet timed on an accelerator): benchmarks/results-accelerator.json and the accelerator table of
# BENCHMARKS.md. Needs JAX for the chip in .venv (e.g. .venv/bin/pip install -U "jax[cuda13]").
bench-accelerator: install
	$(PY) benchmarks/bench.py --accelerator
