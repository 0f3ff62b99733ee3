"""Memorisation detection (paper Algorithm 1) and representation steering (eq. 11), measured on
ReLU diffusion models trained here, where every generated sample's memorisation is known.

Run: .venv/bin/python experiments/memorization_detection.py --out results/memorization_detection \
       [--size fast|default|full]
Sizes (``SETTINGS``): default, the figures and docs/detection-and-steering.md, about 3.5 min on a
2-core CPU (less when experiments/diffusion_fashion_mnist.py has saved its generaliser beside these
results at the same size: it is the two_models benchmark's and is reused); fast, every file from a
few hundred steps, 64 samples per model and 50 bootstrap rounds (numbers meaningless), about
70 s on an idle 2-core CPU, most of it compilation; full, the authors' recipes and step counts for
the two Fashion-MNIST models and more of everything else, for accelerator hosts. Writes one .npz
per part (per-sample scores, labels and timings; steering curves and sample rows) and
``summary.json``; a rerun skips finished parts.
The counts below are default's (``SETTINGS`` holds every size's).

Detection benchmarks (each scores every detector of ``dt.DETECTORS`` on the same re-noised samples,
σ_det = 0.1, one noise draw, the ungated code; positives = memorised samples):
  two_models         the paper's setting: 1,000 samples of a model trained on 5 images (the authors'
                     memorising recipe) against 1,000 of a model trained on 10,000 images (σ_max = 2,
                     the authors' range); labels by model, and as a check the memoriser's copies
                     (d₁/d₂ < 1/3 on unit-norm images) against the generaliser's samples.
  duplicated_fmnist  one model on 500 distinct images plus 5 images repeated 300 times each (the
                     hybrid regime of Cor 3.4; σ_max = 20); 2,000 samples labelled memorised when
                     d₁/d₂ < 1/3 to the DISTINCT training images, on unit-norm images (the copies
                     come out fainter than their images, which ℓ2 labels miss; both are saved).
  duplicated_mixture the same on a 3-mode Gaussian mixture (d = 20) with 6 points, each in a
                     direction of its own, repeated c times, c swept in one vmapped training sweep;
                     1,000 samples each, ℓ2 labels: detection against how strongly duplicates are stored.
Steering: a concept direction v (the mean gated code of 256 noised reference samples of one
mixture component or Fashion-MNIST class, σ̃ = 0.5) added to the code, h ← h + a·v, during steps
27–56 of the sampler's 60 (45 % to 95 % of the way: the authors' code steers DDIM calls 18–37 of
40, the lower-noise half but the last two), for a grid of strengths a, on a generalising and a
memorising model from the same starting noise. The concept is read by the true mixture's posterior (mixture) or by
a logistic-regression classifier on unit-norm images trained on 10,000 real training images
(Fashion-MNIST, the two models of two_models; its accuracy on 2,000 test images is saved). The
Fashion-MNIST concept is 'bag', a class none of the memoriser's 5 images belongs to, so that a
memorised sample can carry it only by leaving the images the model stores.
"""

import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dae_theory as dt

STEERING = dict(strengths=(0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0), sigma_ref=0.5,
                num_reference=256, window=(0.45, 0.95), num_samples=500, num_shown=6,
                mixture_memorizing_per_mode=1, mixture_target=0, fmnist_target=8, classifier_steps=500)
MIXTURE = dict(num_modes=3, dim=20, mean_norm=3.0, rank=12, cov_scale=0.5, samples_per_mode=256, num_duplicated=6,
               seed=0)
MIXTURE_TRAIN = dict(model="relu_diffusion", width=36, sigma=10.0, sigma_min=0.02, time_hidden=64, optimizer="adam",
                     learning_rate=3e-3, steps=8_000, decay_steps=8_000, final_lr_fraction=0.0, batch_size=128,
                     log_every=500)
