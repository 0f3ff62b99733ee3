"""make bench: speed and memory of training, sweeps and f_emp, each as a ratio to a baseline
measured in the same run (median of interleaved repetitions). Writes benchmarks/results.json and
this machine's tables in BENCHMARKS.md.

Run: .venv/bin/python benchmarks/bench.py [--quick] [--diffusion | --deep | --accelerator | --render FILE]
(--diffusion: only the diffusion model's rows, into benchmarks/results-diffusion.json and their own
table; --deep: only the U-Net's rows, into benchmarks/results-deep.json and their own table; the
full run includes both. --accelerator: only the GPU/TPU rows. --render: rewrite the tables from a
results file without measuring.)

The ratios depend on the machine (its GEMM kernels, vector width and core count), so every results
file records the machine (CPU model, cores, vector extensions, JAX version, device kind) and a short
"machine kind", and BENCHMARKS.md keeps one table per machine kind: a run rewrites only the table
of the machine kind it ran on.

Only the public API of ``dae_theory`` is used, so the bench measures what users call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt

HERE = Path(__file__).resolve().parent
D, P, B, SIGMA = 784, 100, 256, 0.2
SWEEP_STEPS = 100


def bench_data() -> np.ndarray:
  """The (10⁴, d) training array every training benchmark uses."""
  return np.random.default_rng(0).uniform(-1, 1, size=(10_000, D)).astype(np.float32)


def training_config(steps: int):
  """The authors' generalising recipe (batch 256, Adam) for ``steps`` steps, logged every 100."""
  return dt.preset("generalizing", steps=steps, log_every=100)


def sweep_reps(k: int, quick: bool) -> int:
  return 2 if k > 16 or quick else 3


def median_times(calls: dict, reps: int, first: dict | None = None) -> dict:
  """Median seconds of each call, after one warm-up (compiling) call each. The calls are timed in
  interleaved rounds (a, b, …, a, b, …) so that the host's drifts hit all of them alike. ``first``,
  if given, receives the seconds of each warm-up call."""
  for name, fn in calls.items():
    t = time.perf_counter()
    jax.block_until_ready(fn())
    if first is not None:
      first[name] = time.perf_counter() - t
  times = {name: [] for name in calls}
  for _ in range(reps):
    for name, fn in calls.items():
      t = time.perf_counter()
      jax.block_until_ready(fn())
      times[name].append(time.perf_counter() - t)
  return {name: float(np.median(t)) for name, t in times.items()}


GEMM_SIZE = 2048
ACCELERATOR_GEMM_SIZE = 8192  # a 2048² GEMM leaves a GPU half idle

DEFAULT_SAMPLER = dt.TrainConfig().noise_sampler
SAMPLERS_DEFAULT_FIRST = (DEFAULT_SAMPLER,) + tuple(s for s in ("box_muller", "threefry_pairs")
                                                   if s != DEFAULT_SAMPLER)


def sampler_label(sampler: str) -> str:
  """The sampler's name, marked when it is the library's default."""
  return f"{sampler}, default" if sampler == DEFAULT_SAMPLER else sampler


def gemm_call(size: int = GEMM_SIZE):
  """A jitted size² float32 GEMM at the library's precision (HIGHEST: no TF32 on GPUs), whose rate is
  the machine's matmul rate (2·size³ FLOPs a call)."""
  a = jax.random.normal(jax.random.key(0), (size, size))
  f = jax.jit(lambda a: jnp.matmul(a, a, precision=jax.lax.Precision.HIGHEST))
  return lambda: f(a)


def matmul_rate(reps: int, size: int = GEMM_SIZE) -> float:
  """float32 GFLOP/s of the size² GEMM."""
  return 2 * size ** 3 / median_times({"gemm": gemm_call(size)}, reps)["gemm"] / 1e9


def torch_available() -> bool:
  try:
    import torch  # noqa: F401
    return True
  except ImportError:
    return False


def torch_tied_dae(d: int, p: int, tied_gradient: str, dtype=None):
  """The authors' tied ReLU-DAE in PyTorch: (forward, Parameters to optimise).

  tied_gradient: "per_side" (the notebook's mechanics: an encoder and a decoder
  ``nn.Linear`` whose two Parameters share one storage, each with its own gradient, optimiser state
  and decay; what the ``generalizing`` and ``memorizing`` presets train) or "joint" (the encoder's
  Parameter used on both sides).
  """
  import torch
  from torch import nn

  encoder = nn.Linear(d, p, bias=False).to(dtype or torch.get_default_dtype())
  if tied_gradient == "joint":
    return (lambda y: torch.relu(encoder(y)) @ encoder.weight), [encoder.weight]
  decoder = nn.Linear(p, d, bias=False)
  decoder.weight = nn.Parameter(encoder.weight.t())  # W = Eᵀ, the same storage
  assert decoder.weight.data_ptr() == encoder.weight.data_ptr()
  return (lambda y: decoder(torch.relu(encoder(y)))), [encoder.weight, decoder.weight]


def torch_train_call(x: np.ndarray, steps: int, tied_gradient: str = "per_side", threads: int | None = None):
  """The authors' notebook loop (``torch_tied_dae``, Adam(weight_decay), pixel-mean MSE, a fresh
  minibatch and noise each step) as a callable that runs ``steps`` steps on ``threads`` threads
  (default all cores), for ``median_times``.
  Adam runs with ``foreach=True``, whose arithmetic is the JAX loop's (``torch_mechanics_differences``):
  PyTorch's per-parameter loop, its CPU default, decays the decoder side with W already updated by
  the encoder side."""
  import torch

  threads = threads or os.cpu_count() or 1
  torch.manual_seed(1)
  data = torch.from_numpy(x)
  forward, parameters = torch_tied_dae(D, P, tied_gradient)
  opt = torch.optim.Adam(parameters, lr=1e-4, weight_decay=1e-4, foreach=True)
  loss_fn = torch.nn.MSELoss()

  def run():
    torch.set_num_threads(threads)  # per call: the loops with other thread counts run in the same rounds
    for _ in range(steps):
      idx = torch.randint(0, data.shape[0], (B,))
      xb = data[idx]
      y = xb + SIGMA * torch.randn_like(xb)
      loss = loss_fn(forward(y), xb)
      opt.zero_grad()
      loss.backward()
      opt.step()
    return loss.item()
  return run


