"""Representation steering (paper eq. 11, Sec. 4.2): add a concept direction to the hidden code.

A concept (a mixture component, an image class) is the mean code of reference samples of it,
noised to a level σ̃:

    v = (1/r) Σ_k h(x_k + σ̃ ε_k, σ̃),      h(y, σ) = [W1ᵀy]₊ ⊙ exp(g(log σ)),

and sampling edits the code the decoder reads during a window of steps i ∈ [start, stop):

    h ← h + a · v,        x̂₀ = W2 h + s · y.

The paper's claim: a generalised sample (balanced code) moves smoothly toward the concept as the
strength a grows, while a memorised one (one stored unit far above the rest) stays on its
training image until a is large and then flips.

The window is given in sampler steps of a grid σ_0 > … > σ_{N−1} = 0: step i evaluates the
denoiser at σ_i (and Heun's corrector at σ_{i+1}), and the hook adds a·v to every evaluation at a
level in [σ_{stop−1}, σ_start]. Strength a = 0 adds exactly zero, so it reproduces unsteered
sampling bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.diffusion import DiffusionParams, diffusion_denoiser, diffusion_representation


def concept_direction(params: DiffusionParams, reference, key: jax.Array, sigma_ref: float) -> jax.Array:
  """The concept vector v = mean gated code of noised reference samples (eq. 11), (p,).

  Args:
    params: ``DiffusionParams``.
    reference: (r, d) samples of the concept, r ≥ 2.
    key: PRNG key of the noise ε_k (one draw per reference sample).
    sigma_ref: σ̃ > 0, the level the references are noised to and the code is read at.
  """
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  ref = checks.check_array("reference", reference, ndim=2)
  if ref.shape[0] < 2:
    raise ValueError(f"reference must hold at least 2 samples of the concept, got {ref.shape[0]}")
  checks.check_dim("reference", ref, 1, params.dim, "the model's dimension d")
  checks.check_finite("reference", ref)
  checks.check_scalar("sigma_ref", sigma_ref, positive=True)
  checks.check_key("key", key)
  ref = jnp.asarray(ref, params.w1.dtype)
  noisy = ref + sigma_ref * jax.random.normal(key, ref.shape, ref.dtype)
  codes = jax.vmap(lambda y: diffusion_representation(params, y, sigma_ref))(noisy)
  return codes.mean(axis=0)


class SteeringWindow(NamedTuple):
  """Steps [start, stop) of a sampling grid, and the levels [sigma_low, sigma_high] they cover."""

  start: int
  stop: int
  sigma_high: float
  sigma_low: float


def steering_window(sigmas, start: int, stop: int) -> SteeringWindow:
  """Checks a window of sampler steps against the grid sigmas (N,) (N − 1 steps, 0 ≤ start <
  stop ≤ N − 1) and returns it with the levels it covers: σ_start down to σ_{stop−1}."""
  sig = checks.check_array("sigmas", sigmas, ndim=1)
  num_steps = sig.shape[0] - 1
  if num_steps < 1:
    raise ValueError(f"sigmas must hold at least 2 levels, got {sig.shape[0]}")
  for name, value in (("start", start), ("stop", stop)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
      raise ValueError(f"{name} must be an integer step index, got {value!r}")
  if not 0 <= start < stop <= num_steps:
    raise ValueError(f"the steering window [start, stop) = [{start}, {stop}) must lie within the sampler's "
                     f"{num_steps} steps: 0 <= start < stop <= {num_steps}")
  sig = np.asarray(sig, np.float64)
  return SteeringWindow(int(start), int(stop), float(sig[start]), float(sig[stop - 1]))


def steering_hook(direction, strength, window: SteeringWindow):
  """The code hook h ↦ h + a·v inside the window's levels, h elsewhere (for ``diffusion_denoiser``).

  Args:
    direction: v, (p,).
    strength: a (a scalar; may be traced, e.g. under ``jax.vmap`` over a grid of strengths).
    window: from ``steering_window``.
  """
  v = checks.check_array("direction", direction, ndim=1)
  checks.check_finite("direction", v)
  v = jnp.asarray(v)
  if not isinstance(window, SteeringWindow):
    raise ValueError(f"window must be a SteeringWindow (from steering_window), got {type(window).__name__}")
  if checks.is_concrete(strength):
    checks.check_scalar("strength", strength)

  def hook(h, sigma):
    if h.shape != v.shape:
      raise ValueError(f"direction must have the code's shape {h.shape}, got {v.shape}")
    inside = (sigma <= window.sigma_high) & (sigma >= window.sigma_low)
    return h + jnp.where(inside, jnp.asarray(strength, h.dtype), jnp.zeros((), h.dtype)) * v.astype(h.dtype)

  return hook


def steered_denoiser(params: DiffusionParams, direction, strength, window: SteeringWindow, *,
                     with_code: bool = False):
  """``diffusion_denoiser`` with the steering hook: h + a·v inside the window (eq. 11)."""
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  v = checks.check_array("direction", direction, ndim=1)
  checks.check_dim("direction", v, 0, params.width, "the model's width p")
  return diffusion_denoiser(params, code_hook=steering_hook(direction, strength, window), with_code=with_code)
