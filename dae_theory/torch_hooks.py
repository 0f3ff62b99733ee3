"""PyTorch adapter: a layer's activations from any ``torch.nn.Module``, and the authors' Stable
Diffusion recipe for memorisation detection (paper Sec. 4.1, App. B.2).

``collect_activations`` hooks named submodules during a forward pass the caller runs and returns
their outputs as arrays, for ``pool_activations`` / ``activation_scores`` / ``layer_detection``.
``sd_detection_activations`` runs the recipe on a diffusers ``UNet2DConditionModel``: a generated
image's VAE latent z₀ is re-noised to DDPM timestep t (10 of 1000) of SD's schedule,

    z_t = √ᾱ_t z₀ + √(1 − ᾱ_t) ε,   ᾱ_t = Π_{s ≤ t} (1 − β_s),
    β_s = (√0.00085 + s/999 · (√0.012 − √0.00085))²,  s = 0 … 999   ("scaled_linear"),

the UNet is run at t with the empty prompt's text embedding, and the activations of one layer are
kept: by default the last SiLU of ``up_blocks.0.resnets.2`` (``SD_LAYER``, ``SD_CALL``),
(N, 1280, H/8, W/8) for SD 1.x latents of (N, 4, H, W). The authors then max-pool over space and
take Std over the 1280 channels: ``activation_scores(acts, layout="NCHW", pooling="max")``.
In the x₀ + σε parametrisation of the rest of this package, z_t/√ᾱ_t = z₀ + σ_t ε with
σ_t = √((1 − ᾱ_t)/ᾱ_t) ≈ 0.098 at t = 10 (``sd_sigma``; ``DEFAULT_SIGMA_DET``).

Which tensor is hooked. A diffusers ``ResnetBlock2D`` holds one SiLU module, ``nonlinearity``, and
calls it three times per forward pass: on GroupNorm₁(x) (the block's input channels: 2560 for
``up_blocks.0.resnets.2``, its input concatenated with a skip connection), on the time embedding
(N, 1280), and on GroupNorm₂(conv₁(·) + time term) (1280 channels), which feeds conv₂. The last
is the block's hidden code in the paper's sense (a nonlinearity's output read by a linear map,
as h = [W₁ᵀx]₊ is read by W₂) and the only call with the (N, 1280, H, W) shape the authors pool;
a forward hook that keeps the latest output (as the authors' dict-storing hooks do) ends with it.
``call=-1`` selects it explicitly. The block's own output, ``up_blocks.0.resnets.2``, is a residual
sum (input skip + conv₂(h)), not a nonlinearity's output; ``layer="up_blocks.0.resnets.2"`` scores
it instead.

PyTorch and diffusers are optional: ``import dae_theory`` never imports them, this module imports
torch only inside its functions, and the functions raise ``ImportError`` naming the ``adapters``
extra when it is missing.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

SD_LAYER = "up_blocks.0.resnets.2.nonlinearity"
SD_CALL = -1
SD_TIMESTEP = 10
# Stable Diffusion 1.x's training schedule (its scheduler_config: "scaled_linear", 1000 steps).
SD_NUM_TRAIN_TIMESTEPS = 1000
SD_BETA_START = 0.00085
SD_BETA_END = 0.012

_INSTALL = "pip install 'dae-theory[adapters]' (torch and diffusers)"


def _torch():
  try:
    import torch
  except ImportError as err:
    raise ImportError(f"dae_theory.torch_hooks needs PyTorch, which is not installed: {_INSTALL}") from err
  return torch


def _check_module(torch, module) -> None:
  if not isinstance(module, torch.nn.Module):
    raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")


def _check_layer_names(module, layer_names, arg: str = "layer_names") -> tuple[str, ...]:
  names = (layer_names,) if isinstance(layer_names, str) else layer_names
  if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
    raise ValueError(f"{arg} must be a submodule name or a non-empty list of them, got {layer_names!r}")
  names = tuple(names)
  if len(set(names)) != len(names):
    raise ValueError(f"{arg} must not repeat a name, got {list(names)}")
  known = [n for n, _ in module.named_modules()]
  known_set = set(known)
  for name in names:
    if name not in known_set:
      close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
      hint = f"; close names: {close}" if close else f"; e.g. {known[1:6]}"
      raise ValueError(f"{arg}: the module has no submodule {name!r}{hint}")
  return names


def _check_call(call, names: tuple[str, ...]) -> dict[str, int | None]:
  def one(value, where: str):
    if value is None:
      return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
      raise ValueError(f"call{where} must be None (every call) or an integer index of the layer's calls in each "
                       f"forward pass (-1: the last), got {value!r}")
    return int(value)

  if isinstance(call, Mapping):
    extra = [k for k in call if k not in names]
    if extra:
      raise ValueError(f"call names layers that are not in layer_names: {extra}")
    return {n: one(call.get(n), f"[{n!r}]") for n in names}
  value = one(call, "")
  return {n: value for n in names}


def _tensor_of(torch, output, name: str):
  """The tensor a module returned: the tensor itself, the first entry of a tuple, list or mapping
  (diffusers' ``BaseOutput``), or its ``sample`` field."""
  if isinstance(output, torch.Tensor):
    return output
  if isinstance(output, Mapping) and output:
    output = next(iter(output.values()))
  elif isinstance(output, (tuple, list)) and output:
    output = output[0]
  elif hasattr(output, "sample"):
    output = output.sample
  if isinstance(output, torch.Tensor):
    return output
  raise ValueError(f"layer_names: the output of {name!r} is a {type(output).__name__}, not a tensor (or a tuple "
                   f"or mapping whose first entry is a tensor)")


def _as_numpy(torch, t):
  if t.dtype in (torch.float16, torch.bfloat16):
    t = t.float()
  return t.numpy()


def collect_activations(module, layer_names, run: Callable[[], Any], *, call=None,
                        to_numpy: bool = True) -> dict[str, Any]:
  """The outputs of named submodules while ``run()`` does forward passes, {layer: (N, …)}.

  A forward hook on each ``dict(module.named_modules())[name]`` records its output (detached, copied);
  ``run`` is called once; the recorded outputs are concatenated along the batch axis (axis 0) in
  the order they were produced; every hook is removed afterwards, also when ``run`` raises.

  A forward pass is one call of ``module`` itself (a forward pre-hook on it counts them), so ``run``
  may call it several times (batches). A submodule may be called more than once per pass (a
  diffusers ``ResnetBlock2D`` calls its ``nonlinearity`` three times): ``call=k`` keeps only its
  k-th call of each pass (Python indexing: -1 is the last); ``call=None`` keeps every call, which
  must then all have the same shape past the batch axis.

  Args:
    module: a ``torch.nn.Module``.
    layer_names: a name or a list of names of ``module.named_modules()`` (e.g. "up_blocks.0.resnets.2").
    run: a callable doing the forward pass(es), e.g. ``lambda: unet(x, t, encoder_hidden_states=c)``;
      its return value is ignored. Wrap it in ``torch.no_grad()`` yourself if you like; outputs are
      detached either way.
    call: None, an integer for every layer, or {layer: None or integer}.
    to_numpy: return host NumPy arrays (float16/bfloat16 as float32); False: torch tensors on the
      module's device.

  Returns:
    {layer: (N_total, …) array}, in the order of ``layer_names``.
  """
  torch = _torch()
  _check_module(torch, module)
  names = _check_layer_names(module, layer_names)
  calls = _check_call(call, names)
  if not callable(run):
    raise ValueError(f"run must be a callable doing the forward pass, got {type(run).__name__}")
  if not isinstance(to_numpy, bool):
    raise ValueError(f"to_numpy must be True or False, got {to_numpy!r}")
  submodules = dict(module.named_modules())
  records: dict[str, list[list[Any]]] = {n: [] for n in names}  # layer → passes → calls

  def start_pass(_module, _args):
    for n in names:
      records[n].append([])

  def recorder(name: str):
    def hook(_module, _args, output):
      t = _tensor_of(torch, output, name).detach()
      t = t.to("cpu", copy=True) if to_numpy else t.clone()
      if not records[name]:  # called outside any forward pass of ``module``: one implicit pass
        records[name].append([])
      records[name][-1].append(t)
    return hook

  handles = []
  try:
    handles.append(module.register_forward_pre_hook(start_pass))
    for n in names:
      handles.append(submodules[n].register_forward_hook(recorder(n)))
    run()
  finally:
    for h in handles:
      h.remove()

  out = {}
  for n in names:
    passes = [p for p in records[n] if p] if calls[n] is None else records[n]
    if not passes:
      raise ValueError(f"layer_names: {n!r} was never called during run()")
    k = calls[n]
    if k is None:
      chosen = [t for p in passes for t in p]
      shapes = sorted({tuple(t.shape[1:]) for t in chosen})
      if len(shapes) > 1:
        raise ValueError(f"layer_names: {n!r} produced outputs of different shapes past the batch axis, {shapes} "
                         f"(a module called several times per forward pass); pass call=k to keep its k-th call, "
                         f"e.g. call=-1 for the last")
    else:
      chosen = []
      for i, p in enumerate(passes):
        if not -len(p) <= k < len(p):
          raise ValueError(f"call={k}: layer {n!r} was called {len(p)} time(s) in forward pass {i} of run()")
        chosen.append(p[k])
    cat = torch.cat(chosen, dim=0)
    out[n] = _as_numpy(torch, cat) if to_numpy else cat
  return out


# ------------------------------------------------------------------------------------------------
# The authors' Stable Diffusion recipe
# ------------------------------------------------------------------------------------------------


def sd_alphas_cumprod(num_train_timesteps: int = SD_NUM_TRAIN_TIMESTEPS, beta_start: float = SD_BETA_START,
                      beta_end: float = SD_BETA_END) -> np.ndarray:
  """ᾱ_t = Π_{s ≤ t} (1 − β_s) of the "scaled_linear" DDPM schedule, (num_train_timesteps,) float64:

      β_s = (√beta_start + s/(T − 1) · (√beta_end − √beta_start))²,  s = 0 … T − 1.

  The defaults are Stable Diffusion 1.x's (diffusers' ``DDPMScheduler(beta_schedule="scaled_linear",
  beta_start=0.00085, beta_end=0.012)`` computes the same in float32).
  """
  if isinstance(num_train_timesteps, (bool, np.bool_)) or not isinstance(num_train_timesteps, numbers.Integral) \
      or num_train_timesteps < 2:
    raise ValueError(f"num_train_timesteps must be an integer >= 2, got {num_train_timesteps!r}")
  for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
      raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
  betas = np.linspace(np.sqrt(beta_start), np.sqrt(beta_end), int(num_train_timesteps), dtype=np.float64) ** 2
  return np.cumprod(1.0 - betas)


def _check_timestep(timestep, alphas_cumprod: np.ndarray) -> int:
  if isinstance(timestep, (bool, np.bool_)) or not isinstance(timestep, numbers.Integral) \
      or not 0 <= timestep < alphas_cumprod.size:
    raise ValueError(f"timestep must be an integer in [0, {alphas_cumprod.size}), got {timestep!r}")
  return int(timestep)


def _check_alphas_cumprod(alphas_cumprod) -> np.ndarray:
  if alphas_cumprod is None:
    return sd_alphas_cumprod()
  if hasattr(alphas_cumprod, "detach"):
    alphas_cumprod = alphas_cumprod.detach().cpu().double().numpy()
  a = np.asarray(alphas_cumprod, np.float64)
  if a.ndim != 1 or a.size < 1 or not np.isfinite(a).all() or (a <= 0).any() or (a > 1).any():
    raise ValueError(f"alphas_cumprod must be a 1-D array of values in (0, 1] (a scheduler's alphas_cumprod), got "
                     f"shape {a.shape}")
  return a


def sd_sigma(timestep: int = SD_TIMESTEP, alphas_cumprod=None) -> float:
  """σ_t = √((1 − ᾱ_t)/ᾱ_t): the noise level of DDPM timestep t in the x₀ + σε parametrisation
  (z_t/√ᾱ_t = z₀ + σ_t ε); ≈ 0.098 at SD's t = 10."""
  a = _check_alphas_cumprod(alphas_cumprod)
  t = _check_timestep(timestep, a)
  return float(np.sqrt((1.0 - a[t]) / a[t]))


def sd_detection_activations(unet, latents, *, encoder_hidden_states, timestep: int = SD_TIMESTEP,
                             layer: str = SD_LAYER, call: int | None = SD_CALL, noise=None, seed: int = 0,
                             alphas_cumprod=None, batch_size: int | None = None, to_numpy: bool = True):
  """One layer's activations of a diffusers UNet on re-noised latents (the authors' detection recipe).

      z_t = √ᾱ_t z₀ + √(1 − ᾱ_t) ε,   activations = layer(unet(z_t, t, encoder_hidden_states))

  Args:
    unet: a diffusers ``UNet2DConditionModel`` (any module called as ``unet(z, t,
      encoder_hidden_states=c)``); put it in eval mode. It runs under ``torch.no_grad()`` on its
      parameters' device and dtype.
    latents: (N, C, h, w) clean latents z₀ (a torch tensor or an array): for Stable Diffusion the
      VAE's latent mean times ``vae.config.scaling_factor`` (0.18215).
    encoder_hidden_states: (1, L, D) text embedding shared by all samples (the empty prompt's, the
      authors' choice) or (N, L, D).
    timestep: DDPM timestep t (the authors: 10).
    layer: a name of ``unet.named_modules()`` (default ``SD_LAYER``).
    call: which call of ``layer`` in each forward pass (see ``collect_activations``; default -1).
    noise: (N, C, h, w) ε; default standard normal from ``torch.Generator().manual_seed(seed)`` on the
      CPU, drawn for the whole batch at once (so ``batch_size`` does not change it).
    seed: seed of that generator, in [0, 2**32).
    alphas_cumprod: ᾱ (T,) of another schedule (e.g. ``scheduler.alphas_cumprod``); default SD's,
      ``sd_alphas_cumprod()``.
    batch_size: samples per forward pass (default: all at once).
    to_numpy: as ``collect_activations``.

  Returns:
    (N, …) activations of ``layer``: (N, 1280, h/8, w/8) for SD 1.x and the defaults.
  """
  torch = _torch()
  _check_module(torch, unet)
  z = latents if isinstance(latents, torch.Tensor) else torch.as_tensor(np.asarray(latents))
  if z.ndim != 4 or z.shape[0] < 1 or not torch.is_floating_point(z):
    raise ValueError(f"latents must be a (N, C, h, w) float tensor with N >= 1, got shape {tuple(z.shape)} and "
                     f"dtype {z.dtype}")
  if not bool(torch.isfinite(z).all()):
    raise ValueError("latents must be finite, but they hold NaN or inf")
  c = encoder_hidden_states
  if not isinstance(c, torch.Tensor):
    c = torch.as_tensor(np.asarray(c))
  if c.ndim != 3 or c.shape[0] not in (1, z.shape[0]):
    raise ValueError(f"encoder_hidden_states must be (1, L, D) or (N, L, D) with N = {z.shape[0]}, got shape "
                     f"{tuple(c.shape)}")
  a = _check_alphas_cumprod(alphas_cumprod)
  t = _check_timestep(timestep, a)
  if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 32:
    raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
  if batch_size is None:
    batch_size = z.shape[0]
  if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
    raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
  if noise is None:
    noise = torch.randn(tuple(z.shape), generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float32)
  elif not isinstance(noise, torch.Tensor):
    noise = torch.as_tensor(np.asarray(noise))
  if tuple(noise.shape) != tuple(z.shape):
    raise ValueError(f"noise must have the latents' shape {tuple(z.shape)}, got {tuple(noise.shape)}")
  _check_layer_names(unet, layer, "layer")

  param = next(unet.parameters())
  device, dtype = param.device, param.dtype
  zt = (float(np.sqrt(a[t])) * z.detach().to("cpu", torch.float32)
        + float(np.sqrt(1.0 - a[t])) * noise.detach().to("cpu", torch.float32))
  c = c.detach().to(device, dtype)

  def run():
    with torch.no_grad():
      for start in range(0, zt.shape[0], batch_size):
        x = zt[start:start + batch_size].to(device, dtype)
        ts = torch.full((x.shape[0],), t, dtype=torch.long, device=device)
        ctx = c.expand(x.shape[0], -1, -1) if c.shape[0] == 1 else c[start:start + batch_size]
        unet(x, ts, encoder_hidden_states=ctx)

  return collect_activations(unet, [layer], run, call=call, to_numpy=to_numpy)[layer]
