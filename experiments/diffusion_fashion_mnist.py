"""Sampling with a memorising and a generalising ReLU diffusion model on Fashion-MNIST (paper Fig 2).

Run: .venv/bin/python experiments/diffusion_fashion_mnist.py --out results/diffusion_fashion_mnist
About 6 min on a 2-core CPU. Writes ``<model>.npz`` per model (weights, every parameter leaf as ``model_param_<i>``, samples, trajectories,
per-sample labels and codes) and ``summary.json``; a rerun skips finished parts.

Models: the multi-noise ReLU diffusion model (tied W, p = 256, time gate on log σ, skip; σ
log-uniform on [0.02, 2]; pixel-mean MSE) in the authors' two recipes, CPU-sized: memorising, 5
images, full batch, RMSprop 1e-3 with coupled decay 1e-2; generalising, 10,000 images, batch 256,
Adam 1e-3 with decay 5e-4 and a cosine schedule to 0 (the authors' 200k steps at 5e-5 do not fit
here). Data in [−1, 1], not centred, as the authors'.

Sampling: the authors' VE ancestral sampler (60 geometric levels 2 → 0.02, then 0; no clamping,
which changes nothing measurable here) and the deterministic Euler (DDIM) sampler, 1,000 samples
per model from the same starting noise. Each sample is labelled memorised when d₁/d₂ < 1/3 to the
distinct training images, in ℓ2 and on unit-norm images (the samples are faint; see
docs/diffusion.md), in the model's frame. A third model stores 5 pairwise-obtuse images of the
centred data, the setting of Cor 3.2 (raw Fashion-MNIST images are pairwise acute). Two more
generalisers ask why the samples are faint: one trained on centred data, one with σ_max = 20; and
every model is also sampled from N(0, S + σ_max² I) (S the training set's second moment) instead
of N(0, σ_max² I). The hidden code of each sample is read at σ_det = 0.1 (one re-noising draw),
ungated as the authors plot it.
"""

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt

DATA = dict(num_train=10_000, seed=0)
MODELS = {
    "memorizing": dict(preset="diffusion_memorizing_cpu", num_samples=5, steps=10_000, frame="raw"),
    # Cor 3.2's setting: 5 pairwise-obtuse images of the centred data (raw images are pairwise acute).
    "memorizing_obtuse": dict(preset="diffusion_memorizing_cpu", num_samples=5, steps=10_000, frame="centred_obtuse"),
    "generalizing": dict(preset="diffusion_generalizing_cpu", num_samples=10_000, steps=10_000, frame="raw"),
    # Why the samples are faint: the same generaliser on centred data, and with σ_max = 20.
    "generalizing_centred": dict(preset="diffusion_generalizing_cpu", num_samples=10_000, steps=10_000,
                                 frame="centred"),
    "generalizing_sigma_max_20": dict(preset="diffusion_generalizing_cpu", num_samples=10_000, steps=10_000,
                                      frame="raw", sigma_max=20.0),
}
SAMPLING = dict(num=1_000, sigma_max=2.0, sigma_min=0.02, levels=60, snapshot_sigmas=(2.0, 0.62, 0.19, 0.06),
                num_shown=8, sigma_det=0.1, key=1)


def load_data() -> np.ndarray:
  return np.asarray(dt.load_fashion_mnist("train", num=DATA["num_train"], seed=DATA["seed"]).x, np.float32)


def training_set(name: str) -> tuple[np.ndarray, np.ndarray]:
  """(training rows in the model's frame, offset to add back for display): the first n rows, or
  for the centred_obtuse frame a greedy pairwise-obtuse subset of the centred rows."""
  x = load_data()
  spec = MODELS[name]
  if spec["frame"] == "raw":
    return x[:spec["num_samples"]], np.zeros(x.shape[1], np.float32)
  mean = x.mean(axis=0)
  if spec["frame"] == "centred":
    return (x - mean)[:spec["num_samples"]], mean
  rng = np.random.default_rng(DATA["seed"])
  for _ in range(100):  # greedy scans in random orders until one keeps enough images
    kept = dt.greedy_obtuse_subset(x - mean, rng.permutation(x.shape[0]))
    if kept.size >= spec["num_samples"]:
      return (x - mean)[kept[:spec["num_samples"]]], mean
  raise ValueError(f"no {spec['num_samples']} pairwise-obtuse images found in 100 greedy scans")


