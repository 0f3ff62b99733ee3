"""experiments/hybrid_regime.py and its figure at a tiny size: Cor 3.4's columns and spiky duplicate codes.

tests/test_proofs_by_simulation.py checks Cor 3.4 by training at a larger size (random mode
spreads, tolerance 10 %); here the script's own setting (each mode spread in directions of its
own) is run end to end, shrunk to train in seconds, with tighter tolerances it meets.
"""

import importlib.util
import sys
from pathlib import Path

import chex
import numpy as np
import pytest

import dae_theory as dt

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
  spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.slow
def test_hybrid_regime_stores_duplicates_beside_blocks_and_draws_its_figure(tmp_path, monkeypatch):
  hybrid = _script("hybrid_regime")
  # tiny: 400 samples per mode, 3 points present 100 times each, one seed, 2k steps
  monkeypatch.setitem(hybrid.DATA, "samples_per_mode", 400)
  monkeypatch.setitem(hybrid.DATA, "copies", 99)
  monkeypatch.setitem(hybrid.BY_SIZE, "fast", dict(seeds=(0,), steps=2_000, noisy=300))
  out = tmp_path / "hybrid_regime"
  monkeypatch.setattr(sys, "argv", ["hybrid_regime.py", "--size", "fast", "--out", str(out)])
  hybrid.main()
  size = dt.load_json(out / "config.json")["size"]
  assert size == "fast", f"config.json must record size 'fast', got {size!r}"
  s = dt.load_json(out / "summary.json")
  assert s["structure_reached"] == [True], f"the one seed must reach the hybrid structure, got {s['structure_reached']}"
  # each duplicate is stored in one column along it, with the norm of Cor 3.4 (r_ℓ‖x_ℓ‖) within 2 %
  assert s["duplicate_cosine_min"] > 0.999, (
      f"each duplicate's column must point along it (cosine > 0.999), got {s['duplicate_cosine_min']}; summary {s}")
  assert max(abs(v - 1) for v in s["duplicate_norm_ratio_range"]) < 0.02, (
      f"duplicate column norms must be Cor 3.4's within 2 %, got ratios {s['duplicate_norm_ratio_range']}; summary {s}")
  # each mode keeps Thm 3.1's block: its singular values within 2 %, f = M_k y within 3 %
  assert max(abs(v - 1) for v in s["block_singular_value_ratio_range"]) < 0.02, (
      f"block singular values must be Thm 3.1's within 2 %, got ratios {s['block_singular_value_ratio_range']}; "
      f"summary {s}")
  assert s["mode_function_error_max"] < 0.03 and s["gram_error"][0] < 0.03, (
      f"f = M_k y and the Gram matrix must hold within 3 %, got {s['mode_function_error_max']} and "
      f"{s['gram_error'][0]}; summary {s}")
  # the exact loss of the learned W is the closed form's within 1 %
  assert abs(s["exact_loss_gap"][0]) < 0.01, (
      f"the exact loss must be the closed form's within 1 %, got gap {s['exact_loss_gap'][0]}; summary {s}")
  # noisy duplicates have one-hot codes, ordinary samples balanced ones
  assert s["auroc"]["peak_energy_fraction"][0] >= 0.99, (
      f"peak energy must separate duplicates (AUROC >= 0.99), got {s['auroc']['peak_energy_fraction'][0]}; summary {s}")
  assert s["median_peak_energy_duplicates"] > 0.95 > 0.7 > s["median_peak_energy_ordinary"], (
      f"median peak energy must be > 0.95 for duplicates and < 0.7 for ordinary samples, got "
      f"{s['median_peak_energy_duplicates']} and {s['median_peak_energy_ordinary']}; summary {s}")

  plot = _script("plot_hybrid_regime")
  monkeypatch.setattr(sys, "argv", ["plot_hybrid_regime.py", "--results", str(out), "--out", str(tmp_path / "figs")])
  plot.main()
  import matplotlib.image
  image = matplotlib.image.imread(tmp_path / "figs" / "hybrid_regime.png")
  assert image.shape[0] > 500 and np.ptp(image[..., :3]) > 0.5, (
      f"the figure must be over 500 px tall and not blank (colour range > 0.5), got height {image.shape[0]}, "
      f"range {np.ptp(image[..., :3]):.3g}")


def test_procrustes_rotates_a_block_onto_its_rotated_copy():
  hybrid = _script("hybrid_regime")
  rng = np.random.default_rng(0)
  block = rng.normal(size=(8, 3))
  q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
  np.testing.assert_allclose(hybrid._procrustes(block, block @ q), block @ q, atol=1e-12,
                             err_msg="Procrustes must recover the rotated copy")
  # a learned block with a spare column: the closed form is zero-padded, its Gram matrix kept
  learned = np.concatenate([block @ q, np.zeros((8, 1))], axis=1)
  rotated = hybrid._procrustes(block, learned)
  chex.assert_shape(rotated, (8, 4))
  np.testing.assert_allclose(rotated @ rotated.T, block @ block.T, atol=1e-12,
                             err_msg="zero-padding and rotating must keep the Gram matrix")
