"""Sampling with a memorising and a generalising ReLU diffusion model on Fashion-MNIST (paper Fig 2).

Run: .venv/bin/python experiments/diffusion_fashion_mnist.py --out results/diffusion_fashion_mnist \
       [--size fast|default|full]
Sizes (``SETTINGS``): default, the figures and docs/diffusion.md, about 6 min on a 2-core CPU; fast,
every file from 1,000 (memorisers) and 100 (generalisers, 1,000 images) training steps and 100
samples per model (numbers meaningless), about 25 s on an idle 2-core CPU, most of it compilation;
full, the authors' recipes and step counts on all 60,000 images, for accelerator hosts. Writes
``<model>.npz`` per model (weights, every parameter leaf as ``model_param_<i>``, samples,
trajectories, per-sample labels and codes) and ``summary.json``; a rerun skips finished parts.

Models: the multi-noise ReLU diffusion model (tied W, p = 256, time gate on log σ, skip; σ
log-uniform on [0.02, 2]; pixel-mean MSE) in the authors' two recipes, CPU-sized at default:
memorising, 5 images, full batch, RMSprop 1e-3 with coupled decay 1e-2; generalising, 10,000 images,
batch 256, Adam 1e-3 with decay 5e-4 and a cosine schedule to 0 (the authors' 200k steps at 5e-5,
the full size, do not fit here). Data in [−1, 1], not centred, as the authors'.

Sampling: the authors' VE ancestral sampler (60 geometric levels 2 → 0.02, then 0; no clamping,
which changes nothing measurable here) and the deterministic Euler (DDIM) sampler, 1,000 samples
per model at default, from the same starting noise. Each sample is labelled memorised when
d₁/d₂ < 1/3 to the distinct training images, in ℓ2 and on unit-norm images (the samples are faint; see
docs/diffusion.md), in the model's frame. A third model stores 5 pairwise-obtuse images of the
centred data, the setting of Cor 3.2 (raw Fashion-MNIST images are pairwise acute). Two more
generalisers ask why the samples are faint: one trained on centred data, one with σ_max = 20; and
every model is also sampled from N(0, S + σ_max² I) (S the training set's second moment) instead
of N(0, σ_max² I). The hidden code of each sample is read at σ_det = 0.1 (one re-noising draw),
ungated as the authors plot it.
"""

import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt


def _models(memorizing: dict, generalizing: dict) -> dict:
  """The five models from a memorising and a generalising recipe (preset, num_samples, steps and,
  where a size needs them, ``train``: further TrainConfig overrides)."""
  return {
      "memorizing": dict(memorizing, frame="raw"),
      # Cor 3.2's setting: 5 pairwise-obtuse images of the centred data (raw images are pairwise acute).
      "memorizing_obtuse": dict(memorizing, frame="centred_obtuse"),
      "generalizing": dict(generalizing, frame="raw"),
      # Why the samples are faint: the same generaliser on centred data, and with σ_max = 20.
      "generalizing_centred": dict(generalizing, frame="centred"),
      "generalizing_sigma_max_20": dict(generalizing, frame="raw", sigma_max=20.0),
  }


SAMPLING = dict(num=1_000, sigma_max=2.0, sigma_min=0.02, levels=60, snapshot_sigmas=(2.0, 0.62, 0.19, 0.06),
                num_shown=8, sigma_det=0.1, key=1)
SETTINGS = {
    "default": dict(
        data=dict(num_train=10_000, seed=0),
        models=_models(dict(preset="diffusion_memorizing_cpu", num_samples=5, steps=10_000),
                       dict(preset="diffusion_generalizing_cpu", num_samples=10_000, steps=10_000)),
        sampling=SAMPLING),
    # Every file, in seconds: few steps, 100 samples, the generalisers on the first 1,000 images
    # (experiments/memorization_detection.py reuses this generaliser at its fast size).
    "fast": dict(
        data=dict(num_train=1_000, seed=0),
        models=_models(dict(preset="diffusion_memorizing_cpu", num_samples=5, steps=1_000),
                       dict(preset="diffusion_generalizing_cpu", num_samples=1_000, steps=100,
                            train=dict(decay_steps=100, log_every=50))),
        sampling=dict(SAMPLING, num=100)),
    # The authors' recipes and step counts (presets diffusion_memorizing and diffusion_generalizing,
    # from their ReLU diffusion notebook, paper Fig 2: 100k RMSprop steps on 5 images; 200k Adam
    # steps at 5e-5, batch 256, no schedule) on all 60,000 training images (theirs: 100,000 CelebA
    # images). The paper states no number of samples: 10,000 per model here (10× default).
    "full": dict(
        data=dict(num_train=60_000, seed=0),
        models=_models(dict(preset="diffusion_memorizing", num_samples=5, steps=100_000),
                       dict(preset="diffusion_generalizing", num_samples=60_000, steps=200_000)),
        sampling=dict(SAMPLING, num=10_000)),
}


