"""Figure: where the closed forms of Cor 3.2 and Cor 3.3 hold at finite noise (docs/finite-noise.md).

Run: .venv/bin/python experiments/plot_finite_noise.py --results docs/results/finite_noise \
       --out figures/finite_noise.png
Drawn from the saved results of ``finite_noise.py``.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import dae_theory as dt

KIND_COLOURS = {"blocks": "#1f77b4", "blocks, another split": "#9467bd", "gated": "#d62728"}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="docs/results/finite_noise")
  parser.add_argument("--out", default="figures/finite_noise.png")
  args = parser.parse_args()
  res = Path(args.results)
  rows = dt.load_json(res / "closed_forms.json")["rows"]
  summary = dt.load_json(res / "summary.json")
  flat = dt.load_json(res / "flat_cut.json")["cases"]
  col = lambda key: np.array([r[key] for r in rows], np.float64)
  fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))

  ax = axes[0, 0]
  floor = 1e-6
  dots = ax.scatter(np.maximum(col("coactive_max"), floor), np.maximum(np.abs(col("loss_error")), floor), s=12,
                    c=np.log10(col("sigma")), cmap="viridis")
  fig.colorbar(dots, ax=ax, label="log10 σ")
  ax.axhline(0.01, color="k", lw=0.8, ls="--")
  ax.axvline(summary["closed_forms"]["coactive_limit"], color="#d62728", lw=0.8)
  ax.set(xscale="log", yscale="log", xlabel="max_i Σ_j≠i P_ij (expected co-active units)",
         ylabel="|memorization_loss / exact − 1|", title="Cor 3.2 loss: closed form against exact eq. (6)")

  ax = axes[0, 1]
  dots = ax.scatter(np.maximum(col("weighted_coactive_max"), floor), np.maximum(col("norm_deviation"), floor), s=12,
                    c=np.log10(col("sigma")), cmap="viridis")
  fig.colorbar(dots, ax=ax, label="log10 σ")
  ax.axhline(0.01, color="k", lw=0.8, ls="--")
  ax.axvline(summary["closed_forms"]["weighted_coactive_limit"], color="#d62728", lw=0.8)
  ax.set(xscale="log", yscale="log", xlabel="max_i (σ/‖x_i‖)² Σ_j≠i P_ij",
         ylabel="max_i |exact-minimiser norm / r_i‖x_i‖ − 1|", title="Cor 3.2 scales r_i against the exact minimiser")

  ax = axes[1, 0]
  table = summary["memorization_width"]
  for sigma in sorted({t["sigma"] for t in table}):
    t = sorted((r for r in table if r["sigma"] == sigma), key=lambda r: r["spare"])
    ax.plot([r["spare"] for r in t], [r["share_storing_all"] for r in t], "o-", label=f"σ = {sigma}")
  ax.set(xlabel="p − n", ylabel="share of seeds storing every sample", ylim=(-0.05, 1.05),
         title="8 simplex points (d = 40): training against width")
  ax.legend()

  ax = axes[1, 1]
  for case in flat:
    for r in case["runs"]:
      ax.scatter(min(case["eigen_gap"]), r["gap_to_w_gen"], color=KIND_COLOURS[r["kind"]], s=18,
                 marker="o" if case["s1"] == 0.5 else ("s" if case["s1"] > 0.5 else "^"))
  for kind, colour in KIND_COLOURS.items():
    ax.scatter([], [], color=colour, label=kind)
  ax.axvline(summary["eigen_gap_limit"], color="#d62728", lw=0.8)
  ax.axhline(0.0, color="k", lw=0.8, ls="--")
  ax.set(yscale="symlog", xlabel="min_k relative eigen-gap at the cut p_k", ylabel="exact loss / W_gen's − 1",
         title="Cor 3.3: trained runs (○ s1 = 0.5, □ 0.7, △ 0.35)")
  ax.set_yscale("symlog", linthresh=1e-3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=120)
  print("wrote", args.out)


if __name__ == "__main__":
  main()
