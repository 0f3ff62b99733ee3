"""When does a ReLU diffusion model stop copying its training set? Generated samples against n.

Run: .venv/bin/python experiments/diffusion_transition.py --out results/diffusion_transition \
       [--size fast|default|full] [--parts mixture fashion_mnist]
Sizes (``SETTINGS``): default, the figure and docs/diffusion.md, 12 min on one core of a 2-core CPU;
fast, every file from 2 sizes n, one width, 2 snapshots of 100-odd steps and 100 samples
(numbers meaningless), about 50 s on an idle 2-core CPU, most of it compilation; full, the
authors' generalising recipe and step count on Fashion-MNIST and a longer, wider mixture sweep,
for accelerator hosts. Writes ``mixture.npz`` and ``fashion_mnist.npz`` (one row per model ×
training snapshot) and ``config.json``; a rerun skips finished parts.

For every width p, one sweep trains the multi-noise ReLU diffusion model on the first n rows of a
shared array for every training-set size n, with weight snapshots during training; a second sweep
per width trains the same models on a disjoint array (the other half) for the two-model agreement test of
Kadkhodaie et al. (ICLR 2024). At every snapshot: 500 samples of the ancestral sampler (60
geometric levels), labelled memorised by d₁/d₂ < 1/3 to the n distinct training rows in ℓ2 and on
unit-norm rows; the same for the sampler driven by f_emp of the same n rows (the memorising
optimum); the two models' agreement from the same noise (ancestral, and Euler from the same
start); on the mixture, the samples' mean log-likelihood under the true mixture (smoothed at
σ_min) minus that of fresh mixture samples, and a χ² test of their mode frequencies against ρ_k;
and the denoising-error ratio E‖x̂₀(x + σε) − x‖² on held-out over training rows at σ = 0.2, which
needs no sampler; and the denoiser's gain ⟨x̂₀(s, σ), s⟩/‖s‖² along its own samples s at σ = 0.1
(above 1 it amplifies them). (Counts and steps here are default's; ``SETTINGS`` has every size's.)

Data: (a) 3 Gaussian modes in d = 20 (pairwise-obtuse means of norm 3, rank-12 spread of scale
0.5), training rows interleaved by mode, n = 3 n_k; σ_max = 10 there, above the modes' norm, so
that samples have the data's scale and their log-likelihood under the true mixture and their mode
frequencies mean something. (b) Fashion-MNIST in [−1, 1] with the authors' σ range [0.02, 2].
"""

import itertools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt

MIXTURE_TRAIN = dict(model="relu_diffusion", sigma=10.0, sigma_min=0.02, time_hidden=64, optimizer="adam",
                     learning_rate=3e-3, steps=8_000, decay_steps=8_000, final_lr_fraction=0.0, batch_size=128,
                     log_every=500, snapshot_steps=(1_000, 2_000, 4_000, 8_000))
FASHION_TRAIN = dict(model="relu_diffusion", sigma=2.0, sigma_min=0.02, time_hidden=256, optimizer="adam",
                     learning_rate=1e-3, weight_decay=5e-4, loss_convention="torch", steps=4_000, decay_steps=4_000,
                     final_lr_fraction=0.0, batch_size=128, log_every=500, snapshot_steps=(1_000, 2_000, 4_000))
SAMPLING = dict(num=500, levels=60, sigma_min=0.02, key=3, error_sigma=0.2, gain_sigma=0.1)
SETTINGS = {
    "default": dict(
        mixture=dict(num_modes=3, dim=20, mean_norm=3.0, rank=12, cov_scale=0.5,
                     samples_per_mode=(1, 2, 4, 8, 16, 32, 64, 128, 256), num_test=600, seed=0),
        mixture_train=MIXTURE_TRAIN, mixture_widths=(9, 36),
        fashion=dict(sizes=(5, 20, 50, 100, 200, 1_000, 30_000), num_test=1_000, seed=0),
        fashion_train=FASHION_TRAIN, fashion_widths=(64, 256),
        sampling=SAMPLING),
    # Every file, in seconds: 2 sizes n, one width, 2 snapshots of 100-odd steps, 100 samples.
    "fast": dict(
        mixture=dict(num_modes=3, dim=20, mean_norm=3.0, rank=12, cov_scale=0.5, samples_per_mode=(2, 32),
                     num_test=600, seed=0),
        mixture_train=dict(MIXTURE_TRAIN, steps=200, decay_steps=200, log_every=100, snapshot_steps=(100, 200)),
        mixture_widths=(36,),
        fashion=dict(sizes=(5, 200), num_test=200, seed=0),
        fashion_train=dict(FASHION_TRAIN, steps=100, decay_steps=100, log_every=50, snapshot_steps=(50, 100)),
        fashion_widths=(64,),
        sampling=dict(SAMPLING, num=100)),
    # The paper sweeps neither n nor training time. Fashion-MNIST: the authors' generalising recipe
    # and step count (their ReLU diffusion notebook, paper Fig 2: Adam 5e-5 without a schedule, weight
    # decay 5e-4, batch 256, 200k steps; p = 256 and 64), snapshots from 25k steps, n up to 30,000
    # (two disjoint halves of the 60,000 images). The mixture: default's recipe for 4× the steps
    # and n_k up to 1,024 (our choice). 2,000 samples per snapshot (4× default; the paper gives no count).
    "full": dict(
        mixture=dict(num_modes=3, dim=20, mean_norm=3.0, rank=12, cov_scale=0.5,
                     samples_per_mode=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024), num_test=2_000, seed=0),
        mixture_train=dict(MIXTURE_TRAIN, steps=32_000, decay_steps=32_000,
                           snapshot_steps=(2_000, 4_000, 8_000, 16_000, 32_000)),
        mixture_widths=(9, 36),
        fashion=dict(sizes=(5, 20, 50, 100, 200, 1_000, 5_000, 30_000), num_test=2_000, seed=0),
        fashion_train=dict(FASHION_TRAIN, learning_rate=5e-5, steps=200_000, decay_steps=0,
                           batch_size=256, log_every=1_000, snapshot_steps=(25_000, 50_000, 100_000, 200_000)),
        fashion_widths=(64, 256),
        sampling=dict(SAMPLING, num=2_000)),
}