def load_data(data: dict) -> np.ndarray:
  return _load(data["num_train"], data["seed"])


@functools.lru_cache(maxsize=1)
def _load(num: int, seed: int) -> np.ndarray:
  x = np.asarray(dt.load_fashion_mnist("train", num=num, seed=seed).x, np.float32)
  x.flags.writeable = False
  return x


def training_set(spec: dict, data: dict) -> tuple[np.ndarray, np.ndarray]:
  """(training rows in the model's frame, offset to add back for display): the first n rows, or
  for the centred_obtuse frame a greedy pairwise-obtuse subset of the centred rows."""
  x = load_data(data)
  if spec["frame"] == "raw":
    return x[:spec["num_samples"]], np.zeros(x.shape[1], np.float32)
  mean = x.mean(axis=0)
  if spec["frame"] == "centred":
    return (x - mean)[:spec["num_samples"]], mean
  rng = np.random.default_rng(data["seed"])
  for _ in range(100):  # greedy scans in random orders until one keeps enough images
    kept = dt.greedy_obtuse_subset(x - mean, rng.permutation(x.shape[0]))
    if kept.size >= spec["num_samples"]:
      return (x - mean)[kept[:spec["num_samples"]]], mean
  raise ValueError(f"no {spec['num_samples']} pairwise-obtuse images found in 100 greedy scans")


def train_config(spec: dict, sigma_max: float):
  """The TrainConfig of a model spec: its preset with its steps, σ_max and any ``train`` overrides."""
  return dt.preset(spec["preset"], steps=spec["steps"], sigma=sigma_max, **spec.get("train", {}))


@functools.lru_cache(maxsize=None)
def samplers(shape: tuple, sigma_max: float, sigma_min: float, levels: int, num_shown: int, snapshot_sigmas: tuple):
  """The four samplers of ``run_model``, compiled once per grid for every model (the parameters are
  arguments, not constants of the program: the same bits, compiled once instead of per model)."""
  sigmas = dt.geometric_sigmas(sigma_max, sigma_min, levels)
  den = dt.diffusion_denoiser
  return dict(
      ancestral=jax.jit(lambda params, key: dt.sample(den(params), key, shape, sigmas)),
      started=jax.jit(lambda params, key, x_init: dt.sample(den(params), key, shape, sigmas, x_init=x_init)),
      euler=jax.jit(lambda params, x_init: dt.sample(den(params), None, shape, sigmas, method="euler", x_init=x_init)),
      trajectory=jax.jit(lambda params, key, x_init: dt.sample_trajectory(
          den(params), key, (num_shown, shape[1]), sigmas, x_init=x_init, snapshot_sigmas=snapshot_sigmas)))