def torch_mechanics_differences(steps: int = 5) -> dict:
  """Largest |ΔW| between ``torch_tied_dae`` trained by PyTorch and the library's update, in float64
  from the same W, batches and noise, for Adam (``generalizing``) and RMSprop (``memorizing``), per
  side and joint: the check that the PyTorch baselines do the arithmetic of the JAX loops they are
  timed against. PyTorch runs with ``foreach=True``. The JAX side is the training engine's update
  written from the public ``Model`` interface: the gradient of ``dt.RELU_DAE.objective`` at the
  optimiser's view of W (per side: the encoder and decoder as two parameters), the optimiser's
  update, and ``merge_updates`` (per side: both sides' updates added to the shared W)."""
  import torch

  d, p, b, wd = 30, 8, 16, 1e-2
  rng = np.random.default_rng(0)
  xs, noise = rng.uniform(-1, 1, (steps, b, d)), rng.standard_normal((steps, b, d))
  out = {}
  for preset, torch_opt, lr in (("generalizing", torch.optim.Adam, 1e-2), ("memorizing", torch.optim.RMSprop, 1e-3)):
    for tied_gradient in ("per_side", "joint"):
      torch.manual_seed(0)
      forward, parameters = torch_tied_dae(d, p, tied_gradient, torch.float64)
      w0 = parameters[0].detach().numpy().T.copy()
      opt = torch_opt(parameters, lr=lr, weight_decay=wd, foreach=True)
      for t in range(steps):
        xb = torch.from_numpy(xs[t])
        loss = torch.nn.MSELoss()(forward(xb + SIGMA * torch.from_numpy(noise[t])), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
      with jax.enable_x64(True):
        model = dt.RELU_DAE
        cfg = dt.preset(preset, learning_rate=lr, weight_decay=wd, tied_gradient=tied_gradient)
        # model_spec stores σ and λ in float32; the check runs in float64, as PyTorch does.
        spec = dt.model_spec(cfg, 0, b)._replace(sigma=jnp.float64(SIGMA), lam=jnp.float64(cfg.lam))
        optimizer = dt.make_optimizer(cfg)
        params = dt.DAEParams(jnp.asarray(w0, jnp.float64))
        state = optimizer.init(model.optimizer_view(params, cfg))
        for t in range(steps):
          batch, eps = jnp.asarray(xs[t]), jnp.asarray(noise[t])[None]  # noise: (draws, B, d)
          objective = lambda q: model.objective(q, batch, eps, None, spec, cfg, None)
          view = model.optimizer_view(params, cfg)
          u, state = optimizer.update(jax.grad(objective)(view), state, view)
          params = jax.tree.map(lambda w, v: w - lr * v, params, model.merge_updates(u, cfg))
        out[f"{cfg.optimizer}_{tied_gradient}"] = float(np.max(np.abs(np.asarray(params.w1)
                                                                      - parameters[0].detach().numpy().T)))
  return out


def jax_train_rates(x, cfg, samplers, reps, with_torch: bool = False) -> dict:
  """Steps/s of one model with each noise sampler and, with ``with_torch``, of the PyTorch loop
  with the same tied mechanics as ``cfg`` (per side), and of both with one optimiser state for the
  tied W ("_joint"; JAX with the box_muller and threefry_pairs samplers). Timed in interleaved rounds
  (``median_times``): the host's drifts hit JAX and PyTorch alike."""
  calls = {f"jax_steps_per_s_{s}": (lambda c=cfg.replace(noise_sampler=s): dt.train(x, c).params) for s in samplers}
  thread_counts = sorted({1, os.cpu_count() or 1})
  if with_torch:
    for t in thread_counts:
      calls[f"torch_steps_per_s_{t}_threads"] = torch_train_call(x, cfg.steps, cfg.tied_gradient, t)
    for s in (s for s in SAMPLERS_DEFAULT_FIRST if s in samplers):
      joint = cfg.replace(noise_sampler=s, tied_gradient="joint")
      calls[f"jax_steps_per_s_{s}_joint"] = lambda c=joint: dt.train(x, c).params
    for t in thread_counts:
      calls[f"torch_steps_per_s_joint_{t}_threads"] = torch_train_call(x, cfg.steps, "joint", t)
  rates = {name: cfg.steps / t for name, t in median_times(calls, reps).items()}
  if with_torch:
    # The baseline is PyTorch's faster thread count (as for the diffusion model): with other
    # processes on the cores, its OpenMP loop on every core can stall at each parallel region.
    for suffix in ("", "_joint"):
      per = {t: rates[f"torch_steps_per_s{suffix}_{t}_threads"] for t in thread_counts}
      best = max(per, key=per.get)
      rates[f"torch_steps_per_s{suffix}"], rates[f"torch_threads{suffix}"] = per[best], best
  return rates


def noise_ns_per_normal(sampler: str, reps: int) -> float:
  """ns per (B, d) normal drawn inside a jitted scan; every value is summed, so that XLA cannot skip
  computing any of them (the sum costs the same for every sampler)."""
  steps = 200
  draw = dt.NOISE_SAMPLERS[sampler]
  options = dt.compiler_options(dt.TrainConfig(noise_sampler=sampler), jax.default_backend())  # as in training
  f = jax.jit(lambda k: jax.lax.scan(lambda c, i: (c + jnp.sum(draw(jax.random.fold_in(k, i), (B, D))), None), 0.0,
                                     jnp.arange(steps))[0], compiler_options=options)
  key = jax.random.key(0)
  return median_times({sampler: lambda: f(key)}, reps)[sampler] / (steps * B * D) * 1e9


SWEEP_RUNS = ("sweep_map", "sweep_vmap", "sweep_map_threefry_pairs", "sequential", "torch")


def sweep_rates(x, cfg, k: int, reps: int, runs: tuple[str, ...] = SWEEP_RUNS) -> dict:
  """Model-steps/s of the sweep (map and vmap, with the default noise; map also with the erfinv
  sampler, "threefry_pairs"), of the same models one after the other, and of the PyTorch loop
  ("torch": one model, which is its rate one after the other), the ``runs`` named, of
  ``SWEEP_RUNS`` ("torch" only where torch is installed).

  All are timed in interleaved rounds (``median_times``)."""
  seeds, sizes = list(range(k // 2)), [x.shape[0] // 2, x.shape[0]]
  erfinv = cfg.replace(noise_sampler="threefry_pairs")
  calls = {
      "sweep_map": lambda: dt.train_sweep(x, cfg, seeds=seeds, sizes=sizes, vectorize="map").params.w1,
      "sweep_vmap": lambda: dt.train_sweep(x, cfg, seeds=seeds, sizes=sizes, vectorize="vmap").params.w1,
      "sweep_map_threefry_pairs": lambda: dt.train_sweep(x, erfinv, seeds=seeds, sizes=sizes,
                                                         vectorize="map").params.w1,
  }

  def sequential():
    last = None
    for s in seeds:
      for n in sizes:
        last = dt.train(x, cfg, seed=s, num_samples=n).params
    return jax.block_until_ready(last)
  calls["sequential"] = sequential
  torch_steps = 4 * cfg.steps  # its rate per model-step; K models would only take K/4 times longer
  thread_counts = sorted({1, os.cpu_count() or 1})
  if "torch" in runs and torch_available():
    for t in thread_counts:
      calls[f"torch_{t}_threads"] = torch_train_call(x, torch_steps, cfg.tied_gradient, t)
  calls = {name: fn for name, fn in calls.items() if name in runs or (name.startswith("torch_") and "torch" in runs)}
  rates = {name: (torch_steps if name.startswith("torch") else k * cfg.steps) / t
           for name, t in median_times(calls, reps).items()}
  per = {t: rates[f"torch_{t}_threads"] for t in thread_counts if f"torch_{t}_threads" in rates}
  if per:  # the faster thread count, as for one model
    best = max(per, key=per.get)
    rates["torch"], rates["torch_threads"] = per[best], best
  return rates


def sweep_rates_on_host_devices(k: int, reps: int, devices: int) -> dict:
  """``sweep_rates`` in a fresh process whose CPU is split into ``devices`` JAX devices (the CLI's
  ``--host-devices``): the sweep runs one model per device; "sequential" is timed there too."""
  env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                    f"--xla_force_host_platform_device_count={devices}".strip()}
  out = subprocess.run([sys.executable, __file__, "--sweep-only", str(k), "--sweep-reps", str(reps)],
                       capture_output=True, text=True, env=env, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def xla_temp_bytes(fn, *args) -> int:
  """Bytes of temporary buffers XLA allocates for the jitted ``fn(*args)`` (its compiled memory
  analysis; arguments and outputs not counted); -1 where the backend does not report it."""
  mem = jax.jit(fn).lower(*args).compile().memory_analysis()
  return int(getattr(mem, "temp_size_in_bytes", -1)) if mem is not None else -1


def femp_bench(n: int, m: int, fastest_rate: float, reps: int, with_torch: bool,
               gemm_size: int = GEMM_SIZE) -> dict:
  """f_emp at (m, n, d): GFLOP/s (4·m·n·d) against a gemm_size² GEMM timed in the same rounds, and
  the torch peer, also interleaved (a shared host's speed drifts within a run), and XLA's temporary
  memory: of ``dt.empirical_denoiser``, the call timed ("temp_bytes"), and of
  ``dt.empirical_posterior`` with its log-normaliser and entropy ("posterior_temp_bytes": one
  (m, chunk) block more for the entropy), both at the default chunk size."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.uniform(-1, 1, size=(n, D)).astype(np.float32))
  y = jnp.asarray(rng.uniform(-1, 1, size=(m, D)).astype(np.float32))
  sigma = 2.0
  calls = {"gemm": gemm_call(gemm_size), "femp": lambda: dt.empirical_denoiser(y, x, sigma)}
  if with_torch:
    import torch
    xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))

    def peer():
      with torch.no_grad():
        d2 = torch.cdist(yt, xt) ** 2
        w = torch.softmax(-d2 / (2 * sigma ** 2), dim=1)
        return w @ xt
    calls["torch"] = peer
  times = median_times(calls, reps)
  t = times["femp"]
  rate = 2 * gemm_size ** 3 / times["gemm"] / 1e9
  gflops = 4 * m * n * D / t / 1e9
  chunk = dt.default_chunk_size(m, n, D)
  temp = xla_temp_bytes(lambda y, x: dt.empirical_denoiser(y, x, sigma, chunk_size=chunk), y, x)
  posterior = xla_temp_bytes(lambda y, x: tuple(dt.empirical_posterior(y, x, sigma, chunk_size=chunk))[:3], y, x)
  out = {"n": n, "m": m, "seconds": t, "gflops": gflops, "matmul_gflops": rate,
         "fraction_of_matmul_rate": gflops / rate, "fraction_of_fastest_matmul_rate": gflops / fastest_rate,
         "chunk": chunk, "x_bytes": int(x.size * 4), "temp_bytes": temp, "posterior_temp_bytes": posterior,
         "temp_over_chunk_bytes": temp / (4 * (m * chunk + chunk * D + m * D)) if temp >= 0 else None}
  if with_torch:
    out["torch_seconds"] = times["torch"]
    out["speedup_vs_torch"] = out["torch_seconds"] / t
  return out


def accelerator_bench(quick: bool) -> dict:
  """The rows that need a GPU or TPU (the target: a vmapped sweep of K = 64 models at ≥ 20× the
  same models one after the other), sized to take a few minutes of a lent device: one model,
  sweeps of K = 16 and 64 by vmap against the same models one after the other (and a loop inside
  one program), f_emp against a large GEMM, and the largest difference between a swept model and
  the same model trained alone, on this device."""
  steps = 100 if quick else 500
  reps = 2 if quick else 3
  x = bench_data()
  cfg = training_config(steps)
  out = {"steps": steps, "reps": reps, "gemm_size": ACCELERATOR_GEMM_SIZE}
  out["matmul_gflops"] = matmul_rate(reps, ACCELERATOR_GEMM_SIZE)
  print(f"matmul rate {out['matmul_gflops']:.1f} GFLOP/s", flush=True)
  out["one_model"] = jax_train_rates(x, cfg, SAMPLERS_DEFAULT_FIRST, reps)
  print("one model:", out["one_model"], flush=True)
  out["sweeps"] = {}
  for k in (16, 64):
    out["sweeps"][k] = sweep_rates(x, cfg, k, reps, runs=("sweep_vmap", "sweep_map", "sequential"))
    print(f"sweep K={k}:", out["sweeps"][k], flush=True)
  seeds, sizes = [0, 1], [x.shape[0] // 2, x.shape[0]]
  swept = dt.train_sweep(x, cfg, seeds=seeds, sizes=sizes, vectorize="vmap")
  out["sweep_vs_alone_max_abs_diff"] = max(
      float(jnp.max(jnp.abs(swept.model(i).w1 - dt.train(x, cfg, seed=int(row["seed"]),
                                                         num_samples=int(row["num_samples"])).params.w1)))
      for i, row in enumerate(swept.grid))
  out["weights_max_abs"] = float(jnp.max(jnp.abs(swept.params.w1)))
  sizes = (10_000, 60_000) if quick else (10_000, 60_000, 200_000)
  out["femp"] = [femp_bench(n, 1000, out["matmul_gflops"], reps, False, ACCELERATOR_GEMM_SIZE) for n in sizes]
  for f in out["femp"]:
    print("f_emp:", f, flush=True)
  out["unet"] = unet_bench(quick, with_torch=False)  # one U-Net's steps/s, and K = 4 batched against one by one
  return out


# ----------------------------------------------------------------------------------------------
# The multi-noise ReLU diffusion model (``--diffusion``, and part of the full run)
# ----------------------------------------------------------------------------------------------

DIFF_P = DIFF_H = 256  # width p and the time MLP's hidden width H of the authors' diffusion recipes
DIFF_M, DIFF_FEMP_M = 1000, 200  # samples drawn by the network sampler and by the f_emp sampler
DIFF_GRID = (2.0, 0.02, 60)  # the authors' grid: geometric_sigmas(2.0, 0.02, 60), 60 sampler steps
DIFF_FEMP_SIZES = (10_000, 60_000)
DIFF_FEMP_LEVELS = 10  # the f_emp sampler's timing grid: 10 levels 2 → 0.02 (a step costs the same at every σ)


def diffusion_step_flops(b: int = B, d: int = D, p: int = DIFF_P, hidden: int = DIFF_H) -> int:
  """FLOPs of the products in one training step: the five (b·d·p) GEMMs of the tied ReLU layer
  (encoder, decoder, the two weight gradients and the code's gradient) and three (b·H·p) of the
  time MLP's last layer (forward, its weight gradient, its input gradient)."""
  return 2 * b * p * (5 * d + 3 * hidden)


def diffusion_config(steps: int, log_every: int = 50):
  """The ``diffusion_generalizing_cpu`` recipe (Adam lr 1e-3, coupled decay 5e-4 on every parameter,
  batch 256, σ log-uniform on [0.02, 2], pixel-mean MSE) for ``steps`` steps at a constant learning
  rate: the recipe's cosine decay is off, as in the PyTorch loop it is timed against (no scheduler)."""
  return dt.preset("diffusion_generalizing_cpu", steps=steps, decay_steps=0, log_every=log_every)


def torch_diffusion_model(d: int, p: int, hidden: int, dtype=None):
  """The authors'-style multi-noise ReLU diffusion model in PyTorch (the library's
  ``diffusion_apply``): an ``nn.Linear(d, p, bias=False)`` encoder whose weight E (p × d, PyTorch's
  (out, in)) is reused transposed as the decoder (the library's W = Eᵀ), the time MLP
  ``nn.Sequential(Linear(1, H), ReLU, Linear(H, p))`` on log σ with its last layer zeroed, and a
  scalar skip s: x̂₀ = ([y Eᵀ]₊ ⊙ exp(g(log σ))) E + s·y."""
  import torch
  from torch import nn

  class ReLUDiffusion(nn.Module):
    def __init__(self):
      super().__init__()
      self.encoder = nn.Linear(d, p, bias=False)
      nn.init.kaiming_uniform_(self.encoder.weight, nonlinearity="relu")  # U(±√(6/d)), as the library
      self.time = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, p))
      nn.init.zeros_(self.time[2].weight)
      nn.init.zeros_(self.time[2].bias)
      self.skip = nn.Parameter(torch.zeros(()))

    def forward(self, y, log_sigma):  # y (b, d), log_sigma (b, 1)
      h = torch.relu(self.encoder(y)) * torch.exp(self.time(log_sigma))
      return h @ self.encoder.weight + self.skip * y

  return ReLUDiffusion().to(dtype or torch.get_default_dtype())


def torch_diffusion_to_jax(model, dtype=jnp.float32):
  """The PyTorch model's parameters as the library's ``DiffusionParams`` (W = Eᵀ, flax kernels
  (in, out) = PyTorch weights transposed)."""
  a = lambda t: jnp.asarray(t.detach().numpy(), dtype)
  dense = lambda layer: {"kernel": a(layer.weight).T, "bias": a(layer.bias)}
  return dt.DiffusionParams(w1=a(model.encoder.weight).T, gate={"hidden": dense(model.time[0]),
                                                                 "out": dense(model.time[2])},
                            skip=a(model.skip))


def torch_diffusion_train_call(x: np.ndarray, cfg, steps: int, threads: int | None = None):
  """The authors'-style diffusion loop (``torch_diffusion_model``; per step a minibatch drawn
  uniformly with replacement, σ log-uniform per row, y = x + σε, ``MSELoss``, Adam(lr,
  weight_decay, foreach=True)) as a callable that runs ``steps`` steps on ``threads`` threads
  (default: one per core, PyTorch's default), for ``median_times``."""
  import torch

  threads = threads or os.cpu_count() or 1
  torch.manual_seed(1)
  data = torch.from_numpy(x)
  model = torch_diffusion_model(x.shape[1], cfg.width, cfg.time_hidden)
  opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay, foreach=True)
  loss_fn = torch.nn.MSELoss()
  lo, hi, b = float(np.log(cfg.sigma_min)), float(np.log(cfg.sigma)), cfg.batch_size

  def run():
    torch.set_num_threads(threads)  # per call: the loops with other thread counts run in the same rounds
    for _ in range(steps):
      xb = data[torch.randint(0, data.shape[0], (b,))]
      log_sigma = lo + (hi - lo) * torch.rand(b, 1)
      y = xb + torch.exp(log_sigma) * torch.randn_like(xb)
      loss = loss_fn(model(y, log_sigma), xb)
      opt.zero_grad()
      loss.backward()
      opt.step()
    return loss.item()
  return run


def torch_diffusion_differences(steps: int = 5) -> float:
  """Largest |Δparam| (over W, the time MLP and s) between ``torch_diffusion_model`` trained by
  PyTorch's Adam(weight_decay, foreach=True) and the library's update (``dt.make_optimizer``, the
  gradient of ``dt.diffusion_loss_given_noise`` with per_pixel: the objective the training engine
  differentiates, on given σ's and noise), in float64 from the same parameters,
  batches, σ's and noise: the check that the PyTorch baseline does the arithmetic of the JAX loop it
  is timed against. The gate's last layer starts small and random (not zero), so that every term of
  the model is exercised from the first step."""
  import torch

  d, p, hidden, b, lr, wd = 30, 8, 16, 16, 1e-2, 1e-2
  cfg = diffusion_config(100).replace(learning_rate=lr, weight_decay=wd)
  rng = np.random.default_rng(0)
  xs, noise = rng.uniform(-1, 1, (steps, b, d)), rng.standard_normal((steps, b, d))
  sigmas = np.exp(rng.uniform(np.log(cfg.sigma_min), np.log(cfg.sigma), (steps, b)))
  torch.manual_seed(0)
  model = torch_diffusion_model(d, p, hidden, torch.float64)
  with torch.no_grad():
    model.time[2].weight.normal_(0, 0.1)
    model.time[2].bias.normal_(0, 0.1)
    model.skip.fill_(0.1)
  with jax.enable_x64(True):
    params = torch_diffusion_to_jax(model, jnp.float64)
    optimizer = dt.make_optimizer(cfg)
    state = optimizer.init(params)
    for t in range(steps):
      term = lambda q: dt.diffusion_loss_given_noise(q, jnp.asarray(xs[t]), jnp.asarray(noise[t]),
                                                     jnp.asarray(sigmas[t]), 0.0, per_pixel=True)
      u, state = optimizer.update(jax.grad(term)(params), state, params)
      params = jax.tree.map(lambda w, v: w - cfg.learning_rate * v, params, u)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd, foreach=True)
    for t in range(steps):
      xb, sig = torch.from_numpy(xs[t]), torch.from_numpy(sigmas[t])[:, None]
      loss = torch.nn.MSELoss()(model(xb + sig * torch.from_numpy(noise[t]), torch.log(sig)), xb)
      opt.zero_grad()
      loss.backward()
      opt.step()
    theirs = torch_diffusion_to_jax(model, jnp.float64)
    return max(float(jnp.max(jnp.abs(a - c))) for a, c in zip(jax.tree.leaves(params), jax.tree.leaves(theirs)))


