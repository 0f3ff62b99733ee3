"""Deep denoisers beyond the theorem's two layers: a deep ReLU MLP and a small EDM-style U-Net.

The paper proves its spiky/balanced dichotomy for the two-layer ReLU-DAE (Sec. 3) and shows the
same signature in large diffusion models (Sec. 4, Fig 5, Table 1). These two flax models sit in
between, and train with the package's one engine (``engine.train_model``, ``sweep.train_sweep``)
as ``Model``s, so that every sample's memorisation and every layer's activations are known.

Deep ReLU MLP (``DeepMLPConfig``), time-conditioned like the multi-noise ReLU model
(``diffusion.py``): for layers l = 1 … L of width p,

    a_l = [W_lᵀ h_{l−1} (+ b_l)]₊ ⊙ exp(g_l(log σ)),   h_l = a_l (+ h_{l−1} with residual, l ≥ 2),
    x̂₀(y, σ) = W_out h_L (+ b_out) + s · y,         h_0 = y,

with g_l: ℝ → ℝ^p a time MLP whose last layer starts at 0 (gate 1) and s a learnable scalar
starting at 0. With L = 1, no bias and tied weights it is the multi-noise ReLU model; here W_out is
its own matrix. Layer activations are the h_l (what the next layer reads).

U-Net (``UNetConfig``), the EDM design (Karras et al., 2022) at toy size: on an (H, W, C) image,

    D(y, σ) = c_skip(σ) y + c_out(σ) F(c_in(σ) y, c_noise(σ)),
    c_skip = σ_d²/(σ² + σ_d²), c_out = σ σ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²), c_noise = ¼ ln σ,

F a U-Net with ``levels`` resolutions (channels C·mult), residual blocks (group norm, SiLU, 3×3
convolutions, the noise embedding added between the two convolutions), average-pool down and
nearest up-sampling with skip concatenation, and a zero-initialised output convolution. Trained
on λ(σ)‖D(y, σ) − x‖²/d with λ = (σ² + σ_d²)/(σ σ_d)² and σ log-normal (EDM: ln σ ~ N(−1.2, 1.2²))
or log-uniform on [σ_min, σ_max] (the package's other diffusion models). Layer activations are each
block's output, named by position: ``enc{level}.{block}``, ``mid``, ``dec{level}.{block}``
(``dec`` blocks of the lowest level run first; ``UNetConfig.layer_names()`` lists them in forward order).

Both are written per example (y of shape (d,), flattened for the U-Net, and a scalar σ) and
vmapped at the edge. Their width is fixed per model (the MLP's p, the U-Net's base channels C):
a sweep varies seeds, n, σ, λ and the learning rate, not the width.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.config import TrainConfig
from dae_theory._src.diffusion import TimeGate, log_uniform_sigmas
from dae_theory._src.loss import batch_mean
from dae_theory._src.models import Model

HIGHEST = jax.lax.Precision.HIGHEST
SIGMA_LAWS = ("edm", "log_uniform")


def _kaiming_uniform(key, shape, dtype=jnp.float32):
  """U(±√(6/fan_in)) for a (fan_in, fan_out) kernel: He init with the ReLU gain."""
  bound = math.sqrt(6.0 / shape[0])
  return jax.random.uniform(key, shape, dtype, -bound, bound)


# ----------------------------------------------------------------------------------------------
# Deep ReLU MLP
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeepMLPConfig:
  """Architecture of the deep ReLU MLP denoiser (its width p is the ``TrainConfig``'s width).

  Attributes:
    depth: hidden layers L ≥ 1.
    time_hidden: hidden width H of each layer's time MLP g_l (1 → H → p).
    bias: biases b_l and b_out.
    residual: h_l = a_l + h_{l−1} for l ≥ 2 (a skip around each hidden layer but the first).
    skip: the output skip s · y (s learnable, initialised at 0).
  """

  depth: int = 3
  time_hidden: int = 64
  bias: bool = False
  residual: bool = False
  skip: bool = True

  def __post_init__(self):
    checks.check_int("depth", self.depth)
    checks.check_int("time_hidden", self.time_hidden)
    for name in ("bias", "residual", "skip"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

  @property
  def name(self) -> str:
    flags = "".join(f"_{f}" for f in ("bias", "residual", "skip") if getattr(self, f))
    return f"deep_mlp_L{self.depth}_H{self.time_hidden}{flags}"

  def layer_names(self) -> tuple[str, ...]:
    return tuple(f"layer{l}" for l in range(1, self.depth + 1))


class DeepMLP(nn.Module):
  """x̂₀(y, σ) of the deep ReLU MLP for ONE input y (d,) and a scalar σ (module docstring)."""

  arch: DeepMLPConfig
  dim: int
  width: int

  @nn.compact
  def __call__(self, y: jax.Array, sigma: jax.Array) -> jax.Array:
    log_sigma = jnp.log(sigma)
    h = y
    for l in range(1, self.arch.depth + 1):
      z = nn.Dense(self.width, use_bias=self.arch.bias, kernel_init=_kaiming_uniform,
                   bias_init=nn.initializers.zeros, precision=HIGHEST, name=f"dense{l}")(h)
      a = nn.relu(z) * jnp.exp(TimeGate(self.arch.time_hidden, self.width, name=f"gate{l}")(log_sigma))
      h = h + a if (self.arch.residual and l > 1) else a
      self.sow("intermediates", f"layer{l}", h)
    out = nn.Dense(self.dim, use_bias=self.arch.bias, kernel_init=nn.initializers.lecun_uniform(),
                   bias_init=nn.initializers.zeros, precision=HIGHEST, name="out")(h)
    if self.arch.skip:
      out = out + self.param("skip", nn.initializers.zeros, (), y.dtype) * y
    return out


# ----------------------------------------------------------------------------------------------
# U-Net (EDM preconditioning)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UNetConfig:
  """Architecture and training law of the U-Net (its base channels C are the ``TrainConfig``'s width).

  Attributes:
    image_shape: (H, W, C_img) of one image; a model's inputs are the flattened images (H·W·C_img,).
    channel_mult: channels of each level as multiples of C; len = the number of levels (a level
      below the first halves H and W, which must stay divisible).
    blocks_per_level: residual blocks per level on the way down (one more on the way up).
    groups: group-norm groups (must divide every level's channels).
    embedding: width of the noise embedding (Fourier features of c_noise, then a 2-layer MLP).
    sigma_data: σ_d of the preconditioning (0.5: EDM's value for data in [−1, 1]).
    sigma_law: "edm" (ln σ ~ N(p_mean, p_std²)) or "log_uniform" (on [σ_min, σ_max] of the spec).
    p_mean, p_std: the log-normal law of σ (EDM: −1.2, 1.2).
  """

  image_shape: tuple[int, int, int] = (8, 8, 1)
  channel_mult: tuple[int, ...] = (1, 2)
  blocks_per_level: int = 1
  groups: int = 8
  embedding: int = 64
  sigma_data: float = 0.5
  sigma_law: str = "edm"
  p_mean: float = -1.2
  p_std: float = 1.2

  def __post_init__(self):
    shape = tuple(int(s) for s in self.image_shape)
    if len(shape) != 3 or min(shape) < 1:
      raise ValueError(f"image_shape must be (H, W, C) of positive ints, got {self.image_shape!r}")
    object.__setattr__(self, "image_shape", shape)
    mult = tuple(int(m) for m in self.channel_mult)
    if not mult or min(mult) < 1:
      raise ValueError(f"channel_mult must be a non-empty tuple of positive ints, got {self.channel_mult!r}")
    object.__setattr__(self, "channel_mult", mult)
    factor = 2 ** (len(mult) - 1)
    if shape[0] % factor or shape[1] % factor:
      raise ValueError(f"image_shape {shape[:2]} must be divisible by 2^(levels − 1) = {factor} "
                       f"for channel_mult {mult}")
    checks.check_int("blocks_per_level", self.blocks_per_level)
    checks.check_int("groups", self.groups)
    checks.check_int("embedding", self.embedding)
    if self.embedding % 2:
      raise ValueError(f"embedding must be even (cos and sin features), got {self.embedding}")
    checks.check_scalar("sigma_data", self.sigma_data, positive=True)
    if self.sigma_law not in SIGMA_LAWS:
      raise ValueError(f"sigma_law must be one of {SIGMA_LAWS}, got {self.sigma_law!r}")
    checks.check_scalar("p_mean", self.p_mean)
    checks.check_scalar("p_std", self.p_std, positive=True)

  @property
  def dim(self) -> int:
    return int(np.prod(self.image_shape))

  @property
  def name(self) -> str:
    h, w, c = self.image_shape
    mult = "-".join(str(m) for m in self.channel_mult)
    return (f"unet_{h}x{w}x{c}_m{mult}_b{self.blocks_per_level}_g{self.groups}_e{self.embedding}"
            f"_sd{self.sigma_data:g}_{self.sigma_law}" + (f"_{self.p_mean:g}_{self.p_std:g}" if self.sigma_law == "edm"
                                                         else ""))

  def layer_names(self) -> tuple[str, ...]:
    """The blocks whose outputs are recorded, in forward order."""
    levels = len(self.channel_mult)
    names = [f"enc{i}.{b}" for i in range(levels) for b in range(self.blocks_per_level)]
    names.append("mid")
    names += [f"dec{i}.{b}" for i in reversed(range(levels)) for b in range(self.blocks_per_level + 1)]
    return tuple(names)


class GroupNorm(nn.Module):
  """Group normalisation of one (H, W, C) feature map (statistics over H, W and each group's channels)."""

  groups: int
  eps: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h, w, c = x.shape
    if c % self.groups:
      raise ValueError(f"groups ({self.groups}) must divide every feature map's channels; a map has {c} "
                       f"(choose the width, the base channels C, as a multiple of groups)")
    g = x.reshape(h, w, self.groups, c // self.groups)
    mean = jnp.mean(g, axis=(0, 1, 3), keepdims=True)
    var = jnp.mean((g - mean) ** 2, axis=(0, 1, 3), keepdims=True)
    g = (g - mean) * jax.lax.rsqrt(var + self.eps)
    scale = self.param("scale", nn.initializers.ones, (c,), x.dtype)
    bias = self.param("bias", nn.initializers.zeros, (c,), x.dtype)
    return g.reshape(h, w, c) * scale[None, None, :] + bias[None, None, :]


def _conv(features: int, name: str, kernel: int = 3, zero: bool = False) -> nn.Conv:
  init = nn.initializers.zeros if zero else nn.initializers.lecun_uniform()
  return nn.Conv(features, (kernel, kernel), padding="SAME", kernel_init=init, precision=HIGHEST, name=name)


class ResBlock(nn.Module):
  """GN → SiLU → conv → + Dense(emb) → GN → SiLU → conv, plus the input (1×1 conv if channels change)."""

  features: int
  groups: int

  @nn.compact
  def __call__(self, x: jax.Array, emb: jax.Array) -> jax.Array:
    h = _conv(self.features, "conv0")(nn.silu(GroupNorm(self.groups, name="norm0")(x)))
    h = h + nn.Dense(self.features, precision=HIGHEST, name="emb")(emb)[None, None, :]
    h = _conv(self.features, "conv1")(nn.silu(GroupNorm(self.groups, name="norm1")(h)))
    skip = x if x.shape[-1] == self.features else _conv(self.features, "skip", kernel=1)(x)
    return (h + skip) / math.sqrt(2.0)


class UNet(nn.Module):
  """F(c_in y, c_noise) of EDM for ONE image (H, W, C_img) and its c_noise (a scalar)."""

  arch: UNetConfig
  channels: int

  @nn.compact
  def __call__(self, x: jax.Array, c_noise: jax.Array) -> jax.Array:
    arch = self.arch
    half = arch.embedding // 2
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=x.dtype) / half)
    emb = jnp.concatenate([jnp.cos(c_noise * freqs), jnp.sin(c_noise * freqs)])
    emb = nn.silu(nn.Dense(arch.embedding, precision=HIGHEST, name="emb0")(emb))
    emb = nn.silu(nn.Dense(arch.embedding, precision=HIGHEST, name="emb1")(emb))
    h = _conv(self.channels, "conv_in")(x)
    skips = [h]
    levels = len(arch.channel_mult)
    for i, mult in enumerate(arch.channel_mult):
      if i > 0:
        h = nn.avg_pool(h[None], (2, 2), strides=(2, 2))[0]
        skips.append(h)
      for b in range(arch.blocks_per_level):
        h = ResBlock(self.channels * mult, arch.groups, name=f"block_enc{i}_{b}")(h, emb)
        self.sow("intermediates", f"enc{i}.{b}", h)
        skips.append(h)
    h = ResBlock(self.channels * arch.channel_mult[-1], arch.groups, name="block_mid")(h, emb)
    self.sow("intermediates", "mid", h)
    for i in reversed(range(levels)):
      for b in range(arch.blocks_per_level + 1):
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = ResBlock(self.channels * arch.channel_mult[i], arch.groups, name=f"block_dec{i}_{b}")(h, emb)
        self.sow("intermediates", f"dec{i}.{b}", h)
      if i > 0:
        h = jnp.repeat(jnp.repeat(h, 2, axis=0), 2, axis=1)
    h = nn.silu(GroupNorm(arch.groups, name="norm_out")(h))
    return _conv(arch.image_shape[-1], "conv_out", zero=True)(h)


def edm_coefficients(sigma, sigma_data: float = 0.5):
  """(c_skip, c_out, c_in, c_noise) of EDM's preconditioning at noise level σ (Karras et al., 2022, Table 1):

      c_skip = σ_d²/(σ² + σ_d²),  c_out = σ σ_d/√(σ² + σ_d²),  c_in = 1/√(σ² + σ_d²),  c_noise = ¼ ln σ.

  σ > 0 (a scalar or an array; checked when concrete) and σ_d > 0.
  """
  checks.check_scalar("sigma_data", sigma_data, positive=True)
  if checks.is_concrete(sigma) and not bool(np.all(np.asarray(sigma) > 0)):
    raise ValueError(f"sigma must be > 0, got {sigma}")
  s2, d2 = sigma * sigma, sigma_data * sigma_data
  return d2 / (s2 + d2), sigma * sigma_data / jnp.sqrt(s2 + d2), 1.0 / jnp.sqrt(s2 + d2), 0.25 * jnp.log(sigma)


class PreconditionedUNet(nn.Module):
  """D(y, σ) = c_skip y + c_out F(c_in y, c_noise) for ONE flattened image y (d,) and a scalar σ."""

  arch: UNetConfig
  channels: int

  @nn.compact
  def __call__(self, y: jax.Array, sigma: jax.Array) -> jax.Array:
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.arch.sigma_data)
    f = UNet(self.arch, self.channels, name="unet")((c_in * y).reshape(self.arch.image_shape), c_noise)
    return c_skip * y + c_out * f.reshape(y.shape)


# ----------------------------------------------------------------------------------------------
# As engine Models
# ----------------------------------------------------------------------------------------------


def _module(arch, dim: int, width: int) -> nn.Module:
  if isinstance(arch, DeepMLPConfig):
    return DeepMLP(arch, dim, width)
  if arch.dim != dim:
    raise ValueError(f"the data's dimension d = {dim} must equal the U-Net's image size "
                     f"{arch.image_shape} = {arch.dim}")
  return PreconditionedUNet(arch, width)


def _width_of(arch, params) -> int:
  if isinstance(arch, DeepMLPConfig):
    return params["dense1"]["kernel"].shape[-1]
  return params["unet"]["conv_in"]["kernel"].shape[-1]


def _dim_of(arch, params) -> int:
  if isinstance(arch, DeepMLPConfig):
    return params["dense1"]["kernel"].shape[0]
  return arch.dim


def _kernel_penalty(params) -> jax.Array:
  """Σ ‖K‖²_F over the kernels: eq. (6)'s decay. Not biases, norm scales, the skip or the MLP's
  time gates (which the multi-noise ReLU model does not decay either); the U-Net's noise-embedding
  kernels are decayed with its convolutions (it has no gates)."""
  total = jnp.zeros((), jax.tree.leaves(params)[0].dtype)
  for path, v in jax.tree_util.tree_leaves_with_path(params):
    keys = [getattr(p, "key", "") for p in path]
    if keys[-1] == "kernel" and not any(k.startswith("gate") for k in keys):
      total = total + jnp.sum(v ** 2)
  return total


def _sigmas(arch, key, num: int, spec, dtype):
  if isinstance(arch, UNetConfig) and arch.sigma_law == "edm":
    return jnp.exp(arch.p_mean + arch.p_std * jax.random.normal(key, (num,), dtype))
  return log_uniform_sigmas(key, num, spec.sigma_min.astype(dtype), spec.sigma.astype(dtype), dtype)


@functools.cache
def _deep_model(arch) -> Model:
  def init(key, dim, width_max, cfg: TrainConfig, dtype):
    del cfg
    module = _module(arch, dim, width_max)
    params = module.init(key, jnp.zeros((dim,), dtype), jnp.ones((), dtype))["params"]
    return jax.tree.map(lambda a: a.astype(dtype), params)

  def objective(params, batch, noise, weights, spec, cfg: TrainConfig, key):
    dtype = batch.dtype
    module = _module(arch, batch.shape[-1], _width_of(arch, params))
    sigmas = _sigmas(arch, key, batch.shape[0], spec, dtype)
    y = batch + sigmas[:, None] * noise[0]
    out = jax.vmap(lambda yi, si: module.apply({"params": params}, yi, si))(y, sigmas)
    err = jnp.sum((out - batch) ** 2, axis=-1)
    if isinstance(arch, UNetConfig):
      d2 = arch.sigma_data ** 2
      err = err * (sigmas ** 2 + d2) / (sigmas ** 2 * d2)
    data = batch_mean(err, weights)
    if cfg.loss_convention == "torch" or isinstance(arch, UNetConfig):
      data = data / batch.shape[-1]
    return data + spec.lam.astype(dtype) * _kernel_penalty(params)

  def unit_mask(params, width):
    # Fixed width: every mask is 1, computed from the width so that it varies over a sweep's model axis.
    return jax.tree.map(lambda a: jnp.ones_like(a) * (width > 0).astype(a.dtype), params)

  loop = "scan" if isinstance(arch, DeepMLPConfig) else "python"
  fields = ("sigma", "sigma_min")
  return Model(arch.name, init, objective, unit_mask, sweep_fields=fields, loop_on_cpu=loop, fixed_width=True)


def deep_mlp_model(arch: DeepMLPConfig = DeepMLPConfig()) -> Model:
  """The deep ReLU MLP denoiser as an engine ``Model`` (train with ``train_model`` / ``train_sweep``).

  Trained like the multi-noise ReLU model: σ log-uniform on [σ_min, σ_max] of the config, x₀-prediction,
  ‖x̂₀ − x‖² (/ d with loss_convention "torch") + λ Σ_l ‖W_l‖²_F over its kernels. The config's width is p.
  """
  if not isinstance(arch, DeepMLPConfig):
    raise ValueError(f"arch must be a DeepMLPConfig, got {type(arch).__name__}")
  return _deep_model(arch)


def unet_model(arch: UNetConfig = UNetConfig()) -> Model:
  """The EDM U-Net as an engine ``Model``: the config's width is its base channels C.

  Objective: mean over the batch of λ(σ)‖D(y, σ) − x‖²/d, λ(σ) = (σ² + σ_d²)/(σ σ_d)², σ from
  ``arch.sigma_law``, plus λ Σ ‖K‖²_F over its kernels. On CPU the engine runs it as a Python loop
  over a jitted step (XLA:CPU runs convolutions far slower inside a compiled loop).
  """
  if not isinstance(arch, UNetConfig):
    raise ValueError(f"arch must be a UNetConfig, got {type(arch).__name__}")
  return _deep_model(arch)


def _check_arch(arch):
  if not isinstance(arch, (DeepMLPConfig, UNetConfig)):
    raise ValueError(f"arch must be a DeepMLPConfig or a UNetConfig, got {type(arch).__name__}")


def _check_params(arch, params) -> None:
  name = "dense1" if isinstance(arch, DeepMLPConfig) else "unet"
  if not isinstance(params, dict) or name not in params:
    raise ValueError(f"params must be the flax parameter dict of a {type(arch).__name__} model "
                     f"(with a {name!r} entry), got {type(params).__name__}")


def deep_denoiser(arch, params) -> Callable:
  """The batched denoiser ``denoise(x, σ) -> x̂₀`` (x: (m, d), σ a scalar) that samplers take.

  Args:
    arch: the model's ``DeepMLPConfig`` or ``UNetConfig``.
    params: its trained parameters (``TrainResult.params``, or ``SweepResult.model(i)``).
  """
  _check_arch(arch)
  _check_params(arch, params)
  dim, width = _dim_of(arch, params), _width_of(arch, params)
  return lambda x, sigma: _denoise_batch(arch, dim, width, params, x, sigma)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _denoise_batch(arch, dim: int, width: int, params, x, sigma):
  """One compiled program per architecture and shapes; the parameters are arguments, not constants."""
  module = _module(arch, dim, width)
  return jax.vmap(lambda y: module.apply({"params": params}, y, sigma))(x)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _activations_batch(arch, dim: int, width: int, layers: tuple[str, ...], params, y, sigma):
  module = _module(arch, dim, width)

  def one(yi):
    _, state = module.apply({"params": params}, yi, sigma, mutable=["intermediates"])
    inner = state["intermediates"] if isinstance(arch, DeepMLPConfig) else state["intermediates"]["unet"]
    return {name: inner[name][0] for name in layers}

  return jax.vmap(one)(y)


def layer_activations(arch, params, y, sigma, *, layers: tuple[str, ...] | None = None) -> dict[str, jax.Array]:
  """Each recorded layer's activations at the inputs y (m, d) and noise level σ.

  Returns a dict layer name → (m, p) for the MLP's h_l, (m, H_l, W_l, C_l) for the U-Net's blocks
  (pool them with ``pool_activations(..., layout="NHWC")``), in forward order.

  Args:
    arch: ``DeepMLPConfig`` or ``UNetConfig``.
    params: the model's parameters.
    y: (m, d) inputs (re-noised samples for detection).
    sigma: σ > 0, a scalar.
    layers: names to return (default all: ``arch.layer_names()``); an unknown name raises.
  """
  _check_arch(arch)
  _check_params(arch, params)
  dim = _dim_of(arch, params)
  y = checks.check_array("y", y, ndim=2)
  checks.check_nonempty("y", y)
  checks.check_dim("y", y, 1, dim, "the model's input dimension d")
  checks.check_finite("y", y)
  checks.check_scalar("sigma", sigma, positive=True)
  names = arch.layer_names()
  if layers is None:
    layers = names
  else:
    layers = tuple(layers)
    for name in layers:
      if name not in names:
        raise ValueError(f"layers must name the model's layers {names}, got {name!r}")
  y = jnp.asarray(y)
  out = _activations_batch(arch, dim, _width_of(arch, params), layers, params, y, jnp.asarray(sigma, y.dtype))
  return {name: out[name] for name in layers}
