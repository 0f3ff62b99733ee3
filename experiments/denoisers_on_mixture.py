"""f_emp against f_gt on a Gaussian mixture: the optimal empirical denoiser memorises until n is large.

Run: .venv/bin/python experiments/denoisers_on_mixture.py --out results/denoisers_on_mixture [--size fast|default|full]
About 30 s on a 2-core CPU (fast: a few seconds; full: n up to 10⁶ and 5 seeds). Writes ``scatter.npz`` (2-D picture), ``curves.npz`` (error and
posterior entropy against n, per σ and seed) and ``config.json``; a rerun skips finished parts.

- 2-D picture: K = 3 modes (means at 120°, norm 2, rank-1 covariances), noisy queries y = x + σε
  from fresh samples, mapped by f_emp for n = 12 and n = 3000 training samples and by f_gt.
- Curves: d = 10, K = 3, rank 2; for each n and σ, E‖f_emp(y) − f_gt(y)‖² / E‖f_gt(y) − x‖²
  over 2000 fresh noisy queries, and the mean posterior entropy of f_emp (0 = one-hot: every
  query is mapped onto one training sample).
"""

from pathlib import Path

import jax
import numpy as np

import dae_theory as dt
from dae_theory import run_parts, save_npz

SCATTER = dict(dim=2, num_modes=3, rank=1, mean_norm=2.0, cov_scale=0.45, sigma=0.5, sizes=(12, 3000), queries=600)
CURVES = dict(dim=10, num_modes=3, rank=2, mean_norm=2.0, cov_scale=0.5, sigmas=(0.1, 0.3, 1.0),
              sizes=(3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000), queries=2000, seeds=3)
SETTINGS = {
    "default": dict(scatter=SCATTER, curves=CURVES),
    "fast": dict(scatter={**SCATTER, "queries": 200}, curves={**CURVES, "sizes": (3, 30, 300, 3000), "queries": 300,
                                                                "seeds": 1}),
    "full": dict(scatter=SCATTER, curves={**CURVES, "sizes": CURVES["sizes"] + (300_000, 1_000_000), "seeds": 5}),
}


def noisy_queries(key, mixture, num, sigma):
  k_x, k_e = jax.random.split(key)
  clean = dt.sample_mixture(k_x, mixture, num)
  noisy = clean.x + sigma * jax.random.normal(k_e, clean.x.shape)
  return clean, noisy


def run_scatter(path: Path, settings: dict, seed: int):
  c = settings["scatter"]
  key = jax.random.PRNGKey(seed)
  k_mix, k_train, k_query = jax.random.split(key, 3)
  mix = dt.gaussian_mixture(k_mix, c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=c["rank"],
                            cov_scale=c["cov_scale"])
  clean, y = noisy_queries(k_query, mix, c["queries"], c["sigma"])
  out = {"queries": y, "query_labels": clean.labels, "gt": dt.gmm_denoiser(y, mix, c["sigma"]),
         "means": mix.means}
  train = dt.sample_mixture(k_train, mix, max(c["sizes"]))
  for n in c["sizes"]:
    out[f"train_{n}"] = train.x[:n]
    out[f"emp_{n}"] = dt.empirical_denoiser(y, train.x[:n], c["sigma"])
  save_npz(path, **out)


def run_curves(path: Path, settings: dict, seed: int):
  c = settings["curves"]
  sizes, sigmas = np.array(c["sizes"]), np.array(c["sigmas"])
  rel_err = np.zeros((c["seeds"], sigmas.size, sizes.size))
  entropy = np.zeros_like(rel_err)
  for s in range(c["seeds"]):
    key = jax.random.fold_in(jax.random.PRNGKey(seed), s)
    k_mix, k_train, k_query = jax.random.split(key, 3)
    mix = dt.gaussian_mixture(k_mix, c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=c["rank"],
                              cov_scale=c["cov_scale"])
    train = dt.sample_mixture(k_train, mix, int(sizes.max())).x
    for j, sigma in enumerate(sigmas):
      clean, y = noisy_queries(jax.random.fold_in(k_query, j), mix, c["queries"], float(sigma))
      gt = dt.gmm_denoiser(y, mix, float(sigma))
      mmse = dt.mean_squared_distance(gt, clean.x)
      for i, n in enumerate(sizes):
        post = dt.empirical_posterior(y, train[:n], float(sigma))
        rel_err[s, j, i] = dt.mean_squared_distance(post.denoised, gt) / mmse
        entropy[s, j, i] = float(np.mean(post.entropy))
      print(f"seed {s} sigma {sigma}: rel err {np.round(rel_err[s, j], 3)}")
  save_npz(path, sizes=sizes, sigmas=sigmas, rel_err=rel_err, entropy=entropy)


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/denoisers_on_mixture")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  settings = SETTINGS[args.size]
  run_parts(args.out, {**settings, "size": args.size, "seed": args.seed, "version": dt.__version__, "jax": jax.__version__},
            (("scatter.npz", run_scatter), ("curves.npz", run_curves)), settings, args.seed)


if __name__ == "__main__":
  main()