def diffusion_sampler_call(params, m: int, sigmas, method: str = "ancestral"):
  """``dt.sample`` of the network denoiser, jitted over the key and the parameters (so that repeated
  draws run one compiled program, as the sampler's docstring advises)."""
  f = jax.jit(lambda key, q: dt.sample(dt.diffusion_denoiser(q), key, (m, q.dim), sigmas, method=method))
  key = jax.random.key(0)
  return lambda: f(key, params)


def femp_sampler_program(m: int, d: int, sigmas):
  """``dt.sample`` of f_emp with X passed through the outer jit (not a constant of the program)."""
  return jax.jit(lambda key, X: dt.sample(lambda y, s: dt.empirical_denoiser(y, X, s), key, (m, d), sigmas))


def diffusion_bench(quick: bool, with_torch: bool | None = None) -> dict:
  """The diffusion model's rows: (1) training steps/s against the authors'-style PyTorch loop
  (after the float64 check of its arithmetic), (2) sweeps of K models against the same models one
  after the other, (3) the network sampler against its matmul-bound limit, (4) the f_emp sampler
  against the GEMM rate and its XLA temporary memory at two n. Every baseline is timed in the same
  interleaved rounds as what it is compared with (``median_times``)."""
  with_torch = torch_available() if with_torch is None else with_torch
  steps, sweep_steps = (200, 25) if quick else (400, 25)
  torch_steps = 25 if quick else 50  # PyTorch has nothing to compile: fewer steps give its rate
  reps = 2 if quick else 3
  sampler_reps = 3 if quick else 5  # the samplers take about a second a call: more rounds
  ks = (16,) if quick else (16, 64)
  femp_levels = DIFF_FEMP_LEVELS
  x = bench_data()
  t0 = time.perf_counter()
  out = {"steps": steps, "torch_steps": torch_steps, "sweep_steps": sweep_steps, "reps": reps, "d": D, "p": DIFF_P,
         "time_hidden": DIFF_H, "batch": B, "sampler_m": DIFF_M, "femp_m": DIFF_FEMP_M, "grid": list(DIFF_GRID),
         "femp_levels": femp_levels, "sampler_reps": sampler_reps,
         "sweep_reps": {k: 2 if k > 16 else reps for k in ks}}
  if with_torch:
    import torch
    out["torch_version"] = torch.__version__
  out["matmul_gflops_start"] = matmul_rate(reps)
  print(f"matmul rate {out['matmul_gflops_start']:.1f} GFLOP/s", flush=True)

  # (1) One model, against the PyTorch loop.
  cfg = diffusion_config(steps, log_every=100)
  calls = {"jax": lambda: dt.train(x, cfg).params, "gemm": gemm_call()}
  if with_torch:
    out["torch_max_abs_diff"] = torch_diffusion_differences()
    print(f"PyTorch against the library's diffusion update, max |Δparam|: {out['torch_max_abs_diff']:.2g}", flush=True)
    for threads in sorted({1, os.cpu_count() or 1}):
      calls[f"torch_{threads}"] = torch_diffusion_train_call(x, cfg, torch_steps, threads)
  times = median_times(calls, reps)
  one = out["one_model"] = {"jax_steps_per_s": steps / times["jax"],
                            "matmul_gflops": 2 * GEMM_SIZE ** 3 / times["gemm"] / 1e9}
  one["matmul_limit_steps_per_s"] = one["matmul_gflops"] * 1e9 / diffusion_step_flops()
  if with_torch:
    # The baseline is PyTorch's faster thread count: with other processes on the cores, its
    # OpenMP loop on every core can stall at each parallel region (to a few steps/s).
    for name in (n for n in times if n.startswith("torch_")):
      one[f"{name}_threads_steps_per_s"] = torch_steps / times[name]
    best = max((n for n in one if n.startswith("torch_")), key=one.get)
    one["torch_steps_per_s"], one["torch_threads"] = one[best], int(best.split("_")[1])
  print("one model:", out["one_model"], flush=True)

  # (2) Sweeps of K models (dt.train_sweep's default on this backend) against dt.train one after the other.
  sweep_cfg = diffusion_config(sweep_steps, log_every=sweep_steps)
  out["sweeps"], out["sweep_vectorize"] = {}, "map" if jax.default_backend() == "cpu" else "vmap"  # its default
  for k in ks:
    def sequential(k=k):
      return jax.block_until_ready([dt.train(x, sweep_cfg, seed=s).params.w1 for s in range(k)])
    rates = median_times({"sweep": lambda k=k: dt.train_sweep(x, sweep_cfg, seeds=range(k)).params.w1,
                          "sequential": sequential}, out["sweep_reps"][k])
    out["sweeps"][k] = {name: k * sweep_steps / t for name, t in rates.items()}
    print(f"sweep K={k}:", out["sweeps"][k], flush=True)

  # (3) The network sampler (ancestral, the default; Euler, which draws no noise, for the profile).
  params = dt.train(x, cfg).params
  sigmas = dt.geometric_sigmas(*DIFF_GRID)
  num_steps = int(sigmas.shape[0]) - 1
  times = median_times({"ancestral": diffusion_sampler_call(params, DIFF_M, sigmas),
                        "euler": diffusion_sampler_call(params, DIFF_M, sigmas, "euler"),
                        "gemm": gemm_call()}, sampler_reps)
  rate = 2 * GEMM_SIZE ** 3 / times["gemm"] / 1e9
  out["network_sampler"] = {"steps": num_steps, "matmul_gflops": rate,
                            "matmul_limit_steps_per_s": rate * 1e9 / (4 * DIFF_M * D * DIFF_P),
                            **{f"{m}_steps_per_s": num_steps / times[m] for m in ("ancestral", "euler")}}
  print("network sampler:", out["network_sampler"], flush=True)

  # (4) The f_emp sampler: speed at n = 60,000 against the GEMM, XLA's temporary memory at each n.
  rng = np.random.default_rng(0)
  key = jax.random.key(0)
  femp_sigmas = dt.geometric_sigmas(DIFF_GRID[0], DIFF_GRID[1], femp_levels)
  out["femp_sampler"] = {"memory": []}
  for n in DIFF_FEMP_SIZES:
    X = jnp.asarray(rng.uniform(-1, 1, size=(n, D)).astype(np.float32))
    program = femp_sampler_program(DIFF_FEMP_M, D, femp_sigmas)
    temp = xla_temp_bytes(program, key, X)
    out["femp_sampler"]["memory"].append({"n": n, "temp_bytes": temp, "x_bytes": int(X.size * 4)})
    print("f_emp sampler memory:", out["femp_sampler"]["memory"][-1], flush=True)
    if n == max(DIFF_FEMP_SIZES):
      times = median_times({"femp": lambda: program(key, X), "gemm": gemm_call()}, sampler_reps)
      flops = (int(femp_sigmas.shape[0]) - 1) * 4 * DIFF_FEMP_M * n * D  # one f_emp call a step
      out["femp_sampler"].update({"n": n, "steps": femp_levels, "seconds": times["femp"],
                                  "gflops": flops / times["femp"] / 1e9,
                                  "matmul_gflops": 2 * GEMM_SIZE ** 3 / times["gemm"] / 1e9})
      print("f_emp sampler:", out["femp_sampler"], flush=True)
    del X
  out["matmul_gflops_end"] = matmul_rate(reps)
  out["seconds"] = time.perf_counter() - t0
  print(f"matmul rate {out['matmul_gflops_end']:.1f} GFLOP/s; diffusion rows took {out['seconds']:.0f} s", flush=True)
  return out


