"""The models the training engine can train, each a NamedTuple of pure functions.

A ``Model`` is what the engine needs to know about a network: how to initialise its parameters
and its objective on one minibatch. The engine owns everything else (keys, batches, noise, the
optimiser, the loop, sweeps, the store), so one compiled loop serves every model:

    params = model.init(key, dim, width_max, cfg, dtype)
    loss   = model.objective(params, batch, noise, weights, spec, cfg, key)

``batch`` is (B, d) clean rows, ``noise`` (draws, B, d) standard normals drawn by the engine
(``cfg.noise_sampler``), ``weights`` a (B,) 0/1 row mask for full-batch training on a prefix of
the data (else None), ``spec`` the per-model ``ModelSpec`` (σ, σ_min, λ, …) and ``key`` a per-step
key for the model's own randomness (the diffusion model's noise levels). Widths are padded to
the sweep's largest p: ``unit_mask(params, width)`` gives the 0/1 multipliers that keep the
padded units at exactly zero. Write your own ``Model`` to train another network with
``engine.train_model`` / ``sweep.train_sweep``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from dae_theory._src.config import TrainConfig
from dae_theory._src.diffusion import (DiffusionParams, diffusion_objective, init_diffusion_params,
                                       log_uniform_sigmas)
from dae_theory._src.loss import batch_mean, weight_penalty
from dae_theory._src.model import DAEParams, HIGHEST, init_params


class Model(NamedTuple):
  """A trainable model as pure functions (hashable: the engine compiles one program per model).

  Attributes:
    name: identifies the model in configs, results and fingerprints.
    init: (key, dim, width_max, cfg, dtype) -> params at the full (padded) width.
    objective: (params, batch, noise, weights, spec, cfg, key) -> the scalar training objective.
    unit_mask: (params, width) -> a pytree like params of 0/1 multipliers (or None leaves) that
      zero the units ≥ width. Compute every mask from ``width`` (even an all-ones one): a
      parameter initialised to a constant must vary over a sharded sweep's model axis.
    optimizer_view: (params, cfg) -> the pytree the optimiser sees (default: params itself).
    merge_updates: (updates, cfg) -> updates shaped like params (default: updates itself).
    cut_width: (params, width) -> one model's parameters cut to its own width.
    sweep_fields: the ``ModelSpec`` fields the model reads besides seed, n, λ, lr and width.
    loop_on_cpu: the engine's loop for this model on CPU: "scan" (one compiled program; fastest
      for matrix models) or "python" (a Python loop over the jitted step: XLA:CPU runs
      convolutions about 40× slower inside a loop). Other backends always scan.
    fixed_width: the width is part of the architecture (a deep MLP's p, a U-Net's channels) and
      cannot be padded: a sweep must give every model the same width.
  """

  name: str
  init: Callable
  objective: Callable
  unit_mask: Callable
  optimizer_view: Callable | None = None
  merge_updates: Callable | None = None
  cut_width: Callable | None = None
  sweep_fields: tuple[str, ...] = ()
  loop_on_cpu: str = "scan"
  fixed_width: bool = False


# ----------------------------------------------------------------------------------------------
# The one-σ ReLU-DAE (eq. 5–6)
# ----------------------------------------------------------------------------------------------


def dae_data_term(params: DAEParams, batch, noise, weights, sigma, per_pixel: bool):
  """Weighted mean over the batch (and draws) of ‖W2 [W1ᵀ(x + σε)]₊ − x‖² (/ d when per_pixel).

  Args: params (d, p); batch (B, d); noise (draws, B, d); weights (B,) or None; σ a scalar.
  """
  y = batch[None] + sigma * noise  # (draws, B, d)
  h = jax.nn.relu(jnp.matmul(y, params.w1, precision=HIGHEST))
  out = jnp.matmul(h, params.decoder.T, precision=HIGHEST)
  err = jnp.mean(jnp.sum((out - batch[None]) ** 2, axis=-1), axis=0)  # (B,)
  data = batch_mean(err, weights)
  return data / batch.shape[-1] if per_pixel else data


def _dae_init(key, dim, width_max, cfg: TrainConfig, dtype):
  return init_params(key, dim, width_max, tied=cfg.tied, scale=cfg.init_scale, dtype=dtype)


def _dae_objective(params, batch, noise, weights, spec, cfg: TrainConfig, key):
  del key  # the DAE's only randomness is the engine's noise
  sigma, lam = spec.sigma.astype(batch.dtype), spec.lam.astype(batch.dtype)
  return dae_data_term(params, batch, noise, weights, sigma, cfg.loss_convention == "torch") + lam * weight_penalty(params)


def _column_mask(w, width):
  return (jnp.arange(w.shape[-1]) < width).astype(w.dtype)[None, :]


def _dae_unit_mask(params, width):
  mask = _column_mask(params.w1, width)
  return DAEParams(mask, None if params.w2 is None else mask)


def _per_side(cfg: TrainConfig) -> bool:
  return cfg.tied and cfg.tied_gradient == "per_side"


def _dae_optimizer_view(params, cfg: TrainConfig):
  # PyTorch's tied mechanics: encoder and decoder sides are two parameters on one storage.
  return DAEParams(params.w1, params.w1) if _per_side(cfg) else params


def _dae_merge_updates(updates, cfg: TrainConfig):
  return DAEParams(updates.w1 + updates.w2) if _per_side(cfg) else updates


def _cut_columns(params, width):
  return jax.tree.map(lambda w: w[..., :width], params)


RELU_DAE = Model("relu_dae", _dae_init, _dae_objective, _dae_unit_mask, _dae_optimizer_view, _dae_merge_updates,
                 _cut_columns, ("sigma",))


# ----------------------------------------------------------------------------------------------
# The multi-noise ReLU diffusion model (diffusion.py)
# ----------------------------------------------------------------------------------------------


def _diffusion_init(key, dim, width_max, cfg: TrainConfig, dtype):
  return init_diffusion_params(key, dim, width_max, time_hidden=cfg.time_hidden, tied=cfg.tied, gate=cfg.gate,
                               skip=cfg.skip, scale=cfg.init_scale, dtype=dtype)


def _diffusion_objective(params, batch, noise, weights, spec, cfg: TrainConfig, key):
  dtype = batch.dtype
  sigmas = log_uniform_sigmas(key, batch.shape[0], spec.sigma_min.astype(dtype), spec.sigma.astype(dtype), dtype)
  return diffusion_objective(params, batch, noise[0], sigmas, weights, spec.lam.astype(dtype),
                             cfg.loss_convention == "torch")


def _diffusion_unit_mask(params, width):
  mask = _column_mask(params.w1, width)
  gate = None
  if params.gate is not None:
    gate = jax.tree.map(jnp.ones_like, params.gate)
    gate["out"] = {"kernel": mask.astype(params.gate["out"]["kernel"].dtype),
                   "bias": mask[0].astype(params.gate["out"]["bias"].dtype)}
  # The skip's mask is 1 but computed from the width, so that under a sharded sweep the skip (a
  # constant at init) varies over the model axis like every other parameter.
  skip = None if params.skip is None else (width > 0).astype(params.skip.dtype)
  return DiffusionParams(mask, None if params.w2 is None else mask, gate, skip)


def _diffusion_cut_width(params, width):
  gate = params.gate
  if gate is not None:
    gate = {**gate, "out": jax.tree.map(lambda a: a[..., :width], gate["out"])}
  return DiffusionParams(params.w1[..., :width], None if params.w2 is None else params.w2[..., :width], gate,
                         params.skip)


RELU_DIFFUSION = Model("relu_diffusion", _diffusion_init, _diffusion_objective, _diffusion_unit_mask,
                       cut_width=_diffusion_cut_width, sweep_fields=("sigma", "sigma_min"))

MODELS = {m.name: m for m in (RELU_DAE, RELU_DIFFUSION)}


def get_model(name: str) -> Model:
  """The built-in ``Model`` of that name ("relu_dae" or "relu_diffusion")."""
  if name not in MODELS:
    raise ValueError(f"model must be one of {tuple(MODELS)}, got {name!r}")
  return MODELS[name]