# A Fashion-MNIST model: ``preset`` with ``fmnist["steps"]`` steps, or its own ``steps``, and
# optional ``train`` (further TrainConfig overrides).
SETTINGS = {
    "default": dict(
        detect=dict(sigma_det=dt.DEFAULT_SIGMA_DET, num_draws=1, key=11, fpr=0.01, num_bootstrap=1000,
                    timed_samples=256),
        sampling=dict(sigma_min=0.02, levels=60, key=1),
        fmnist=dict(steps=10_000, seed=0),
        two_models=dict(memorizing=dict(preset="diffusion_memorizing_cpu", num_images=5),
                        generalizing=dict(preset="diffusion_generalizing_cpu", num_images=10_000), num_samples=1_000,
                        sigma_max=2.0),
        duplicated_fmnist=dict(preset="diffusion_generalizing_cpu", num_distinct=500, num_duplicated=5, copies=300,
                               num_samples=2_000, sigma_max=20.0),
        mixture=MIXTURE, mixture_train=MIXTURE_TRAIN,
        duplicated_mixture=dict(copies=(16, 64, 128, 256, 512), num_samples=1_000),
        steering=STEERING),
    # Every file, in seconds: few steps, 64 samples per model (all timed: one compiled shape), 50
    # bootstrap rounds. The generaliser is experiments/diffusion_fashion_mnist.py's at its fast size
    # (reused when it sits beside these results); the steering strengths are default's (the figure
    # shows 7 of the 12).
    "fast": dict(
        detect=dict(sigma_det=dt.DEFAULT_SIGMA_DET, num_draws=1, key=11, fpr=0.01, num_bootstrap=50,
                    timed_samples=64),
        sampling=dict(sigma_min=0.02, levels=60, key=1),
        fmnist=dict(steps=100, seed=0),
        two_models=dict(memorizing=dict(preset="diffusion_memorizing_cpu", num_images=5, steps=1_000),
                        generalizing=dict(preset="diffusion_generalizing_cpu", num_images=1_000,
                                          train=dict(decay_steps=100, log_every=50)),
                        num_samples=64, sigma_max=2.0),
        duplicated_fmnist=dict(preset="diffusion_generalizing_cpu", num_distinct=100, num_duplicated=5, copies=20,
                               num_samples=64, sigma_max=20.0, train=dict(decay_steps=100, log_every=50)),
        mixture=dict(MIXTURE, samples_per_mode=64),
        mixture_train=dict(MIXTURE_TRAIN, steps=300, decay_steps=300, log_every=100),
        duplicated_mixture=dict(copies=(4, 16), num_samples=64),
        steering=dict(STEERING, num_reference=64, num_samples=60, classifier_steps=50)),
    # The authors' recipes and step counts for the two Fashion-MNIST models (presets
    # diffusion_memorizing, 100k steps, and diffusion_generalizing, 200k steps, on all 60,000
    # images: experiments/diffusion_fashion_mnist.py's generaliser at its full size, reused), the
    # duplicated model with the generalising recipe. The paper scores 500 + 500 samples (Table 1);
    # 2,000 + 2,000 here. The rest (duplication, the mixture, steering) has no counterpart in the
    # paper: default's settings with 4× the steps and more data and samples (our choices).
    "full": dict(
        detect=dict(sigma_det=dt.DEFAULT_SIGMA_DET, num_draws=1, key=11, fpr=0.01, num_bootstrap=1000,
                    timed_samples=256),
        sampling=dict(sigma_min=0.02, levels=60, key=1),
        fmnist=dict(steps=200_000, seed=0),
        two_models=dict(memorizing=dict(preset="diffusion_memorizing", num_images=5, steps=100_000),
                        generalizing=dict(preset="diffusion_generalizing", num_images=60_000), num_samples=2_000,
                        sigma_max=2.0),
        duplicated_fmnist=dict(preset="diffusion_generalizing", num_distinct=5_000, num_duplicated=10, copies=300,
                               num_samples=5_000, sigma_max=20.0),
        mixture=dict(MIXTURE, samples_per_mode=1_024),
        mixture_train=dict(MIXTURE_TRAIN, steps=32_000, decay_steps=32_000),
        duplicated_mixture=dict(copies=(16, 64, 128, 256, 512, 1_024, 2_048), num_samples=5_000),
        steering=dict(STEERING, num_samples=2_000, classifier_steps=2_000)),
}


