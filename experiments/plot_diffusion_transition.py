"""Figure: where the ReLU diffusion model stops copying its training set, against n.

Run: .venv/bin/python experiments/plot_diffusion_transition.py --results results/diffusion_transition --out figures
Writes ``diffusion_transition.png``, drawn from the saved results of experiments/diffusion_transition.py.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "diffusion_transition.png"
PARTS = ("mixture", "fashion_mnist")


def _curve(r, mask, key):
  n = np.unique(r["num_samples"][mask])
  return n, np.array([r[key][mask & (r["num_samples"] == v)].mean() for v in n])


def dataset_title(name: str, cfg: dict) -> str:
  if name == "mixture":
    m = cfg["mixture"]
    return f"{m['num_modes']}-mode Gaussian mixture, d = {m['dim']}"
  return "Fashion-MNIST, d = 784"


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/diffusion_transition").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  sampling = cfg["sampling"]
  names = [n for n in PARTS if (res / f"{n}.npz").exists()]
  fig, axes = plotting.subplots(len(names), 3, figsize=(12.5, 3.9 * len(names)), squeeze=False)
  for row, name in zip(axes, names):
    r = dt.load_npz(res / f"{name}.npz")
    steps = np.unique(r["step"])
    widths = np.unique(r["width"])
    colours = plotting.sequential(widths.size, stop=0.7)
    final = r["step"] == steps.max()
    ax = row[0]
    n, emp = _curve(r, final, "emp_memorized_scale_free")
    ax.plot(n, emp, "--", color=plotting.EMPIRICAL, lw=1.6, label="f_emp sampler (same n)")
    for colour, p in zip(colours, widths):
      for step in steps:
        mask = (r["width"] == p) & (r["step"] == step)
        n, frac = _curve(r, mask, "memorized_scale_free")
        last = step == steps.max()
        ax.plot(n, frac, "o-" if last else "-", color=colour, alpha=1.0 if last else 0.25 + 0.5 * step / steps.max(),
                ms=3, lw=1.6 if last else 1.0, label=f"network, p = {p}, step {step:,}" if last else None)
    ax.set(xscale="log", ylim=(-0.03, 1.03), xlabel="training-set size n",
           ylabel="memorised (d₁/d₂ < 1/3, unit-norm)")
    earlier = (f" (faint: steps {', '.join(f'{s:,}' for s in steps[:-1])})" if steps.size > 1 else "")
    ax.set_title(f"{dataset_title(name, cfg)}\ncopies among {sampling['num']:,} samples{earlier}")
    ax.legend()
    ax = row[1]
    for colour, p in zip(colours, widths):
      n, ratio = _curve(r, final & (r["width"] == p), "error_ratio")
      ax.plot(n, ratio, "o-", color=colour, ms=3, label=f"p = {p}")
    ax.axhline(1.0, color=plotting.GREY, lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="training-set size n", ylabel="held-out / training denoising error")
    ax.set_title(f"denoising error at σ = {plotting.number(sampling['error_sigma'])},\n"
                 f"held-out over training (no sampler)")
    ax.legend()
    ax = row[2]
    for colour, p in zip(colours, widths):
      n, rel = _curve(r, final & (r["width"] == p), "agreement_relative")
      ax.plot(n, rel, "o-", color=colour, ms=3, label=f"p = {p}, ancestral (same noise)")
      n, rel = _curve(r, final & (r["width"] == p), "agreement_relative_euler")
      ax.plot(n, rel, "s:", color=colour, ms=3, label=f"p = {p}, Euler (same start)")
    ax.set(xscale="log", ylim=(0, None), xlabel="training-set size n (each of the two models)",
           ylabel="mean over pairs of ‖a − b‖ / mean(‖a‖, ‖b‖)")
    ax.set_title("two models on disjoint halves, same noise\n(0: the same samples)")
    ax.legend()
  fig.suptitle("The multi-noise ReLU diffusion model: copying of the training set against n")
  fig.tight_layout()
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
