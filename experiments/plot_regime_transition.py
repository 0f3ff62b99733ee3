"""Figure: the memorisation → generalisation transition in n, predicted against observed.

Run: .venv/bin/python experiments/plot_regime_transition.py --results results/regime_transition --out figures
Writes ``regime_transition.png``, drawn from the saved results of ``regime_transition.py`` (every
variation of its config.json that has a saved file).
"""

from pathlib import Path

import matplotlib.patches
import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "regime_transition.png"


def by_size(r: dict, key: str, modes: int):
  """(n_k, mean, min, max) of ``key`` over the seeds at each training-set size."""
  nk = r["num_samples"] // modes
  sizes = np.unique(nk)
  vals = [np.asarray(r[key][nk == k], np.float64) for k in sizes]
  return (sizes, np.array([v.mean() for v in vals]), np.array([v.min() for v in vals]),
          np.array([v.max() for v in vals]))


def shade_prediction(ax, r: dict, modes: int):
  nk = r["num_samples"] // modes
  sizes = np.unique(nk)
  pred = [r["predicted"][nk == k][0] for k in sizes]
  edges = np.sqrt(sizes[:-1] * sizes[1:])
  lo = np.concatenate([[sizes[0] / 1.5], edges])
  hi = np.concatenate([edges, [sizes[-1] * 1.5]])
  for a, b, p in zip(lo, hi, pred):
    ax.axvspan(a, b, color=plotting.REGIME_COLOURS[str(p)], alpha=0.13, lw=0)


def first_generalizing(r: dict, modes: int) -> str:
  """"from n_k = m" for the smallest n_k from which every prediction is generalisation."""
  nk = r["num_samples"] // modes
  sizes = np.unique(nk)
  ok = [np.all(r["predicted"][nk >= k] == "generalization") for k in sizes]
  return f"from n_k = {sizes[ok.index(True)]}" if any(ok) else "at no n_k here"


def curve(ax, r, key, modes, **kw):
  sizes, mean, lo, hi = by_size(r, key, modes)
  ax.plot(sizes, mean, marker="o", ms=3.5, **kw)
  ax.fill_between(sizes, lo, hi, color=kw.get("color"), alpha=0.2, lw=0)


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/regime_transition").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  data, base_settings, variations = cfg["data"], cfg["base"], cfg["variations"]
  modes = int(data["num_modes"])
  runs = {name: dt.load_npz(res / f"{name}.npz") for name in variations if (res / f"{name}.npz").exists()}
  settings = {name: {**base_settings, **variations[name]} for name in runs}
  pred = np.concatenate([r["predicted"] for r in runs.values()])
  obs = np.concatenate([r["observed"] for r in runs.values()])
  corr = dt.correspondence(pred.tolist(), obs.tolist())
  base_name = next(name for name in runs if not variations[name])
  base, b = runs[base_name], settings[base_name]
  seeds = np.unique(base["seed"]).size
  changed = lambda key: sorted((name for name in runs if set(variations[name]) <= {key}),
                               key=lambda n: settings[n][key])
  describe = lambda s: f"p = {s['width']}, σ = {plotting.number(s['sigma'])}, λ = {plotting.number(s['lam'])}"

  fig, axes = plotting.subplots(2, 2, figsize=(12.5, 9.2))
  axes = axes.ravel()
  ax = axes[0]
  shade_prediction(ax, base, modes)
  curve(ax, base, "f_excess", modes, color=plotting.BLACK, label=f"ReLU-DAE f ({seeds} seed{'s' * (seeds > 1)})")
  curve(ax, base, "emp_excess", modes, color=plotting.EMPIRICAL, ls="--", label="empirical optimum f_emp")
  ax.set_title(f"(a) who copies training samples ({describe(b)})")
  ax.set_ylabel("memorised beyond chance\n(held-out inputs with d₁/d₂ < 1/3)")

  ax = axes[1]
  names = changed("width")
  for name, colour in zip(names, plotting.sequential(len(names))):
    curve(ax, runs[name], "f_excess", modes, color=colour,
          label=f"f, p = {settings[name]['width']} (gen. predicted {first_generalizing(runs[name], modes)})")
  ax.set_title("(b) the width p against the transition")
  ax.set_ylabel("memorised beyond chance")

  ax = axes[2]
  names = changed("sigma")
  for name, colour in zip(names, plotting.sequential(len(names))):
    label = f"σ = {plotting.number(settings[name]['sigma'])}"
    curve(ax, runs[name], "f_excess", modes, color=colour, label=f"f, {label}")
    curve(ax, runs[name], "emp_excess", modes, color=colour, ls="--", label=f"f_emp, {label}")
  for i, name in enumerate(n for n in changed("lam") if variations[n]):
    curve(ax, runs[name], "f_excess", modes, color=plotting.category(1 + i), ls="-.",
          label=f"f, σ = {plotting.number(settings[name]['sigma'])}, λ = {plotting.number(settings[name]['lam'])}")
  ax.set_title("(c) σ and λ: f (solid) against f_emp (dashed)")
  ax.set_ylabel("memorised beyond chance")

  ax = axes[3]
  shade_prediction(ax, base, modes)
  widest = changed("width")[-1]
  for name, colour in ((base_name, plotting.BLACK), (widest, plotting.category(0)))[:1 + (widest != base_name)]:
    curve(ax, runs[name], "f_error", modes, color=colour, label=f"f, p = {settings[name]['width']}")
  curve(ax, base, "emp_error", modes, color=plotting.EMPIRICAL, ls="--", label="f_emp")
  ax.set_yscale("log")
  ax.set_ylabel("test error E‖f(x+σε) − x‖²")
  ax.set_title(f"(d) denoising error on held-out inputs (σ = {plotting.number(b['sigma'])}; "
               f"shading: p = {b['width']})")

  for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel(f"training samples per mode n_k (n = {modes} n_k)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best")
  for ax in axes[:3]:
    ax.set_ylim(-0.05, 1.05)
  patches = [matplotlib.patches.Patch(color=c, alpha=0.3, label=f"predicted: {k}")
             for k, c in plotting.REGIME_COLOURS.items() if k != "hybrid"]
  fig.legend(handles=patches, loc="lower center", ncol=len(patches))
  agree = (f"agree on {corr.agreement:.0%} of the {corr.decided} models away from the boundary" if corr.decided
           else ": no model away from the boundary")
  fig.suptitle(f"Memorisation → generalisation in n on a {modes}-mode mixture (d = {data['dim']}, "
               f"rank-{data['rank']} modes)\npredicted (Cor 3.2 / 3.3) and observed regimes {agree}")
  fig.tight_layout(rect=(0, 0.04, 1, 0.95))
  plotting.save_figure(fig, args.out, NAME, tight=False)


if __name__ == "__main__":
  main()