# ----------------------------------------------------------------------------------------------
# Data and models
# ----------------------------------------------------------------------------------------------


def fmnist(num: int, settings: dict) -> np.ndarray:
  return np.asarray(dt.load_fashion_mnist("train", num=num, seed=settings["fmnist"]["seed"]).x, np.float32)


def mixture(settings: dict):
  """(the 3-mode data mixture, its training rows (n, d), their labels, the duplicated points (D, d)).

  One 9-mode mixture with pairwise-obtuse means (cos −1/8): modes 0–2 carry the data; one sample
  of each of modes 3–8 is a point that gets duplicated, so every duplicate lies in a direction of
  its own, obtuse to the data modes (Cor 3.4's setting). A duplicate drawn inside a data mode
  cannot be stored by a bias-free ReLU unit: the unit would fire on the whole mode.
  """
  m = settings["mixture"]
  full = dt.gaussian_mixture(jax.random.key(m["seed"]), m["num_modes"] + m["num_duplicated"], m["dim"],
                             mean_norm=m["mean_norm"], rank=m["rank"], cov_scale=m["cov_scale"])
  k = m["num_modes"]
  data = dt.sample_mixture(jax.random.key(m["seed"] + 1), full, full.num_modes * m["samples_per_mode"],
                           exact_counts=True)
  x, labels = np.asarray(data.x, np.float32), np.asarray(data.labels)
  keep = labels < k
  points = np.stack([x[np.flatnonzero(labels == j)[0]] for j in range(k, full.num_modes)])
  modes = dt.GaussianMixture(full.means[:k], jnp.full((k,), 1.0 / k), full.factors[:k], full.iso_var[:k])
  return modes, x[keep], labels[keep], points


def fmnist_config(spec: dict, sigma_max: float, settings: dict):
  """The TrainConfig of a Fashion-MNIST model ``spec`` (see ``SETTINGS``)."""
  steps = spec.get("steps", settings["fmnist"]["steps"])
  return dt.preset(spec["preset"], steps=steps, sigma=sigma_max, **spec.get("train", {}))


def train_fmnist(x, spec: dict, sigma_max: float, settings: dict):
  return dt.train(x, fmnist_config(spec, sigma_max, settings), seed=0).params