def run_model(path: Path, settings: dict, name: str):
  x = load_data(settings["data"])
  spec = settings["models"][name]
  s = settings["sampling"]
  train_x, offset = training_set(spec, settings["data"])
  sigma_max = spec.get("sigma_max", s["sigma_max"])
  cfg = train_config(spec, sigma_max)
  t0 = time.time()
  res = dt.train(train_x, cfg, seed=0)
  train_seconds = time.time() - t0
  key = jax.random.key(s["key"])
  shape = (s["num"], x.shape[1])
  shown = s["num_shown"]
  draw = samplers(shape, sigma_max, s["sigma_min"], s["levels"], shown, tuple(s["snapshot_sigmas"]))
  ancestral = np.asarray(draw["ancestral"](res.params, key))
  x_init = sigma_max * jax.random.normal(jax.random.split(key)[0], shape)  # ancestral's own start
  # The start a bias-free model needs: N(0, S + σ_max² I), S the training set's second moment.
  second = train_x.T.astype(np.float64) @ train_x / len(train_x) + sigma_max ** 2 * np.eye(x.shape[1])
  moment_init = np.asarray(jax.random.normal(jax.random.key(5), shape)) @ np.linalg.cholesky(second).T
  moment_start = np.asarray(draw["started"](res.params, key, jnp.asarray(moment_init, jnp.float32)))
  euler = np.asarray(draw["euler"](res.params, x_init))
  traj = draw["trajectory"](res.params, key, x_init[:shown])
  # The same noise as the full run: the shown samples are the first rows of ``ancestral``.
  ev = {m: dt.evaluate_samples(out, train_x) for m, out in (("ancestral", ancestral), ("euler", euler))}
  renoised = ancestral + s["sigma_det"] * np.asarray(jax.random.normal(jax.random.key(7), ancestral.shape))
  codes = np.asarray(dt.representations(dt.DAEParams(res.params.w1), renoised))  # ungated [Wᵀy]₊
  dt_out = {f"{m}_{k}": np.asarray(v) for m, e in ev.items() for k, v in e._asdict().items()}
  params = {f"model_param_{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(res.params))}
  np.savez_compressed(path, **params, offset=offset, w1=np.asarray(res.params.w1), skip=np.asarray(res.params.skip),
                      gate=np.asarray(dt.time_gate(res.params, 0.02)), loss_history=res.loss_history,
                      log_steps=res.log_steps, train_x=train_x if len(train_x) <= 64 else np.zeros((0, x.shape[1])),
                      ancestral=ancestral, euler=euler, moment_start_norms=np.linalg.norm(moment_start, axis=1),
                      traj_x=np.asarray(traj.x), traj_denoised=np.asarray(traj.denoised),
                      traj_sigmas=np.asarray(traj.sigmas), traj_samples=np.asarray(traj.samples),
                      code_std=np.asarray(dt.representation_std(codes)),
                      code_normalized_std=np.asarray(dt.normalized_std(codes)),
                      train_seconds=train_seconds, **dt_out)


def summarise(out_dir: Path, settings: dict) -> dict:
  summary = {}
  for name, spec in settings["models"].items():
    with np.load(out_dir / f"{name}.npz") as r:
      train_x = training_set(spec, settings["data"])[0]
      entry = {"num_samples": spec["num_samples"], "frame": spec["frame"], "train_seconds": float(r["train_seconds"]),
               "final_loss": float(r["loss_history"][-1]), "skip": float(r["skip"]),
               "columns_above_0.2": int((np.linalg.norm(r["w1"], axis=0) > 0.2).sum()),
               "singular_values_above_0.1": int((np.linalg.svd(r["w1"], compute_uv=False) > 0.1).sum()),
               "data_norm_median": float(np.median(np.linalg.norm(train_x, axis=1))),
               # √ of the top eigenvalue of the training set's second moment S = XᵀX/n: the scale of
               # the data along its leading direction, against which σ_max is compared.
               "sqrt_top_second_moment": float(np.sqrt(np.linalg.eigvalsh(
                   train_x.T.astype(np.float64) @ train_x / len(train_x))[-1])),
               "code_std_median": float(np.median(r["code_std"])),
               "code_normalized_std_median": float(np.median(r["code_normalized_std"]))}
      for m in ("ancestral", "euler"):
        for label in ("memorized", "memorized_scale_free"):
          est = dt.memorized_fraction(r[f"{m}_{label}"])
          entry[f"{m}_{label}"] = {"fraction": est.value, "low": est.low, "high": est.high}
        entry[f"{m}_sample_norm_median"] = float(np.median(r[f"{m}_norms"]))
        entry[f"{m}_nn_cosine_median"] = float(np.median(r[f"{m}_cosine"]))
        entry[f"{m}_distinct_nearest"] = int(np.unique(r[f"{m}_cosine_index"]).size)
      entry["moment_start_sample_norm_median"] = float(np.median(r["moment_start_norms"]))
      entry["sigma_max"] = spec.get("sigma_max", settings["sampling"]["sigma_max"])
      summary[name] = entry
  with np.load(out_dir / "generalizing.npz") as g:
    for name in ("memorizing", "memorizing_obtuse"):
      with np.load(out_dir / f"{name}.npz") as m:
        summary[f"auroc_{name}_vs_generalizing"] = {
            k: dt.auroc(m[f"code_{k}"], g[f"code_{k}"]) for k in ("std", "normalized_std")}
  return summary


def main():
  args = dt.experiment_parser(__doc__.splitlines()[0], "results/diffusion_fashion_mnist").parse_args()
  settings = SETTINGS[args.size]
  parts = [(f"{name}.npz", functools.partial(run_model, name=name)) for name in settings["models"]]
  dt.run_parts(args.out, {**settings, "size": args.size, "version": dt.__version__, "jax": jax.__version__}, parts,
               settings)
  summary = summarise(Path(args.out), settings)
  dt.save_json(Path(args.out) / "summary.json", summary)
  for name in settings["models"]:
    e = summary[name]
    print(f"{name}: memorized (scale-free, ancestral) {e['ancestral_memorized_scale_free']['fraction']:.3f}, "
          f"l2 {e['ancestral_memorized']['fraction']:.3f}; sample norm {e['ancestral_sample_norm_median']:.2f} "
          f"vs data {e['data_norm_median']:.2f}; Std(h) {e['code_std_median']:.3f}")
  for name in ("memorizing", "memorizing_obtuse"):
    print(f"AUROC of Std(h) and Std(h)/||h||, {name} vs generalizing samples:",
          summary[f"auroc_{name}_vs_generalizing"])


if __name__ == "__main__":
  main()