# ----------------------------------------------------------------------------------------------
# The deep denoisers' U-Net (``--deep``, and part of the full run)
# ----------------------------------------------------------------------------------------------

# experiments/deep_denoisers.py, size "default": the 8×8 digits, this U-Net at base channels C = 16,
# Adam lr 1e-3 with a cosine decay to 0 over the run, batch 32, and its sweep over n (K = 4 models).
UNET_ARCH = dict(image_shape=(8, 8, 1), channel_mult=(1, 2), blocks_per_level=1, groups=8, embedding=64)
UNET_WIDTH, UNET_BATCH = 16, 32
UNET_SIZES = (8, 32, 128, 1_797)


def unet_arch():
  return dt.UNetConfig(**UNET_ARCH)


def unet_config(steps: int, log_every: int | None = None):
  """The experiment's ``train_config`` for its U-Net ("default" size) for ``steps`` steps: Adam lr
  1e-3, a cosine decay to 0 over all the steps, batch 32, the torch loss convention (the U-Net's
  loss is divided by d either way), σ ~ EDM's log-normal law (``sigma``/``sigma_min`` are its
  sampler's range, unused in training). ``log_every`` defaults to the experiment's min(100, steps/2)."""
  return dt.TrainConfig(model="relu_diffusion", width=UNET_WIDTH, sigma=80.0, sigma_min=0.002, steps=steps,
                        decay_steps=steps, final_lr_fraction=0.0, log_every=log_every or min(100, steps // 2),
                        optimizer="adam", learning_rate=1e-3, batch_size=UNET_BATCH, loss_convention="torch")


def unet_step_lr(cfg, step: int) -> float:
  """The engine's learning rate at ``step`` (constant, then a cosine over the last decay_steps)."""
  if not cfg.decay_steps:
    return cfg.learning_rate
  t = min(max((step - (cfg.steps - cfg.decay_steps)) / cfg.decay_steps, 0.0), 1.0)
  return cfg.learning_rate * (cfg.final_lr_fraction + (1 - cfg.final_lr_fraction) * 0.5 * (1 + np.cos(np.pi * t)))


def torch_unet_model(arch, channels: int, dtype=None):
  """The library's EDM U-Net (``dt.unet_model(arch)`` at base channels ``channels``) in PyTorch, layer
  for layer and with the flax modules' names: the noise embedding (cos/sin features of c_noise, two
  SiLU Linear layers), ``conv_in``, residual blocks ``block_enc{i}_{b}``, ``block_mid``,
  ``block_dec{i}_{b}`` (GroupNorm → SiLU → 3×3 conv → + Linear(emb) → GroupNorm → SiLU → 3×3 conv,
  plus the input or its 1×1 conv, over √2), average-pool down, nearest up with skip concatenation,
  ``norm_out``, ``conv_out``; and EDM's preconditioning: ``model(y, σ)`` is D(y, σ) for flattened
  (H·W·C) images y (b, d) and σ (b,). Images are NCHW inside (flax's are HWC); the flattening is
  flax's. Its initial weights are drawn from flax's initialisers (not the same draws: copy the
  library's with ``torch_unet_load``)."""
  import torch
  from torch import nn
  import torch.nn.functional as F

  h_img, w_img, c_img = arch.image_shape
  groups = arch.groups

  class ResBlock(nn.Module):
    def __init__(self, cin, cout):
      super().__init__()
      self.norm0 = nn.GroupNorm(groups, cin, eps=1e-5)
      self.conv0 = nn.Conv2d(cin, cout, 3, padding=1)
      self.emb = nn.Linear(arch.embedding, cout)
      self.norm1 = nn.GroupNorm(groups, cout, eps=1e-5)
      self.conv1 = nn.Conv2d(cout, cout, 3, padding=1)
      self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
      h = self.conv0(F.silu(self.norm0(x)))
      h = h + self.emb(emb)[:, :, None, None]
      h = self.conv1(F.silu(self.norm1(h)))
      return (h + (x if self.skip is None else self.skip(x))) / math.sqrt(2.0)

  class UNet(nn.Module):
    def __init__(self):
      super().__init__()
      levels, mult, c = len(arch.channel_mult), arch.channel_mult, channels
      self.emb0 = nn.Linear(arch.embedding, arch.embedding)
      self.emb1 = nn.Linear(arch.embedding, arch.embedding)
      self.conv_in = nn.Conv2d(c_img, c, 3, padding=1)
      skips, cur, self.order = [c], c, []
      for i in range(levels):
        if i > 0:
          skips.append(cur)
          self.order.append(("down", None))
        for b in range(arch.blocks_per_level):
          self.add_module(f"block_enc{i}_{b}", ResBlock(cur, c * mult[i]))
          cur = c * mult[i]
          skips.append(cur)
          self.order.append(("enc", f"block_enc{i}_{b}"))
      self.block_mid = ResBlock(cur, c * mult[-1])
      cur = c * mult[-1]
      self.order.append(("mid", "block_mid"))
      for i in reversed(range(levels)):
        for b in range(arch.blocks_per_level + 1):
          self.add_module(f"block_dec{i}_{b}", ResBlock(cur + skips.pop(), c * mult[i]))
          cur = c * mult[i]
          self.order.append(("dec", f"block_dec{i}_{b}"))
        if i > 0:
          self.order.append(("up", None))
      self.norm_out = nn.GroupNorm(groups, cur, eps=1e-5)
      self.conv_out = nn.Conv2d(cur, c_img, 3, padding=1)

    def forward(self, x, c_noise):  # x (b, C, H, W), c_noise (b,)
      half = arch.embedding // 2  # the frequencies in x's dtype, as flax computes them
      arg = c_noise[:, None] * torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=x.dtype) / half)
      emb = torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)
      emb = F.silu(self.emb1(F.silu(self.emb0(emb))))
      h = self.conv_in(x)
      skips = [h]
      for kind, name in self.order:
        if kind == "down":
          h = F.avg_pool2d(h, 2)
          skips.append(h)
        elif kind == "up":
          h = F.interpolate(h, scale_factor=2, mode="nearest")
        else:
          if kind == "dec":
            h = torch.cat([h, skips.pop()], dim=1)
          h = getattr(self, name)(h, emb)
          if kind == "enc":
            skips.append(h)
      return self.conv_out(F.silu(self.norm_out(h)))

  class Preconditioned(nn.Module):
    def __init__(self):
      super().__init__()
      self.unet = UNet()

    def forward(self, y, sigma):  # y (b, d), sigma (b,)
      s2, d2 = sigma * sigma, arch.sigma_data ** 2
      c_skip, c_out = d2 / (s2 + d2), sigma * arch.sigma_data / torch.sqrt(s2 + d2)
      c_in, c_noise = 1.0 / torch.sqrt(s2 + d2), 0.25 * torch.log(sigma)
      x = (c_in[:, None] * y).reshape(-1, h_img, w_img, c_img).permute(0, 3, 1, 2)
      f = self.unet(x, c_noise).permute(0, 2, 3, 1).reshape(y.shape)
      return c_skip[:, None] * y + c_out[:, None] * f

  model = Preconditioned()
  with torch.no_grad():  # flax's initialisers: lecun_uniform convolutions, lecun_normal Dense, zero biases
    for module in model.modules():
      if isinstance(module, (nn.Conv2d, nn.Linear)):
        fan_in = module.weight[0].numel()
        if isinstance(module, nn.Conv2d):
          module.weight.uniform_(-math.sqrt(3.0 / fan_in), math.sqrt(3.0 / fan_in))
        else:
          std = 1.0 / math.sqrt(fan_in) / 0.87962566103423978  # the truncated normal's variance is 1/fan_in
          nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(module.bias)
    nn.init.zeros_(model.unet.conv_out.weight)  # the zero-initialised output convolution
  return model.to(dtype or torch.get_default_dtype())


def torch_unet_loss(arch, out, x, sigma):
  """The library's U-Net objective on given σ's (no decay): mean over the batch of
  λ(σ)‖D(y, σ) − x‖²/d, λ(σ) = (σ² + σ_d²)/(σ σ_d)²."""
  d2 = arch.sigma_data ** 2
  err = ((out - x) ** 2).sum(dim=1) * (sigma ** 2 + d2) / (sigma ** 2 * d2)
  return err.mean() / x.shape[1]


def _unet_pairs(model, params):
  """(torch Parameter, flax leaf, flax → torch layout) for every parameter, matched by name
  (flax {"unet": {module: {sub: {kernel|bias|scale}}}} against the twin's attributes); raises
  unless every parameter of each side has its counterpart of the same shape."""
  pairs, seen = [], set()
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    keys = [p.key for p in path]
    module = model
    for k in keys[:-1]:
      module = getattr(module, k)
    name = {"kernel": "weight", "scale": "weight", "bias": "bias"}[keys[-1]]
    tensor = getattr(module, name)
    shape = tuple(leaf.shape)
    layout = {4: (3, 2, 0, 1), 2: (1, 0), 1: (0,)}[len(shape)]  # HWIO → OIHW, (in, out) → (out, in)
    if tuple(tensor.shape) != tuple(shape[a] for a in layout):
      raise ValueError(f"{'.'.join(keys)}: flax {shape} against torch {tuple(tensor.shape)}")
    pairs.append((tensor, leaf, layout))
    seen.add(id(tensor))
  missing = [n for n, t in model.named_parameters() if id(t) not in seen]
  if missing:
    raise ValueError(f"torch parameters without a flax counterpart: {missing}")
  return pairs


def torch_unet_load(model, params) -> None:
  """Copies a flax parameter tree of ``dt.unet_model`` into the twin (``torch_unet_model``)."""
  import torch
  with torch.no_grad():
    for tensor, leaf, layout in _unet_pairs(model, params):
      tensor.copy_(torch.from_numpy(np.array(np.transpose(np.asarray(leaf), layout), order="C")))


def torch_unet_params(model, like):
  """The twin's parameters as the library's flax tree (the structure of ``like``: a parameter tree
  or its ``jax.eval_shape``)."""
  leaves = [np.transpose(t.detach().numpy(), np.argsort(layout)).copy() for t, _, layout in _unet_pairs(model, like)]
  return jax.tree.unflatten(jax.tree.structure(like), leaves)




def torch_unet_train_call(x: np.ndarray, arch, cfg, steps: int, threads: int | None = None):
  """The U-Net's training loop in PyTorch (``torch_unet_model``; per step a minibatch drawn uniformly
  with replacement, ln σ ~ N(p_mean, p_std²) per row, y = x + σε, ``torch_unet_loss``, Adam(lr,
  weight_decay, foreach=True) at the engine's learning rate of that step) as a callable that runs
  ``steps`` steps (or the number it is given) on ``threads`` threads (default all cores), for
  ``median_times``."""
  import torch

  threads = threads or os.cpu_count() or 1
  torch.manual_seed(1)
  data = torch.from_numpy(x)
  model = torch_unet_model(arch, cfg.width)
  opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay, foreach=True)
  b = cfg.batch_size

  def run(num_steps: int = steps):
    torch.set_num_threads(threads)  # per call: the loops with other thread counts run in the same rounds
    for i in range(num_steps):
      xb = data[torch.randint(0, data.shape[0], (b,))]
      sigma = torch.exp(arch.p_mean + arch.p_std * torch.randn(b))
      loss = torch_unet_loss(arch, model(xb + sigma[:, None] * torch.randn_like(xb), sigma), xb, sigma)
      opt.zero_grad()
      loss.backward()
      for group in opt.param_groups:
        group["lr"] = unet_step_lr(cfg, i)
      opt.step()
    return loss.item()
  return run