def params_arrays(params, prefix: str) -> dict:
  return {f"{prefix}param_{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(params))}


def params_from(r: dict, prefix: str, preset: str):
  """Rebuilds DiffusionParams saved by ``params_arrays`` (the preset fixes the pytree's structure)."""
  cfg = dt.preset(preset)
  like = dt.init_diffusion_params(jax.random.key(0), r[f"{prefix}param_0"].shape[0], cfg.width,
                                  time_hidden=cfg.time_hidden, tied=cfg.tied, gate=cfg.gate, skip=cfg.skip)
  leaves = [jnp.asarray(r[f"{prefix}param_{i}"]) for i in range(len(jax.tree.leaves(like)))]
  return jax.tree.unflatten(jax.tree.structure(like), leaves)


def train_mixture(x, settings: dict):
  return dt.train(x, dt.TrainConfig(**settings["mixture_train"]), seed=0).params


def sigmas_for(sigma_max, settings: dict):
  return dt.geometric_sigmas(sigma_max, settings["sampling"]["sigma_min"], settings["sampling"]["levels"])


@functools.lru_cache(maxsize=None)
def _sampler(shape: tuple, sigma_max: float, sigma_min: float, levels: int, window: tuple | None = None):
  """The ancestral sampler on one grid, compiled once for every model of a structure (parameters,
  and the steering direction and strength, are arguments, not constants of the program: the same
  bits, compiled once instead of per model). ``window``: (start, stop) steps to steer."""
  sigmas = dt.geometric_sigmas(sigma_max, sigma_min, levels)
  if window is None:
    return jax.jit(lambda params, key: dt.sample(dt.diffusion_denoiser(params), key, shape, sigmas))
  steps = dt.steering_window(sigmas, *window)
  return jax.jit(lambda params, v, a, key: dt.sample(dt.steered_denoiser(params, v, a, steps), key, shape, sigmas))


def draw(params, num: int, sigma_max: float, settings: dict, key=None):
  s = settings["sampling"]
  key = jax.random.key(s["key"]) if key is None else key
  return np.asarray(_sampler((num, params.dim), sigma_max, s["sigma_min"], s["levels"])(params, key))


# ----------------------------------------------------------------------------------------------
# Detection
# ----------------------------------------------------------------------------------------------


def score_all(params, samples, train_x, detect: dict, *, scale_free_oracle: bool = False) -> tuple[dict, dict]:
  """Every detector's scores, and its time per sample: the second of two calls on the first
  ``timed_samples`` samples (the first call compiles)."""
  key = jax.random.key(detect["key"])
  scores, seconds = {}, {}
  timed = samples[:detect["timed_samples"]]
  for name in dt.DETECTORS:
    kwargs = dict(sigma_det=detect["sigma_det"], num_draws=detect["num_draws"], train_x=train_x, detectors=(name,),
                  scale_free_oracle=scale_free_oracle)
    scores[name] = getattr(dt.detection_scores(params, samples, key, **kwargs), name)
    dt.detection_scores(params, timed, key, **kwargs)
    t0 = time.perf_counter()
    dt.detection_scores(params, timed, key, **kwargs)
    seconds[name] = (time.perf_counter() - t0) / len(timed)
  return scores, seconds


def save_benchmark(path, scores, seconds, memorized, **extra):
  arrays = {f"score_{k}": v for k, v in scores.items()}
  arrays.update({f"seconds_{k}": np.float64(v) for k, v in seconds.items()})
  dt.save_npz(path, memorized=np.asarray(memorized, bool), **arrays, **extra)


def saved_generalizer(out_dir: Path, settings: dict):
  """The generaliser of experiments/diffusion_fashion_mnist.py when its results sit beside ours and
  it is this benchmark's model (same preset, images, steps, training overrides, σ_max and seed:
  the same numbers), else None (then it is trained here)."""
  folder = out_dir.parent / "diffusion_fashion_mnist"
  try:
    config = dt.load_json(folder / "config.json")
    saved = dt.load_npz(folder / "generalizing.npz")
  except (FileNotFoundError, ValueError):
    return None
  spec, want = config["models"]["generalizing"], settings["two_models"]["generalizing"]
  same = (spec["preset"] == want["preset"] and spec["num_samples"] == want["num_images"]
          and spec["steps"] == want.get("steps", settings["fmnist"]["steps"])
          and spec.get("train", {}) == want.get("train", {}) and spec["frame"] == "raw" and "sigma_max" not in spec
          and config["sampling"]["sigma_max"] == settings["two_models"]["sigma_max"]
          and config["data"] == {"num_train": want["num_images"], "seed": settings["fmnist"]["seed"]}
          and "model_param_0" in saved)
  return params_from(saved, "model_", want["preset"]) if same else None


def two_models(path: Path, settings: dict):
  spec = settings["two_models"]
  out = {}
  for name in ("memorizing", "generalizing"):
    x = fmnist(spec[name]["num_images"], settings)
    params = saved_generalizer(path.parent, settings) if name == "generalizing" else None
    if params is None:
      params = train_fmnist(x, spec[name], spec["sigma_max"], settings)
    samples = draw(params, spec["num_samples"], spec["sigma_max"], settings)
    scores, seconds = score_all(params, samples, x, settings["detect"], scale_free_oracle=True)
    ev = dt.evaluate_samples(samples, x)
    out[name] = (scores, seconds, ev, samples, params_arrays(params, f"{name}_"))
  mem, gen = out["memorizing"], out["generalizing"]
  scores = {k: np.concatenate([mem[0][k], gen[0][k]]) for k in dt.DETECTORS}
  seconds = {k: (mem[1][k] + gen[1][k]) / 2 for k in dt.DETECTORS}
  from_memorizer = np.r_[np.ones(spec["num_samples"], bool), np.zeros(spec["num_samples"], bool)]
  save_benchmark(path, scores, seconds, from_memorizer,
                 copied=np.r_[mem[2].memorized, gen[2].memorized],
                 copied_scale_free=np.r_[mem[2].memorized_scale_free, gen[2].memorized_scale_free],
                 ratio=np.r_[mem[2].ratio, gen[2].ratio], shown=np.r_[mem[3][:8], gen[3][:8]], **mem[4], **gen[4])


def duplicated_fmnist(path: Path, settings: dict):
  spec = settings["duplicated_fmnist"]
  x = fmnist(spec["num_distinct"] + spec["num_duplicated"], settings)
  dup = dt.duplicate_samples(x, np.zeros(len(x), np.int32), np.arange(spec["num_duplicated"]), spec["copies"])
  train_x = np.asarray(dup.x)
  train_x = train_x[np.random.default_rng(0).permutation(len(train_x))]
  params = train_fmnist(train_x, spec, spec["sigma_max"], settings)
  samples = draw(params, spec["num_samples"], spec["sigma_max"], settings)
  ev = dt.evaluate_samples(samples, train_x)
  scores, seconds = score_all(params, samples, train_x, settings["detect"], scale_free_oracle=True)
  duplicated_rows = x[:spec["num_duplicated"]]
  copies_duplicate = (train_x[ev.cosine_index][:, None, :] == duplicated_rows[None]).all(-1).any(-1)
  # Labels on unit-norm images: the bias-free model's copies come out fainter than their images
  # (see the module docstring), which the ℓ2 ratio counts as not memorised.
  save_benchmark(path, scores, seconds, ev.memorized_scale_free, memorized_l2=ev.memorized,
                 ratio=ev.ratio_scale_free, nearest_is_duplicated=copies_duplicate, shown=samples[:16])


def duplicated_mixture(path: Path, settings: dict):
  """One vmapped sweep over the copy count c: the training set for c is a prefix of one array (the
  data rows, then the duplicated points round-robin), of n = n_data + D (c + 1) rows."""
  spec = settings["duplicated_mixture"]
  _, x, _, points = mixture(settings)
  copies = np.asarray(spec["copies"])
  stacked = np.concatenate([x, np.tile(points, (int(copies.max()) + 1, 1))])
  sizes = [len(x) + len(points) * (int(c) + 1) for c in copies]
  sweep = dt.train_sweep(stacked, dt.TrainConfig(**settings["mixture_train"]), sizes=sizes)
  rows = {}
  for i, c in enumerate(copies):
    params = sweep.model(i)
    train_x = stacked[:int(sweep.grid[i]["num_samples"])]
    samples = draw(params, spec["num_samples"], settings["mixture_train"]["sigma"], settings)
    ev = dt.evaluate_samples(samples, train_x)
    scores, seconds = score_all(params, samples, train_x, settings["detect"])
    on_duplicate = (train_x[ev.nearest_index][:, None, :] == points[None]).all(-1).any(-1)
    rows[int(c)] = dict(memorized=ev.memorized, ratio=ev.ratio, on_duplicate=on_duplicate, **{
        f"score_{k}": v for k, v in scores.items()}, **{f"seconds_{k}": np.float64(v) for k, v in seconds.items()})
  dt.save_npz(path, copies=copies, **{f"c{c}_{k}": v for c, row in rows.items() for k, v in row.items()})


# ----------------------------------------------------------------------------------------------
# Steering
# ----------------------------------------------------------------------------------------------


def steer_run(params, v, samples_shape, sigma_max, strengths, key, settings: dict):
  """Samples for every strength from the same starting noise and step noise, (A, m, d)."""
  sigmas = sigmas_for(sigma_max, settings)
  num_steps = sigmas.shape[0] - 1
  start, stop = (int(round(f * num_steps)) for f in settings["steering"]["window"])
  window = dt.steering_window(sigmas, start, stop)
  grid = (tuple(samples_shape), sigma_max, settings["sampling"]["sigma_min"], settings["sampling"]["levels"])
  run = _sampler(*grid, window=(start, stop))
  plain = np.asarray(_sampler(*grid)(params, key))
  out = np.stack([np.asarray(run(params, v, jnp.float32(a), key)) for a in strengths])
  assert np.array_equal(out[0], plain), "a = 0 must reproduce unsteered sampling bit for bit"
  return out, window


def curve_summary(strengths, share) -> dict:
  """a at which half the samples carry the concept (linear interpolation; inf if never), the largest
  jump of the share between neighbouring a, and the area under share(a) over [0, a_max] / a_max."""
  strengths, share = np.asarray(strengths, np.float64), np.asarray(share, np.float64)
  above = np.flatnonzero(share >= 0.5)
  if above.size == 0:
    a_half = float("inf")
  elif above[0] == 0:
    a_half = 0.0
  else:
    i = above[0]
    a_half = float(np.interp(0.5, [share[i - 1], share[i]], [strengths[i - 1], strengths[i]]))
  jumps = np.diff(share)
  return {"a_half": a_half, "largest_jump": float(jumps.max()),
          "largest_jump_at": [float(strengths[int(jumps.argmax())]), float(strengths[int(jumps.argmax()) + 1])],
          "area": float(np.trapezoid(share, strengths) / strengths[-1])}


def steering_mixture(path: Path, settings: dict):
  spec = settings["steering"]
  mix, x, labels, _ = mixture(settings)
  k = spec["mixture_target"]
  per_mode = spec["mixture_memorizing_per_mode"]
  small = np.concatenate([np.flatnonzero(labels == j)[:per_mode] for j in range(settings["mixture"]["num_modes"])])
  reference = dt.sample_mixture(jax.random.key(99), mix, 4 * spec["num_reference"])
  reference_k = np.asarray(reference.x)[np.asarray(reference.labels) == k][:spec["num_reference"]]
  out = {}
  for name, train_x in (("generalizing", x), ("memorizing", x[small])):
    params = train_mixture(train_x, settings)
    v = dt.concept_direction(params, reference_k, jax.random.key(5), spec["sigma_ref"])
    runs, window = steer_run(params, v, (spec["num_samples"], x.shape[1]), settings["mixture_train"]["sigma"],
                             spec["strengths"], jax.random.key(7), settings)
    post = np.stack([np.asarray(dt.gmm_posterior(r, mix, settings["sampling"]["sigma_min"]).responsibilities)[:, k]
                     for r in runs])
    ev0 = dt.evaluate_samples(runs[0], train_x)
    stored = train_x[ev0.nearest_index]
    evs = [dt.evaluate_samples(r, train_x) for r in runs]
    out[name] = dict(samples=runs[:, :spec["num_shown"]], concept_probability=post,
                     distance_to_unsteered=np.linalg.norm(runs - runs[0][None], axis=-1),
                     distance_to_stored=np.linalg.norm(runs - stored[None], axis=-1),
                     memorized_at_start=ev0.memorized,
                     still_on_stored=np.stack([e.memorized & (e.nearest_index == ev0.nearest_index) for e in evs]),
                     still_a_copy=np.stack([e.memorized for e in evs]),
                     window=np.asarray([window.start, window.stop]))
  dt.save_npz(path, strengths=np.asarray(spec["strengths"]), target=np.int64(k),
              **{f"{n}_{f}": v for n, d in out.items() for f, v in d.items()})


def train_classifier(x, labels, x_test, labels_test, steps: int):
  """Multinomial logistic regression on unit-norm images (so faint samples are read by direction)."""
  unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
  xs, xt = jnp.asarray(unit(x)), jnp.asarray(unit(x_test))
  params = (jnp.zeros((x.shape[1], 10)), jnp.zeros(10))
  opt = optax.adam(0.05)
  state = opt.init(params)
  loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(xs @ p[0] * 20.0 + p[1], labels).mean()

  @jax.jit
  def step(p, s):
    g = jax.grad(loss)(p)
    u, s = opt.update(g, s)
    return optax.apply_updates(p, u), s

  for _ in range(steps):
    params, state = step(params, state)
  predict = lambda a: np.asarray(jax.nn.softmax(jnp.asarray(unit(a)) @ params[0] * 20.0 + params[1]))
  accuracy = float(np.mean(predict(np.asarray(xt)).argmax(1) == labels_test))
  return predict, accuracy


def steering_fmnist(path: Path, settings: dict):
  spec = settings["steering"]
  two = settings["two_models"]
  k = spec["fmnist_target"]
  data = dt.load_fashion_mnist("train", num=10_000, seed=settings["fmnist"]["seed"])
  test = dt.load_fashion_mnist("test", num=2_000, seed=settings["fmnist"]["seed"])
  x, labels = np.asarray(data.x, np.float32), np.asarray(data.labels)
  predict, accuracy = train_classifier(x, labels, np.asarray(test.x, np.float32), np.asarray(test.labels),
                                       spec["classifier_steps"])
  reference_k = np.asarray(test.x, np.float32)[np.asarray(test.labels) == k][:spec["num_reference"]]
  out = {}
  trained = dt.load_npz(path.parent / "two_models.npz")  # the same two models as the detection benchmark
  for name in ("generalizing", "memorizing"):
    train_x = fmnist(two[name]["num_images"], settings)
    params = params_from(trained, f"{name}_", two[name]["preset"])
    v = dt.concept_direction(params, reference_k, jax.random.key(5), spec["sigma_ref"])
    runs, window = steer_run(params, v, (spec["num_samples"], x.shape[1]), two["sigma_max"], spec["strengths"],
                             jax.random.key(7), settings)
    prob = np.stack([predict(r)[:, k] for r in runs])
    # Scale-free throughout: these models' samples are faint (docs/diffusion.md), so memorisation is
    # read on unit-norm images and distances between unit-norm images.
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    ev0 = dt.evaluate_samples(runs[0], train_x)
    stored = unit(train_x[np.maximum(ev0.cosine_index, 0)])
    evs = [dt.evaluate_samples(r, train_x) for r in runs]
    out[name] = dict(samples=runs[:, :spec["num_shown"]], concept_probability=prob,
                     concept_predicted=np.stack([predict(r).argmax(1) == k for r in runs]),
                     distance_to_unsteered=np.linalg.norm(unit(runs) - unit(runs[0])[None], axis=-1),
                     distance_to_stored=np.linalg.norm(unit(runs) - stored[None], axis=-1),
                     memorized_at_start=ev0.memorized_scale_free,
                     still_on_stored=np.stack([e.memorized_scale_free & (e.cosine_index == ev0.cosine_index)
                                               for e in evs]),
                     still_a_copy=np.stack([e.memorized_scale_free for e in evs]),
                     window=np.asarray([window.start, window.stop]))
  dt.save_npz(path, strengths=np.asarray(spec["strengths"]), target=np.int64(k), classifier_accuracy=accuracy,
              **{f"{n}_{f}": v for n, d in out.items() for f, v in d.items()})


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------


def metrics(scores: dict, positive: np.ndarray, detect: dict) -> dict:
  positive = np.asarray(positive, bool)
  out = {}
  for name in dt.DETECTORS:
    s = scores[name] if dt.HIGHER_MEANS_MEMORIZED[name] else -scores[name]
    if positive.sum() < 2 or (~positive).sum() < 2:
      out[name] = None
      continue
    m = dt.detection_metrics(s[positive], s[~positive], fpr=detect["fpr"], num_bootstrap=detect["num_bootstrap"])
    out[name] = m._asdict()
  return out


def _scores(r, prefix="") -> dict:
  return {k: r[f"{prefix}score_{k}"] for k in dt.DETECTORS}


def summarise(out_dir: Path, settings: dict) -> dict:
  detect = settings["detect"]
  summary = {}
  r = dt.load_npz(out_dir / "two_models.npz")
  copies = r["memorized"] & r["copied_scale_free"]
  keep = copies | ~r["memorized"]  # the memoriser's copies against every generaliser sample
  summary["two_models"] = {
      "by_model": metrics(_scores(r), r["memorized"], detect), "num_samples": int(r["memorized"].size),
      "copies_vs_generalizer": metrics({k: v[keep] for k, v in _scores(r).items()}, copies[keep], detect),
      "memorizer_copies": float(r["copied"][r["memorized"]].mean()),
      "memorizer_copies_scale_free": float(r["copied_scale_free"][r["memorized"]].mean()),
      "generalizer_copies": float(r["copied"][~r["memorized"]].mean()),
      "seconds_per_sample": {k: float(r[f"seconds_{k}"]) for k in dt.DETECTORS}}
  r = dt.load_npz(out_dir / "duplicated_fmnist.npz")
  summary["duplicated_fmnist"] = {
      "metrics": metrics(_scores(r), r["memorized"], detect), "num_memorized": int(r["memorized"].sum()),
      "num_samples": int(r["memorized"].size),
      "memorized_copy_a_duplicated_image": float(r["nearest_is_duplicated"][r["memorized"]].mean())
      if r["memorized"].any() else None,
      "seconds_per_sample": {k: float(r[f"seconds_{k}"]) for k in dt.DETECTORS}}
  r = dt.load_npz(out_dir / "duplicated_mixture.npz")
  rows = []
  for c in r["copies"]:
    p = f"c{int(c)}_"
    rows.append({"copies": int(c), "num_memorized": int(r[p + "memorized"].sum()),
                 "num_samples": int(r[p + "memorized"].size),
                 "memorized_on_duplicate": int((r[p + "memorized"] & r[p + "on_duplicate"]).sum()),
                 "metrics": metrics(_scores(r, p), r[p + "memorized"], detect)})
  summary["duplicated_mixture"] = rows
  for part in ("steering_mixture", "steering_fmnist"):
    r = dt.load_npz(out_dir / f"{part}.npz")
    entry = {"strengths": r["strengths"].tolist()}
    if "classifier_accuracy" in r:
      entry["classifier_accuracy"] = float(r["classifier_accuracy"])
    for name in ("generalizing", "memorizing"):
      prob = r[f"{name}_concept_probability"]
      mem0 = r[f"{name}_memorized_at_start"]
      e = {"num_samples": int(prob.shape[1]), "memorized_at_start": float(mem0.mean())}
      for group, members in (("all", np.ones_like(mem0)), ("memorized", mem0), ("not_memorized", ~mem0)):
        chosen = members & (prob[0] < 0.5)  # samples of the group without the concept at a = 0
        if chosen.sum() < 5:
          continue
        share = (prob[:, chosen] >= 0.5).mean(axis=1)
        e[group] = {"num": int(chosen.sum()), "share_carrying_concept": share.tolist(),
                    "median_distance_to_unsteered": np.median(r[f"{name}_distance_to_unsteered"][:, chosen],
                                                              axis=1).tolist(),
                    **curve_summary(r["strengths"], share)}
      if mem0.sum() >= 5:
        still = r[f"{name}_still_on_stored"][:, mem0]
        e["memorized_still_on_stored"] = still.mean(axis=1).tolist()
        e["memorized_still_a_copy"] = r[f"{name}_still_a_copy"][:, mem0].mean(axis=1).tolist()
        e["memorized_median_distance_to_stored"] = np.median(r[f"{name}_distance_to_stored"][:, mem0], axis=1).tolist()
        e["memorized_left_stored_with_concept"] = (~still & (prob[:, mem0] >= 0.5)).mean(axis=1).tolist()
      entry[name] = e
    summary[part] = entry
  return summary


PARTS = (("two_models.npz", two_models), ("duplicated_fmnist.npz", duplicated_fmnist),
         ("duplicated_mixture.npz", duplicated_mixture), ("steering_mixture.npz", steering_mixture),
         ("steering_fmnist.npz", steering_fmnist))


def main():
  args = dt.experiment_parser(__doc__.splitlines()[0], "results/memorization_detection").parse_args()
  settings = SETTINGS[args.size]
  config = {**settings, "size": args.size, "version": dt.__version__, "jax": jax.__version__}
  t0 = time.time()
  dt.run_parts(args.out, config, PARTS, settings)
  summary = summarise(Path(args.out), settings)
  dt.save_json(Path(args.out) / "summary.json", summary)
  for bench in ("two_models",):
    for name, m in summary[bench]["by_model"].items():
      print(f"{bench} {name}: AUROC {m['auroc']:.3f} TPR@1% {m['tpr']:.3f}")
  print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
  main()
