"""Figure: memorisation (Cor 3.2) and generalisation (Cor 3.3) reached by training, with their codes.

Run: .venv/bin/python experiments/plot_regimes_on_synthetic_data.py --results results/regimes_on_synthetic_data \
       --out figures
Writes ``regimes_on_synthetic_data.png``, drawn from the saved results of ``regimes_on_synthetic_data.py``.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "regimes_on_synthetic_data.png"
MARKERS = "os^Dv<>ph"
# The bound tests/test_proofs_by_simulation.py asserts on the distance of f to M_k.
TESTED_BOUND = 0.05


def seeds_of(results: dict) -> list[int]:
  """The seeds saved in a results file (keys ``seed<i>_…``)."""
  return sorted({int(k.split("_")[0][4:]) for k in results if k.startswith("seed")})


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/regimes_on_synthetic_data").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  mem, gen = dt.load_npz(res / "memorization.npz"), dt.load_npz(res / "generalization.npz")
  mem_seeds, gen_seeds = seeds_of(mem), seeds_of(gen)
  n, p_mem = mem["x"].shape[0], mem[f"seed{mem_seeds[0]}_column_norms"].size
  h_mem, h_gen = mem[f"seed{mem_seeds[0]}_codes"], gen[f"seed{gen_seeds[0]}_codes"]
  p_gen = h_gen.shape[1]
  rel = np.stack([gen[f"seed{s}_relative_error"] for s in gen_seeds])
  num_modes = rel.shape[1]

  fig, axes = plotting.subplots(2, 3, figsize=(13, 7.6))
  ax = axes[0, 0]
  pred = mem["predicted_norms"]
  learned = np.concatenate([mem[f"seed{s}_matched_norms"] for s in mem_seeds])
  for i, s in enumerate(mem_seeds):
    ax.plot(pred, mem[f"seed{s}_matched_norms"], MARKERS[i % len(MARKERS)], color=plotting.MEMORIZED, mfc="none",
            ms=6, alpha=0.8, label=f"seed {s}")
  both = np.concatenate([pred, learned])
  pad = 0.1 * np.ptp(both) + 1e-3
  lo, hi = both.min() - pad, both.max() + pad
  ax.plot([lo, hi], [lo, hi], color=plotting.GREY, lw=0.8, zorder=0)
  ax.set(xlim=(lo, hi), ylim=(lo, hi))
  cmin = min(mem[f"seed{s}_matched_cosine"].min() for s in mem_seeds)
  ax.set_xlabel("predicted ‖r_i x_i‖ (Cor 3.2)")
  ax.set_ylabel("learned column norm (matched)")
  ax.set_title(f"memorisation (n = {n}, p = {p_mem}): stored columns r_i x_i\n"
               f"(matched columns at {plotting.cosine_bound(cmin)})")
  ax.legend()

  ax = axes[0, 1]
  norms = np.sort(mem[f"seed{mem_seeds[0]}_column_norms"])[::-1]
  ax.bar(np.arange(norms.size), norms, color=plotting.MEMORIZED)
  ax.set_xlabel("column (sorted by norm)")
  ax.set_ylabel("norm")
  carrying = int(np.sum(norms > 0.1 * norms.max()))
  ax.set_title(f"memorisation, seed {mem_seeds[0]}: {carrying} of {norms.size} columns carry the weight\n"
               f"(n = {n} training samples)")

  ax = axes[0, 2]
  width = 0.8 / len(gen_seeds)
  for i, s in enumerate(gen_seeds):
    ax.bar(np.arange(num_modes) + i * width, 100 * rel[i], width, color=plotting.GENERALIZED,
           alpha=0.5 + 0.5 * i / max(len(gen_seeds) - 1, 1), label=f"seed {s}")
  ax.axhline(100 * TESTED_BOUND, color=plotting.GREY, ls="--", lw=0.8,
             label=f"{100 * TESTED_BOUND:g} % (the tests' bound)")
  ax.set_xticks(np.arange(num_modes) + width * (len(gen_seeds) - 1) / 2, [f"mode {k + 1}" for k in range(num_modes)])
  ax.set_ylabel("mean ‖f(y) − M_k y‖ / ‖M_k y‖  (%)")
  ax.set_title(f"generalisation (K = {num_modes}, p = {p_gen}): distance of f\n"
               f"to M_k y per mode (Cor 3.3; held-out noisy inputs)")
  ax.set_ylim(0, 1.3 * max(100 * rel.max(), 100 * TESTED_BOUND))
  ax.legend(loc="upper left", ncol=2)

  ax = axes[1, 0]
  ax.bar(np.arange(p_mem) - 0.2, h_mem[0], 0.4, color=plotting.MEMORIZED, label=f"memorising model (p = {p_mem})")
  ax.bar(np.arange(p_gen) + 0.2, h_gen[0], 0.4, color=plotting.GENERALIZED, label=f"generalising model (p = {p_gen})")
  ax.set_xlabel("hidden unit j")
  ax.set_ylabel("h_j(x + σε)")
  ax.set_title("code of one noisy training input: spiky vs balanced")
  ax.legend()

  std_mem, std_gen = np.asarray(dt.representation_std(h_mem)), np.asarray(dt.representation_std(h_gen))
  groups = lambda a, b: ((a, plotting.MEMORIZED, f"memorising ({a.size:,} inputs)"),
                         (b, plotting.GENERALIZED, f"generalising ({b.size:,} inputs)"))
  ax = axes[1, 1]
  plotting.histograms(ax, groups(std_mem, std_gen), np.linspace(0, max(std_mem.max(), std_gen.max()) * 1.05, 40))
  ax.set_xlabel("Std(h) (the paper's score)")
  ax.set_ylabel("density")
  lo_norm, hi_norm = cfg["memorization"]["norm_range"]
  below = np.median(std_mem) < np.median(std_gen)
  ax.set_title(f"Std(h) over noisy training inputs: it tracks the scale of h;\none-hot codes (spike "
               f"{plotting.number(lo_norm)}–{plotting.number(hi_norm)}) score {'below' if below else 'above'} "
               f"balanced ones here")
  ax.legend(loc="upper left")
  ax.set_ylim(top=1.25 * ax.get_ylim()[1])

  ax = axes[1, 2]
  peak_mem, peak_gen = np.asarray(dt.peak_energy_fraction(h_mem)), np.asarray(dt.peak_energy_fraction(h_gen))
  plotting.histograms(ax, groups(peak_mem, peak_gen), np.linspace(0, 1, 41))
  ax.set_xlabel("max_j h_j² / ‖h‖² (scale-free)")
  ax.set_ylabel("density")
  ax.set_title("peak energy fraction: 1 = one-hot, 1/k = k equal units")
  ax.legend(loc="upper left")
  ax.set_ylim(top=1.2 * ax.get_ylim()[1])

  fig.suptitle("Trained ReLU-DAEs against the closed forms of Cor 3.2 (memorisation: stored samples, one-hot codes)\n"
               "and Cor 3.3 (generalisation: per-mode linear maps, balanced codes)")
  fig.tight_layout(rect=(0, 0, 1, 0.95))
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
