"""Diffusion samplers driven by a denoiser x̂₀ = D(x, σ), for the VE (variance-exploding) process.

The forward process noises data as x_σ = x₀ + σ ε, ε ~ N(0, I). By Tweedie's formula the optimal
denoiser gives the score of the noised density,

    ∇ log p_σ(x) = (D(x, σ) − x) / σ²,

so every denoiser of the paper (Zhang et al., "Generalization of Diffusion Models Arises with a
Balanced Representation Space", ICLR 2026, arXiv 2512.20963) drives a sampler: the empirical
optimum f_emp (eq. 3), which can only reproduce training samples, the ground-truth f_gt of a
Gaussian mixture (eq. 4), or a trained ReLU-DAE (eq. 5). Samples are drawn by integrating from
x ~ N(0, σ₀² I) at σ₀ down a strictly decreasing grid σ₀ > σ₁ > … > σ_{N−2} > σ_{N−1} = 0, one
update per step i: σ_i → σ_{i+1}:

- ``"ancestral"``: the VE ancestral (Euler–Maruyama) step of the authors' diffusion sampler,
      δ = σ_i² − σ_{i+1}²,   x ← x + δ (x̂₀ − x)/σ_i² + √δ z,   z ~ N(0, I).
- ``"euler"``: the deterministic DDIM / probability-flow Euler step (paper eq. 1, whose two sign
  flips cancel; dx/dσ = (x − x̂₀)/σ),
      x ← x + (1 − σ_{i+1}/σ_i)(x̂₀ − x).
- ``"heun"``: the second-order step of EDM (Karras et al., 2022, Algorithm 1 without churn),
      d = (x − x̂₀)/σ_i,  x' = x + (σ_{i+1} − σ_i) d,
      d' = (x' − D(x', σ_{i+1}))/σ_{i+1},  x ← x + (σ_{i+1} − σ_i)(d + d')/2.

Every method makes the last step (σ_{N−2} → 0) land on the prediction itself: x ← x̂₀(x, σ_{N−2}).
(Each formula gives x̂₀ there up to rounding; the sampler returns x̂₀ exactly, and Heun makes no
second evaluation at σ = 0.)

Accuracy: Heun is second order and Euler first order in the
log-step h = ln(σ_i/σ_{i+1}) of a geometric grid; for a Gaussian, Heun on 256 levels 80 → 0.01
follows the exact probability-flow solution to 2e-4 relative. The ancestral sampler is first
order in distribution: for a Gaussian mode of variance λ ≫ σ_min² one step maps the variance
V = λ + σ_i² to V − δ + δ²/V instead of V − δ, so samples come out with their variance inflated,
by at most about 1.07 h when λ is small against the grid's top (by that recursion: +5 to 7 % on
the authors' grid ``geometric_sigmas(2.0, 0.02, 60)`` for the modes of its tests, +11.5 % with 100
levels 80 → 0.002, +2.0 to 2.8 % with 300 levels 80 → 0.02). The tests' covariance tolerance
(4 standard errors) does not resolve this inflation; the mixture test uses the fine grid.

Implementation: one ``jax.lax.scan`` over the grid, batched over the m samples, compiled per call
(nothing is cached across calls, so a denoiser closing over arrays that changed is never stale).
To draw repeatedly with one denoiser, wrap the call in ``jax.jit`` over the key or x_init; the
host checks then run once, at trace time. Arrays the denoiser closes over become constants of the
compiled program: for a large training set X, pass it through that outer jit instead, e.g.
``jax.jit(lambda key, X: sample(lambda x, s: empirical_denoiser(x, X, s), key, shape, sigmas))``
(with n = 60,000 images: 1.6 s to compile instead of 3.8 s and a 376 MB program text).
Keys: ``k_init, k_steps = jax.random.split(key)``; the starting noise comes from k_init and the
noise of step i from ``jax.random.fold_in(k_steps, i)``, so samples are bit-reproducible for a
key. All argument checks run on the host before anything is compiled, and raise ``ValueError``
naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks

METHODS = ("ancestral", "euler", "heun")
LOOPS = ("scan", "python")

Denoiser = Callable[[jax.Array, jax.Array], Any]
StepHook = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


class Trajectory(NamedTuple):
  """Snapshots of a sampling run (``sample_trajectory``).

  Snapshot s is taken at the start of step i = steps[s], i.e. at noise level σ_i = sigmas[s],
  before that step's update.

  Attributes:
    samples: the final samples at σ = 0, (m, d); bit for bit those of ``sample``.
    sigmas: (S,) the grid levels σ_i of the snapshots (after snapping, see ``sample_trajectory``).
    steps: (S,) int32 step indices i, increasing (so σ decreasing), no repeats.
    x: (S, m, d) the state x_i at σ_i (x[0] is the starting point when steps[0] = 0).
    denoised: (S, m, d) the prediction x̂₀ = D(x_i, σ_i) that step i used (after ``step_hook``).
    aux: with ``has_aux=True``, the denoiser's aux pytree at each snapshot, every leaf with a
      leading axis S; else None.
  """

  samples: jax.Array
  sigmas: jax.Array
  steps: jax.Array
  x: jax.Array
  denoised: jax.Array
  aux: Any = None


def geometric_sigmas(sigma_max, sigma_min, num: int, *, dtype=jnp.float32) -> jax.Array:
  """The authors' noise grid: ``num`` geometric levels from σ_max down to σ_min, then 0.

      σ_i = σ_max (σ_min/σ_max)^{i/(num−1)},  i = 0, …, num − 1;   σ_num = 0.

  The default grid of the paper's diffusion experiments is ``geometric_sigmas(2.0, 0.02, 60)``.

  Args:
    sigma_max: the first (largest) level, > sigma_min.
    sigma_min: the last positive level, > 0.
    num: number of positive levels, >= 2.
    dtype: floating dtype of the grid (float64 only when JAX's x64 mode is on).

  Returns:
    (num + 1,) strictly decreasing grid ending in exactly 0, with exactly σ_max and σ_min at its
    ends (computed in float64 on the host, then cast).
  """
  for name, value in (("sigma_max", sigma_max), ("sigma_min", sigma_min)):
    checks.check_scalar(name, value, positive=True)
    if not checks.is_concrete(value):
      raise ValueError(f"{name} must be a concrete number (the grid is built on the host), got a tracer")
  hi, lo = float(sigma_max), float(sigma_min)
  if not hi > lo:
    raise ValueError(f"sigma_max must be > sigma_min, got sigma_max = {hi} and sigma_min = {lo}")
  num = checks.check_int("num", num, minimum=2)
  dtype = jax.dtypes.canonicalize_dtype(checks.check_float_dtype("dtype", dtype))
  levels = np.geomspace(hi, lo, num)
  levels[0], levels[-1] = hi, lo
  grid = np.asarray(np.append(levels, 0.0), dtype)
  if not (np.diff(grid.astype(np.float64)) < 0).all():
    raise ValueError(f"num = {num} levels between sigma_max = {hi} and sigma_min = {lo} are not all distinct "
                     f"in {dtype}; use fewer levels or a wider dtype")
  return jnp.asarray(grid)


# ----------------------------------------------------------------------------------------------
# Host-side argument checks.


def _check_shape(shape) -> tuple[int, int]:
  ok = isinstance(shape, (tuple, list)) and len(shape) == 2 and all(
      isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in shape)
  if not ok:
    raise ValueError(f"shape must be a pair (m, d) of positive integers, got {shape!r}")
  m, d = int(shape[0]), int(shape[1])
  if m < 1 or d < 1:
    raise ValueError(f"shape must be (m, d) with m >= 1 samples and d >= 1 dimensions, got {(m, d)}")
  return m, d


def _check_sigmas(sigmas, dtype) -> jax.Array:
  s = jnp.asarray(sigmas, dtype)
  if checks.is_concrete(s):
    v = np.asarray(s, np.float64)
    if not np.isfinite(v).all():
      raise ValueError("sigmas must be finite, but it holds NaN or inf")
    if (v < 0).any():
      raise ValueError(f"sigmas must be >= 0, got a minimum of {v.min()}")
    if v[-1] != 0.0:
      raise ValueError(f"sigmas must end in exactly 0 (the last step lands on the prediction), got {v[-1]}")
    bad = np.flatnonzero(np.diff(v) >= 0)
    if bad.size:
      i = int(bad[0])
      raise ValueError(f"sigmas must be strictly decreasing (in {np.dtype(dtype).name}), but sigmas[{i}] = {v[i]} "
                       f"<= sigmas[{i + 1}] = {v[i + 1]}")
  return s


def _check_key(key, needed: bool, method: str):
  if key is None:
    if needed:
      why = "method 'ancestral' draws noise" if method == "ancestral" else "x_init is None"
      raise ValueError(f"key must be a PRNG key (jax.random.key or jax.random.PRNGKey): {why}; got None")
    return None
  if not isinstance(key, (jax.Array, np.ndarray)):
    raise ValueError(f"key must be a PRNG key (jax.random.key or jax.random.PRNGKey), got {type(key).__name__}")
  typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
  raw = key.dtype == np.uint32 and key.ndim == 1
  if not ((typed and key.ndim == 0) or raw):
    raise ValueError(f"key must be one PRNG key (a typed key of shape () or a raw uint32 key of shape (2,)), "
                     f"got dtype {key.dtype} and shape {tuple(key.shape)}")
  return key


def _check_clamp(clamp):
  if clamp is None:
    return None
  ok = isinstance(clamp, (tuple, list)) and len(clamp) == 2 and all(
      isinstance(c, numbers.Real) and not isinstance(c, (bool, np.bool_)) for c in clamp)
  if not ok:
    raise ValueError(f"clamp must be None or a pair (low, high) of real numbers, got {clamp!r}")
  low, high = float(clamp[0]), float(clamp[1])
  if not (np.isfinite(low) and np.isfinite(high) and low < high):
    raise ValueError(f"clamp must be a pair (low, high) of finite numbers with low < high, got {(low, high)}")
  return low, high


def _describe(out) -> str:
  if isinstance(out, jax.ShapeDtypeStruct):
    return f"an array of shape {tuple(out.shape)} and dtype {out.dtype}"
  if isinstance(out, tuple):
    return f"a tuple of length {len(out)}"
  return f"a {type(out).__name__}"


def _check_prediction(name: str, out, m: int, d: int, what: str):
  if not isinstance(out, jax.ShapeDtypeStruct):
    raise ValueError(f"{name} must return {what} as one array of shape (m, d) = {(m, d)}, got {_describe(out)}")
  if tuple(out.shape) != (m, d):
    raise ValueError(f"{name} must return {what} with the shape of x, (m, d) = {(m, d)}, got shape {tuple(out.shape)}")
  if not jnp.issubdtype(out.dtype, jnp.floating):
    raise ValueError(f"{name} must return {what} with a floating dtype, got {out.dtype}")


def _check_denoiser(denoise, m: int, d: int, dtype, has_aux: bool):
  """Traces ``denoise`` abstractly (``jax.eval_shape``, σ traced) and checks its output; returns the aux spec."""
  if not callable(denoise):
    raise ValueError(f"denoise must be a callable denoise(x, sigma) -> x̂₀, got {type(denoise).__name__}")
  x_spec, s_spec = jax.ShapeDtypeStruct((m, d), dtype), jax.ShapeDtypeStruct((), dtype)
  try:
    out = jax.eval_shape(denoise, x_spec, s_spec)
  except Exception as err:
    raise ValueError(f"denoise failed when traced on x of shape {(m, d)} ({np.dtype(dtype).name}) with a traced "
                     f"scalar sigma (it must not convert sigma or x to Python numbers): "
                     f"{type(err).__name__}: {err}") from err
  if has_aux:
    if not (isinstance(out, tuple) and len(out) == 2):
      raise ValueError(f"denoise must return a pair (x̂₀, aux) when has_aux=True, got {_describe(out)}")
    den, aux = out
  else:
    if isinstance(out, (tuple, list)):
      raise ValueError(f"denoise returned {_describe(out)} but has_aux=False: return x̂₀ alone, "
                       f"or pass has_aux=True to sample_trajectory for (x̂₀, aux)")
    den, aux = out, None
  _check_prediction("denoise", den, m, d, "x̂₀")
  return aux


def _check_step_hook(step_hook, m: int, d: int, dtype):
  if step_hook is None:
    return
  if not callable(step_hook):
    raise ValueError(f"step_hook must be None or a callable step_hook(step, sigma, sigma_next, x, denoised), "
                     f"got {type(step_hook).__name__}")
  x_spec, s_spec = jax.ShapeDtypeStruct((m, d), dtype), jax.ShapeDtypeStruct((), dtype)
  try:
    out = jax.eval_shape(step_hook, jax.ShapeDtypeStruct((), jnp.int32), s_spec, s_spec, x_spec, x_spec)
  except Exception as err:
    raise ValueError(f"step_hook failed when traced with (step, sigma, sigma_next, x, denoised): "
                     f"{type(err).__name__}: {err}") from err
  _check_prediction("step_hook", out, m, d, "the prediction")


def _check_x_init(x_init, m: int, d: int):
  x = checks.check_array("x_init", x_init, ndim=2)
  if tuple(x.shape) != (m, d):
    raise ValueError(f"x_init must have shape (m, d) = {(m, d)}, got {tuple(x.shape)}")
  checks.check_finite("x_init", x)
  return x


def _check_common(denoise, key, shape, sigmas, method, x_init, clamp, step_hook, has_aux):
  """Every host check; returns the normalised arguments."""
  if not isinstance(method, str) or method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  m, d = _check_shape(shape)
  sig = checks.check_array("sigmas", sigmas, ndim=1)
  if sig.shape[0] < 2:
    raise ValueError(f"sigmas must hold at least 2 levels (one step, ending in 0), got {sig.shape[0]}")
  if x_init is not None:
    x_init = _check_x_init(x_init, m, d)
    dtype = checks.float_dtype(x_init)
    x_init = jnp.asarray(x_init, dtype)
  else:
    dtype = checks.float_dtype(sig)
  sig = _check_sigmas(sig, dtype)
  key = _check_key(key, needed=method == "ancestral" or x_init is None, method=method)
  clamp = _check_clamp(clamp)
  if not isinstance(has_aux, bool):
    raise ValueError(f"has_aux must be True or False, got {has_aux!r}")
  aux_spec = _check_denoiser(denoise, m, d, dtype, has_aux)
  _check_step_hook(step_hook, m, d, dtype)
  return key, (m, d), sig, x_init, clamp, dtype, aux_spec


def _snapshot_table(sig, num_steps: int, snapshot_sigmas, snapshot_steps) -> np.ndarray:
  """Sorted, distinct snapshot steps in [0, num_steps − 1]."""
  if snapshot_sigmas is not None and snapshot_steps is not None:
    raise ValueError("snapshot_sigmas and snapshot_steps are exclusive: pass one of them (or neither: every step)")
  if snapshot_steps is not None:
    a = checks.check_array("snapshot_steps", snapshot_steps, ndim=(0, 1), floating=False)
    if not checks.is_concrete(a):
      raise ValueError("snapshot_steps must be concrete integers, got a tracer")
    a = np.atleast_1d(np.asarray(a))
    if a.size == 0 or not np.issubdtype(a.dtype, np.integer):
      raise ValueError(f"snapshot_steps must be a non-empty list of integer step indices, got {snapshot_steps!r}")
    if (a < 0).any() or (a > num_steps - 1).any():
      raise ValueError(f"snapshot_steps must lie in [0, {num_steps - 1}] (step i starts at sigmas[i]; the final "
                       f"samples at sigma = 0 are Trajectory.samples), got {a.tolist()}")
    return np.unique(a)
  if snapshot_sigmas is not None:
    a = checks.check_array("snapshot_sigmas", snapshot_sigmas, ndim=(0, 1))
    if not (checks.is_concrete(a) and checks.is_concrete(sig)):
      raise ValueError("snapshot_sigmas needs concrete snapshot_sigmas and sigmas (they are matched on the host)")
    a = np.atleast_1d(np.asarray(a, np.float64))
    if a.size == 0:
      raise ValueError("snapshot_sigmas must not be empty")
    if not (np.isfinite(a).all() and (a > 0).all()):
      raise ValueError(f"snapshot_sigmas must be finite and > 0 (the final samples at sigma = 0 are "
                       f"Trajectory.samples), got {a.tolist()}")
    levels = np.asarray(sig, np.float64)[:num_steps]
    return np.unique(np.argmin(np.abs(a[:, None] - levels[None, :]), axis=1))
  return np.arange(num_steps)


# ----------------------------------------------------------------------------------------------
# The compiled sampler.


def _ancestral_step(i, s, s_next, x, den, k_steps):
  """x + δ (x̂₀ − x)/σ_i² + √δ z, δ = σ_i² − σ_{i+1}², z from fold_in(k_steps, i)."""
  delta = s * s - s_next * s_next
  z = jax.random.normal(jax.random.fold_in(k_steps, i), x.shape, x.dtype)
  return x + delta * ((den - x) / (s * s)) + jnp.sqrt(delta) * z


def _euler_step(s, s_next, x, den):
  return x + (1 - s_next / s) * (den - x)


def _heun_predictor(s, s_next, x, den):
  return x + (s_next - s) * ((x - den) / s)


def _heun_corrector(s, s_next, x, den, x_euler, den2):
  return x + (s_next - s) * (0.5 * ((x - den) / s + (x_euler - den2) / s_next))


def _clip(x, low, high):
  return jnp.clip(x, low, high)


def _step_functions(denoise, step_hook, method, clamp, has_aux, dtype):
  """(predict, update): the denoiser's prediction at step i and the sampler's step from it."""

  def predict(i, s, s_next, x):
    out = denoise(x, s)
    den, aux = out if has_aux else (out, None)
    den = jnp.asarray(den, dtype)
    if step_hook is not None:
      den = jnp.asarray(step_hook(i, s, s_next, x, den), dtype)
    return den, aux

  def update(i, s, s_next, x, den, k_steps):
    if method == "ancestral":
      x_new = jnp.where(s_next > 0, _ancestral_step(i, s, s_next, x, den, k_steps), den)
    elif method == "euler":
      x_new = jnp.where(s_next > 0, _euler_step(s, s_next, x, den), den)
    else:  # heun
      x_euler = _heun_predictor(s, s_next, x, den)

      def correct(_):
        den2, _ = predict(i, s_next, s_next, x_euler)
        return _heun_corrector(s, s_next, x, den, x_euler, den2)

      x_new = jax.lax.cond(s_next > 0, correct, lambda _: den, None)
    if clamp is not None:
      x_new = _clip(x_new, clamp[0], clamp[1])
    return x_new

  return predict, update


def _start(key, x_init, sigma0, shape, dtype):
  """(x at σ₀, the steps' key): x_init, or σ₀ · N(0, I) from split(key)[0]."""
  k_init, k_steps = jax.random.split(key) if key is not None else (None, None)
  x0 = sigma0 * jax.random.normal(k_init, shape, dtype) if x_init is None else x_init
  return x0, k_steps


_ancestral_jit, _euler_jit, _heun_predictor_jit, _heun_corrector_jit, _clip_jit, _start_jit = (
    jax.jit(_ancestral_step), jax.jit(_euler_step), jax.jit(_heun_predictor), jax.jit(_heun_corrector),
    jax.jit(_clip), jax.jit(_start, static_argnums=(3, 4)))


def _run_python(denoise, step_hook, method, clamp, dtype, shape, x_init, key, sigmas):
  """The sampler as a Python loop: the denoiser is called as given (jit it, with its parameters as
  arguments, and nothing is compiled again per call or per model) and each update is one of the
  scan's step formulas, compiled once. Heun's corrector is skipped on the last step, as in the scan."""
  predict, _ = _step_functions(denoise, step_hook, method, clamp, False, dtype)
  x, k_steps = _start_jit(key, x_init, sigmas[0], shape, dtype)
  levels = [float(v) for v in np.asarray(sigmas)]
  for i in range(len(levels) - 1):
    s, s_next, idx = jnp.asarray(levels[i], dtype), jnp.asarray(levels[i + 1], dtype), jnp.int32(i)
    den, _ = predict(idx, s, s_next, x)
    if levels[i + 1] == 0.0:
      x = den
    elif method == "ancestral":
      x = _ancestral_jit(idx, s, s_next, x, den, k_steps)
    elif method == "euler":
      x = _euler_jit(s, s_next, x, den)
    else:
      x_euler = _heun_predictor_jit(s, s_next, x, den)
      x = _heun_corrector_jit(s, s_next, x, den, x_euler, predict(idx, s_next, s_next, x_euler)[0])
    if clamp is not None:
      x = _clip_jit(x, clamp[0], clamp[1])
  return x


def _run(denoise, step_hook, method, clamp, has_aux, dtype, shape, slots, aux_spec, x_init, key, sigmas):
  """Traces and compiles the scan; returns (samples, (x, denoised, aux) buffers or None)."""
  m, d = shape
  num_steps = sigmas.shape[0] - 1
  record = slots is not None
  num_snaps = int((slots >= 0).sum()) if record else 0
  predict, update = _step_functions(denoise, step_hook, method, clamp, has_aux, dtype)

  def program(x_init, key, sigmas):
    x0, k_steps = _start(key, x_init, sigmas[0], (m, d), dtype)
    slot_table = jnp.asarray(slots, jnp.int32) if record else None

    def body(carry, inputs):
      x, rec = carry
      i, s, s_next = inputs
      den, aux = predict(i, s, s_next, x)
      # The barrier fixes the numerics of the update whatever else reads x and x̂₀ (the snapshot
      # writes), so ``sample`` and ``sample_trajectory`` agree bit for bit.
      x, den = jax.lax.optimization_barrier((x, den))
      if record:
        slot = slot_table[i]

        def write(r):
          xs, dens, auxs = r
          put = lambda buf, v: jax.lax.dynamic_update_index_in_dim(buf, jnp.asarray(v, buf.dtype), slot, 0)
          return put(xs, x), put(dens, den), jax.tree.map(put, auxs, aux)

        rec = jax.lax.cond(slot >= 0, write, lambda r: r, rec)
      return (update(i, s, s_next, x, den, k_steps), rec), None

    rec0 = None
    if record:
      zeros = lambda spec: jnp.zeros((num_snaps,) + tuple(spec.shape), spec.dtype)
      rec0 = (jnp.zeros((num_snaps, m, d), dtype), jnp.zeros((num_snaps, m, d), dtype),
              jax.tree.map(zeros, aux_spec))
    steps = jnp.arange(num_steps, dtype=jnp.int32)
    (x, rec), _ = jax.lax.scan(body, (x0, rec0), (steps, sigmas[:-1], sigmas[1:]))
    return x, rec

  return jax.jit(program)(x_init, key, sigmas)


def sample(denoise: Denoiser, key, shape, sigmas, *, method: str = "ancestral", x_init=None, clamp=None,
           step_hook: StepHook | None = None, loop: str = "scan") -> jax.Array:
  """Draws samples by integrating the VE diffusion from σ₀ down the grid with denoiser D.

  Starting point x_0 = x_init, or σ₀ · N(0, I) from ``jax.random.split(key)[0]``. Step i maps
  x_i at σ_i to x_{i+1} at σ_{i+1} with x̂₀ = step_hook(i, σ_i, σ_{i+1}, x_i, D(x_i, σ_i)):

    ancestral (VE Euler–Maruyama; score (x̂₀ − x)/σ², δ = σ_i² − σ_{i+1}²):
        x_{i+1} = x_i + δ (x̂₀ − x_i)/σ_i² + √δ z_i,   z_i ~ N(0, I) from fold_in(split(key)[1], i)
    euler (DDIM / probability-flow ODE, paper eq. 1):
        x_{i+1} = x_i + (1 − σ_{i+1}/σ_i)(x̂₀ − x_i)
    heun (EDM, Karras et al. 2022, Alg. 1 without churn):
        d = (x_i − x̂₀)/σ_i,  x' = x_i + (σ_{i+1} − σ_i) d,
        d' = (x' − x̂₀')/σ_{i+1} with x̂₀' = step_hook(i, σ_{i+1}, σ_{i+1}, x', D(x', σ_{i+1})),
        x_{i+1} = x_i + (σ_{i+1} − σ_i)(d + d')/2
  and the last step (to σ_{N−1} = 0) returns x̂₀ itself (no noise, no corrector). With ``clamp =
  (low, high)`` every x_{i+1} is clipped to [low, high] (the authors clamp images to [−1, 1]).

  Args:
    denoise: ``denoise(x, sigma) -> x̂₀``: x a batch (m, d), sigma a traced scalar of x's dtype;
      returns (m, d) (cast to the samples' dtype). The closed-form denoisers work as is, e.g.
      ``lambda x, s: empirical_denoiser(x, train, s)`` or ``lambda x, s: gmm_denoiser(x, mix, s)``.
    key: PRNG key; may be None for "euler" and "heun" when x_init is given.
    shape: (m, d), the number of samples and their dimension.
    sigmas: (N,) grid, N >= 2, strictly decreasing, >= 0, ending in exactly 0 (e.g.
      ``geometric_sigmas(2.0, 0.02, 60)``); cast to the samples' dtype, and checked after the cast.
    method: "ancestral", "euler" or "heun" (2 denoiser calls per step but the last).
    x_init: optional (m, d) starting point at σ₀. The samples take its dtype, else the grid's.
    clamp: None or (low, high), low < high.
    step_hook: optional ``step_hook(step, sigma, sigma_next, x, denoised) -> denoised`` applied to
      every prediction before it is used (guidance, steering): sigma is the level the prediction
      was made at, sigma_next the level the step ends at (both σ_{i+1} for Heun's corrector).
    loop: "scan" (one compiled program) or "python" (a Python loop: one denoiser call per
      evaluation and small jitted updates, the same steps; for denoisers that XLA:CPU runs slowly
      inside a compiled loop, such as convolutions. Give it a jitted denoiser whose parameters are
      arguments, such as ``deep_denoiser``'s, and call it outside jit: it needs concrete sigmas).

  Returns:
    (m, d) samples at σ = 0; the same bits for the same arguments and key, and the same bits as
    ``sample_trajectory(...).samples`` (with loop "python": equal up to rounding).

  Compiled anew per call (see the module docstring); memory O(m·d) beyond the denoiser's.
  """
  if not isinstance(loop, str) or loop not in LOOPS:
    raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
  key, shape, sig, x_init, clamp, dtype, _ = _check_common(denoise, key, shape, sigmas, method, x_init, clamp,
                                                          step_hook, False)
  if loop == "python":
    if not checks.is_concrete(sig):
      raise ValueError("sigmas must be concrete for loop='python' (a Python loop over the levels); "
                       "call sample outside jit or use loop='scan'")
    return _run_python(denoise, step_hook, method, clamp, dtype, shape, x_init, key, sig)
  samples, _ = _run(denoise, step_hook, method, clamp, False, dtype, shape, None, None, x_init, key, sig)
  return samples


def sample_trajectory(denoise: Denoiser, key, shape, sigmas, *, method: str = "ancestral", x_init=None, clamp=None,
                      step_hook: StepHook | None = None, snapshot_sigmas=None, snapshot_steps=None,
                      has_aux: bool = False) -> Trajectory:
  """``sample`` that also records x_i, x̂₀ and the denoiser's aux at chosen steps.

  Snapshot of step i: (σ_i, x_i, x̂₀ = step_hook(i, σ_i, σ_{i+1}, x_i, D(x_i, σ_i)), aux(x_i, σ_i)),
  taken before the step's update; step 0 records the starting point. The run and its final
  samples are those of ``sample`` bit for bit.

  Args:
    denoise, key, shape, sigmas, method, x_init, clamp, step_hook: as for ``sample``.
    snapshot_sigmas: noise levels to record (scalar or 1-D, all > 0). Each is snapped to the
      nearest positive grid level σ_0 … σ_{N−2} (nearest by |σ − σ_i|, ties to the larger σ_i);
      ``Trajectory.sigmas`` holds the levels used. Needs a concrete grid.
    snapshot_steps: step indices to record instead (integers in [0, N − 2]). Pass at most one of
      the two; with neither, every step is recorded. Either way the snapshots are sorted by step
      and repeats are dropped.
    has_aux: ``denoise`` returns (x̂₀, aux) with aux a pytree of arrays (e.g. a network's hidden
      code h of shape (m, k)); aux is recorded at each snapshot. For Heun, the aux of the
      corrector's evaluation is discarded.

  Returns:
    ``Trajectory``: samples (m, d); sigmas (S,); steps (S,); x and denoised (S, m, d); aux with
    leaves (S, …) or None. Memory 2·S·m·d (plus aux) beyond ``sample``'s.
  """
  key, shape, sig, x_init, clamp, dtype, aux_spec = _check_common(denoise, key, shape, sigmas, method, x_init,
                                                                  clamp, step_hook, has_aux)
  num_steps = sig.shape[0] - 1
  steps = _snapshot_table(sig, num_steps, snapshot_sigmas, snapshot_steps)
  slots = np.full((num_steps,), -1, np.int32)
  slots[steps] = np.arange(steps.size, dtype=np.int32)
  samples, (xs, dens, auxs) = _run(denoise, step_hook, method, clamp, has_aux, dtype, shape, slots, aux_spec,
                                   x_init, key, sig)
  steps_arr = jnp.asarray(steps, jnp.int32)
  return Trajectory(samples=samples, sigmas=sig[steps_arr], steps=steps_arr, x=xs, denoised=dens,
                    aux=auxs if has_aux else None)
