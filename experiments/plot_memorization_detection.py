"""Figures: memorisation detection (paper Fig 4–5 layout, Table 1 metrics) and representation
steering (eq. 11) on ReLU diffusion models trained here.

Run: .venv/bin/python experiments/plot_memorization_detection.py --results results/memorization_detection --out figures
Writes memorization_detection.png, detection_vs_duplication.png and steering.png into the --out folder,
drawn from the saved results of experiments/memorization_detection.py.
"""

from pathlib import Path

import matplotlib.ticker
import numpy as np

import dae_theory as dt
from dae_theory import plotting

MEMORIZED, OTHER = plotting.MEMORIZED, plotting.GENERALIZED
# the most steering strengths shown as images (evenly spaced, first and last included)
MAX_STRENGTHS_SHOWN = 7
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
  plotting.histograms(ax, [(np.clip(values[mask], lo, hi), colour, f"{label} ({mask.sum():,})")
                           for mask, colour, label in ((flags, MEMORIZED, "memorised"),
                                                       (~flags, OTHER, "not memorised"))], bins)
  ax.set_title(title, fontsize=8)
  ax.tick_params(labelsize=7)
  ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
  ax.set_yticks([])
  ax.set_ylim(top=1.3 * ax.get_ylim()[1])


def detection_figure(results: Path, cfg: dict, out):
  fig, axes = plotting.subplots(len(BENCHMARKS), 4, figsize=(13, 3.1 * len(BENCHMARKS)),
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
        ax.plot(fpr, tpr, lw=1.2, **plotting.line_style(i), label=f"{LABELS[key]}: {dt.auroc(s[flags], s[~flags]):.3f}")
      ax.legend(fontsize=5.8, title="AUROC", title_fontsize=6.5, loc="lower right", frameon=True, facecolor="white",
                edgecolor="none", framealpha=0.85)
    else:
      ax.text(0.5, 0.5, "too few memorised or other\nsamples for a ROC curve", ha="center", va="center",
              transform=ax.transAxes, fontsize=8)
    ax.plot([0, 1], [0, 1], color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("false-positive rate", fontsize=7)
    ax.set_ylabel("true-positive rate", fontsize=7)
    ax.tick_params(labelsize=7)
  sigma_det = plotting.number(cfg["detect"]["sigma_det"])
  fig.suptitle("Memorisation detection on ReLU diffusion models: score distributions of memorised and other "
               f"samples at σ_det = {sigma_det}, and ROC curves of every detector", fontsize=10)
  fig.tight_layout(rect=(0.02, 0, 1, 0.96))
  plotting.save_figure(fig, out, "memorization_detection.png", tight=False)


def duplication_figure(results: Path, cfg: dict, out):
  summary = dt.load_json(results / "summary.json")["duplicated_mixture"]
  copies = np.array([row["copies"] for row in summary])
  fig, (ax, bx) = plotting.subplots(1, 2, figsize=(10, 3.8))
  for i, key in enumerate(dt.DETECTORS):
    values = [row["metrics"][key]["auroc"] if row["metrics"][key] else np.nan for row in summary]
    lows = [row["metrics"][key]["auroc_low"] if row["metrics"][key] else np.nan for row in summary]
    highs = [row["metrics"][key]["auroc_high"] if row["metrics"][key] else np.nan for row in summary]
    ax.errorbar(copies, values, yerr=[np.subtract(values, lows), np.subtract(highs, values)], marker="o", ms=3,
                lw=1.1, capsize=2, **plotting.line_style(i), label=LABELS[key])
  for a in (ax, bx):
    a.set_xscale("log")
    a.set_xticks(copies, [str(c) for c in copies])
    a.minorticks_off()
    a.set_xlabel("extra copies of each duplicated point")
  ax.set_ylabel("AUROC (95 % bootstrap interval)")
  ax.axhline(0.5, color=plotting.GREY, lw=0.8)
  ax.legend(fontsize=6, ncol=3, loc="lower right")
  ax.set_ylim(0.35, 1.0)
  num = [row["num_memorized"] for row in summary]
  on_dup = [row["memorized_on_duplicate"] for row in summary]
  bx.plot(copies, num, marker="o", color=MEMORIZED, label="memorised samples (d₁/d₂ < 1/3)")
  bx.plot(copies, on_dup, marker="s", color=OTHER, ls="--", label="… whose nearest point is a duplicated one")
  sizes = sorted({row["num_samples"] for row in summary})
  bx.set_ylabel(f"samples (of {', '.join(f'{n:,}' for n in sizes)})")
  bx.legend(fontsize=7)
  num_dup = cfg["mixture"]["num_duplicated"]
  fig.suptitle(f"Gaussian mixture with {num_dup} duplicated points: detection against how strongly the duplicates "
               "are stored", fontsize=10)
  fig.tight_layout()
  plotting.save_figure(fig, out, "detection_vs_duplication.png")


def shown_strengths(count: int) -> list[int]:
  """Up to MAX_STRENGTHS_SHOWN indices into ``count`` strengths, evenly spaced, first and last included."""
  return sorted(set(np.round(np.linspace(0, count - 1, min(count, MAX_STRENGTHS_SHOWN))).astype(int).tolist()))


def steering_figure(results: Path, cfg: dict, out):
  summary = dt.load_json(results / "summary.json")
  r = dt.load_npz(results / "steering_fmnist.npz")
  strengths = r["strengths"]
  shown = shown_strengths(strengths.size)
  rows = min(2, r["generalizing_samples"].shape[1], r["memorizing_samples"].shape[1])
  fig = plotting.figure(figsize=(12, 9.4))
  top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
  image_axes = top.subplots(2 * rows, len(shown), squeeze=False)
  for block, name in enumerate(("generalizing", "memorizing")):
    samples = r[f"{name}_samples"]
    for row in range(rows):
      for col, a_index in enumerate(shown):
        ax = image_axes[rows * block + row, col]
        plotting.show_image(ax, samples[a_index, row])
        if rows * block + row == 0:
          ax.set_title(f"a = {plotting.number(strengths[a_index])}", fontsize=8)
        if col == 0:
          ax.set_ylabel(f"{name[:3]}. {row + 1}", fontsize=7)
  target = dt.FASHION_MNIST_CLASSES[int(r["target"])]
  num_images = cfg["two_models"]["memorizing"]["num_images"]
  rows_text = (f"rows 1–{rows} generalising model, rows {rows + 1}–{2 * rows} memorising model" if rows > 1
               else "row 1 generalising model, row 2 memorising model")
  top.suptitle(f"Steering Fashion-MNIST samples toward '{target}' (h ← h + a·v): {rows_text} "
               f"({num_images} images); same starting noise", fontsize=9)
  axes = bottom.subplots(1, 3)
  groups = (("generalizing", "all", OTHER, "generalising model"), ("memorizing", "memorized", MEMORIZED,
                                                                    "memorising model, its copies"))
  for part, ls in (("steering_fmnist", "-"), ("steering_mixture", "--")):
    entry = summary[part]
    a = np.asarray(entry["strengths"])
    first = part == "steering_fmnist"  # one legend entry per curve kind: the line style tells the data
    for name, group, colour, label in groups:
      e = entry[name].get(group)
      if e is None:
        continue
      axes[0].plot(a, e["share_carrying_concept"], color=colour, ls=ls, marker="o", ms=3,
                   label=label if first else None)
      axes[1].plot(a, e["median_distance_to_unsteered"], color=colour, ls=ls, marker="o", ms=3)
    if "memorized_still_on_stored" in entry["memorizing"]:
      m = entry["memorizing"]
      for key, colour, marker, label in (
          ("memorized_still_on_stored", MEMORIZED, "o", "still a copy of its stored image"),
          ("memorized_left_stored_with_concept", plotting.BLUISH_GREEN, "s", "left it, carrying the concept"),
          ("memorized_still_a_copy", plotting.REDDISH_PURPLE, "^", "a copy of any training image")):
        axes[2].plot(a, m[key], color=colour, ls=ls, marker=marker, ms=3, label=label if first else None)
  axes[0].set_ylabel("share carrying the concept", fontsize=8)
  axes[1].set_ylabel("median move from the unsteered sample", fontsize=8)
  axes[1].set_yscale("symlog", linthresh=0.1)
  axes[2].set_ylabel("share of the memorising model's copies", fontsize=8)
  axes[1].set_title("unit-norm images (Fashion-MNIST), ℓ2 (mixture)", fontsize=7)
  for ax in axes:
    ax.set_xlabel("steering strength a", fontsize=8)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.tick_params(labelsize=7)
  for ax in (axes[0], axes[2]):  # below the panel: the curves fill it
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
  bottom.subplots_adjust(left=0.07, right=0.98, wspace=0.35, bottom=0.3, top=0.86)
  bottom.suptitle("What the paper pictures, measured: the share carrying the concept (of samples without it at a = 0), "
                  "how far samples move,\nand the memorising model's copies (solid: Fashion-MNIST, dashed: the "
                  "Gaussian mixture)", fontsize=9)
  plotting.save_figure(fig, out, "steering.png", tight=False)


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/memorization_detection").parse_args()
  results = Path(args.results)
  cfg = dt.load_json(results / "config.json")
  detection_figure(results, cfg, args.out)
  duplication_figure(results, cfg, args.out)
  steering_figure(results, cfg, args.out)


if __name__ == "__main__":
  main()
