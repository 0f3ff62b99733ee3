"""Argument checks, run on the host before anything is traced.

Each check raises ``ValueError`` naming the argument and what was expected. Value checks
(signs, finiteness) run only on concrete values; under a user's ``jax.jit`` they are skipped
and shape checks still apply.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds values (not a tracer inside jit/vmap/grad)."""
  return not isinstance(x, jax.core.Tracer)


def as_array(name: str, x: Any) -> jax.Array | np.ndarray:
  if isinstance(x, (jax.Array, np.ndarray)):
    return x
  try:
    return np.asarray(x)
  except Exception as err:  # pragma: no cover - numpy rarely refuses
    raise ValueError(f"{name} must be array-like, got {type(x).__name__}") from err


def check_array(name: str, x: Any, *, ndim: int | tuple[int, ...], floating: bool = True):
  """Checks rank (and a floating dtype); returns ``x`` as an array."""
  x = as_array(name, x)
  ndims = (ndim,) if isinstance(ndim, int) else ndim
  if x.ndim not in ndims:
    want = " or ".join(str(n) for n in ndims)
    raise ValueError(f"{name} must have rank {want}, got shape {tuple(x.shape)}")
  if floating and not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
    raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
  return x


def check_dim(name: str, x: Any, axis: int, size: int, what: str) -> None:
  if x.shape[axis] != size:
    raise ValueError(f"{name} must have {size} entries along axis {axis} ({what}), got shape {tuple(x.shape)}")


def check_nonempty(name: str, x: Any, axis: int = 0) -> None:
  if x.shape[axis] == 0:
    raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")


@jax.jit
def _sum_is_finite(x):
  return jnp.isfinite(jnp.sum(x))


def check_finite(name: str, x: Any) -> None:
  """Raises when a concrete array holds NaN or inf.

  Fast path: one fused sum, which is finite only when every entry is (NaN and ±inf propagate
  through IEEE addition). A non-finite sum can also be overflow of finite entries, so only then
  are the entries tested one by one.
  """
  if not is_concrete(x) or x.size == 0:
    return
  if isinstance(x, np.ndarray):
    if not np.issubdtype(x.dtype, np.floating):
      return
    with np.errstate(over="ignore", invalid="ignore"):
      ok = bool(np.isfinite(x.sum())) or bool(np.isfinite(x).all())
  elif jnp.issubdtype(x.dtype, jnp.floating):
    fast = jax.dtypes.canonicalize_dtype(x.dtype) == x.dtype  # not float64 made while x64 was on
    with jax.ensure_compile_time_eval():  # evaluate now, also while a caller is tracing
      ok = (fast and bool(_sum_is_finite(x))) or bool(jnp.isfinite(x).all())
  else:
    return
  if not ok:
    raise ValueError(f"{name} must be finite, but it holds NaN or inf")


def as_float64(name: str, x: Any, ndim: int | tuple[int, ...] = 2) -> np.ndarray:
  """A non-empty, finite real array of the given rank as host NumPy float64 (references)."""
  x = check_array(name, x, ndim=ndim)
  check_nonempty(name, x)
  check_finite(name, x)
  return np.asarray(x, np.float64)


