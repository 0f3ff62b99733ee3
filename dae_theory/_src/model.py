"""The bias-free two-layer ReLU denoising autoencoder (paper eq. 5).

    f(y) = W2 [W1ᵀ y]₊ ,   h(y) = [W1ᵀ y]₊ ,   W1, W2 ∈ ℝ^{d×p}.

Columns of W1 are the hidden units ("neurons"). The theorems' minimisers are tied (W2 = W1), so
tied parameters store one matrix. The functions act on ONE input y of shape (d,); batch them
with ``jax.vmap(dae_apply, in_axes=(None, 0))``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dae_theory._src import checks

# Products that decide regimes run in full float32 on every backend (no TF32/bf16 passes).
HIGHEST = jax.lax.Precision.HIGHEST


class DAEParams(NamedTuple):
  """ReLU-DAE weights.

  Attributes:
    w1: (d, p) encoder; its columns are the hidden units.
    w2: (d, p) decoder, or ``None`` for tied weights (W2 = W1).
  """

  w1: jax.Array
  w2: jax.Array | None = None

  @property
  def tied(self) -> bool:
    return self.w2 is None

  @property
  def decoder(self) -> jax.Array:
    """W2 (which is W1 for tied parameters)."""
    return self.w1 if self.w2 is None else self.w2

  @property
  def dim(self) -> int:
    return self.w1.shape[-2]

  @property
  def width(self) -> int:
    return self.w1.shape[-1]


def init_params(key: jax.Array, dim: int, width: int, *, tied: bool = True, scale: float | None = None,
                dtype=jnp.float32) -> DAEParams:
  """Initial weights, i.i.d. U(−scale, scale) with default scale 1/√d.

  The default matches PyTorch's ``nn.Linear(d, p)`` init used by the authors' code
  (their ReLU-DAE notebook: U(±1/√1024) at d = 1024). Column j does not depend on p: ``init_params(key, d, p)``
  equals the first p columns of ``init_params(key, d, p')`` for p' > p.

  Args:
    key: PRNG key.
    dim: input dimension d.
    width: number of hidden units p.
    tied: one matrix (W2 = W1) if True, else independent W1 and W2.
    scale: half-width of the uniform law; default 1/√d.
    dtype: floating dtype of the weights.

  Returns:
    ``DAEParams`` with w1 (and w2 when untied) of shape (d, p).
  """
  checks.check_key("key", key)
  dim = checks.check_int("dim", dim)
  width = checks.check_int("width", width)
  if not isinstance(tied, bool):
    raise ValueError(f"tied must be True or False, got {tied!r}")
  if scale is None:
    scale = dim ** -0.5
  checks.check_scalar("scale", scale, positive=True)
  checks.check_float_dtype("dtype", dtype)
  k1, k2 = jax.random.split(key)
  # Drawn as (p, d) and transposed: with JAX's partitionable threefry the first p' < p rows are the
  # same numbers, so a narrower model shares its columns with a wider one (padded width sweeps).
  draw = lambda k: jax.random.uniform(k, (width, dim), dtype, -scale, scale).T
  return DAEParams(w1=draw(k1), w2=None if tied else draw(k2))


def _check_params_and_input(params: DAEParams, y) -> None:
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  if params.w1.ndim != 2:
    raise ValueError(f"params.w1 must have shape (d, p), got {tuple(params.w1.shape)}")
  if params.w2 is not None and params.w2.shape != params.w1.shape:
    raise ValueError(f"params.w2 must have the shape of params.w1 {tuple(params.w1.shape)}, "
                     f"got {tuple(params.w2.shape)}")
  if y.ndim != 1 or y.shape[0] != params.w1.shape[0]:
    raise ValueError(f"y must have shape (d,) = ({params.w1.shape[0]},) for one input "
                     f"(vmap for batches), got {tuple(y.shape)}")
  checks.check_finite("y", y)


def representation(params: DAEParams, y: jax.Array) -> jax.Array:
  """Hidden representation h(y) = [W1ᵀ y]₊ (paper §3, below eq. 5).

  Args:
    params: weights with w1 of shape (d, p).
    y: one input, shape (d,).

  Returns:
    h, shape (p,), non-negative.
  """
  _check_params_and_input(params, y)
  return jax.nn.relu(jnp.dot(y, params.w1, precision=HIGHEST))


def dae_apply(params: DAEParams, y: jax.Array) -> jax.Array:
  """ReLU-DAE output f(y) = W2 [W1ᵀ y]₊ (paper eq. 5).

  Args:
    params: weights, w1 (and w2) of shape (d, p).
    y: one noisy input, shape (d,).

  Returns:
    f(y), shape (d,).
  """
  h = representation(params, y)
  return jnp.dot(params.decoder, h, precision=HIGHEST)
