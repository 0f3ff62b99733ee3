"""Figure: where the closed forms of Cor 3.2 and Cor 3.3 hold at finite noise (docs/finite-noise.md).

Run: .venv/bin/python experiments/plot_finite_noise.py --results results/finite_noise --out figures
Writes ``finite_noise.png``, drawn from the saved results of ``finite_noise.py`` (the .json files it
writes; docs/results/finite_noise holds a copy of the committed run's).
"""

from pathlib import Path

import matplotlib.lines
import matplotlib.patches
import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "finite_noise.png"
KIND_COLOURS = {"blocks": plotting.GENERALIZED, "blocks, another split": plotting.SKY_BLUE,
                "gated": plotting.HYBRID}
MARKERS = "os^Dv<>ph"
# the 1 % error the summary's thresholds are stated at
TOLERANCE = 0.01
FLOOR = 1e-6  # errors below it are drawn at it (log axes)


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/finite_noise").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  rows = dt.load_json(res / "closed_forms.json")["rows"]
  summary = dt.load_json(res / "summary.json")
  flat = dt.load_json(res / "flat_cut.json")["cases"]
  col = lambda key: np.array([r[key] for r in rows], np.float64)
  fig, axes = plotting.subplots(2, 2, figsize=(11, 9))
  limit_style = dict(color=plotting.BLACK, lw=0.9, ls=":")
  tolerance_style = dict(color=plotting.GREY, lw=0.8, ls="--")

  ax = axes[0, 0]
  dots = ax.scatter(np.maximum(col("coactive_max"), FLOOR), np.maximum(np.abs(col("loss_error")), FLOOR), s=12,
                    c=np.log10(col("sigma")), cmap=plotting.SEQUENTIAL_CMAP)
  fig.colorbar(dots, ax=ax, label="log10 σ")
  ax.axhline(TOLERANCE, **tolerance_style, label=f"{TOLERANCE:.0%} error")
  limit = summary["closed_forms"]["coactive_limit"]
  ax.axvline(limit, **limit_style, label=f"COACTIVE_LIMIT = {plotting.number(limit)}")
  ax.set(xscale="log", yscale="log", xlabel="max_i Σ_j≠i P_ij (expected co-active units)",
         ylabel="|memorization_loss / exact − 1|")
  ax.set_title(f"Cor 3.2 loss: closed form against exact eq. (6)\n({len(rows)} cases: points × σ)")
  ax.legend(loc="lower right")

  ax = axes[0, 1]
  dots = ax.scatter(np.maximum(col("weighted_coactive_max"), FLOOR), np.maximum(col("norm_deviation"), FLOOR), s=12,
                    c=np.log10(col("sigma")), cmap=plotting.SEQUENTIAL_CMAP)
  fig.colorbar(dots, ax=ax, label="log10 σ")
  ax.axhline(TOLERANCE, **tolerance_style, label=f"{TOLERANCE:.0%} error")
  limit = summary["closed_forms"]["weighted_coactive_limit"]
  ax.axvline(limit, **limit_style, label=f"WEIGHTED_COACTIVE_LIMIT = {plotting.number(limit)}")
  ax.set(xscale="log", yscale="log", xlabel="max_i (σ/‖x_i‖)² Σ_j≠i P_ij",
         ylabel="max_i |exact-minimiser norm / r_i‖x_i‖ − 1|")
  ax.set_title(f"Cor 3.2 scales r_i against the exact minimiser\n({len(rows)} cases)")
  ax.legend(loc="lower right")

  ax = axes[1, 0]
  table = summary["memorization_width"]
  sigmas = sorted({t["sigma"] for t in table})
  for sigma, colour in zip(sigmas, plotting.sequential(len(sigmas), stop=0.75)):
    t = sorted((r for r in table if r["sigma"] == sigma), key=lambda r: r["spare"])
    ax.plot([r["spare"] for r in t], [r["share_storing_all"] for r in t], "o-", color=colour,
            label=f"σ = {plotting.number(sigma)}")
  mem = cfg["memorization"]
  seeds = max(t["seeds"] for t in table)
  ax.set(xlabel="p − n (spare units)", ylabel="share of seeds storing every sample", ylim=(-0.05, 1.05))
  ax.set_title(f"training {mem['num']} regular-simplex points (d = {mem['dim']}, λ = {plotting.number(mem['lam'])})\n"
               f"against width, {seeds} seeds per point")
  ax.legend()

  ax = axes[1, 1]
  s1_values = sorted({case["s1"] for case in flat})
  marker = {s1: MARKERS[i % len(MARKERS)] for i, s1 in enumerate(s1_values)}
  for case in flat:
    for r in case["runs"]:
      ax.scatter(min(case["eigen_gap"]), r["gap_to_w_gen"], color=KIND_COLOURS[r["kind"]], s=20,
                 marker=marker[case["s1"]], alpha=0.85)
  kinds = {r["kind"] for case in flat for r in case["runs"]}
  handles = [matplotlib.patches.Patch(color=colour, label=f"trained: {kind}") for kind, colour in KIND_COLOURS.items()
             if kind in kinds]
  handles += [matplotlib.lines.Line2D([], [], ls="", color=plotting.GREY, marker=marker[s1],
                                      label=f"s1 = {plotting.number(s1)}") for s1 in s1_values]
  limit = summary["eigen_gap_limit"]
  handles.append(ax.axvline(limit, **limit_style, label=f"EIGEN_GAP_LIMIT = {plotting.number(limit)}"))
  ax.axhline(0.0, color=plotting.GREY, lw=0.8, ls="--")
  ax.set_yscale("symlog", linthresh=1e-3)
  gaps = np.array([r["gap_to_w_gen"] for case in flat for r in case["runs"]])
  ax.set_ylim(min(-1e-3, 3 * gaps.min()), max(1e-3, 3 * gaps.max()))
  ax.set(xlabel="min_k relative eigen-gap at the cut p_k", ylabel="exact loss / W_gen's − 1")
  f = cfg["flat"]
  ax.set_title(f"Cor 3.3: trained runs on {f['num_modes']} modes (d = {f['dim']}, p = {f['width']}, "
               f"σ = {plotting.number(f['sigma'])})\nagainst W_gen, {len(f['seeds'])} seeds per case")
  ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=True, facecolor="white", edgecolor="none",
            framealpha=0.9)

  fig.suptitle("Where the closed forms hold at finite noise: Cor 3.2 (memorisation) against the exact loss and "
               "its minimiser,\nand training against width; Cor 3.3 (generalisation) against the eigen-gap at "
               "the cut")
  fig.tight_layout(rect=(0, 0, 1, 0.96))
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
