"""Figure: the empirical optimum f_emp against the mixture's posterior mean f_gt as n grows.

Run: .venv/bin/python experiments/plot_denoisers_on_mixture.py --results results/denoisers_on_mixture --out figures
Writes ``denoisers_on_mixture.png``, drawn from the saved results of ``denoisers_on_mixture.py``.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "denoisers_on_mixture.png"


def scatter_panel(ax, outputs, labels, train, title, lim):
  for k in np.unique(labels):
    ax.scatter(*outputs[labels == k].T, s=4, alpha=0.6, color=plotting.category(int(k)), lw=0)
  if train is not None:
    ax.scatter(*train.T, marker="x", s=30, color=plotting.BLACK, lw=1.2, label="training samples", zorder=3)
    ax.legend(loc="lower left")
  ax.set_title(title)
  ax.set_aspect("equal")
  ax.set_xlim(-lim, lim)
  ax.set_ylim(-lim, lim)
  ax.set_xticks([])
  ax.set_yticks([])
  ax.spines[:].set_visible(True)


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/denoisers_on_mixture").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  sc, cu = dt.load_npz(res / "scatter.npz"), dt.load_npz(res / "curves.npz")
  sizes_shown = sorted(int(k.split("_")[1]) for k in sc if k.startswith("emp_"))
  small, large = sizes_shown[0], sizes_shown[-1]
  sigma = cfg["scatter"]["sigma"]
  lim = 1.1 * float(np.abs(sc["queries"]).max())

  fig = plotting.figure(figsize=(12, 6.6))
  grid = fig.add_gridspec(2, 4, height_ratios=(1, 1), hspace=0.35, wspace=0.3)
  lab = sc["query_labels"]
  n_queries = lab.size
  scatter_panel(fig.add_subplot(grid[0, 0]), sc["queries"], lab, None,
                f"{n_queries:,} noisy queries y = x + σε (σ = {plotting.number(sigma)})", lim)
  scatter_panel(fig.add_subplot(grid[0, 1]), sc[f"emp_{small}"], lab, sc[f"train_{small}"],
                f"f_emp(y), n = {small:,} training samples", lim)
  scatter_panel(fig.add_subplot(grid[0, 2]), sc[f"emp_{large}"], lab, None, f"f_emp(y), n = {large:,}", lim)
  scatter_panel(fig.add_subplot(grid[0, 3]), sc["gt"], lab, None, "f_gt(y) (the mixture's posterior mean)", lim)

  sizes, sigmas = cu["sizes"], cu["sigmas"]
  seeds = cu["rel_err"].shape[0]
  colours = plotting.sequential(sigmas.size)
  ax = fig.add_subplot(grid[1, :2])
  for j, s in enumerate(sigmas):
    r = cu["rel_err"][:, j]
    ax.plot(sizes, r.mean(0), "o-", color=colours[j], ms=3, label=f"σ = {plotting.number(s)}")
    ax.fill_between(sizes, r.min(0), r.max(0), color=colours[j], alpha=0.2, lw=0)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.axhline(1.0, color=plotting.GREY, lw=0.8, ls="--")
  ax.set_xlabel("training samples n")
  ax.set_ylabel("E‖f_emp − f_gt‖² / E‖f_gt − x‖²")
  c = cfg["curves"]
  band = f"mean of {seeds} seeds, band = range" if seeds > 1 else "1 seed"
  ax.set_title(f"distance of the empirical optimum to f_gt\n(d = {c['dim']}, K = {c['num_modes']}, rank-{c['rank']} "
               f"modes; {band})")
  ax.legend()

  ax = fig.add_subplot(grid[1, 2:])
  for j, s in enumerate(sigmas):
    e = cu["entropy"][:, j]
    ax.plot(sizes, np.exp(e.mean(0)), "o-", color=colours[j], ms=3, label=f"σ = {plotting.number(s)}")
  ax.plot(sizes, sizes, color=plotting.GREY, lw=0.8, ls="--", label="n (every sample shares equally)")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("training samples n")
  ax.set_ylabel("exp(posterior entropy)")
  ax.set_title("effective number of training samples behind f_emp(y)\n(1 = the output copies one sample)")
  ax.legend()

  fig.suptitle("The empirical optimum f_emp (eq. 3) maps noisy inputs onto training samples at small n "
               "and approaches f_gt as n grows")
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
