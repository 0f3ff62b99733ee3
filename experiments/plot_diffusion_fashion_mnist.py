"""Figure: sampling trajectories of memorising and generalising ReLU diffusion models (paper Fig 2).

Run: .venv/bin/python experiments/plot_diffusion_fashion_mnist.py --results results/diffusion_fashion_mnist \
       --out figures/diffusion_fashion_mnist.png
Drawn from the saved results of experiments/diffusion_fashion_mnist.py.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dae_theory as dt  # noqa: E402

TITLES = {"memorizing": "memorising model, 5 raw images (the authors' setting)",
          "memorizing_obtuse": "memorising model, 5 pairwise-obtuse images of the centred data (Cor 3.2's setting; "
                               "shown centred)",
          "generalizing": "generalising model, 10,000 images"}
ROWS = 3
COLUMNS = ("x at σ = {:.2f}",) * 4 + ("x̂₀ at σ = {:.2f}", "sample", "nearest training image")


def _show(ax, image):
  """One image, auto-scaled to its own range (as the authors' figures are)."""
  img = image.reshape(28, 28)
  ax.imshow(img, cmap="gray", vmin=img.min(), vmax=max(img.max(), img.min() + 1e-6))
  ax.set_xticks([])
  ax.set_yticks([])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="results/diffusion_fashion_mnist")
  parser.add_argument("--out", default="figures/diffusion_fashion_mnist.png")
  args = parser.parse_args()
  results = Path(args.results)
  summary = dt.load_json(results / "summary.json")
  train_all = np.asarray(dt.load_fashion_mnist("train", num=10_000, seed=0).x, np.float32)
  names = [n for n in TITLES if (results / f"{n}.npz").exists()]
  fig = plt.figure(figsize=(8.4, 3.9 * len(names) + 0.4))
  header, *blocks = fig.subfigures(len(names) + 1, 1, height_ratios=[0.4 / 3.9] + [1] * len(names))
  header.suptitle("ReLU diffusion models on Fashion-MNIST: ancestral sampling from σ = 2 (each image auto-scaled)",
                  fontsize=10, y=0.6)
  for block, name in zip(blocks, names):
    with np.load(results / f"{name}.npz") as r:
      stored = r["train_x"] if r["train_x"].size else train_all  # the generaliser's: the first 10,000
      entry = summary[name]
      frac = entry["ancestral_memorized_scale_free"]
      block.suptitle(f"{TITLES[name]}\n{frac['fraction']:.0%} of 1,000 samples memorised (d₁/d₂ < 1/3 on unit-norm "
                     f"images); median sample norm {entry['ancestral_sample_norm_median']:.1f}, "
                     f"training images {entry['data_norm_median']:.1f}", fontsize=8.5)
      axes = block.subplots(ROWS, 7)
      block.subplots_adjust(top=0.84, bottom=0.05, hspace=0.3, wspace=0.15)
      sig = r["traj_sigmas"]
      for row in range(ROWS):
        for c in range(4):
          _show(axes[row, c], r["traj_x"][c, row])
        _show(axes[row, 4], r["traj_denoised"][-1, row])
        _show(axes[row, 5], r["ancestral"][row])
        _show(axes[row, 6], stored[r["ancestral_cosine_index"][row]])
        axes[row, 6].set_xlabel(f"cosine {r['ancestral_cosine'][row]:.2f}", fontsize=7, labelpad=1)
      for c, label in enumerate(COLUMNS):
        axes[0, c].set_title(label.format(sig[min(c, len(sig) - 1)]), fontsize=7.5)
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=110)
  print("wrote", args.out)


if __name__ == "__main__":
  main()
