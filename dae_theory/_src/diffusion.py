"""The multi-noise ReLU diffusion model: the ReLU-DAE of eq. (5) with a time gate and a skip.

    code(y) = [W1ᵀ y]₊ ,   h(y, σ) = code(y) ⊙ exp(g(log σ)) ,   x̂₀(y, σ) = W2 h(y, σ) + s · y ,

with W1, W2 ∈ ℝ^{d×p} (tied: W2 = W1, the authors' model), g: ℝ → ℝ^p a small MLP on log σ
(1 → H → p, ReLU, last layer zero-initialised so that the gate starts at 1) and s a learnable
scalar initialised at 0. It is trained on the VE forward process y = x₀ + σ ε with x₀-prediction
and σ log-uniform on [σ_min, σ_max] (paper eq. 2 over a continuum of levels; the authors'
diffusion notebook). With the gate and the skip off and σ fixed it is the one-σ ReLU-DAE.

Two codes: ``diffusion_code`` is [W1ᵀy]₊ without the gate (what the authors plot), and
``diffusion_representation`` is the gated h that the decoder reads. Functions act on ONE input
y of shape (d,) and a scalar σ; ``diffusion_denoiser`` returns the batched ``denoise(x, σ)`` the
samplers take.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.loss import batch_mean

HIGHEST = jax.lax.Precision.HIGHEST


class TimeGate(nn.Module):
  """g(log σ): Dense(1 → H), ReLU, Dense(H → p) with the last layer zero-initialised.

  The first layer uses PyTorch's ``nn.Linear(1, H)`` init, U(±1) for weights and bias (fan-in 1).
  """

  hidden: int
  width: int

  @nn.compact
  def __call__(self, log_sigma: jax.Array) -> jax.Array:
    uniform = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -1.0, 1.0)
    z = nn.Dense(self.hidden, kernel_init=uniform, bias_init=uniform, name="hidden")(log_sigma[None])
    z = nn.relu(z)
    return nn.Dense(self.width, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros,
                    name="out")(z)


class DiffusionParams(NamedTuple):
  """Weights of the multi-noise ReLU diffusion model (a plain pytree; vmap over seeds).

  Attributes:
    w1: (d, p) encoder; its columns are the hidden units.
    w2: (d, p) decoder, or None for tied weights (W2 = W1, the authors' model).
    gate: flax parameters of the time MLP g (``TimeGate``), or None for no gate.
    skip: () learnable skip scale s, or None for no skip.
  """

  w1: jax.Array
  w2: jax.Array | None = None
  gate: dict | None = None
  skip: jax.Array | None = None

  @property
  def decoder(self) -> jax.Array:
    return self.w1 if self.w2 is None else self.w2

  @property
  def dim(self) -> int:
    return self.w1.shape[-2]

  @property
  def width(self) -> int:
    return self.w1.shape[-1]


def init_diffusion_params(key: jax.Array, dim: int, width: int, *, time_hidden: int = 256, tied: bool = True,
                          gate: bool = True, skip: bool = True, scale: float | None = None,
                          dtype=jnp.float32) -> DiffusionParams:
  """Initial weights: W ~ U(±scale) (default √(6/d), Kaiming-uniform with ReLU gain as the
  authors' encoder), the time MLP as ``TimeGate`` (output layer 0, so exp(g) = 1), s = 0.

  Column j of W does not depend on p (drawn as (p, d) rows and transposed, as ``init_params``).

  Returns:
    ``DiffusionParams`` with w1 (and w2) of shape (d, p).
  """
  checks.check_key("key", key)
  dim = checks.check_int("dim", dim)
  width = checks.check_int("width", width)
  time_hidden = checks.check_int("time_hidden", time_hidden)
  for name, flag in (("tied", tied), ("gate", gate), ("skip", skip)):
    if not isinstance(flag, bool):
      raise ValueError(f"{name} must be True or False, got {flag!r}")
  scale = (6.0 / dim) ** 0.5 if scale is None else scale
  checks.check_scalar("scale", scale, positive=True)
  k1, k2, k3 = jax.random.split(key, 3)
  draw = lambda k: jax.random.uniform(k, (width, dim), dtype, -scale, scale).T
  gate_params = None
  if gate:
    gate_params = TimeGate(time_hidden, width).init(k3, jnp.zeros((), dtype))["params"]
    gate_params = jax.tree.map(lambda a: a.astype(dtype), gate_params)
  return DiffusionParams(w1=draw(k1), w2=None if tied else draw(k2), gate=gate_params,
                         skip=jnp.zeros((), dtype) if skip else None)


def time_gate(params: DiffusionParams, sigma) -> jax.Array:
  """exp(g(log σ)), shape (p,); ones when the model has no gate. σ > 0 (checked when concrete)."""
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  checks.check_scalar("sigma", sigma, positive=True)
  if params.gate is None:
    return jnp.ones((params.width,), params.w1.dtype)
  width = params.gate["out"]["bias"].shape[-1]
  g = TimeGate(params.gate["hidden"]["bias"].shape[-1], width).apply(
      {"params": params.gate}, jnp.log(jnp.asarray(sigma, params.w1.dtype)))
  return jnp.exp(g)


def _check(params, y) -> None:
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  if y.ndim != 1 or y.shape[0] != params.w1.shape[0]:
    raise ValueError(f"y must have shape (d,) = ({params.w1.shape[0]},) for one input "
                     f"(vmap for batches), got {tuple(y.shape)}")
  checks.check_finite("y", y)


def _check_code_hook(code_hook) -> None:
  if code_hook is not None and not callable(code_hook):
    raise ValueError(f"code_hook must be None or a callable code_hook(h, sigma) -> h', got {type(code_hook).__name__}")


def diffusion_code(params: DiffusionParams, y: jax.Array) -> jax.Array:
  """The ungated code [W1ᵀ y]₊, shape (p,) (the representation the authors plot)."""
  _check(params, y)
  return jax.nn.relu(jnp.dot(y, params.w1, precision=HIGHEST))


def diffusion_representation(params: DiffusionParams, y: jax.Array, sigma) -> jax.Array:
  """The gated code h(y, σ) = [W1ᵀ y]₊ ⊙ exp(g(log σ)) that the decoder reads, shape (p,)."""
  return diffusion_code(params, y) * time_gate(params, sigma)


CodeHook = Callable[[jax.Array, jax.Array], jax.Array]  # (h (p,), σ) -> h' (p,)


def _hooked(code_hook: CodeHook, h, sigma):
  """code_hook(h, σ), checked (at trace time, before compiling) to keep the code's shape."""
  h_new = code_hook(h, sigma)
  if jnp.shape(h_new) != h.shape:
    raise ValueError(f"code_hook must return the code's shape {h.shape}, got {jnp.shape(h_new)}")
  return h_new


def diffusion_apply(params: DiffusionParams, y: jax.Array, sigma, *,
                    code_hook: CodeHook | None = None) -> jax.Array:
  """x̂₀(y, σ) = W2 h + s · y with h = [W1ᵀy]₊ ⊙ exp(g(log σ)), shape (d,).

  Args:
    params: ``DiffusionParams``.
    y: one noisy input, (d,).
    sigma: its noise level σ > 0 (a scalar).
    code_hook: optional h ↦ h' applied to the gated code before decoding, called as
      ``code_hook(h, sigma)`` (representation steering: h + a·v, paper eq. 11).
  """
  _check_code_hook(code_hook)
  h = diffusion_representation(params, y, sigma)
  if code_hook is not None:
    h = _hooked(code_hook, h, sigma)
  out = jnp.dot(params.decoder, h, precision=HIGHEST)
  return out if params.skip is None else out + params.skip * y


def diffusion_denoiser(params: DiffusionParams, *, code_hook: CodeHook | None = None,
                       with_code: bool = False) -> Callable:
  """The batched denoiser ``denoise(x, σ) -> x̂₀`` (x: (m, d), σ a scalar) that samplers take.

  With ``with_code`` it returns ``(x̂₀, codes)`` with codes = {"gated": h (m, p), "ungated":
  [W1ᵀx]₊ (m, p)} (the gated code after ``code_hook``), for trajectory snapshots.
  """
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  _check_code_hook(code_hook)
  if not isinstance(with_code, bool):
    raise ValueError(f"with_code must be True or False, got {with_code!r}")

  def one(y, sigma):
    _check(params, y)
    code = diffusion_code(params, y)
    h = code * time_gate(params, sigma)
    if code_hook is not None:
      h = _hooked(code_hook, h, sigma)
    out = jnp.dot(params.decoder, h, precision=HIGHEST)
    out = out if params.skip is None else out + params.skip * y
    return out, {"gated": h, "ungated": code}

  def denoise(x, sigma):
    out, codes = jax.vmap(one, in_axes=(0, None))(x, sigma)
    return (out, codes) if with_code else out

  return denoise


def log_uniform_sigmas(key: jax.Array, num: int, sigma_min, sigma_max, dtype=jnp.float32) -> jax.Array:
  """(num,) noise levels σ = exp(U(log σ_min, log σ_max)), the training law of the diffusion model.

  0 < σ_min ≤ σ_max (checked when concrete; the engine passes traced per-model values).
  """
  checks.check_key("key", key)
  num = checks.check_int("num", num)
  checks.check_scalar("sigma_min", sigma_min, positive=True)
  checks.check_scalar("sigma_max", sigma_max, positive=True)
  if checks.is_concrete(sigma_min) and checks.is_concrete(sigma_max) and float(sigma_min) > float(sigma_max):
    raise ValueError(f"sigma_min must be at most sigma_max = {float(sigma_max)}, got {float(sigma_min)}")
  u = jax.random.uniform(key, (num,), dtype)
  lo, hi = jnp.log(jnp.asarray(sigma_min, dtype)), jnp.log(jnp.asarray(sigma_max, dtype))
  return jnp.exp(lo + u * (hi - lo))


def diffusion_error(params: DiffusionParams, x: jax.Array, noise: jax.Array, sigma) -> jax.Array:
  """‖x̂₀(x + σε, σ) − x‖² for one clean sample x (d,), one draw ε (d,) and its σ."""
  return jnp.sum((diffusion_apply(params, x + sigma * noise, sigma) - x) ** 2)


def diffusion_weight_penalty(params: DiffusionParams) -> jax.Array:
  """Σ_l ‖W_l‖²_F over the encoder and decoder (a tied W counts twice), as eq. (6)."""
  sq = jnp.sum(params.w1 ** 2)
  return 2.0 * sq if params.w2 is None else sq + jnp.sum(params.w2 ** 2)


def diffusion_loss_given_noise(params: DiffusionParams, x: jax.Array, noise: jax.Array, sigmas: jax.Array, lam, *,
                               weights: jax.Array | None = None, per_pixel: bool = False) -> jax.Array:
  """The denoising objective over noise levels (paper eq. 2 with eq. 6's decay) on given draws:

      (1/n) Σ_i ‖x̂₀(x_i + σ_i ε_i, σ_i) − x_i‖² (/ d when per_pixel) + λ Σ_l ‖W_l‖²_F.

  Args:
    params: ``DiffusionParams``.
    x: clean samples, (n, d).
    noise: standard normal draws ε, (n, d).
    sigmas: each sample's noise level σ_i > 0, (n,).
    lam: explicit weight decay λ ≥ 0 on W (the optimiser's coupled decay is separate).
    weights: optional (n,) sample weights: the data term becomes Σ w_i e_i / Σ w_i.
    per_pixel: divide the data term by d (the authors' ``MSELoss``).

  Returns:
    The scalar loss.
  """
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  x = checks.check_array("x", x, ndim=2)
  checks.check_nonempty("x", x)
  checks.check_dim("x", x, 1, params.w1.shape[0], "the input dimension d of params.w1")
  noise = checks.check_array("noise", noise, ndim=2)
  if noise.shape != x.shape:
    raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
  sigmas = checks.check_array("sigmas", sigmas, ndim=1)
  checks.check_dim("sigmas", sigmas, 0, x.shape[0], "one noise level per sample")
  for name, a in (("x", x), ("noise", noise), ("sigmas", sigmas)):
    checks.check_finite(name, a)
  if checks.is_concrete(sigmas) and not bool((np.asarray(sigmas) > 0).all()):
    raise ValueError("sigmas must all be > 0")
  checks.check_scalar("lam", lam, nonnegative=True)
  if weights is not None:
    checks.check_weights("weights", weights, x.shape[0])
  return diffusion_objective(params, x, noise, sigmas, weights, lam, per_pixel)


def diffusion_objective(params, x, noise, sigmas, weights, lam, per_pixel: bool):
  """``diffusion_loss_given_noise`` without argument checks (the engine's batch objective)."""
  err = jax.vmap(diffusion_error, in_axes=(None, 0, 0, 0))(params, x, noise, sigmas)
  data = batch_mean(err, weights)
  if per_pixel:
    data = data / x.shape[-1]
  return data + lam * diffusion_weight_penalty(params)