UNET_TOLERANCE = 1e-5  # float32 D(y, σ) and loss of order 1


def torch_unet_differences(batch: int = 8, adam_step: bool = True) -> dict:
  """The PyTorch twin against the library, from the same weights (PyTorch's initial draw plus
  N(0, 0.05²) on every parameter, copied into the library's tree: the zero output convolution
  would leave every other gradient 0): in float32, what is timed, the largest |Δ| of the denoiser's
  output D(y, σ) (``dt.deep_denoiser``, one σ a row, σ geometric from 0.002 to 80) on ``batch``
  digits with fixed noise, and of the loss (``Model.objective`` on 32 digits, with its σ's, EDM's
  law drawn from the model key, redrawn here as the library draws them); with ``adam_step``, in
  float64, of the parameters after one step of the engine's own update (``dt.make_trainer(...)
  .update``, compiled: loss, gradient, Adam, the step's learning rate) and of PyTorch's
  Adam(foreach=True) on the same batch, noise and σ's (float64: in float32, Adam's first step
  g/(|g| + ε) turns the gradients' rounding into differences up to ~1e-4 for the few weights with
  |g| ≈ ε = 1e-8). Also returns the parameter counts, the scale of D and the loss."""
  import torch

  arch, cfg = unet_arch(), unet_config(100)
  model = dt.unet_model(arch)
  x = np.asarray(dt.load_digits().x, np.float32)
  d, b = x.shape[1], cfg.batch_size
  like = jax.eval_shape(lambda: model.init(jax.random.key(0), d, cfg.width, cfg, jnp.float32))
  torch.manual_seed(0)
  twin = torch_unet_model(arch, cfg.width, torch.float64)
  with torch.no_grad():
    for t in twin.parameters():
      t.add_(0.05 * torch.randn_like(t))
  weights = torch_unet_params(twin, like)  # float64 numpy
  out = {"parameters": sum(int(np.prod(a.shape)) for a in jax.tree.leaves(like)),
         "torch_parameters": sum(t.numel() for t in twin.parameters())}
  rng = np.random.default_rng(0)
  idx = rng.integers(0, x.shape[0], b)
  model_key, noise_keys = jax.random.key(3), jax.random.split(jax.random.key(2), 1)

  def sigmas_of(key, dtype):  # the U-Net objective's draw (EDM law) from the step's model key
    return jnp.exp(arch.p_mean + arch.p_std * jax.random.normal(key, (b,), dtype))

  def torch_loss(net, xb, noise, sig):
    xt, st, eps = (torch.from_numpy(np.array(a)) for a in (xb, sig, noise))  # writable copies
    return torch_unet_loss(arch, net(xt + st[:, None] * eps, st), xt, st)

  # float32: D(y, σ) and the loss.
  params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), weights)
  twin32 = torch_unet_model(arch, cfg.width, torch.float32)
  torch_unet_load(twin32, params)
  xb = x[:batch]
  sigmas = np.geomspace(0.002, 80.0, batch).astype(np.float32)
  y = (xb + sigmas[:, None] * rng.standard_normal(xb.shape)).astype(np.float32)
  denoise = dt.deep_denoiser(arch, params)
  ours = np.stack([np.asarray(denoise(jnp.asarray(y[i:i + 1]), jnp.float32(s)))[0] for i, s in enumerate(sigmas)])
  noise = rng.standard_normal((b, d)).astype(np.float32)
  spec = dt.model_spec(cfg, 0, x.shape[0])
  loss = jax.jit(lambda p, xb, eps: model.objective(p, xb, eps[None], None, spec, cfg, model_key))(
      params, jnp.asarray(x[idx]), jnp.asarray(noise))
  with torch.no_grad():
    theirs = twin32(torch.from_numpy(y), torch.from_numpy(sigmas)).numpy()
    loss_t = torch_loss(twin32, x[idx], noise, np.asarray(sigmas_of(model_key, jnp.float32)))
  out.update(denoiser_max_abs_diff=float(np.max(np.abs(ours - theirs))), denoiser_max_abs=float(np.max(np.abs(ours))),
             loss=float(loss), loss_abs_diff=abs(float(loss) - loss_t.item()))
  if adam_step:  # float64: one step of the engine's update against PyTorch's Adam
    cfg64 = cfg.replace(noise_sampler="jax_normal")  # a sampler with float64 draws
    with jax.enable_x64(True):
      params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), weights)
      trainer = dt.make_trainer(model, cfg64, cfg.width)
      spec64 = spec._replace(learning_rate=jnp.float64(cfg.learning_rate))  # model_spec stores it in float32
      state = (params, dt.make_optimizer(cfg64).init(params))
      x64 = jnp.asarray(x, jnp.float64)
      new, loss = jax.jit(trainer.update)(state, spec64, x64, jnp.int32(0), jnp.asarray(idx, jnp.int32), noise_keys,
                                          model_key)
      noise = np.asarray(dt.NOISE_SAMPLERS[cfg64.noise_sampler](noise_keys[0], (b, d), jnp.float64))
      sig = np.asarray(sigmas_of(model_key, jnp.float64))
      new_params = jax.tree.map(np.asarray, new[0])
    opt = torch.optim.Adam(twin.parameters(), lr=unet_step_lr(cfg, 0), weight_decay=cfg.weight_decay, foreach=True)
    loss_t = torch_loss(twin, x[idx].astype(np.float64), noise, sig)
    opt.zero_grad()
    loss_t.backward()
    opt.step()
    stepped = torch_unet_params(twin, like)
    out["adam_step_float64_params_max_abs_diff"] = max(float(np.max(np.abs(a - c))) for a, c in
                                                       zip(jax.tree.leaves(new_params), jax.tree.leaves(stepped)))
    out["adam_step_float64_loss_abs_diff"] = abs(float(loss) - loss_t.item())
    out["adam_step_max_abs_update"] = max(float(np.max(np.abs(a - c))) for a, c in
                                          zip(jax.tree.leaves(new_params), jax.tree.leaves(weights)))
  return out


UNET_TORCH_PROBE = 5  # steps of PyTorch's loop on each thread count that pick the faster one


def unet_bench(quick: bool, with_torch: bool | None = None) -> dict:
  """The U-Net's rows (the experiment's configuration, ``unet_config``): (1) one model trained by
  ``dt.train_model`` (a Python loop over one compiled step on CPU) against the same architecture
  trained by PyTorch (``torch_unet_train_call``, after ``torch_unet_differences``) on its faster
  thread count; (2) a sweep of K = 4 U-Nets (the experiment's n = 8, 32, 128, 1,797) by
  ``dt.train_sweep`` in one vmapped program (``models_per_chunk=4``) against its default on CPU
  (one model a chunk: one after the other). Each call is timed after one call that compiles it,
  in interleaved rounds (``median_times``). PyTorch's thread count is picked first by a short probe
  of each (its loop on all cores of a shared host can stall to under 1 step/s, too slow to time in
  every round), then timed in the same rounds as JAX. --quick: fewer steps, no sweep and no
  float64 Adam step in the check (the compiles alone take most of a minute)."""
  with_torch = torch_available() if with_torch is None else with_torch
  steps, torch_steps, sweep_steps = (40, 20, 0) if quick else (100, 50, 20)
  reps = 2 if quick else 3
  x = np.asarray(dt.load_digits().x, np.float32)
  arch = unet_arch()
  model = dt.unet_model(arch)
  t0 = time.perf_counter()
  out = {"steps": steps, "torch_steps": torch_steps, "sweep_steps": sweep_steps, "reps": reps,
         "arch": {k: list(v) if isinstance(v, tuple) else v for k, v in UNET_ARCH.items()}, "width": UNET_WIDTH,
         "batch": UNET_BATCH, "data": "digits", "num_images": int(x.shape[0]), "d": int(x.shape[1]),
         "sweep_sizes": list(UNET_SIZES) if sweep_steps else []}
  if with_torch:
    import torch
    out["torch_version"] = torch.__version__
    out["torch_check"] = torch_unet_differences(adam_step=not quick)
    print("PyTorch twin against the library:", out["torch_check"], flush=True)

  # (1) One model: dt.train_model against the PyTorch loop on its faster thread count.
  cfg = unet_config(steps)
  calls = {"jax": lambda: dt.train_model(model, x, cfg).params}
  one = out["one_model"] = {}
  if with_torch:
    for threads in sorted({1, os.cpu_count() or 1}):
      run = torch_unet_train_call(x, arch, cfg, torch_steps, threads)
      run(2)  # warm-up
      t = time.perf_counter()
      run(UNET_TORCH_PROBE)
      one[f"torch_{threads}_threads_probe_steps_per_s"] = UNET_TORCH_PROBE / (time.perf_counter() - t)
    best = max((n for n in one if n.endswith("_probe_steps_per_s")), key=one.get)
    one["torch_threads"] = int(best.split("_")[1])
    calls["torch"] = torch_unet_train_call(x, arch, cfg, torch_steps, one["torch_threads"])
  first = {}
  times = median_times(calls, reps, first)
  one["jax_steps_per_s"], one["jax_first_call_s"] = steps / times["jax"], first["jax"]
  if with_torch:
    one["torch_steps_per_s"] = torch_steps / times["torch"]
    one["speedup_vs_torch"] = one["jax_steps_per_s"] / one["torch_steps_per_s"]
  print("U-Net, one model:", one, flush=True)

  # (2) K = 4 U-Nets: one vmapped program against one after the other (dt.train_sweep's default on CPU).
  if sweep_steps:
    k = len(UNET_SIZES)
    sweep_cfg = unet_config(sweep_steps)
    grid = dict(seeds=(0,), sizes=UNET_SIZES, model=model)
    calls = {"vmap": lambda: dt.train_sweep(x, sweep_cfg, models_per_chunk=k, **grid).params,
             "sequential": lambda: dt.train_sweep(x, sweep_cfg, models_per_chunk=1, **grid).params}
    first = {}
    times = median_times(calls, reps, first)
    sw = out["sweep"] = {"k": k, **{f"{name}_model_steps_per_s": k * sweep_steps / t for name, t in times.items()},
                         **{f"{name}_first_call_s": t for name, t in first.items()}}
    sw["vmap_over_sequential"] = sw["vmap_model_steps_per_s"] / sw["sequential_model_steps_per_s"]
    print(f"U-Net sweep K={k}:", sw, flush=True)
  out["seconds"] = time.perf_counter() - t0
  print(f"U-Net rows took {out['seconds']:.0f} s", flush=True)
  return out


MECHANICS_TOLERANCE = 1e-12  # float64, steps of order 1e-2
TABLE_HEAD = ["| measure | value | baseline (same run) | ratio | target | met |", "|---|---|---|---|---|---|"]


# ----------------------------------------------------------------------------------------------
# The machine: what results files record, and the machine kind that names a table
# ----------------------------------------------------------------------------------------------

# The vector extensions recorded, by architecture (Linux /proc/cpuinfo names: x86 "flags", Arm
# "Features"). XLA:CPU and PyTorch pick their kernels by these, so the ratios move with them.
VECTOR_EXTENSIONS = {
    "x86": ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
            "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"),
    "arm": ("asimd", "asimdhp", "sve", "sve2", "bf16", "i8mm"),
}