def run_model(path: Path, name: str):
  x = load_data()
  spec = MODELS[name]
  train_x, offset = training_set(name)
  sigma_max = spec.get("sigma_max", SAMPLING["sigma_max"])
  cfg = dt.preset(spec["preset"], steps=spec["steps"], sigma=sigma_max)
  t0 = time.time()
  res = dt.train(train_x, cfg, seed=0)
  train_seconds = time.time() - t0
  s = SAMPLING
  sigmas = dt.geometric_sigmas(sigma_max, s["sigma_min"], s["levels"])
  key = jax.random.key(s["key"])
  shape = (s["num"], x.shape[1])
  denoise = dt.diffusion_denoiser(res.params)
  ancestral = np.asarray(jax.jit(lambda k: dt.sample(denoise, k, shape, sigmas))(key))
  x_init = sigma_max * jax.random.normal(jax.random.split(key)[0], shape)  # ancestral's own start
  # The start a bias-free model needs: N(0, S + σ_max² I), S the training set's second moment.
  second = train_x.T.astype(np.float64) @ train_x / len(train_x) + sigma_max ** 2 * np.eye(x.shape[1])
  moment_init = np.asarray(jax.random.normal(jax.random.key(5), shape)) @ np.linalg.cholesky(second).T
  moment_start = np.asarray(dt.sample(denoise, key, shape, sigmas, x_init=jnp.asarray(moment_init, jnp.float32)))
  euler = np.asarray(dt.sample(denoise, None, shape, sigmas, method="euler", x_init=x_init))
  shown = s["num_shown"]
  traj = dt.sample_trajectory(denoise, key, (shown, x.shape[1]), sigmas, x_init=x_init[:shown],
                              snapshot_sigmas=s["snapshot_sigmas"])
  # The same noise as the full run: the shown samples are the first rows of ``ancestral``.
  ev = {m: dt.evaluate_samples(out, train_x) for m, out in (("ancestral", ancestral), ("euler", euler))}
  renoised = ancestral + s["sigma_det"] * np.asarray(jax.random.normal(jax.random.key(7), ancestral.shape))
  codes = np.asarray(dt.representations(dt.DAEParams(res.params.w1), renoised))  # ungated [Wᵀy]₊
  dt_out = {f"{m}_{k}": np.asarray(v) for m, e in ev.items() for k, v in e._asdict().items()}
  params = {f"model_param_{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(res.params))}
  np.savez_compressed(path, **params, offset=offset, w1=np.asarray(res.params.w1), skip=np.asarray(res.params.skip),
                      gate=np.asarray(dt.time_gate(res.params, 0.02)), loss_history=res.loss_history,
                      log_steps=res.log_steps, train_x=train_x if len(train_x) <= 64 else np.zeros((0, x.shape[1])),
                      ancestral=ancestral, euler=euler, moment_start_norms=np.linalg.norm(moment_start, axis=1), traj_x=np.asarray(traj.x), traj_denoised=np.asarray(traj.denoised),
                      traj_sigmas=np.asarray(traj.sigmas), traj_samples=np.asarray(traj.samples),
                      code_std=np.asarray(dt.representation_std(codes)),
                      code_normalized_std=np.asarray(dt.normalized_std(codes)),
                      train_seconds=train_seconds, **dt_out)


def summarise(out_dir: Path) -> dict:
  summary = {}
  for name, spec in MODELS.items():
    with np.load(out_dir / f"{name}.npz") as r:
      train_x = training_set(name)[0]
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
      entry["sigma_max"] = spec.get("sigma_max", SAMPLING["sigma_max"])
      summary[name] = entry
  with np.load(out_dir / "generalizing.npz") as g:
    for name in ("memorizing", "memorizing_obtuse"):
      with np.load(out_dir / f"{name}.npz") as m:
        summary[f"auroc_{name}_vs_generalizing"] = {
            k: dt.auroc(m[f"code_{k}"], g[f"code_{k}"]) for k in ("std", "normalized_std")}
  return summary


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="results/diffusion_fashion_mnist")
  args = parser.parse_args()
  parts = [(f"{name}.npz", lambda path, name=name: run_model(path, name)) for name in MODELS]
  dt.run_parts(args.out, {"data": DATA, "models": MODELS, "sampling": SAMPLING, "version": dt.__version__,
                          "jax": jax.__version__}, parts)
  summary = summarise(Path(args.out))
  dt.save_json(Path(args.out) / "summary.json", summary)
  for name in MODELS:
    e = summary[name]
    print(f"{name}: memorized (scale-free, ancestral) {e['ancestral_memorized_scale_free']['fraction']:.3f}, "
          f"l2 {e['ancestral_memorized']['fraction']:.3f}; sample norm {e['ancestral_sample_norm_median']:.2f} "
          f"vs data {e['data_norm_median']:.2f}; Std(h) {e['code_std_median']:.3f}")
  for name in ("memorizing", "memorizing_obtuse"):
    print(f"AUROC of Std(h) and Std(h)/||h||, {name} vs generalizing samples:", summary[f"auroc_{name}_vs_generalizing"])


if __name__ == "__main__":
  main()