def check_scalar(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False):
  """Checks a real scalar; sign checks apply when it is concrete. Returns it unchanged."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be a real number, got {value!r}")
  if isinstance(value, numbers.Real):
    v = float(value)
  else:
    arr = as_array(name, value)
    if arr.ndim != 0:
      raise ValueError(f"{name} must be a scalar, got shape {tuple(arr.shape)}")
    if not is_concrete(arr):
      return value
    v = float(arr)
  if not np.isfinite(v):
    raise ValueError(f"{name} must be finite, got {v}")
  if positive and not v > 0:
    raise ValueError(f"{name} must be > 0, got {v}")
  if nonnegative and not v >= 0:
    raise ValueError(f"{name} must be >= 0, got {v}")
  return value


def check_int(name: str, value: Any, *, minimum: int = 1) -> int:
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
  if value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
  return int(value)


SEED_LIMIT = 2 ** 32  # seeds are one uint32 word: jax.random.key, NumPy's default_rng and ModelSpec.seed all take it


def check_seed(name: str, seed: Any) -> int:
  """An integer seed in [0, 2**32), the range every use of a seed supports; returns it as an int."""
  if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
    raise ValueError(f"{name} must be an integer in [0, 2**32), got {seed!r}")
  if not 0 <= seed < SEED_LIMIT:
    raise ValueError(f"{name} must be an integer in [0, 2**32), got {seed}")
  return int(seed)


def check_key(name: str, key: Any):
  """One PRNG key: a typed key of shape () or raw uint32 key data of rank 1 (concrete or traced).

  Returns it unchanged. An integer is refused with a pointer to ``jax.random.key(seed)``.
  """
  if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
    raise ValueError(f"{name} must be a PRNG key such as jax.random.key(seed) with an integer seed in "
                     f"[0, 2**32), got the integer {key}")
  if not isinstance(key, (jax.Array, np.ndarray)):
    raise ValueError(f"{name} must be a PRNG key such as jax.random.key(seed), got {type(key).__name__}")
  typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
  if (typed and key.ndim == 0) or (not typed and key.dtype == np.uint32 and key.ndim == 1):
    return key
  raise ValueError(f"{name} must be one PRNG key (a typed key of shape () or raw uint32 key data of shape (2,); "
                   f"vmap over a batch of keys), got dtype {key.dtype} and shape {tuple(key.shape)}")


def check_int_array(name: str, values: Any, *, minimum: int | None = 0,
                    ndim: int | tuple[int, ...] = 1) -> np.ndarray:
  """Integers >= ``minimum`` (None: any) of an integer dtype, or floats with integral values, as a
  host int64 array of the given rank."""
  a = np.asarray(values)
  ndims = (ndim,) if isinstance(ndim, int) else ndim
  if a.ndim not in ndims:
    want = " or ".join(str(n) for n in ndims)
    raise ValueError(f"{name} must have rank {want}, got shape {a.shape}")
  integral = np.issubdtype(a.dtype, np.integer) or (
      np.issubdtype(a.dtype, np.floating) and bool(np.isfinite(a).all()) and bool((a == np.round(a)).all()))
  if a.dtype == np.bool_ or not integral:
    raise ValueError(f"{name} must hold integers" + ("" if minimum is None else f" >= {minimum}") + f", got {values!r}")
  if minimum is not None and a.size and a.min() < minimum:
    raise ValueError(f"{name} must hold integers >= {minimum}, got a minimum of {a.min()}")
  return a.astype(np.int64)


def check_weights(name: str, weights: Any, n: int):
  """Per-sample weights: shape (n,), finite, >= 0, not all zero (when concrete)."""
  w = check_array(name, weights, ndim=1)
  check_dim(name, w, 0, n, "one weight per training sample")
  check_finite(name, w)
  if is_concrete(w):
    wn = np.asarray(w)
    if (wn < 0).any():
      raise ValueError(f"{name} must be >= 0 everywhere, got a minimum of {wn.min()}")
    if not (wn > 0).any():
      raise ValueError(f"{name} must have at least one positive entry; all {n} are zero")
  return w


def check_float_dtype(name: str, dtype: Any):
  """A floating dtype (``jnp.float32``, ``np.float64``, "float32", …); returns it unchanged."""
  try:
    floating = jnp.issubdtype(dtype, jnp.floating)
  except TypeError:
    floating = False
  if not floating:
    raise ValueError(f"{name} must be a floating dtype, got {dtype!r}")
  return dtype


def float_dtype(*arrays) -> np.dtype:
  """The floating dtype the inputs promote to (float64 only when JAX's x64 mode is on)."""
  return jax.dtypes.canonicalize_dtype(np.result_type(*(np.dtype(a.dtype) for a in arrays), np.float32))