def _snapshot(sweep, i, s):
  """Model i of a sweep at snapshot s, cut to its width."""
  params = jax.tree.map(lambda a: a[i, s], sweep.snapshots)
  return dt.get_model(sweep.config.model).cut_width(params, int(sweep.grid[i]["width"]))


def _denoise_error(params, x, sigma, key):
  y = x + sigma * jax.random.normal(key, x.shape)
  return float(jnp.mean(jnp.sum((dt.diffusion_denoiser(params)(y, sigma) - x) ** 2, axis=1)))


def measure(path: Path, train_a, train_b, test_x, cfg, widths, sizes, sampling: dict, mixture=None):
  """Trains both halves' sweeps, samples every snapshot (``sampling``: the SAMPLING settings), and
  saves one row per (model, snapshot)."""
  s = sampling
  d = train_a.shape[1]
  sigmas = dt.geometric_sigmas(cfg.sigma, s["sigma_min"], s["levels"])
  key = jax.random.key(s["key"])
  shape = (s["num"], d)
  t0 = time.time()
  # One sweep per width and half: a sweep of mixed widths pads every model to the widest.
  sweeps = {p: [dt.train_sweep(x, cfg, sizes=sizes, widths=[p]) for x in (train_a, train_b)] for p in widths}
  train_seconds = time.time() - t0
  draw = jax.jit(lambda params, k: dt.sample(dt.diffusion_denoiser(params), k, shape, sigmas))
  x_init = cfg.sigma * jax.random.normal(jax.random.key(s["key"] + 1), shape)
  draw_euler = jax.jit(lambda params: dt.sample(dt.diffusion_denoiser(params), None, shape, sigmas, method="euler",
                                                x_init=x_init))
  emp_draw = jax.jit(lambda train, k: dt.sample(lambda y, sg: dt.empirical_denoiser(y, train, sg), k, shape, sigmas))
  rows = {k: [] for k in ("num_samples", "width", "step", "memorized", "memorized_scale_free", "emp_memorized",
                          "emp_memorized_scale_free", "agreement", "agreement_relative", "agreement_relative_euler",
                          "error_ratio", "sample_norm", "data_norm", "gain", "log_likelihood", "mode_chi2_p")}
  emp_cache = {}
  reference_ll = np.nan if mixture is None else float(np.mean(dt.mixture_log_likelihood(test_x, mixture,
                                                                                         s["sigma_min"])))
  for (i, n), p in itertools.product(enumerate(int(n) for n in sizes), widths):  # the rows' order
    x_n = train_a[:n]
    if n not in emp_cache:
      emp = np.asarray(emp_draw(jnp.asarray(x_n), key))
      ev = dt.evaluate_samples(emp, x_n)
      emp_cache[n] = (ev.memorized.mean(), ev.memorized_scale_free.mean())
    for j, step in enumerate(cfg.snapshot_steps):
      params_a, params_b = _snapshot(sweeps[p][0], i, j), _snapshot(sweeps[p][1], i, j)
      a, b = np.asarray(draw(params_a, key)), np.asarray(draw(params_b, key))
      ev = dt.evaluate_samples(a, x_n)
      agree = dt.two_model_agreement(a, b)
      agree_euler = dt.two_model_agreement(np.asarray(draw_euler(params_a)), np.asarray(draw_euler(params_b)))
      err_key = jax.random.key(11)
      test = test_x[:min(len(test_x), max(n, 100))]
      ratio = _denoise_error(params_a, jnp.asarray(test), s["error_sigma"], err_key) / _denoise_error(
          params_a, jnp.asarray(x_n), s["error_sigma"], err_key)
      # The denoiser's gain along its own samples at a small σ: ⟨x̂₀(s), s⟩/‖s‖² (> 1 amplifies).
      den = np.asarray(dt.diffusion_denoiser(params_a)(jnp.asarray(a), s["gain_sigma"]))
      gain = float(np.median(np.sum(den * a, axis=1) / np.maximum(np.sum(a * a, axis=1), 1e-30)))
      ll = chi2_p = np.nan
      if mixture is not None:  # per sample, against fresh samples of the mixture at the same smoothing
        ll = float(np.mean(dt.mixture_log_likelihood(a, mixture, s["sigma_min"])) - reference_ll)
        chi2_p = dt.mode_frequencies(a, mixture, s["sigma_min"]).p_value
      for k, v in (("num_samples", n), ("width", p), ("step", step), ("memorized", ev.memorized.mean()),
                   ("memorized_scale_free", ev.memorized_scale_free.mean()), ("emp_memorized", emp_cache[n][0]),
                   ("emp_memorized_scale_free", emp_cache[n][1]), ("agreement", agree.mean),
                   ("agreement_relative", agree.mean_relative),
                   ("agreement_relative_euler", agree_euler.mean_relative), ("error_ratio", ratio),
                   ("sample_norm", float(np.median(ev.norms))),
                   ("data_norm", float(np.median(np.linalg.norm(x_n, axis=1)))), ("gain", gain),
                   ("log_likelihood", ll),
                   ("mode_chi2_p", chi2_p)):
        rows[k].append(v)
  dt.save_npz(path, train_seconds=train_seconds, **{k: np.asarray(v) for k, v in rows.items()})