def cpu_info() -> dict:
  """The host CPU: model name ("model name" of /proc/cpuinfo, else ``platform.processor()``), core
  count, architecture and, for each of its architecture's ``VECTOR_EXTENSIONS``, whether the CPU
  has it (None where the flags cannot be read, as off Linux)."""
  try:
    text = Path("/proc/cpuinfo").read_text()
  except OSError:
    text = ""
  name = re.search(r"^(?:model name|Model)\s*:\s*(.+)$", text, flags=re.M)
  flags = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", text, flags=re.M)
  present = set(flags.group(1).split()) if flags else set()
  model = name.group(1).strip() if name else (platform.processor() or "")
  affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
  machine = platform.machine()
  checked = VECTOR_EXTENSIONS["arm" if machine.lower() in ("aarch64", "arm64") else "x86"]
  return {"cpu_model": model or "unknown CPU", "cpu_count": os.cpu_count(), "cpu_affinity": affinity,
          "machine": machine, "vector_extensions": {f: f in present for f in checked} if flags else None}


def short_cpu_name(model: str) -> str:
  """The CPU model without trademarks, clock and core-count suffixes ("Intel(R) Xeon(R) Platinum
  8375C CPU @ 2.90GHz" → "Intel Xeon Platinum 8375C")."""
  name = re.sub(r"\((?:R|TM|tm)\)", "", model)
  name = re.sub(r"\s+@.*$|\bCPU\b|\b\d+-Core Processor\b|\bProcessor\b", "", name)
  return re.sub(r"\s+", " ", name).strip() or model


def vector_summary(extensions: dict | None, machine: str) -> str:
  """The widest vector extension family the CPU has, e.g. "AVX2 (no AVX-512)" or "AVX-512, AMX"."""
  if not extensions:
    return machine.replace("_", "-") or "unknown architecture"
  has = lambda *names: all(extensions.get(n) for n in names)
  if has("avx512f"):
    return "AVX-512" + (" with BF16" if has("avx512_bf16") else "") + (", AMX" if has("amx_tile") else "")
  if has("avx2"):
    return "AVX2 (no AVX-512)"
  if has("avx"):
    return "AVX (no AVX2)"
  if has("sve2") or has("sve"):
    return "SVE2" if has("sve2") else "SVE"
  if has("asimd"):
    return "NEON (no SVE)"
  return "SSE4.2 (no AVX)" if has("sse4_2") else machine


def machine_kind(info: dict) -> str:
  """The short name of the machine a table comes from, and the key of its table in BENCHMARKS.md:
  "CPU model, cores, widest vector extension" on CPU, "device kind, device count" on an accelerator."""
  if info["platform"] != "cpu":
    n = info["num_devices"]
    kind = f"{info['device_kind']}, {n} device{'s' if n > 1 else ''}"
  else:
    kind = (f"{short_cpu_name(info['cpu_model'])}, {info['cpu_count']} cores, "
            f"{vector_summary(info['vector_extensions'], info['machine'])}")
  return re.sub(r"-{2,}", "-", kind).replace(">", "")  # it goes inside an HTML comment


def device_info() -> dict:
  """The machine of this run: JAX's first device (platform, kind, count), versions and the host CPU."""
  dev = jax.devices()[0]
  try:
    import torch
    torch_version = torch.__version__
  except ImportError:
    torch_version = None
  import jaxlib
  return {"platform": dev.platform, "device_kind": dev.device_kind, "num_devices": jax.device_count(),
          "jax": jax.__version__, "jaxlib": jaxlib.__version__, "torch": torch_version,
          "python": platform.python_version(), **cpu_info()}


def run_record(quick: bool) -> dict:
  """What every results file starts with: the date, the machine and its kind, and --quick."""
  info = device_info()
  return {"date": time.strftime("%Y-%m-%d"), "machine_kind": machine_kind(info), "device": info, "quick": quick}


def machine_text(results: dict) -> str:
  """The machine in a table's header: CPU model, cores, vector extensions, JAX (and the device on an
  accelerator). Results files from before the machine was recorded give what they have."""
  info = results["device"]
  if "cpu_model" not in info:
    return f"{info['device_kind']} ({info['platform']}, {info['cpu_count']} cores, {info['machine']}), JAX {info['jax']}"
  ext = info.get("vector_extensions")
  if ext:
    # In VECTOR_EXTENSIONS' order: results files store the flags with sorted keys.
    known = [f for flags in VECTOR_EXTENSIONS.values() for f in flags]
    present = sorted((f for f, on in ext.items() if on), key=lambda f: known.index(f) if f in known else len(known))
    ext_text = "vector extensions " + (", ".join(present) or "none of those checked")
    if info["machine"] in ("x86_64", "AMD64") and not ext.get("avx512f"):
      ext_text += ", no AVX-512"
  else:
    ext_text = "vector extensions not readable"
  cpu = f"{info['cpu_model']} ({info['cpu_count']} cores, which other processes may share; {ext_text})"
  device = cpu if info["platform"] == "cpu" else (
      f"{info['num_devices']} × {info['device_kind']} ({info['platform']}) with a host {cpu}")
  versions = f"JAX {info['jax']}, jaxlib {info['jaxlib']}" + (f", PyTorch {info['torch']}" if info.get("torch") else "")
  return f"{device}, {versions}"


def table_row(name, value, base_name, base, target=None, unit="") -> str:
  """One row of a results table: value, baseline, their ratio and (if given) the target ratio."""
  ratio = value / base
  met = "" if target is None else ("yes" if ratio >= target else "**no**")
  return (f"| {name} | {value:.4g}{unit} | {base_name} {base:.4g}{unit} | {ratio:.3f} | "
          f"{'' if target is None else f'≥ {target:g}'} | {met} |")


# The sections of BENCHMARKS.md that hold one table per machine kind: marker → heading.
SECTIONS = {"table": "## Training, sweeps and f_emp",
            "diffusion": "## The diffusion model",
            "deep": "## Deep denoisers (U-Net)",
            "accelerator table": "## On an accelerator"}
PLACEHOLDER_KIND = "none"  # a section's stand-in block until its first table, removed by the first


def write_machine_block(path: Path, section: str, kind: str, body: str) -> None:
  """Puts ``body`` between ``<!-- section: kind -->`` and ``<!-- /section: kind -->`` in path,
  leaving the blocks of other machine kinds in place: this kind's block is replaced where it exists;
  else the body takes the section's placeholder block (kind "none"), or follows the section's last
  block, or ends the section (its heading from ``SECTIONS``, appended to the file if missing)."""
  text = path.read_text() if path.exists() else "# Benchmarks\n"
  tag = re.escape(section)
  block_re = lambda k: re.compile(rf"<!-- {tag}: {re.escape(k)} -->\n.*?<!-- /{tag}: {re.escape(k)} -->", re.S)
  block = f"<!-- {section}: {kind} -->\n{body}\n<!-- /{section}: {kind} -->"
  for k in (kind, PLACEHOLDER_KIND):
    found = list(block_re(k).finditer(text))
    if found:  # the first one takes the block; any duplicates go
      for m in reversed(found[1:]):
        text = text[:m.start()].rstrip("\n") + "\n\n" + text[m.end():].lstrip("\n")
      text = text[:found[0].start()] + block + text[found[0].end():]
      path.write_text(text)
      return
  ends = [m.end() for m in re.finditer(rf"<!-- /{tag}: .*? -->", text)]
  heading = re.search(rf"^{re.escape(SECTIONS[section])}$", text, flags=re.M)
  if ends:  # after the section's last table
    at = ends[-1]
  elif heading:  # at the end of the section: before the next "## " heading, or the end of the file
    following = re.search(r"^## ", text[heading.end():], flags=re.M)
    at = len(text[:heading.end() + following.start() if following else len(text)].rstrip("\n"))
  else:
    text = text.rstrip("\n") + f"\n\n{SECTIONS[section]}"
    at = len(text)
  rest = text[at:]
  path.write_text(text[:at] + f"\n\n{block}" + ("\n" if not rest.strip() else "") + rest)


def write_accelerator_markdown(results: dict, path: Path) -> None:
  """This machine's table in the accelerator section of BENCHMARKS.md."""
  r = results["accelerator"]
  lines = list(TABLE_HEAD)

  def row(*args, **kwargs):
    lines.append(table_row(*args, **kwargs))

  limit = r["matmul_gflops"] * 1e9 / (10 * B * D * P)
  for sampler in SAMPLERS_DEFAULT_FIRST:
    row(f"one model ({sampler_label(sampler)}), steps/s", r["one_model"][f"jax_steps_per_s_{sampler}"],
        "matmul-bound limit", limit)
  for k, v in r["sweeps"].items():
    row(f"sweep K={k} (vmap), model-steps/s", v["sweep_vmap"], "one after the other", v["sequential"],
        20.0 if int(k) == 64 else None)
    row(f"sweep K={k} (map), model-steps/s", v["sweep_map"], "one after the other", v["sequential"])
  for f in r["femp"]:
    row(f"f_emp n={f['n']}, GFLOP/s", f["gflops"], "matmul rate, same rounds", f["matmul_gflops"],
        0.9 if f["n"] >= 60000 else None)
  lines.append(f"| swept vs trained alone, max abs difference of W | {r['sweep_vs_alone_max_abs_diff']:.2g} | "
               f"max abs W {r['weights_max_abs']:.3g} | | | |")
  unet = r.get("unet")
  if unet:
    lines.append(f"| U-Net of the deep denoisers (C = {unet['width']}, batch {unet['batch']}), one model, steps/s | "
                 f"{unet['one_model']['jax_steps_per_s']:.1f} | | | | |")
    if "sweep" in unet:
      sw = unet["sweep"]
      row(f"U-Net sweep K={sw['k']} (vmap), model-steps/s", sw["vmap_model_steps_per_s"], "one after the other",
          sw["sequential_model_steps_per_s"])
  smoke = (" No accelerator was found: a smoke run on the CPU." if results["device"]["platform"] == "cpu" else "")
  size = " A `--quick` run: fewer steps and rounds." if results.get("quick") else ""
  header = (f"Measured {results['date']} on {machine_text(results)}; {r['steps']} steps a model, median of "
            f"{r['reps']}; matmul rate {r['matmul_gflops']:.0f} GFLOP/s ({r['gemm_size']}² float32 GEMM, HIGHEST "
            f"precision); d = {D}, p = {P}, batch {B}, σ = {SIGMA}, Adam; noise {DEFAULT_SAMPLER} (the default) "
            f"where no sampler is named.{smoke}{size}")
  write_machine_block(path, "accelerator table", results["machine_kind"],
                      f"### {results['machine_kind']}\n\n{header}\n\n" + "\n".join(lines))


def _threads(count: int) -> str:
  return f"{count} thread{'s' if count > 1 else ''}"


def _faster_threads(count: int, cores) -> str:
  """Which thread count a PyTorch baseline ran on (it takes the faster of 1 and one per core)."""
  return f"{_threads(count)}: the faster of 1 and {cores}"


