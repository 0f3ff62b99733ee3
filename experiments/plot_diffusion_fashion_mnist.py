"""Figure: sampling trajectories of memorising and generalising ReLU diffusion models (paper Fig 2).

Run: .venv/bin/python experiments/plot_diffusion_fashion_mnist.py --results results/diffusion_fashion_mnist \
       --out figures
Writes ``diffusion_fashion_mnist.png``, drawn from the saved results of experiments/diffusion_fashion_mnist.py
(the generaliser's nearest training images are reloaded: the images its config.json names).
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "diffusion_fashion_mnist.png"
# the models drawn, in order, and what they are ({n}: their number of training images)
TITLES = {"memorizing": "memorising model, {n} raw images (the authors' setting)",
          "memorizing_obtuse": "memorising model, {n} pairwise-obtuse images of the centred data (Cor 3.2's setting; "
                               "shown centred)",
          "generalizing": "generalising model, {n} images"}
ROWS = 3
SNAPSHOTS = 4
COLUMNS = ("x at σ = {}",) * SNAPSHOTS + ("x̂₀ at σ = {}", "sample", "nearest training image")


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/diffusion_fashion_mnist").parse_args()
  results = Path(args.results)
  cfg = dt.load_json(results / "config.json")
  summary = dt.load_json(results / "summary.json")
  names = [n for n in TITLES if (results / f"{n}.npz").exists()]
  data = cfg["data"]
  train_all = None  # loaded when a model's own training set is not saved (the generaliser's)
  fig = plotting.figure(figsize=(8.4, 3.9 * len(names) + 0.4))
  header, *blocks = fig.subfigures(len(names) + 1, 1, height_ratios=[0.4 / 3.9] + [1] * len(names))
  sampling = cfg["sampling"]
  header.suptitle(f"ReLU diffusion models on Fashion-MNIST: ancestral sampling from σ = "
                  f"{plotting.number(sampling['sigma_max'])} (each image auto-scaled)", fontsize=10, y=0.6)
  for block, name in zip(blocks, names):
    r = dt.load_npz(results / f"{name}.npz")
    if r["train_x"].size:
      stored = r["train_x"]
    else:  # the generaliser's: the first rows of the loaded training images
      if train_all is None:
        train_all = np.asarray(dt.load_fashion_mnist("train", num=data["num_train"], seed=data["seed"]).x, np.float32)
      stored = train_all
    entry = summary[name]
    frac = entry["ancestral_memorized_scale_free"]
    num = r["ancestral"].shape[0]
    n_train = cfg["models"][name]["num_samples"]
    block.suptitle(f"{TITLES[name].format(n=f'{n_train:,}')}\n{frac['fraction']:.0%} of {num:,} samples memorised "
                   f"(d₁/d₂ < 1/3 on unit-norm images); median sample norm "
                   f"{entry['ancestral_sample_norm_median']:.1f}, training images {entry['data_norm_median']:.1f}",
                   fontsize=8.5)
    rows = min(ROWS, r["traj_x"].shape[1])
    snapshots = min(SNAPSHOTS, r["traj_x"].shape[0])
    columns = COLUMNS[:snapshots] + COLUMNS[SNAPSHOTS:]
    axes = block.subplots(rows, len(columns), squeeze=False)
    block.subplots_adjust(top=0.84, bottom=0.05, hspace=0.3, wspace=0.15)
    sig = r["traj_sigmas"]
    for row in range(rows):
      for c in range(snapshots):
        plotting.show_image(axes[row, c], r["traj_x"][c, row])
      plotting.show_image(axes[row, snapshots], r["traj_denoised"][-1, row])
      plotting.show_image(axes[row, snapshots + 1], r["ancestral"][row])
      plotting.show_image(axes[row, snapshots + 2], stored[r["ancestral_cosine_index"][row]],
                          label=f"cosine {r['ancestral_cosine'][row]:.2f}")
    for c, label in enumerate(columns):
      axes[0, c].set_title(label.format(f"{sig[min(c, len(sig) - 1)]:.2f}"), fontsize=7.5)
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
