"""Figure: where the ReLU diffusion model stops copying its training set, against n.

Run: .venv/bin/python experiments/plot_diffusion_transition.py --results results/diffusion_transition \
       --out figures/diffusion_transition.png
Drawn from the saved results of experiments/diffusion_transition.py.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Okabe–Ito, a colour-blind-safe palette.
WIDTH_COLOURS = ("#0072B2", "#D55E00")
EMP_COLOUR = "#000000"
DATASETS = {"mixture": "3-mode Gaussian mixture, d = 20", "fashion_mnist": "Fashion-MNIST, d = 784"}


def _curve(r, mask, key):
  n = np.unique(r["num_samples"][mask])
  return n, np.array([r[key][mask & (r["num_samples"] == v)].mean() for v in n])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="results/diffusion_transition")
  parser.add_argument("--out", default="figures/diffusion_transition.png")
  args = parser.parse_args()
  names = [n for n in DATASETS if (Path(args.results) / f"{n}.npz").exists()]
  fig, axes = plt.subplots(len(names), 3, figsize=(12.5, 3.8 * len(names)), squeeze=False)
  for row, name in zip(axes, names):
    with np.load(Path(args.results) / f"{name}.npz") as r:
      steps = np.unique(r["step"])
      widths = np.unique(r["width"])
      final = r["step"] == steps.max()
      ax = row[0]
      n, emp = _curve(r, final, "emp_memorized_scale_free")
      ax.plot(n, emp, "--", color=EMP_COLOUR, label="f_emp sampler (same n)")
      for colour, p in zip(WIDTH_COLOURS, widths):
        for step in steps:
          mask = (r["width"] == p) & (r["step"] == step)
          n, frac = _curve(r, mask, "memorized_scale_free")
          last = step == steps.max()
          ax.plot(n, frac, "o-" if last else "-", color=colour, alpha=1.0 if last else 0.25 + 0.5 * step / steps.max(),
                  ms=3, lw=1.6 if last else 1.0, label=f"network, p = {p}, step {step}" if last else None)
      ax.set(xscale="log", ylim=(-0.03, 1.03), xlabel="training-set size n",
             ylabel="memorised (d₁/d₂ < 1/3, unit-norm)")
      ax.set_title(f"{DATASETS[name]}\ncopies among 500 samples (faint: steps "
                   f"{', '.join(str(s) for s in steps[:-1])})", fontsize=9)
      ax.legend(fontsize=7)
      ax = row[1]
      for colour, p in zip(WIDTH_COLOURS, widths):
        n, ratio = _curve(r, final & (r["width"] == p), "error_ratio")
        ax.plot(n, ratio, "o-", color=colour, ms=3, label=f"p = {p}")
      ax.axhline(1.0, color="grey", lw=0.8)
      ax.set(xscale="log", yscale="log", xlabel="training-set size n", ylabel="held-out / training denoising error")
      ax.set_title("denoising error at σ = 0.2,\nheld-out over training (no sampler)", fontsize=9)
      ax.legend(fontsize=7)
      ax = row[2]
      for colour, p in zip(WIDTH_COLOURS, widths):
        n, rel = _curve(r, final & (r["width"] == p), "agreement_relative")
        ax.plot(n, rel, "o-", color=colour, ms=3, label=f"p = {p}, ancestral (same noise)")
        n, rel = _curve(r, final & (r["width"] == p), "agreement_relative_euler")
        ax.plot(n, rel, "s:", color=colour, ms=3, label=f"p = {p}, Euler (same start)")
      ax.set(xscale="log", ylim=(0, None), xlabel="training-set size n (each of the two models)",
             ylabel="mean over pairs of ‖a − b‖ / mean(‖a‖, ‖b‖)")
      ax.set_title("two models on disjoint halves, same noise\n(0: the same samples)", fontsize=9)
      ax.legend(fontsize=7)
  fig.suptitle("The multi-noise ReLU diffusion model: copying of the training set against n", fontsize=11)
  fig.tight_layout()
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=110)
  print("wrote", args.out)


if __name__ == "__main__":
  main()