def write_diffusion_markdown(results: dict, path: Path) -> None:
  """This machine's table in the diffusion section of BENCHMARKS.md."""
  r = results["diffusion"]
  lines = list(TABLE_HEAD)

  def row(*args, **kwargs):
    lines.append(table_row(*args, **kwargs))

  one = r["one_model"]
  cores = results["device"]["cpu_count"]
  if "torch_steps_per_s" in one:
    threads = one.get("torch_threads")
    label = "PyTorch (authors'-style loop" + (f", {_faster_threads(threads, cores)}" if threads else "") + "), same rounds"
    row("diffusion, one model, steps/s", one["jax_steps_per_s"], label, one["torch_steps_per_s"], 2.0)
  if "matmul_limit_steps_per_s" in one:
    row("diffusion, one model, steps/s", one["jax_steps_per_s"], "matmul-bound limit, same rounds",
        one["matmul_limit_steps_per_s"])
    if "torch_steps_per_s" in one:
      row("PyTorch (authors'-style loop), steps/s", one["torch_steps_per_s"], "matmul-bound limit, same rounds",
          one["matmul_limit_steps_per_s"])
  for k, v in r["sweeps"].items():
    row(f"diffusion sweep K={k} (train_sweep, {r.get('sweep_vectorize', 'default')}), model-steps/s", v["sweep"],
        "dt.train one after the other", v["sequential"], 1.0)
  s = r["network_sampler"]
  row(f"network sampler m={r['sampler_m']} (ancestral, default), steps/s", s["ancestral_steps_per_s"],
      "matmul-bound limit, same rounds", s["matmul_limit_steps_per_s"], 0.5)
  row(f"network sampler m={r['sampler_m']} (euler, no noise), steps/s", s["euler_steps_per_s"],
      "matmul-bound limit, same rounds", s["matmul_limit_steps_per_s"])
  f = r["femp_sampler"]
  row(f"f_emp sampler n={f['n']}, m={r['femp_m']}, GFLOP/s", f["gflops"], "matmul rate, same rounds",
      f["matmul_gflops"], 0.8)
  mem = r["femp_sampler"]["memory"]
  for e in mem:
    grows = e["temp_bytes"] > 1.01 * mem[0]["temp_bytes"]
    lines.append(f"| f_emp sampler n={e['n']}, XLA temp memory | {e['temp_bytes'] / 2**20:.1f} MiB | n={mem[0]['n']}: "
                 f"{mem[0]['temp_bytes'] / 2**20:.1f} MiB (X itself {e['x_bytes'] / 2**20:.1f} MiB) | "
                 f"{e['temp_bytes'] / mem[0]['temp_bytes']:.3f} | independent of n | {'**no**' if grows else 'yes'} |")
  rounds = [f"{v} for K = {k}" for k, v in r.get("sweep_reps", {}).items() if v != r["reps"]]
  rounds = ", ".join(rounds + [f"{r.get('sampler_reps', r['reps'])} for the samplers"])
  size = "A `--quick` run: fewer steps, rounds and sweeps. " if results.get("quick") else ""
  header = (f"Measured {results['date']} on {machine_text(results)}; these rows took {r['seconds']:.0f} s of "
            f"`{'make bench' if 'one_model' in results else 'bench.py --diffusion'}"
            f"{' --quick' if results.get('quick') else ''}`. GEMM rate (2048² float32) "
            f"{r['matmul_gflops_start']:.0f} GFLOP/s at the start of the run and {r['matmul_gflops_end']:.0f} at "
            f"its end; each ratio uses the GEMM timed in its own rounds. {size}Sizes: d = {r['d']}, p = {r['p']}, "
            f"H = {r['time_hidden']}, batch {r['batch']}, the `diffusion_generalizing_cpu` recipe at a constant "
            f"learning rate; one model {r['steps']} steps (PyTorch {r.get('torch_steps', r['steps'])}), sweeps "
            f"{r['sweep_steps']} steps a model, median of {r['reps']} interleaved rounds ({rounds}); samplers "
            f"on the grid geometric_sigmas{tuple(r['grid'])} ({r['network_sampler']['steps']} steps), the f_emp "
            f"sampler timed on geometric_sigmas({r['grid'][0]}, {r['grid'][1]}, {r['femp_levels']}) "
            f"({r['femp_sampler']['steps']} steps; a step costs the same at every σ), random data.")
  if "torch_max_abs_diff" in r:
    worst = r["torch_max_abs_diff"]
    verdict = ("The PyTorch loop does the JAX loop's arithmetic" if worst < MECHANICS_TOLERANCE else
               f"DO NOT trust the PyTorch ratio: the PyTorch loop does not do the JAX loop's arithmetic "
               f"(tolerance {MECHANICS_TOLERANCE:.0e})")
    header += (f" {verdict}: from the same parameters, batches, σ's and noise, 5 Adam steps in "
               f"float64 agree to max |Δparam| = {worst:.1e} (W, time MLP and skip).")
  per_thread = sorted((int(n.split("_")[1]), v) for n, v in one.items() if n.endswith("_threads_steps_per_s"))
  if per_thread:
    header += (" PyTorch's loop ran at " + " and ".join(f"{v:.4g} steps/s on {_threads(t)}" for t, v in per_thread)
               + " (same rounds).")
  write_machine_block(path, "diffusion", results["machine_kind"],
                      f"### {results['machine_kind']}\n\n{header}\n\n" + "\n".join(lines))


def write_deep_markdown(results: dict, path: Path) -> None:
  """This machine's table in the deep denoisers (U-Net) section of BENCHMARKS.md."""
  r = results["deep"]
  lines = list(TABLE_HEAD)
  one, check = r["one_model"], r.get("torch_check")
  cores = results["device"]["cpu_count"]
  if "torch_steps_per_s" in one:
    threads = one["torch_threads"]
    row = table_row("U-Net, one model (`dt.train_model`), steps/s", one["jax_steps_per_s"],
                    f"PyTorch, same architecture ({_faster_threads(threads, cores)}), same rounds",
                    one["torch_steps_per_s"], 1.0)
    lines.append(row)
  if "sweep" in r:
    s = r["sweep"]
    lines.append(table_row(f"U-Net sweep K={s['k']} (`train_sweep`, `models_per_chunk={s['k']}`: vmap in one "
                           f"program), model-steps/s", s["vmap_model_steps_per_s"],
                           "`train_sweep` default (one model a chunk: one after the other), same rounds",
                           s["sequential_model_steps_per_s"]))
  if check:
    ok = lambda v, tol: f"≤ {tol:.0e} | {'yes' if v <= tol else '**no**'}".replace("e-0", "e-")
    lines.append(f"| PyTorch twin against the library, D(y, σ), max abs difference (float32) | "
                 f"{check['denoiser_max_abs_diff']:.2g} | max abs D {check['denoiser_max_abs']:.3g} | | "
                 f"{ok(check['denoiser_max_abs_diff'], UNET_TOLERANCE)} |")
    lines.append(f"| PyTorch twin against the library, loss, abs difference (float32) | {check['loss_abs_diff']:.2g} | "
                 f"loss {check['loss']:.4g} | | {ok(check['loss_abs_diff'], UNET_TOLERANCE)} |")
    if "adam_step_float64_params_max_abs_diff" in check:
      v = check["adam_step_float64_params_max_abs_diff"]
      lines.append(f"| PyTorch twin against the library, one Adam step, max abs difference of the parameters "
                   f"(float64) | {v:.2g} | max abs update {check['adam_step_max_abs_update']:.3g} | | "
                   f"{ok(v, MECHANICS_TOLERANCE)} |")
  arch = r["arch"]
  size = ("A `--quick` run: fewer steps and rounds, no sweep, and no float64 Adam step in the check. "
          if results.get("quick") else "")
  first = f"the first calls, which compile, took {one['jax_first_call_s']:.0f} s for one model"
  if "sweep" in r:
    first += (f", {r['sweep']['vmap_first_call_s']:.0f} s for the vmapped sweep and "
              f"{r['sweep']['sequential_first_call_s']:.0f} s for the default one")
  header = (f"Measured {results['date']} on {machine_text(results)}; these rows took {r['seconds']:.0f} s of "
            f"`{'make bench' if 'one_model' in results else 'bench.py --deep'}"
            f"{' --quick' if results.get('quick') else ''}` ({first}). {size}Sizes: the 8×8 digits "
            f"(d = {r['d']}, {r['num_images']:,} images), `UNetConfig(image_shape={tuple(arch['image_shape'])}, "
            f"channel_mult={tuple(arch['channel_mult'])}, blocks_per_level={arch['blocks_per_level']}, "
            f"groups={arch['groups']}, embedding={arch['embedding']})` at C = {r['width']}"
            + (f" ({check['parameters']:,} parameters)" if check else "")
            + f", batch {r['batch']}, Adam lr 1e-3 with a cosine decay to 0 (the experiment's recipe); one model "
            f"{r['steps']} steps (PyTorch {r['torch_steps']})"
            + (f", the sweep {r['sweep_steps']} steps a model over n = {', '.join(f'{n:,}' for n in r['sweep_sizes'])}"
               if "sweep" in r else "")
            + f"; median of {r['reps']} interleaved rounds.")
  if check:
    bad = (check["denoiser_max_abs_diff"] > UNET_TOLERANCE or check["loss_abs_diff"] > UNET_TOLERANCE
           or check.get("adam_step_float64_params_max_abs_diff", 0.0) > MECHANICS_TOLERANCE
           or check["parameters"] != check["torch_parameters"])
    verdict = ("DO NOT trust the PyTorch ratio: the twin does not compute the library's U-Net" if bad else
               "The PyTorch twin computes the library's U-Net")
    header += (f" {verdict}: {check['torch_parameters']:,} parameters against {check['parameters']:,}; from the "
               f"same weights D(y, σ) and the loss agree in float32 to the rows below"
               + (", one step of the engine's update and of PyTorch's Adam in float64" if
                  "adam_step_float64_params_max_abs_diff" in check else "") + ".")
  probes = sorted((int(n.split("_")[1]), v) for n, v in one.items() if n.endswith("_probe_steps_per_s"))
  if probes:
    header += (f" PyTorch's thread count was picked by a probe of {UNET_TORCH_PROBE} steps: "
               + " and ".join(f"{v:.3g} steps/s on {_threads(t)}" for t, v in probes) + ".")
  write_machine_block(path, "deep", results["machine_kind"],
                      f"### {results['machine_kind']}\n\n{header}\n\n" + "\n".join(lines))


