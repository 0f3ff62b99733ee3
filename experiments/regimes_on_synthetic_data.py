"""Memorisation (Cor 3.2) and generalisation (Cor 3.3) reached by training, with their codes.

Run: .venv/bin/python experiments/regimes_on_synthetic_data.py --out results/regimes_on_synthetic_data \
       [--size fast|default|full]
About 1 min on a 2-core CPU (fast: 2k/1k steps, one seed each; full: 6 and 4 seeds, 20k steps). Writes ``memorization.npz``, ``generalization.npz`` and
``config.json``; a rerun skips finished parts.

- Memorisation: 6 pairwise-obtuse points (cos −0.2, norms 2–4, d = 30), p = 10, σ = 0.2, λ = 1e-3,
  preset ``memorization_closed_form`` (3 seeds). Saved: learned and predicted column norms (after
  Hungarian matching), matched cosines, and the codes of noisy training inputs.
- Generalisation: 3 modes (‖μ‖ = 3, cos −½, rank-2 spread of scale 0.5) in d = 20, n = 3000, p = 9,
  preset ``generalization_closed_form`` with 10k steps (2 seeds). Saved: per-mode relative error
  to M_k, and the codes of noisy training inputs.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt
from dae_theory import run_parts, save_npz

MEM = dict(num=6, dim=30, norm_range=(2.0, 4.0), seeds=(0, 1, 2), noisy_per_sample=200)
GEN = dict(num_modes=3, dim=20, mean_norm=3.0, rank=2, cov_scale=0.5, num=3000, steps=10_000, decay_steps=4_000,
           seeds=(0, 1), noisy=1200)
SETTINGS = {
    "default": dict(memorization=MEM, generalization=GEN),
    "fast": dict(memorization={**MEM, "seeds": (0,), "noisy_per_sample": 50, "steps": 2_000,
                                   "decay_steps": 1_000},
                 generalization={**GEN, "num": 600, "steps": 1_000, "decay_steps": 500, "seeds": (0,), "noisy": 300}),
    "full": dict(memorization={**MEM, "seeds": tuple(range(6))},
                 generalization={**GEN, "steps": 20_000, "decay_steps": 8_000, "seeds": tuple(range(4))}),
}


def run_memorization(path: Path, settings: dict, seed: int):
  c = settings["memorization"]
  x = np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(seed), c["num"], c["dim"], norm_range=c["norm_range"]),
                 np.float32)
  cfg = dt.preset("memorization_closed_form", **{k: c[k] for k in ("steps", "decay_steps") if k in c})
  res = dt.train_sweep(x, cfg, seeds=list(c["seeds"]))
  w_mem = dt.memorization_weights(x, cfg.sigma, cfg.lam, cfg.width)
  rng = np.random.default_rng(seed)
  y = np.repeat(x, c["noisy_per_sample"], axis=0) + cfg.sigma * rng.normal(size=(c["num"] * c["noisy_per_sample"], c["dim"]))
  out = {"x": x, "predicted_norms": np.linalg.norm(w_mem[:, :c["num"]], axis=0)}
  for i in range(len(res.grid)):
    w = np.asarray(res.model(i).w1, np.float64)
    m = dt.match_columns(w, w_mem)
    out[f"seed{i}_column_norms"] = np.linalg.norm(w, axis=0)
    out[f"seed{i}_matched_norms"] = np.linalg.norm(w[:, m.learned], axis=0)
    out[f"seed{i}_matched_cosine"] = m.cosine
    out[f"seed{i}_codes"] = np.asarray(dt.representations(dt.DAEParams(jnp.asarray(w, jnp.float32)), y.astype(np.float32)))
  save_npz(path, **out)


def run_generalization(path: Path, settings: dict, seed: int):
  c = settings["generalization"]
  k_mix, k_train, k_test = jax.random.split(jax.random.PRNGKey(seed), 3)
  mix = dt.gaussian_mixture(k_mix, c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=c["rank"],
                            cov_scale=c["cov_scale"])
  train = dt.sample_mixture(k_train, mix, c["num"])
  cfg = dt.preset("generalization_closed_form", steps=c["steps"], decay_steps=c["decay_steps"])
  res = dt.train_sweep(train.x, cfg, seeds=list(c["seeds"]))
  x, lab = np.asarray(train.x, np.float64), np.asarray(train.labels)
  maps = dt.cluster_linear_maps(x, lab, cfg.sigma, cfg.lam, [cfg.width // c["num_modes"]] * c["num_modes"])
  test = dt.sample_mixture(k_test, mix, c["noisy"])
  xt, lt = np.asarray(test.x, np.float64), np.asarray(test.labels)
  rng = np.random.default_rng(seed)
  yt = xt + cfg.sigma * rng.normal(size=xt.shape)
  y_train = x[: c["noisy"]] + cfg.sigma * rng.normal(size=(c["noisy"], c["dim"]))
  oracle = dt.apply_mode_maps(maps, lt, yt)
  out = {"test_labels": lt, "train_labels": lab[: c["noisy"]]}
  for i in range(len(res.grid)):
    params = dt.DAEParams(jnp.asarray(res.model(i).w1))
    f = np.asarray(dt.apply_batch(params, yt.astype(np.float32)), np.float64)
    out[f"seed{i}_relative_error"] = dt.per_mode_relative_error(f, oracle, lt)
    out[f"seed{i}_codes"] = np.asarray(dt.representations(params, y_train.astype(np.float32)))
  save_npz(path, **out)


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/regimes_on_synthetic_data")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  settings = SETTINGS[args.size]
  run_parts(args.out, {**settings, "size": args.size, "seed": args.seed,
                       "memorization_preset": dt.preset("memorization_closed_form").__dict__,
                       "generalization_preset": dt.preset("generalization_closed_form").__dict__,
                       "version": dt.__version__, "jax": jax.__version__},
            (("memorization.npz", run_memorization), ("generalization.npz", run_generalization)), settings, args.seed)


if __name__ == "__main__":
  main()
