"""Figure: the hybrid regime of Cor 3.4 (paper Fig 6 layout): stored columns beside statistical blocks.

Run: .venv/bin/python experiments/plot_hybrid_regime.py --results results/hybrid_regime --out figures
Writes ``hybrid_regime.png``, drawn from the saved results of ``experiments/hybrid_regime.py``.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "hybrid_regime.png"


def group_names(group: np.ndarray, dup_ids, mode_ids) -> list[str]:
  """A short name per column group: duplicate ℓ → "dup ℓ", mode k → "mode k", no cluster → "none"."""
  names = {int(i): f"dup {j + 1}" for j, i in enumerate(dup_ids)}
  names.update({int(k): f"mode {j + 1}" for j, k in enumerate(mode_ids)})
  return [names.get(int(g), "none") for g in group]


def mark_groups(ax, labels: list[str], axis: str = "x") -> None:
  """Tick labels at the centre of each run of equal labels, and thin lines between runs."""
  starts = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
  ends = starts[1:] + [len(labels)]
  centres = [(a + b - 1) / 2 for a, b in zip(starts, ends)]
  names = [labels[a] for a in starts]
  if axis == "x":
    ax.set_xticks(centres, names, rotation=90)
  else:
    ax.set_yticks(centres, names)
  for edge in starts[1:]:
    (ax.axvline if axis == "x" else ax.axhline)(edge - 0.5, color=plotting.GREY, lw=0.6, zorder=0)


def coordinates(w: np.ndarray, basis: np.ndarray) -> np.ndarray:
  """Columns of w (d, p) against the unit reference directions (d, m): inner products (m, p), plus a
  last row with the norm of what lies outside their span. (The directions need not be orthogonal:
  the equiangular ones are a regular simplex, cos −0.2, and linearly dependent.)"""
  u, sv, _ = np.linalg.svd(basis, full_matrices=False)
  span = u[:, sv > 1e-6 * sv.max()]
  outside = np.linalg.norm(w - span @ (span.T @ w), axis=0)
  return np.concatenate([basis.T @ w, outside[None]], axis=0)


def main():
  parser = plotting.figure_parser(__doc__.splitlines()[0], "results/hybrid_regime")
  args = parser.parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  m, a = dt.load_npz(res / "models.npz"), dt.load_npz(res / "analysis.npz")
  labels, is_dup = m["labels"], m["is_duplicate"].astype(bool)
  dup_ids, mode_ids = np.unique(labels[is_dup]), np.unique(labels[~is_dup])
  seeds = m["seeds"]
  preset = cfg["preset"]
  copies = int(is_dup.sum() // len(dup_ids))

  fig = plotting.figure(figsize=(13.5, 8.4))
  outer = fig.add_gridspec(2, 3, height_ratios=(1.15, 1), hspace=0.42, wspace=0.4)

  # (a) learned columns of seed 0 against the closed form, in the basis of the data's directions
  order, group = a["order"][0], a["group"][0]
  w = m["w"][0][:, order]
  panels = ((w, f"learned W (seed {int(seeds[0])})"),
            (a["aligned"][0], "closed form of Cor 3.4\n(each block rotated onto the learned one)"))
  row_names = [str(s) for s in m["basis_names"]] + ["outside"]
  col_names = group_names(group, dup_ids, mode_ids)
  images = [coordinates(v, m["basis"]) for v, _ in panels]
  lim = max(float(np.abs(im).max()) for im in images)
  inner = outer[0, :2].subgridspec(1, 3, width_ratios=(1, 1, 0.05), wspace=0.12)
  for j, (image, (_, title)) in enumerate(zip(images, panels)):
    ax = fig.add_subplot(inner[0, j])
    shown = ax.imshow(image, cmap=plotting.DIVERGING_CMAP, vmin=-lim, vmax=lim, aspect="auto")
    mark_groups(ax, col_names, "x")
    ax.axhline(len(row_names) - 1.5, color=plotting.GREY, lw=0.6)
    if j == 0:
      ax.set_yticks(np.arange(len(row_names)), row_names)
      ax.set_ylabel("inner product with the unit direction")
    else:
      ax.set_yticks([])
    ax.set_xlabel("column of W (grouped by what it serves)")
    ax.set_title(("(a) " if j == 0 else "") + title, loc="left")
  fig.colorbar(shown, cax=fig.add_subplot(inner[0, 2]))

  # (b) learned over predicted: the duplicates' column norms and the blocks' singular values, every seed
  ax = fig.add_subplot(outer[0, 2])
  dup_ratio = a["dup_norm"] / a["dup_norm_predicted"]  # (seeds, D)
  sv_ratio = a["block_singular"] / a["block_singular_predicted"]  # (seeds, K, r)
  items = [(f"dup {j + 1}", dup_ratio[:, j], plotting.MEMORIZED) for j in range(dup_ratio.shape[1])]
  items += [(f"mode {k + 1}, s{i + 1}", sv_ratio[:, k, i], plotting.GENERALIZED)
            for k in range(sv_ratio.shape[1]) for i in range(sv_ratio.shape[2])]
  jitter = np.linspace(-0.2, 0.2, len(seeds)) if len(seeds) > 1 else np.zeros(1)
  for x, (_, ratio, colour) in enumerate(items):
    ax.plot(x + jitter, 100 * (ratio - 1), "o", color=colour, ms=3.5, alpha=0.8)
  ax.axhline(0, color=plotting.GREY, lw=0.8, zorder=0)
  lo, hi = ax.get_ylim()
  ax.set_ylim(lo - 0.5 * (hi - lo), hi)  # room for the legend
  ax.set_xticks(np.arange(len(items)), [name for name, _, _ in items], rotation=90)
  ax.set_ylabel("learned / closed form − 1  (%)")
  ax.plot([], [], "o", color=plotting.MEMORIZED, label="norm of the duplicate's column (r_ℓ‖x_ℓ‖)")
  ax.plot([], [], "o", color=plotting.GENERALIZED, label="singular values of a mode's block W_k")
  ax.legend(loc="lower left")
  cos_min = float(a["dup_cosine"].min())
  ax.set_title(f"(b) learned against Cor 3.4, {len(seeds)} seed{'s' * (len(seeds) > 1)}: duplicates' "
               f"columns at\n{plotting.cosine_bound(cos_min)}; Gram error of W ≤ {a['gram_error'].max():.1%}",
               loc="left")

  # (c) one noisy duplicate's code and one noisy ordinary sample's code
  h_dup, h_ord = a["y_dup_codes"][0][:, order], a["y_ord_codes"][0][:, order]
  ax = fig.add_subplot(outer[1, 0])
  units = np.arange(h_dup.shape[1])
  ax.bar(units - 0.2, h_dup[0], 0.4, color=plotting.MEMORIZED, label="a noisy duplicate x_ℓ + σε")
  ax.bar(units + 0.2, h_ord[0], 0.4, color=plotting.GENERALIZED, label="a noisy ordinary sample")
  mark_groups(ax, col_names, "x")
  ax.set_ylabel("h_j = [Wᵀy]₊")
  ax.set_title("(c) codes: one unit for a duplicate,\na mode's block for an ordinary sample", loc="left")
  ax.legend(loc="upper right", frameon=True, facecolor="white", edgecolor="none", framealpha=0.9)

  groups = lambda f: ((f(h_dup), plotting.MEMORIZED, f"noisy duplicates ({h_dup.shape[0]:,})"),
                      (f(h_ord), plotting.GENERALIZED, f"noisy ordinary samples ({h_ord.shape[0]:,})"))
  span = lambda v: (f"{v.min():.3f}" if np.ptp(v) < 5e-4 else f"{v.min():.3f}–{v.max():.3f}")

  # (d) Std(h), the paper's score
  ax = fig.add_subplot(outer[1, 1])
  std = lambda h: np.asarray(dt.representation_std(h))
  both = np.concatenate([std(h_dup), std(h_ord)])
  plotting.histograms(ax, groups(std), np.linspace(both.min(), both.max(), 40))
  ax.set_ylim(top=1.35 * ax.get_ylim()[1])
  ax.set(xlabel="Std(h) (the paper's score)", ylabel="density")
  ax.set_title(f"(d) Std(h): AUROC {span(a['auroc_std'])}\n(it tracks the scale of h as well as its shape)",
               loc="left")
  ax.legend(loc="upper left")

  # (e) the scale-free peak energy fraction
  ax = fig.add_subplot(outer[1, 2])
  peak = lambda h: np.asarray(dt.peak_energy_fraction(h))
  plotting.histograms(ax, groups(peak), np.linspace(0, 1, 41))
  ax.set_ylim(top=1.2 * ax.get_ylim()[1])
  ax.set(xlabel="max_j h_j² / ‖h‖² (1 = one-hot)", ylabel="density")
  ax.set_title(f"(e) peak energy fraction: AUROC {span(a['auroc_peak_energy_fraction'])}\n"
               f"duplicates spiky, ordinary samples balanced", loc="left")
  ax.legend(loc="upper left")

  d, p = m["w"].shape[1:]
  fig.suptitle(f"Hybrid regime (Cor 3.4): {len(dup_ids)} samples present {copies:,} times each get stored columns "
               f"r_ℓ x_ℓ, {len(mode_ids)} well-sampled Gaussian modes get statistical blocks\n"
               f"(n = {labels.size:,}, d = {d}, p = {p}, σ = {plotting.number(preset['sigma'])}, "
               f"λ = {plotting.number(preset['lam'])}, {plotting.number(preset['steps'])} steps; codes of seed "
               f"{int(seeds[0])}, AUROC over {len(seeds)} seed{'s' * (len(seeds) > 1)})", y=0.99)
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