def fit_exponent(xs, ts) -> float:
  return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def write_markdown(results: dict, path: Path) -> None:
  """This machine's table in the training, sweeps and f_emp section of BENCHMARKS.md."""
  r = results
  one, sw, fe = r["one_model"], r["sweeps"], r["femp"]
  lines = list(TABLE_HEAD)

  def row(*args, **kwargs):
    lines.append(table_row(*args, **kwargs))

  def threads(count) -> str:
    return f", {_faster_threads(count, r['device'].get('cpu_count', 'all'))}" if count else ""

  for sampler in SAMPLERS_DEFAULT_FIRST:
    rate, name = one[f"jax_steps_per_s_{sampler}"], f"one model ({sampler_label(sampler)}), steps/s"
    row(name, rate, "matmul-bound limit", one["matmul_limit_steps_per_s"], 0.6)
    if one.get("torch_steps_per_s"):
      mechanics = ": two tied Parameters, as the notebook" if one.get("tied_gradient") == "per_side" else ""
      row(name, rate, f"PyTorch (authors' loop{mechanics}{threads(one.get('torch_threads'))}), same rounds",
          one["torch_steps_per_s"], 2.0)
  for sampler in SAMPLERS_DEFAULT_FIRST:
    if f"jax_steps_per_s_{sampler}_joint" in one:
      row(f"one model ({sampler_label(sampler)}, one state for the tied W), steps/s",
          one[f"jax_steps_per_s_{sampler}_joint"],
          f"PyTorch, one tied Parameter{threads(one.get('torch_threads_joint'))}, same rounds",
          one["torch_steps_per_s_joint"], 2.0)
  for sampler in SAMPLERS_DEFAULT_FIRST:
    row(f"one model ({sampler_label(sampler)}), steps/s", one[f"jax_steps_per_s_{sampler}"], "jax.random.normal noise",
        one["jax_steps_per_s_jax_normal"], 1.0)
  for sampler in SAMPLERS_DEFAULT_FIRST:
    row(f"noise ({sampler_label(sampler)}), normals/ns", 1 / one[f"noise_ns_{sampler}"], "jax.random.normal",
        1 / one["noise_ns_jax_normal"], 1.0)

  def torch_rows(name, v):
    """The sweep against the PyTorch loop timed in the same rounds (where torch is installed)."""
    if "torch" in v:
      label = f"PyTorch one after the other{threads(v.get('torch_threads'))}, same rounds"
      row(name, v["sweep_map"], label, v["torch"], 2.0)
      if "sweep_map_threefry_pairs" in v:
        row(name.replace("(map", "(map, threefry_pairs"), v["sweep_map_threefry_pairs"], label, v["torch"], 2.0)

  for k, v in sw.items():
    row(f"sweep K={k} (map), model-steps/s", v["sweep_map"], "one after the other", v["sequential"], 1.0)
    row(f"sweep K={k} (vmap), model-steps/s", v["sweep_vmap"], "one after the other", v["sequential"], 1.0)
    torch_rows(f"sweep K={k} (map), model-steps/s", v)
  for k, v in r.get("sweeps_host_devices", {}).items():
    name = f"sweep K={k} (map, {v['num_devices']} host devices), model-steps/s"
    row(name, v["sweep_map"], "one after the other (same process)", v["sequential"], 1.0)
    row(name, v["sweep_map"], "one after the other, 1 device", sw[k]["sequential"], 1.0)
    torch_rows(name, v)
  for f in fe:
    row(f"f_emp n={f['n']}, GFLOP/s", f["gflops"], "matmul rate, same rounds", f["matmul_gflops"],
        0.9 if f["n"] >= 60000 else None)
    if "torch_seconds" in f:
      row(f"f_emp n={f['n']}, 1/s", 1 / f["seconds"], "torch.cdist+softmax", 1 / f["torch_seconds"], 1.5)
  for f in fe:
    lines.append(f"| f_emp n={f['n']}, XLA temp memory | {f['temp_bytes'] / 2**20:.1f} MiB | X itself "
                 f"{f['x_bytes'] / 2**20:.1f} MiB | {f['temp_bytes'] / f['x_bytes']:.3f} | ≤ 0.2 + O(m·chunk) | "
                 f"{'yes' if f['temp_bytes'] <= 0.2 * f['x_bytes'] + 8 * 4 * (f['m'] * f['chunk'] + f['chunk'] * D) else '**no**'} |")
  lines.append(f"| f_emp time vs n, fitted exponent | {r['scaling']['femp_exponent']:.2f} | linear | | ≈ 1 | |")
  lines.append(f"| sweep time vs K, fitted exponent | {r['scaling']['sweep_exponent']:.2f} | linear | | ≈ 1 | |")
  table = "\n".join(lines)
  header = (f"Measured {r['date']} on {machine_text(r)}; matmul rate {r['matmul_gflops']:.1f} GFLOP/s (fastest of "
            f"{', '.join(f'{g:.0f}' for g in r.get('matmul_gflops_samples', [r['matmul_gflops']]))}); "
            f"d = {D}, p = {P}, batch {B}, σ = {SIGMA}, Adam; noise {DEFAULT_SAMPLER} (the default) where no "
            f"sampler is named.")
  if r.get("quick"):
    header += " A `--quick` run: fewer steps, rounds and f_emp sizes."
  if "posterior_temp_bytes" in fe[0]:
    header += (f" XLA temporary memory: of `dt.empirical_denoiser`, the call timed, at its default chunk of "
               f"{fe[0]['chunk']} rows (`dt.empirical_posterior` with log-normaliser and entropy: "
               f"{fe[0]['posterior_temp_bytes'] / 2**20:.1f} MiB at n = {fe[0]['n']}).")
  diffs = one.get("torch_mechanics_max_abs_diff")
  if isinstance(diffs, dict):
    worst = max(diffs.values())
    verdict = ("do the JAX loops' arithmetic" if worst < MECHANICS_TOLERANCE else
               f"DO NOT do the JAX loops' arithmetic (tolerance {MECHANICS_TOLERANCE:.0e})")
    header += (f" The PyTorch loops {verdict}: from the same W, batches and noise, 5 steps in float64 (Adam and "
               f"RMSprop, per side and joint) agree to max |ΔW| = {worst:.1e}.")
  write_machine_block(path, "table", r["machine_kind"], f"### {r['machine_kind']}\n\n{header}\n\n{table}")


def render(results_path: Path, markdown: Path) -> None:
  """Rewrites, in ``markdown``, the tables a results file holds (for its machine kind), measuring nothing."""
  results = dt.load_json(results_path)
  if not results.get("machine_kind"):
    raise SystemExit(f"{results_path} records no machine_kind: add one (the name of its table) first")
  if "one_model" in results:
    write_markdown(results, markdown)
  if "diffusion" in results:
    write_diffusion_markdown(results, markdown)
  if "deep" in results:
    write_deep_markdown(results, markdown)
  if "accelerator" in results:
    write_accelerator_markdown(results, markdown)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions (a smoke run)")
  parser.add_argument("--out", help="results file (default benchmarks/results.json, or "
                                    "benchmarks/results-accelerator.json with --accelerator)")
  parser.add_argument("--markdown", default=str(HERE.parent / "BENCHMARKS.md"),
                      help="the file whose table for this machine kind is rewritten (default BENCHMARKS.md)")
  parser.add_argument("--accelerator", action="store_true",
                      help="only the GPU/TPU rows (sized for minutes); writes --out (default "
                           "benchmarks/results-accelerator.json) and this device's accelerator table of --markdown")
  parser.add_argument("--diffusion", action="store_true",
                      help="only the diffusion model's rows (a few minutes on a 2-core CPU); writes --out (default "
                           "benchmarks/results-diffusion.json) and this machine's diffusion table of --markdown")
  parser.add_argument("--deep", action="store_true",
                      help="only the deep denoisers' U-Net rows (a few minutes on a 2-core CPU, mostly compiling); "
                           "writes --out (default benchmarks/results-deep.json) and this machine's U-Net table of "
                           "--markdown")
  parser.add_argument("--render", metavar="RESULTS_JSON",
                      help="measure nothing: rewrite the tables of --markdown that this results file holds")
  parser.add_argument("--sweep-only", type=int, help=argparse.SUPPRESS)  # internal: one K, JSON to stdout
  parser.add_argument("--sweep-reps", type=int, default=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.sweep_only:
    rates = sweep_rates(bench_data(), training_config(SWEEP_STEPS), args.sweep_only, args.sweep_reps)
    print(json.dumps({**rates, "num_devices": jax.device_count()}))
    return
  if args.render:
    render(Path(args.render), Path(args.markdown))
    print("wrote", args.markdown)
    return
  results = run_record(args.quick)
  print("machine:", results["machine_kind"], flush=True)
  # --diffusion and --deep: one section's rows, into its own results file and table.
  for key, run, write in (("diffusion", diffusion_bench, write_diffusion_markdown),
                           ("deep", unet_bench, write_deep_markdown)):
    if getattr(args, key):
      out = Path(args.out or HERE / f"results-{key}.json")
      results[key] = run(args.quick)
      dt.save_json(out, results)
      write(results, Path(args.markdown))
      print("wrote", out, "and", args.markdown)
      return
  if args.accelerator:
    if jax.default_backend() == "cpu":
      print("warning: no accelerator found; the accelerator rows run on the CPU (a smoke run)", flush=True)
    out = Path(args.out or HERE / "results-accelerator.json")
    results["accelerator"] = accelerator_bench(args.quick)
    dt.save_json(out, results)
    write_accelerator_markdown(results, Path(args.markdown))
    print("wrote", out, "and", args.markdown)
    return
  reps = 2 if args.quick else 5
  steps = 200 if args.quick else 1000
  with_torch = torch_available()
  x = bench_data()

  # A shared host's matmul rate drifts during a run: sampled at the start and again before the
  # f_emp timings; the limit is the fastest sample (the conservative choice for our ratios).
  rate_samples = [matmul_rate(reps)]
  print(f"matmul rate {rate_samples[0]:.1f} GFLOP/s", flush=True)

  cfg = training_config(steps)
  one = jax_train_rates(x, cfg, dt.NOISE_SAMPLERS, reps, with_torch)
  one["tied_gradient"] = cfg.tied_gradient
  if with_torch:
    one["torch_mechanics_max_abs_diff"] = torch_mechanics_differences()
    print("PyTorch against the library's updates, max |ΔW|:", one["torch_mechanics_max_abs_diff"], flush=True)
  for sampler in dt.NOISE_SAMPLERS:
    one[f"noise_ns_{sampler}"] = noise_ns_per_normal(sampler, reps)
  one["noise_fraction_of_step"] = (one[f"noise_ns_{DEFAULT_SAMPLER}"] * 1e-9 * B * D
                                   * one[f"jax_steps_per_s_{DEFAULT_SAMPLER}"])
  results["one_model"] = one
  print("one model:", json.dumps(one, indent=1), flush=True)

  sweep_cfg = training_config(SWEEP_STEPS)
  results["sweeps"] = {}
  for k in (16, 64):
    results["sweeps"][k] = sweep_rates(x, sweep_cfg, k, sweep_reps(k, args.quick))
    print(f"sweep K={k}:", results["sweeps"][k], flush=True)

  cores = os.cpu_count() or 1
  results["sweeps_host_devices"] = {}
  if cores > 1:
    for k in (16, 64):
      results["sweeps_host_devices"][k] = sweep_rates_on_host_devices(k, sweep_reps(k, args.quick), cores)
      print(f"sweep K={k} on {cores} host devices:", results["sweeps_host_devices"][k], flush=True)

  sizes = (10_000, 60_000) if args.quick else (10_000, 60_000, 200_000)
  rate_samples.append(matmul_rate(reps))
  rate = max(rate_samples)
  results["matmul_gflops"], results["matmul_gflops_samples"] = rate, rate_samples
  one["matmul_limit_steps_per_s"] = rate * 1e9 / (10 * B * D * P)
  print(f"matmul rate samples {rate_samples}", flush=True)
  results["femp"] = [femp_bench(n, 1000, rate, reps, with_torch) for n in sizes]
  for f in results["femp"]:
    print("f_emp:", f, flush=True)

  ks = [16, 64]
  results["scaling"] = {
      "femp_exponent": fit_exponent([f["n"] for f in results["femp"]], [f["seconds"] for f in results["femp"]]),
      "sweep_exponent": fit_exponent(ks, [k * sweep_cfg.steps / results["sweeps"][k]["sweep_map"] for k in ks]),
  }
  results["diffusion"] = diffusion_bench(args.quick, with_torch)  # the rows of --diffusion, in this run
  results["deep"] = unet_bench(args.quick, with_torch)  # the rows of --deep, in this run
  out = Path(args.out or HERE / "results.json")
  dt.save_json(out, results)
  write_markdown(results, Path(args.markdown))
  write_diffusion_markdown(results, Path(args.markdown))
  write_deep_markdown(results, Path(args.markdown))
  print("wrote", out, "and", args.markdown)


if __name__ == "__main__":
  main()
