"""Draws figures/denoisers_on_mixture.png from the results of denoisers_on_mixture.py."""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dae_theory import load_json, load_npz

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def scatter_panel(ax, outputs, labels, train, title):
  for k in np.unique(labels):
    ax.scatter(*outputs[labels == k].T, s=4, alpha=0.5, color=COLORS[k % 5], lw=0)
  if train is not None:
    ax.scatter(*train.T, marker="x", s=30, color="black", lw=1.2, label="training samples", zorder=3)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
  ax.set_title(title, fontsize=9)
  ax.set_aspect("equal")
  ax.set_xlim(-3, 3)
  ax.set_ylim(-3, 3)
  ax.set_xticks([])
  ax.set_yticks([])


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--results", default="results/denoisers_on_mixture")
  parser.add_argument("--out", default="figures")
  args = parser.parse_args()
  res = Path(args.results)
  cfg = load_json(res / "config.json")
  sc, cu = load_npz(res / "scatter.npz"), load_npz(res / "curves.npz")
  small, large = cfg["scatter"]["sizes"]
  sigma = cfg["scatter"]["sigma"]

  fig = plt.figure(figsize=(12, 6.4))
  grid = fig.add_gridspec(2, 4, height_ratios=(1, 1), hspace=0.3, wspace=0.3)
  lab = sc["query_labels"]
  scatter_panel(fig.add_subplot(grid[0, 0]), sc["queries"], lab, None, f"noisy queries y = x + σε (σ = {sigma})")
  scatter_panel(fig.add_subplot(grid[0, 1]), sc[f"emp_{small}"], lab, sc[f"train_{small}"],
                f"f_emp, n = {small}: outputs are training samples")
  scatter_panel(fig.add_subplot(grid[0, 2]), sc[f"emp_{large}"], lab, None, f"f_emp, n = {large}")
  scatter_panel(fig.add_subplot(grid[0, 3]), sc["gt"], lab, None, "f_gt (mixture posterior mean)")

  sizes, sigmas = cu["sizes"], cu["sigmas"]
  ax = fig.add_subplot(grid[1, :2])
  for j, s in enumerate(sigmas):
    r = cu["rel_err"][:, j]
    ax.plot(sizes, r.mean(0), "o-", color=COLORS[j], ms=3, label=f"σ = {s:g}")
    ax.fill_between(sizes, r.min(0), r.max(0), color=COLORS[j], alpha=0.2, lw=0)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax.set_xlabel("training samples n")
  ax.set_ylabel("E‖f_emp − f_gt‖² / E‖f_gt − x‖²")
  c = cfg["curves"]
  ax.set_title(f"distance of the empirical optimum to f_gt (d = {c['dim']}, K = {c['num_modes']}, "
               f"rank {c['rank']}; {c['seeds']} seeds, band = range)", fontsize=9)
  ax.legend(fontsize=8, frameon=False)

  ax = fig.add_subplot(grid[1, 2:])
  for j, s in enumerate(sigmas):
    e = cu["entropy"][:, j]
    ax.plot(sizes, np.exp(e.mean(0)), "o-", color=COLORS[j], ms=3, label=f"σ = {s:g}")
  ax.plot(sizes, sizes, color="gray", lw=0.8, ls="--", label="n (all samples share)")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("training samples n")
  ax.set_ylabel("exp(posterior entropy)")
  ax.set_title("effective number of training samples behind f_emp(y)\n(1 = the output copies one sample)", fontsize=9)
  ax.legend(fontsize=8, frameon=False)

  fig.suptitle("The empirical optimum f_emp (eq. 3) memorises at small n and approaches f_gt as n grows",
               fontsize=11)
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  fig.savefig(out / "denoisers_on_mixture.png", dpi=130, bbox_inches="tight")
  print("wrote", out / "denoisers_on_mixture.png")


if __name__ == "__main__":
  main()
