"""The denoising objective (paper eq. 6) and the authors' PyTorch convention.

    L_X(W1, W2) = (1/n) Σ_i E_ε ‖f(x_i + σ ε) − x_i‖² + λ (‖W1‖²_F + ‖W2‖²_F),   ε ~ N(0, I_d).

Tied weights are penalised on both sides: 2 λ ‖W‖²_F.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dae_theory._src import checks
from dae_theory._src.model import DAEParams, dae_apply


def batch_mean(err: jax.Array, weights: jax.Array | None) -> jax.Array:
  """The mean of per-row errors (B,), or Σ w_i e_i / Σ w_i with 0/1 row weights (a prefix of the data)."""
  return jnp.mean(err) if weights is None else jnp.sum(weights * err) / jnp.sum(weights)


def weight_penalty(params: DAEParams) -> jax.Array:
  """Σ_l ‖W_l‖²_F over both layers (a tied W counts twice)."""
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  checks.check_array("params.w1", params.w1, ndim=2)
  sq = jnp.sum(params.w1 ** 2)
  return 2.0 * sq if params.w2 is None else sq + jnp.sum(params.w2 ** 2)


def denoising_error(params: DAEParams, x: jax.Array, noise: jax.Array, sigma) -> jax.Array:
  """‖f(x + σ ε) − x‖² for one clean sample x (d,) and one noise draw ε (d,)."""
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  x = checks.check_array("x", x, ndim=1)
  checks.check_dim("x", x, 0, params.w1.shape[0], "the input dimension d of params.w1 (vmap for batches)")
  noise = checks.check_array("noise", noise, ndim=1)
  if tuple(noise.shape) != tuple(x.shape):
    raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
  checks.check_finite("x", x)
  checks.check_finite("noise", noise)
  checks.check_scalar("sigma", sigma, positive=True)
  return _denoising_error(params, jnp.asarray(x), jnp.asarray(noise), sigma)


def _denoising_error(params, x, noise, sigma):
  return jnp.sum((dae_apply(params, x + sigma * noise) - x) ** 2)


def _check_loss_args(params, x, noise, sigma, lam, weights):
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  x = checks.check_array("x", x, ndim=2)
  checks.check_nonempty("x", x)
  checks.check_dim("x", x, 1, params.w1.shape[0], "the input dimension d of params.w1")
  checks.check_finite("x", x)
  if noise is not None:
    noise = checks.check_array("noise", noise, ndim=(2, 3))
    if noise.shape[-2:] != x.shape:
      raise ValueError(f"noise must have shape (n, d) = {tuple(x.shape)} or (draws, n, d), "
                       f"got {tuple(noise.shape)}")
    checks.check_finite("noise", noise)
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  if weights is not None:
    checks.check_weights("weights", weights, x.shape[0])
  return x, noise


def _mean_error(params, x, noise, sigma, weights):
  noise = noise if noise.ndim == 3 else noise[None]
  per_draw = jax.vmap(jax.vmap(_denoising_error, in_axes=(None, 0, 0, None)),
                      in_axes=(None, None, 0, None))(params, x, noise, sigma)  # (draws, n)
  per_sample = jnp.mean(per_draw, axis=0)
  if weights is None:
    return jnp.mean(per_sample)
  weights = jnp.asarray(weights, per_sample.dtype)
  return jnp.sum(weights * per_sample) / jnp.sum(weights)


def dae_loss_given_noise(params: DAEParams, x: jax.Array, noise: jax.Array, sigma, lam, *,
                         weights: jax.Array | None = None) -> jax.Array:
  """Eq. (6) with the noise expectation replaced by the given draws.

  Useful with common random numbers: two parameter sets scored on the same ε.

  Args:
    params: ReLU-DAE weights, (d, p).
    x: clean training samples, (n, d).
    noise: standard normal draws ε, (n, d) or (draws, n, d).
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0 (paper convention).
    weights: optional (n,) non-negative sample weights; the data term becomes the weighted mean
      Σ_i w_i e_i / Σ_i w_i, so a 0/1 mask selects a subset of a padded data array.

  Returns:
    The scalar loss.
  """
  x, noise = _check_loss_args(params, x, noise, sigma, lam, weights)
  return _mean_error(params, x, noise, sigma, weights) + lam * weight_penalty(params)


def dae_loss(params: DAEParams, x: jax.Array, sigma, lam, *, key: jax.Array, num_draws: int = 1,
             weights: jax.Array | None = None) -> jax.Array:
  """Eq. (6): (1/n) Σ_i E‖f(x_i + σε) − x_i‖² + λ Σ_l ‖W_l‖²_F, Monte Carlo over ε.

  The expectation over ε is estimated from ``num_draws`` fresh draws per sample (the authors
  use one draw per sample per step).

  Args:
    params: ReLU-DAE weights, (d, p).
    x: clean training samples, (n, d).
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0 in the paper's convention; from the authors' PyTorch weight decay
      use ``lam_from_torch_weight_decay``.
    key: PRNG key for the noise.
    num_draws: noise draws per sample.
    weights: optional (n,) sample weights (see ``dae_loss_given_noise``).

  Returns:
    The scalar loss estimate.
  """
  num_draws = checks.check_int("num_draws", num_draws)
  x, _ = _check_loss_args(params, x, None, sigma, lam, weights)
  checks.check_key("key", key)
  noise = jax.random.normal(key, (num_draws,) + tuple(x.shape), x.dtype)
  return _mean_error(params, x, noise, sigma, weights) + lam * weight_penalty(params)


def lam_from_torch_weight_decay(weight_decay, dim: int):
  """λ of eq. (6) equivalent to the authors' PyTorch setting: λ = d · wd / 2.

  The authors minimise ``MSELoss`` (mean over the batch AND the d pixels) with PyTorch's
  coupled L2 weight decay ``wd`` (``grad += wd · W``) on each of the encoder and the tied
  decoder. That is the objective ``torch_convention_loss``
  = (1/(n d)) Σ ‖f − x‖² + (wd/2) Σ_l ‖W_l‖²_F, which equals eq. (6) divided by d when
  λ = d · wd / 2: both have the same stationary points.
  Examples: memorising recipe wd = 1e-2 at d = 1024 gives λ = 5.12; generalising wd = 1e-4 gives
  λ = 0.0512.
  """
  checks.check_scalar("weight_decay", weight_decay, nonnegative=True)
  dim = checks.check_int("dim", dim)
  return dim * weight_decay / 2.0


def torch_convention_loss(params: DAEParams, x: jax.Array, noise: jax.Array, sigma, weight_decay, *,
                          weights: jax.Array | None = None) -> jax.Array:
  """The authors' objective: pixel-mean MSE plus (wd/2)‖W_l‖² per side (coupled L2 decay).

      (1/(n·d)) Σ_i ‖f(x_i + σ ε_i) − x_i‖² + (wd/2) (‖W1‖²_F + ‖W2‖²_F)

  Its gradient is PyTorch's ``MSELoss`` gradient plus ``wd · W`` added on each side. Equals
  ``dae_loss_given_noise(..., lam=lam_from_torch_weight_decay(wd, d)) / d``.

  Args:
    params: weights, (d, p).
    x: clean samples, (n, d).
    noise: draws ε, (n, d) or (draws, n, d).
    sigma: noise level σ > 0.
    weight_decay: PyTorch ``weight_decay`` ≥ 0.
    weights: optional (n,) sample weights.
  """
  checks.check_scalar("weight_decay", weight_decay, nonnegative=True)
  x, noise = _check_loss_args(params, x, noise, sigma, 0.0, weights)
  mse = _mean_error(params, x, noise, sigma, weights) / x.shape[1]
  return mse + 0.5 * weight_decay * weight_penalty(params)