def run_mixture(path: Path, settings: dict):
  c = settings["mixture"]
  k_mix, k_train, k_test = jax.random.split(jax.random.PRNGKey(c["seed"]), 3)
  mix = dt.gaussian_mixture(k_mix, c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=c["rank"],
                            cov_scale=c["cov_scale"])
  per_mode = max(c["samples_per_mode"])
  train = dt.sample_mixture(k_train, mix, 2 * c["num_modes"] * per_mode, exact_counts=True)
  # Rows sorted by mode → interleaved, so that every prefix holds n_k rows of each mode; the two
  # halves take alternate blocks of one row per mode.
  order = np.arange(2 * c["num_modes"] * per_mode).reshape(c["num_modes"], 2 * per_mode).T.ravel()
  x = np.asarray(train.x)[order]
  blocks = x.reshape(2 * per_mode, c["num_modes"], c["dim"])
  half_a, half_b = blocks[0::2].reshape(-1, c["dim"]), blocks[1::2].reshape(-1, c["dim"])
  test = np.asarray(dt.sample_mixture(k_test, mix, c["num_test"]).x)
  cfg = dt.TrainConfig(**settings["mixture_train"])
  sizes = [c["num_modes"] * k for k in c["samples_per_mode"]]
  measure(path, half_a, half_b, test, cfg, settings["mixture_widths"], sizes, settings["sampling"], mixture=mix)


def run_fashion(path: Path, settings: dict):
  c = settings["fashion"]
  data = np.asarray(dt.load_fashion_mnist("train", seed=c["seed"]).x, np.float32)
  half = max(c["sizes"])
  test = np.asarray(dt.load_fashion_mnist("test", num=c["num_test"], seed=c["seed"]).x, np.float32)
  cfg = dt.TrainConfig(**settings["fashion_train"])
  measure(path, data[:half], data[half:2 * half], test, cfg, settings["fashion_widths"], list(c["sizes"]),
          settings["sampling"])


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/diffusion_transition")
  parser.add_argument("--parts", nargs="+", default=["mixture", "fashion_mnist"], choices=["mixture", "fashion_mnist"])
  args = parser.parse_args()
  settings = SETTINGS[args.size]
  runners = {"mixture": run_mixture, "fashion_mnist": run_fashion}
  parts = [(f"{name}.npz", runners[name]) for name in args.parts]
  dt.run_parts(args.out, {**settings, "size": args.size, "version": dt.__version__, "jax": jax.__version__}, parts,
               settings)
  for name in args.parts:
    with np.load(Path(args.out) / f"{name}.npz") as r:
      last = r["step"] == r["step"].max()
      print(f"{name} ({float(r['train_seconds']):.0f} s training):")
      for n, p, m, mf, e, a, q in zip(r["num_samples"][last], r["width"][last], r["memorized"][last],
                                      r["memorized_scale_free"][last], r["emp_memorized_scale_free"][last],
                                      r["agreement_relative"][last], r["error_ratio"][last]):
        print(f"  n={n:6d} p={p:3d}: memorized l2 {m:.3f} scale-free {mf:.3f} (f_emp {e:.3f}), "
              f"agreement {a:.3f}, test/train error {q:.2f}")


if __name__ == "__main__":
  main()
