"""Figure: memorising and generalising ReLU-DAEs on Fashion-MNIST (columns, PSNR, Std(h)).

Run: .venv/bin/python experiments/plot_fashion_mnist_regimes.py --results results/fashion_mnist_regimes \
       --out figures/fashion_mnist_regimes.png
Drawn from the saved results of ``fashion_mnist_regimes.py``.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dae_theory import load_npz

SHORT = {"mem_authors": "mem., authors, obtuse set", "mem_closed_form": "mem., closed-form preset",
         "mem_violating": "mem., authors, random set", "gen_authors": "gen., authors, 10k images"}
MODELS = (("mem_authors", "memorising (authors' recipe, 7 obtuse images)", "#d62728"),
          ("mem_closed_form", "memorising (our closed-form preset, same 7)", "#ff7f0e"),
          ("mem_violating", "memorising (authors' recipe, 7 random images)", "#8c564b"),
          ("gen_authors", "generalising (authors' recipe, 10k images)", "#1f77b4"))


def show_columns(fig, spec, r, title):
  cols = r["example_columns"]
  order = np.argsort(-r["column_norms"])[: cols.shape[0]]
  grid = spec.subgridspec(1, cols.shape[0], wspace=0.05)
  for j in range(cols.shape[0]):
    ax = fig.add_subplot(grid[0, j])
    img = cols[j].reshape(28, 28)
    lim = np.abs(img).max()
    ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel(f"‖w‖ {r['column_norms'][order[j]]:.2f}\ncos {r['column_max_cosine'][order[j]]:.2f}", fontsize=7)
    if j == 0:
      ax.set_title(title, fontsize=9, loc="left")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="results/fashion_mnist_regimes")
  parser.add_argument("--out", default="figures/fashion_mnist_regimes.png")
  args = parser.parse_args()
  runs = {name: load_npz(Path(args.results) / f"{name}.npz") for name, _, _ in MODELS}

  fig = plt.figure(figsize=(15, 9.5))
  outer = fig.add_gridspec(3, 3, height_ratios=[1, 1, 1.6], hspace=0.55, wspace=0.3)
  show_columns(fig, outer[0, :], runs["mem_authors"],
               "(a) memorising model (authors' recipe), 8 largest columns: 7 stored training images (max cosine with the training set ≈ 1), then a dead unit")
  show_columns(fig, outer[1, :], runs["gen_authors"],
               f"(b) generalising model (authors' recipe), 8 largest columns: smooth eigen-image-like filters, max cosine 0.2–0.7; "
               f"{runs['gen_authors']['antipodal_pairs'].shape[0]} antipodal pairs among 100 columns")

  ax = fig.add_subplot(outer[2, 0])
  width = 0.2
  for i, (name, label, colour) in enumerate(MODELS):
    r = runs[name]
    vals = [np.median(r["psnr_train"]), np.median(r["psnr_test"])]
    ax.bar(np.arange(2) + (i - 1.5) * width, vals, width, color=colour, label=label)
  noisy = np.median(runs["gen_authors"]["psnr_noisy_test"])
  ax.axhline(noisy, color="k", ls=":", lw=1, label=f"noisy input ({noisy:.1f} dB)")
  ax.set_xticks([0, 1], ["noisy training images", "noisy test images"])
  ax.set_ylabel("median PSNR of f(x + σε), dB (peak 1, σ = 0.2)")
  ax.set_title("(c) memorisers restore training images\nand destroy test ones", fontsize=10)
  ax.set_ylim(0, 85)
  ax.legend(fontsize=7, loc="upper right")
  ax.grid(alpha=0.3, axis="y")

  ax = fig.add_subplot(outer[2, 1])
  bins = np.linspace(0, 2.5, 60)
  for name, ls in (("mem_authors", "-"), ("gen_authors", "-")):
    colour = dict((n, c) for n, _, c in MODELS)[name]
    who = "memorising" if name.startswith("mem") else "generalising"
    ax.hist(runs[name]["std_train"], bins, histtype="step", color=colour, lw=1.8, density=True,
            label=f"{who}, noisy training images")
    ax.hist(runs[name]["std_test"], bins, histtype="step", color=colour, lw=1.2, ls="--", density=True,
            label=f"{who}, noisy test images")
  ax.set_xlabel("Std(h) over the 100 hidden units (the paper's score)")
  ax.set_ylabel("density")
  ax.set_title("(d) Std(h): high on memorised training inputs,\nlow on test inputs of the memoriser", fontsize=10)
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)

  ax = fig.add_subplot(outer[2, 2])
  for name, label, colour in MODELS:
    r = runs[name]
    b = r["gating_overlap_by_similarity"]
    keep = b[:, 2] >= 50
    ax.plot(b[keep, 0], b[keep, 1], marker="o", ms=3, color=colour,
            label=f"{SHORT[name]}: ρ = {float(r['gating_spearman']):.2f}")
  ax.set_xlabel("cosine similarity of two clean test images")
  ax.set_ylabel("Jaccard overlap of their active units")
  ax.set_title("(e) gating geometry over 124,750 pairs of noisy test images\n(ρ: Spearman)", fontsize=10)
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)
  fig.suptitle("Fashion-MNIST, p = 100, σ = 0.2 (images centred on the training mean)", fontsize=12)
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=130, bbox_inches="tight")
  print("wrote", args.out)


if __name__ == "__main__":
  main()
