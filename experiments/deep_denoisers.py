"""Beyond two layers: the spiky/balanced signature in deep denoisers trained on the 8×8 digits.

Run: .venv/bin/python experiments/deep_denoisers.py --out results/deep_denoisers [--size fast|default|full]
Sizes (``SETTINGS``): default, the figure and the findings (2 CPU cores); fast, every file from a
few hundred steps (numbers meaningless); full, more steps and samples, for accelerator hosts.
Writes ``unet.npz``, ``mlp_<arch>.npz`` (one per MLP architecture) and ``summary.json``; a rerun
skips finished parts.

Models (trained by the package's engine, one sweep over n per architecture; the paper proves its
result for two layers, Sec. 3, and shows the signature in SD, DiT and EDM, Sec. 4, Fig 5, Table 1):
- a small EDM U-Net (``dt.unet_model``: residual blocks, group norm, SiLU, a noise embedding, two
  levels, EDM preconditioning and loss), sampled with Heun (18 levels 80 → 0.002);
- deep time-conditioned ReLU MLPs (``dt.deep_mlp_model``) with L = 2, 3, 4 hidden layers, with
  and without biases and residual skips, sampled with Heun on their own σ range.
Each model trains on the first n of the digits (shuffled once), for n from a handful of images to
all 1,797. For every model (the U-Net also at a training snapshot): samples labelled memorised by
d₁/d₂ < 1/3 to its n training images (ℓ2); each recorded layer's activations at the samples
re-noised to σ_det = 0.1, max-pooled over space for convolutional layers (mean-pooled too), with
their spikiness scores; the denoiser's Jacobian at samples re-noised to σ = 0.1 and 1 (paper
App. B.3; at 0.1 the EDM U-Net's skip path c_skip·y is 0.96 of the output): its effective rank and
the cosine of its top singular vector with the nearest training image.
Detection per layer: memorised samples (any model) against the samples of the model trained on
all images (none memorised), AUROC and TPR at 1 % FPR, each score oriented as fixed in advance;
beside them the detection baselines on the same re-noised samples (``dt.denoiser_scores``: the
denoising error and the denoiser's step) and the nearest-neighbour distance (an oracle).
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt

SCORES = ("std", "normalized_std", "peak_energy_fraction")
MIN_PER_CLASS = 16  # samples of each kind a model needs for its own detection numbers
UNET = dict(arch=dict(image_shape=(8, 8, 1), channel_mult=(1, 2), blocks_per_level=1, groups=8, embedding=64),
            train=dict(optimizer="adam", learning_rate=1e-3, batch_size=32, loss_convention="torch"),
            sampler=dict(sigma_max=80.0, sigma_min=0.002, levels=19, method="heun"))
MLP_ARCHS = {"L2": dict(depth=2, bias=True), "L3": dict(depth=3, bias=True), "L4": dict(depth=4, bias=True),
             "L3_residual": dict(depth=3, bias=True, residual=True), "L3_no_bias": dict(depth=3, bias=False)}
MLP = dict(archs=MLP_ARCHS, time_hidden=64,
           train=dict(optimizer="adam", learning_rate=1e-3, batch_size=128, loss_convention="torch", sigma=10.0,
                      sigma_min=0.01),
           sampler=dict(sigma_max=10.0, sigma_min=0.01, levels=41, method="heun"))
SETTINGS = {
    # Few sizes and short runs: the most that fits the make figures budget beside the other
    # experiments (8.3 min of one core there in a fresh-clone run); --size full for finer curves.
    "default": dict(data=dict(name="digits", seed=0), sizes=(8, 32, 128, 1_797),
                    unet=dict(UNET, width=16, steps=1_500, snapshot_steps=(500, 1_500)),
                    mlp=dict(MLP, width=256, steps=2_000),
                    num_samples=256, sigma_det=0.1, jacobian_samples=32, jacobian_sigmas=(0.1, 1.0), key=1),
    "fast": dict(data=dict(name="digits", seed=0), sizes=(8, 1_797),
                 unet=dict(UNET, width=8, steps=100, snapshot_steps=(50, 100), sizes=(8, 1_797)),
                 mlp=dict(MLP, archs={k: MLP_ARCHS[k] for k in ("L2", "L3_residual")}, width=64, steps=200),
                 num_samples=64, sigma_det=0.1, jacobian_samples=8, jacobian_sigmas=(0.1, 1.0), key=1),
    # Fashion-MNIST 28×28 for accelerator hosts (our choice of sizes; the paper trains no model of
    # this kind). On a 2-core CPU one step of this U-Net (C = 64, batch 64) took about 5.6 s, so its
    # 7 × 20,000 steps would take about 9 days there.
    "full": dict(data=dict(name="fashion_mnist", num=60_000, seed=0),
                 sizes=(8, 32, 128, 512, 2_048, 8_192, 60_000),
                 unet=dict(UNET, arch=dict(UNET["arch"], image_shape=(28, 28, 1), channel_mult=(1, 2, 2)),
                           train=dict(UNET["train"], batch_size=64), width=64, steps=20_000, snapshot_steps=(2_000, 5_000, 10_000, 20_000)),
                 mlp=dict(MLP, width=1_024, steps=30_000),
                 num_samples=1_000, sigma_det=0.1, jacobian_samples=128, jacobian_sigmas=(0.1, 1.0), key=1),
}


def images(settings) -> np.ndarray:
  """The training images in [−1, 1], shuffled once: model n trains on the first n rows. The 8×8
  digits (all 1,797), or at the full size the first ``num`` Fashion-MNIST training images."""
  data = settings["data"]
  if data["name"] == "digits":
    x = dt.load_digits().x
  else:
    x = dt.load_fashion_mnist("train", num=data["num"], seed=data["seed"]).x
  return np.asarray(x[np.random.default_rng(data["seed"]).permutation(len(x))], np.float32)


def train_config(spec: dict, width: int, snapshot_steps=()) -> dt.TrainConfig:
  train = dict(spec["train"])
  sigma, sigma_min = train.pop("sigma", spec["sampler"]["sigma_max"]), train.pop("sigma_min", spec["sampler"]["sigma_min"])
  steps = spec["steps"]
  log_every = min(100, steps // 2)
  return dt.TrainConfig(model="relu_diffusion", width=width, sigma=sigma, sigma_min=sigma_min, steps=steps,
                        decay_steps=steps, final_lr_fraction=0.0, log_every=log_every,
                        snapshot_steps=tuple(snapshot_steps), **train)


def _pool(acts, pooling: str) -> np.ndarray:
  layout = "NHWC" if acts.ndim == 4 else "NC"
  return dt.pool_activations(np.asarray(acts), layout=layout, pooling=pooling)


@functools.partial(jax.jit, static_argnums=0)
def _jacobian_svds(arch, params, y, sigma):
  """``dt.jacobian_svd_of`` at each row of y (one program per arch)."""
  denoise = dt.deep_denoiser(arch, params)
  return jax.vmap(lambda v: dt.jacobian_svd_of(denoise, v, sigma))(y)


def jacobian_stats(arch, params, y, sigma, train_x, nearest_index):
  """Effective rank of ∂D/∂y at each row of y (paper App. B.3), and |cos| of its top left singular
  vector with the nearest training image."""
  s, top = _jacobian_svds(arch, params, jnp.asarray(y), jnp.float32(sigma))
  near = train_x[nearest_index]
  cos = np.abs(np.sum(np.asarray(top) * near, axis=1)) / np.maximum(np.linalg.norm(near, axis=1), 1e-12)
  return np.asarray(dt.effective_rank(s), np.float64), cos


def evaluate(arch, params, train_x, settings, sampler, key) -> dict:
  """Samples, their memorisation labels, per-layer scores and Jacobian statistics of one model."""
  denoise = dt.deep_denoiser(arch, params)
  sigmas = dt.geometric_sigmas(sampler["sigma_max"], sampler["sigma_min"], sampler["levels"])
  m = settings["num_samples"]
  samples = np.asarray(dt.sample(denoise, jax.random.key(key), (m, train_x.shape[1]), sigmas,
                                 method=sampler["method"], loop="python"))
  ev = dt.evaluate_samples(samples, train_x)
  noise = np.asarray(dt.detection_noise(jax.random.key(key + 1), samples)[0])
  y = samples + settings["sigma_det"] * noise
  acts = dt.layer_activations(arch, params, y, settings["sigma_det"])
  out = {"samples": samples, "memorized": ev.memorized, "ratio": ev.ratio, "nearest_index": ev.nearest_index}
  # The detection issue's baselines, on the same re-noised samples (the same ε).
  base = dt.denoiser_scores(denoise, samples, jax.random.key(key + 1), sigma_det=settings["sigma_det"])
  out["baseline__denoising_error"], out["baseline__displacement"] = base.denoising_error, base.displacement
  out["baseline__nearest_distance"] = np.asarray(ev.nearest_distance, np.float64)
  for layer, a in acts.items():
    for pooling in (("max", "mean") if a.ndim == 4 else ("max",)):
      scores = dt.activation_scores(_pool(a, pooling), layout="NC", scores=SCORES)
      for score, values in scores.items():
        out[f"{layer}/{pooling}/{score}"] = values
  j = settings["jacobian_samples"]
  stats = [jacobian_stats(arch, params, samples[:j] + s * noise[:j], s, train_x, ev.nearest_index[:j])
           for s in settings["jacobian_sigmas"]]
  out["jacobian_rank"], out["jacobian_top_cosine"] = (np.stack(v) for v in zip(*stats))
  return out


def _stack(rows: list[dict]) -> dict:
  return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def run_family(path: Path, settings, name: str):
  """Trains one architecture on every n (one sweep) and evaluates every model (and U-Net snapshot)."""
  x = images(settings)
  if name == "unet":
    spec = settings["unet"]
    arch = dt.UNetConfig(**spec["arch"])
    model, snaps = dt.unet_model(arch), spec["snapshot_steps"]
  else:
    spec = settings["mlp"]
    arch = dt.DeepMLPConfig(time_hidden=spec["time_hidden"], **spec["archs"][name.removeprefix("mlp_")])
    model, snaps = dt.deep_mlp_model(arch), ()
  cfg = train_config(spec, spec["width"], snaps)
  sizes = spec.get("sizes", settings["sizes"])
  sweep = dt.train_sweep(x, cfg, seeds=(0,), sizes=sizes, model=model)
  rows, stages = [], []
  for i, n in enumerate(sizes):
    weights = [(s, jax.tree.map(lambda a: a[i, k], sweep.snapshots)) for k, s in enumerate(snaps)
               if s != cfg.steps] + [(cfg.steps, sweep.model(i))]
    for step, params in weights:
      rows.append(evaluate(arch, params, x[:n], settings, spec["sampler"], settings["key"]))
      stages.append((n, step))
  arrays = _stack([{k: v for k, v in r.items() if k not in ("samples",)} for r in rows])
  dt.save_npz(path, num_samples=np.array([s[0] for s in stages]), step=np.array([s[1] for s in stages]),
              samples=np.stack([r["samples"][:16] for r in rows]), loss_history=np.asarray(sweep.loss_history),
              **{k.replace("/", "__"): v for k, v in arrays.items()})


def score_keys(r) -> list[tuple[str, str, str]]:
  """(npz key, summary key, score name) of every per-sample score: each layer's pooled scores
  ("layer__pooling__score" → "layer/pooling/score") and the baselines ("baseline__name")."""
  keys = []
  for key in r:
    parts = key.split("__")
    if len(parts) == 3 or (len(parts) == 2 and parts[0] == "baseline"):
      keys.append((key, "/".join(parts), parts[-1]))
  return keys


def within_model_detection(r, minimum: int = MIN_PER_CLASS) -> dict:
  """For each stage (n, step) with at least ``minimum`` memorised and ``minimum`` other samples:
  per layer, pooling and score, memorised against the other samples of the same model (one scale,
  as in the authors' detection within one model)."""
  out = {}
  for stage, (n, step) in enumerate(zip(r["num_samples"], r["step"])):
    mem = r["memorized"][stage].astype(bool)
    if min(mem.sum(), (~mem).sum()) < minimum:
      continue
    metrics = {}
    for key, name, score in score_keys(r):
      s = r[key][stage] if dt.HIGHER_MEANS_MEMORIZED[score] else -r[key][stage]
      m = dt.detection_metrics(s[mem], s[~mem], num_bootstrap=200)
      metrics[name] = {"auroc": m.auroc, "tpr_at_1pct_fpr": m.tpr}
    out[f"n={int(n)},step={int(step)}"] = {"num_memorized": int(mem.sum()), "num_other": int((~mem).sum()),
                                           "detection": metrics}
  return out


def summarise(out_dir: Path, settings) -> dict:
  """Memorised fractions, and per layer the detection of memorised against generalised samples."""
  summary = {}
  for name in ["unet"] + [f"mlp_{a}" for a in settings["mlp"]["archs"]]:
    r = dt.load_npz(out_dir / f"{name}.npz")
    n_all = int(r["num_samples"].max())
    final = r["step"] == r["step"].max()
    entry = {"memorized_fraction": {f"n={int(n)},step={int(s)}": float(m.mean())
                                    for n, s, m in zip(r["num_samples"], r["step"], r["memorized"])}}
    positives = r["memorized"]
    negatives = (r["num_samples"] == n_all)[:, None] & final[:, None] & ~r["memorized"]
    entry["num_memorized"], entry["num_generalized"] = int(positives.sum()), int(negatives.sum())
    detection = {}
    if positives.sum() >= 2 and negatives.sum() >= 2:
      for key, score_name, score in score_keys(r):
        s = r[key] if dt.HIGHER_MEANS_MEMORIZED[score] else -r[key]
        m = dt.detection_metrics(s[positives], s[negatives], num_bootstrap=200)
        detection[score_name] = {"auroc": m.auroc, "tpr_at_1pct_fpr": m.tpr}
      for key, higher in (("jacobian_rank", False), ("jacobian_top_cosine", True)):
        j = r[key].shape[2]
        pos, neg = positives[:, :j], negatives[:, :j]
        if pos.sum() < 2 or neg.sum() < 2:
          continue
        for k, sigma in enumerate(settings["jacobian_sigmas"]):
          values = r[key][:, k]
          m = dt.detection_metrics((values if higher else -values)[pos], (values if higher else -values)[neg],
                                   num_bootstrap=200)
          detection[f"{key}/sigma={sigma:g}"] = {"auroc": m.auroc, "tpr_at_1pct_fpr": m.tpr,
                                                 "median_memorized": float(np.median(values[pos])),
                                                 "median_generalized": float(np.median(values[neg]))}
    entry["detection"] = detection
    entry["within_model"] = within_model_detection(r)
    entry["layers"] = list(dict.fromkeys(k.split("/")[0] for _, k, _ in score_keys(r) if k.count("/") == 2))
    summary[name] = entry
  unet, mlp = settings["unet"], settings["mlp"]
  summary["setup"] = {"data": settings["data"]["name"], "unet_sizes": list(unet.get("sizes", settings["sizes"])),
                      "mlp_sizes": list(settings["sizes"]), "unet_width": unet["width"], "unet_steps": unet["steps"],
                      "unet_snapshot_steps": list(unet["snapshot_steps"]),
                      "unet_batch_size": unet["train"]["batch_size"], "mlp_width": mlp["width"],
                      "mlp_steps": mlp["steps"], "mlp_archs": list(mlp["archs"]), "num_samples": settings["num_samples"],
                      "sigma_det": settings["sigma_det"], "jacobian_samples": settings["jacobian_samples"],
                      "jacobian_sigmas": list(settings["jacobian_sigmas"])}
  return summary


def main():
  args = dt.experiment_parser(__doc__.splitlines()[0], "results/deep_denoisers").parse_args()
  settings = SETTINGS[args.size]
  names = ["unet"] + [f"mlp_{a}" for a in settings["mlp"]["archs"]]
  parts = [(f"{name}.npz", functools.partial(run_family, name=name)) for name in names]
  dt.run_parts(args.out, {**settings, "size": args.size, "version": dt.__version__, "jax": jax.__version__}, parts,
               settings)
  summary = summarise(Path(args.out), settings)
  dt.save_json(Path(args.out) / "summary.json", summary)
  for name, entry in ((k, v) for k, v in summary.items() if k != "setup"):
    print(name, {k: round(v, 3) for k, v in entry["memorized_fraction"].items()})
    best = sorted(entry["detection"].items(), key=lambda kv: -kv[1]["auroc"])[:3]
    print("  best layers:", [(k, round(v["auroc"], 3)) for k, v in best])


if __name__ == "__main__":
  main()
