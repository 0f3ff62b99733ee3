"""The memorisation → generalisation transition in n: predicted (Cor 3.2–3.3) against observed.

Run: .venv/bin/python experiments/regime_transition.py --out results/regime_transition [--size fast|default|full]
About 4 min on a 2-core CPU (fast: n_k ≤ 30, one seed, 500 steps; full: 6 seeds, n_k up to 1000, 20k steps). Writes one ``<variation>.npz`` per sweep and ``config.json``; a rerun
skips finished sweeps.

Data: 3 modes in d = 20 with pairwise-obtuse means (‖μ‖ = 3, cos −½) and rank-12 spread of scale
0.5 (α = 0.58). The spread is high-rank on purpose: in a rank-2 mode a clean test point has
d₁/d₂ < 1/3 with probability 1/9 by chance alone, in rank 12 almost never, so the copy criterion
has power. The training set of size n = 3 n_k takes n_k samples of each mode (rows interleaved by
mode, so every size is a prefix of one shared array).

Each sweep trains seeds × n_k at one (p, λ, σ) in one compiled program (Adam 1e-2, cosine decay
over the last half, 8k steps, batch 128 with replacement). For every model: the predicted regime
(``predicted_regime`` on its training set), the observed one (``classify_regime`` on 600 held-out
noisy test inputs), the memorised share of f and of f_emp on the same inputs, test errors, and the
mean squared distances of f to f_emp, to f_gt and to the bias-free optimum M_k (population maps).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt
from dae_theory import run_parts, save_npz

DATA = dict(num_modes=3, dim=20, mean_norm=3.0, rank=12, cov_scale=0.5, samples_per_mode=(1, 2, 3, 4, 6, 10, 30, 100, 300),
            num_test=600, seeds=(0, 1, 2))
TRAIN = dict(optimizer="adam", learning_rate=1e-2, steps=8_000, decay_steps=4_000, batch_size=128, log_every=1_000)
BASE = dict(width=9, lam=1e-4, sigma=0.2)
VARIATIONS = {
    "base": {},
    "width18": dict(width=18),
    "width36": dict(width=36),
    "lam1e-2": dict(lam=1e-2),
    "sigma0.1": dict(sigma=0.1),
    "sigma0.5": dict(sigma=0.5),
}
SETTINGS = {
    "default": dict(data=DATA, train=TRAIN),
    "fast": dict(data={**DATA, "samples_per_mode": (1, 4, 30), "num_test": 150, "seeds": (0,)},
                 train={**TRAIN, "steps": 500, "decay_steps": 250, "log_every": 250}),
    "full": dict(data={**DATA, "samples_per_mode": DATA["samples_per_mode"] + (1_000,), "seeds": tuple(range(6))},
                 train={**TRAIN, "steps": 20_000, "decay_steps": 10_000}),
}


def make_data(c: dict, seed: int):
  """The mixture, training rows interleaved by mode, and held-out test samples with labels."""
  k_mix, k_train, k_test = jax.random.split(jax.random.PRNGKey(seed), 3)
  mix = dt.gaussian_mixture(k_mix, c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=c["rank"],
                            cov_scale=c["cov_scale"])
  per_mode = max(c["samples_per_mode"])
  train = dt.sample_mixture(k_train, mix, c["num_modes"] * per_mode, exact_counts=True)
  x, labels = dt.interleave_by_label(train.x, train.labels)
  test = dt.sample_mixture(k_test, mix, c["num_test"])
  return mix, x, labels, np.asarray(test.x, np.float64), np.asarray(test.labels)


def run_variation(path: Path, name: str, size_settings: dict, seed: int):
  c = size_settings["data"]
  settings = {**BASE, **VARIATIONS[name]}
  mix, x, labels, x_test, test_labels = make_data(c, seed)
  cfg = dt.TrainConfig(**size_settings["train"], **settings)
  sizes = [c["num_modes"] * k for k in c["samples_per_mode"]]
  res = dt.train_sweep(x, cfg, seeds=list(c["seeds"]), sizes=sizes)
  rng = np.random.default_rng(seed + 1)
  y_test = x_test + settings["sigma"] * rng.normal(size=x_test.shape)
  # references on the same inputs: f_gt, and the bias-free optimum of Cor 3.3 (population M_k)
  gt = np.asarray(dt.gmm_denoiser(jnp.asarray(y_test, jnp.float32), mix, settings["sigma"]), np.float64)
  maps = dt.mixture_linear_maps(mix, settings["sigma"], settings["lam"],
                                dt.allocate_width(settings["width"], [1] * c["num_modes"]))
  m_k = dt.apply_mode_maps(maps, test_labels, y_test)
  keys = ("num_samples", "seed", "f_fraction", "f_excess", "chance", "emp_fraction", "emp_excess", "f_error",
          "emp_error", "predicted", "observed", "emp_observed", "f_to_emp", "f_to_gt", "f_to_mk", "emp_to_gt")
  out = {k: [] for k in keys}
  per_size = {}  # f_emp and the prediction depend on n only, not on the seed
  for n in sizes:
    x_n = x[:n].astype(np.float64)
    emp = np.asarray(jax.vmap(dt.empirical_denoiser, in_axes=(0, None, None))(
        jnp.asarray(y_test, jnp.float32), jnp.asarray(x_n, jnp.float32), settings["sigma"]), np.float64)
    per_size[n] = (emp, dt.memorization_report(emp, x_n, x_test),
                   dt.predicted_regime(x_n, labels[:n], None, settings["lam"], settings["width"]))
  for i, row in enumerate(res.grid):
    n = int(row["num_samples"])
    x_n = x[:n].astype(np.float64)
    f = np.asarray(dt.apply_batch(res.model(i), y_test.astype(np.float32)), np.float64)
    emp, rep_e, pred = per_size[n]
    rep_f = dt.memorization_report(f, x_n, x_test)
    to_gt = dt.function_distances(f, emp, gt, x_test)
    to_mk = dt.function_distances(f, emp, m_k, x_test)
    for k, v in (("num_samples", n), ("seed", row["seed"]), ("f_fraction", rep_f.fraction),
                 ("f_excess", rep_f.excess), ("chance", rep_f.chance), ("emp_fraction", rep_e.fraction),
                 ("emp_excess", rep_e.excess), ("f_error", dt.mean_squared_distance(f, x_test)),
                 ("emp_error", dt.mean_squared_distance(emp, x_test)), ("predicted", pred.regime),
                 ("observed", dt.classify_regime(rep_f)), ("emp_observed", dt.classify_regime(rep_e)),
                 ("f_to_emp", to_gt.to_empirical * to_gt.reference_gap),
                 ("f_to_gt", to_gt.to_reference * to_gt.reference_gap),
                 ("f_to_mk", to_mk.to_reference * to_mk.reference_gap), ("emp_to_gt", to_gt.reference_gap)):
      out[k].append(v)
  save_npz(path, **{k: np.asarray(v) for k, v in out.items()}, **{f"setting_{k}": v for k, v in settings.items()},
           gt_error=dt.mean_squared_distance(gt, x_test), mk_error=dt.mean_squared_distance(m_k, x_test))


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/regime_transition")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  settings = SETTINGS[args.size]
  parts = [(f"{name}.npz", lambda path, *a, name=name: run_variation(path, name, *a)) for name in VARIATIONS]
  run_parts(args.out, {**settings, "size": args.size, "base": BASE, "variations": VARIATIONS, "seed": args.seed,
                       "version": dt.__version__, "jax": jax.__version__}, parts, settings, args.seed)
  total_pred, total_obs = [], []
  for name in VARIATIONS:
    with np.load(Path(args.out) / f"{name}.npz") as r:
      total_pred += r["predicted"].tolist()
      total_obs += r["observed"].tolist()
  print(dt.correspondence(total_pred, total_obs).summary())


if __name__ == "__main__":
  main()
