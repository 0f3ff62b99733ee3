"""Figures: memorisation detection (paper Fig 4–5 layout, Table 1 metrics) and representation
steering (eq. 11) on ReLU diffusion models trained here.

Run: .venv/bin/python experiments/plot_memorization_detection.py --results results/memorization_detection \
       --out figures
Writes figures/memorization_detection.png, figures/detection_vs_duplication.png and
figures/steering.png, drawn from the saved results of experiments/memorization_detection.py.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dae_theory as dt  # noqa: E402

# Okabe–Ito, colour-blind safe.
MEMORIZED, OTHER = "#D55E00", "#0072B2"
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999"]
LABELS = {"std": "Std(h)", "normalized_std": "Std(h)/‖h‖", "peak_energy_fraction": "max h² / ‖h‖²",
          "l4_l2_ratio": "‖h‖₄/‖h‖₂", "inverse_participation": "Σh⁴/(Σh²)²", "denoising_error": "denoising error",
          "displacement": "‖D(x_t) − x_t‖", "jacobian_rank": "Jacobian eff. rank",
          "nearest_distance": "NN distance (oracle)"}
BENCHMARKS = {
    "two_models": "memorising vs generalising model\n(Fashion-MNIST, labels by model)",
    "duplicated_fmnist": "one model, duplicated images\n(Fashion-MNIST, labels by d₁/d₂)",
    "duplicated_mixture": "one model, duplicated points\n(mixture, most copies, labels by d₁/d₂)",
}


def _benchmark(results: Path, name: str):
  """(scores by detector, memorised flags) of one benchmark."""
  if name == "duplicated_mixture":
    r = dt.load_npz(results / "duplicated_mixture.npz")
    c = int(r["copies"].max())
    return {k: r[f"c{c}_score_{k}"] for k in dt.DETECTORS}, r[f"c{c}_memorized"]
  r = dt.load_npz(results / f"{name}.npz")
  return {k: r[f"score_{k}"] for k in dt.DETECTORS}, r["memorized"]


def _hist(ax, values, flags, title):
  lo, hi = np.percentile(values, [0.5, 99.5])
  bins = np.linspace(lo, hi if hi > lo else lo + 1e-6, 40)
  for mask, colour, label in ((flags, MEMORIZED, "memorised"), (~flags, OTHER, "not memorised")):
    if mask.any():
      ax.hist(np.clip(values[mask], lo, hi), bins=bins, color=colour, alpha=0.6, density=True,
              label=f"{label} ({mask.sum()})")
  ax.set_title(title, fontsize=8)
  ax.tick_params(labelsize=7)
  ax.set_yticks([])


def detection_figure(results: Path, out: Path):
  fig, axes = plt.subplots(len(BENCHMARKS), 4, figsize=(13, 3.1 * len(BENCHMARKS)),
                           gridspec_kw=dict(width_ratios=[1, 1, 1, 1.35]))
  for row, (name, title) in enumerate(BENCHMARKS.items()):
    scores, flags = _benchmark(results, name)
    flags = np.asarray(flags, bool)
    axes[row, 0].text(-0.32, 0.5, title, transform=axes[row, 0].transAxes, rotation=90, va="center",
                      ha="center", fontsize=8)
    for col, key in enumerate(("std", "normalized_std", "jacobian_rank")):
      _hist(axes[row, col], scores[key], flags, LABELS[key])
    axes[row, 0].legend(fontsize=6.5, loc="upper right")
    ax = axes[row, 3]
    if flags.sum() >= 2 and (~flags).sum() >= 2:
      for i, key in enumerate(dt.DETECTORS):
        s = scores[key] if dt.HIGHER_MEANS_MEMORIZED[key] else -scores[key]
        fpr, tpr = dt.roc_curve(s[flags], s[~flags])
        ax.plot(fpr, tpr, color=PALETTE[i], lw=1.2, ls="--" if key == "nearest_distance" else "-",
                label=f"{LABELS[key]}: {dt.auroc(s[flags], s[~flags]):.3f}")
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    ax.set_xlabel("false-positive rate", fontsize=7)
    ax.set_ylabel("true-positive rate", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=5.8, title="AUROC", title_fontsize=6.5, loc="lower right")
  fig.suptitle("Memorisation detection on ReLU diffusion models: score distributions of memorised and other "
               "samples at σ_det = 0.1, and ROC curves of every detector", fontsize=10)
  fig.tight_layout(rect=(0.02, 0, 1, 0.96))
  fig.savefig(out / "memorization_detection.png", dpi=130)
  plt.close(fig)


def duplication_figure(results: Path, out: Path):
  summary = dt.load_json(results / "summary.json")["duplicated_mixture"]
  copies = np.array([row["copies"] for row in summary])
  x = copies
  fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6))
  for i, key in enumerate(dt.DETECTORS):
    values = [row["metrics"][key]["auroc"] if row["metrics"][key] else np.nan for row in summary]
    lows = [row["metrics"][key]["auroc_low"] if row["metrics"][key] else np.nan for row in summary]
    highs = [row["metrics"][key]["auroc_high"] if row["metrics"][key] else np.nan for row in summary]
    ax.errorbar(x, values, yerr=[np.subtract(values, lows), np.subtract(highs, values)], color=PALETTE[i],
                marker="o", ms=3, lw=1.1, capsize=2, ls="--" if key == "nearest_distance" else "-", label=LABELS[key])
  ax.set_xscale("log")
  ax.set_xticks(copies, [str(c) for c in copies])
  ax.minorticks_off()
  ax.set_xlabel("extra copies of each duplicated point")
  ax.set_ylabel("AUROC (95 % bootstrap interval)")
  ax.axhline(0.5, color="0.8", lw=0.8)
  ax.legend(fontsize=6, ncol=3, loc="lower right")
  ax.set_ylim(0.35, 1.0)
  num = [row["num_memorized"] for row in summary]
  on_dup = [row["memorized_on_duplicate"] for row in summary]
  bx.plot(x, num, marker="o", color=MEMORIZED, label="memorised samples (d₁/d₂ < 1/3)")
  bx.plot(x, on_dup, marker="s", color=OTHER, ls="--", label="… whose nearest point is a duplicated one")
  bx.set_xscale("log")
  bx.set_xticks(copies, [str(c) for c in copies])
  bx.minorticks_off()
  bx.set_xlabel("extra copies of each duplicated point")
  bx.set_ylabel("samples (of 1,000)")
  bx.legend(fontsize=7)
  fig.suptitle("Gaussian mixture with 6 duplicated points: detection against how strongly the duplicates are stored",
               fontsize=10)
  fig.tight_layout()
  fig.savefig(out / "detection_vs_duplication.png", dpi=130)
  plt.close(fig)


def steering_figure(results: Path, out: Path):
  summary = dt.load_json(results / "summary.json")
  r = dt.load_npz(results / "steering_fmnist.npz")
  strengths = r["strengths"]
  shown = [0, 2, 4, 6, 8, 10, 11]
  fig = plt.figure(figsize=(12, 8.2))
  top, bottom = fig.subfigures(2, 1, height_ratios=[1.25, 1])
  image_axes = top.subplots(4, len(shown))
  for block, name in enumerate(("generalizing", "memorizing")):
    samples = r[f"{name}_samples"]
    for row in range(2):
      for col, a_index in enumerate(shown):
        ax = image_axes[2 * block + row, col]
        img = samples[a_index, row].reshape(28, 28)
        ax.imshow(img, cmap="gray", vmin=img.min(), vmax=max(img.max(), img.min() + 1e-6))
        ax.set_xticks([])
        ax.set_yticks([])
        if 2 * block + row == 0:
          ax.set_title(f"a = {strengths[a_index]:g}", fontsize=8)
        if col == 0:
          ax.set_ylabel(f"{name[:3]}. {row + 1}", fontsize=7)
  target = dt.FASHION_MNIST_CLASSES[int(r["target"])]
  top.suptitle(f"Steering Fashion-MNIST samples toward '{target}' (h ← h + a·v): rows 1–2 generalising model, "
               f"rows 3–4 memorising model (5 images); same starting noise", fontsize=9)
  axes = bottom.subplots(1, 3)
  groups = (("generalizing", "all", OTHER, "generalising model"), ("memorizing", "memorized", MEMORIZED,
                                                                    "memorising model, its copies"))
  for part, ls, where in (("steering_fmnist", "-", "Fashion-MNIST"), ("steering_mixture", "--", "mixture")):
    entry = summary[part]
    a = np.asarray(entry["strengths"])
    for name, group, colour, label in groups:
      e = entry[name].get(group)
      if e is None:
        continue
      axes[0].plot(a, e["share_carrying_concept"], color=colour, ls=ls, marker="o", ms=3, label=f"{label}, {where}")
      axes[1].plot(a, e["median_distance_to_unsteered"], color=colour, ls=ls, marker="o", ms=3)
    if "memorized_still_on_stored" in entry["memorizing"]:
      axes[2].plot(a, entry["memorizing"]["memorized_still_on_stored"], color=MEMORIZED, ls=ls, marker="o", ms=3,
                   label=f"still a copy of it, {where}")
      axes[2].plot(a, entry["memorizing"]["memorized_left_stored_with_concept"], color="#009E73", ls=ls, marker="s",
                   ms=3, label=f"left it, carrying the concept, {where}")
      axes[2].plot(a, entry["memorizing"]["memorized_still_a_copy"], color="#CC79A7", ls=ls, marker="^", ms=3,
                   label=f"a copy of any training image, {where}")
  axes[0].set_ylabel("share carrying the concept", fontsize=8)
  axes[1].set_ylabel("median move from the unsteered sample", fontsize=8)
  axes[1].set_yscale("symlog", linthresh=0.1)
  axes[2].set_ylabel("share of the memorising model's copies", fontsize=8)
  axes[1].set_title("unit-norm images (Fashion-MNIST), ℓ2 (mixture)", fontsize=7)
  for ax in axes:
    ax.set_xlabel("steering strength a", fontsize=8)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.tick_params(labelsize=7)
  axes[0].legend(fontsize=6.5)
  axes[2].legend(fontsize=6.5)
  bottom.subplots_adjust(left=0.07, right=0.98, wspace=0.35, bottom=0.12, top=0.84)
  bottom.suptitle("What the paper pictures, measured: the share carrying the concept (of samples without it at a = 0), "
                  "how far samples move, and the memorising model's copies", fontsize=9)
  fig.savefig(out / "steering.png", dpi=120)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="results/memorization_detection")
  parser.add_argument("--out", default="figures")
  args = parser.parse_args()
  results, out = Path(args.results), Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  detection_figure(results, out)
  duplication_figure(results, out)
  steering_figure(results, out)
  print("wrote", out / "memorization_detection.png", out / "detection_vs_duplication.png", out / "steering.png")


if __name__ == "__main__":
  main()
