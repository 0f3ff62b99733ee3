"""Fast exact Gaussian noise: Threefry-2x32 with both output words used.

``jax.random.normal`` under JAX's default partitionable Threefry hashes one counter pair per
output word and XORs the two words it gets (half the work thrown away). Here each Threefry-2x32
evaluation (the same 20-round hash, ``jax.extend.random.threefry2x32_p``) on the counter
(row, column pair) yields two words, used for columns 2j and 2j + 1: half the hashing per normal.
The words go through JAX's own uniform → normal map (23 mantissa bits, √2·erfinv), so each value
is a float32 standard normal with the same law as ``jax.random.normal``'s.

Row-prefix property (as for JAX's partitionable keys): ``standard_normal(key, (m, d))`` equals the
first m rows of ``standard_normal(key, (n, d))`` for n > m, so models that share a padded data
array draw the same noise for the same rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry2x32_p


def _key_words(key: jax.Array) -> tuple[jax.Array, jax.Array]:
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    data = jax.random.key_data(key)
  else:
    data = key
  if data.shape != (2,):
    raise ValueError(f"key must be a threefry key (two uint32 words), got key data of shape {data.shape}")
  return data[0], data[1]


def standard_normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """i.i.d. N(0, 1) of the given shape (last axis = columns), from a Threefry key.

  Args:
    key: a ``jax.random.key(…)`` with the threefry2x32 implementation (or raw (2,) uint32 data).
    shape: output shape; leading axes are flattened into rows (row-prefix property above).
    dtype: float32 (or float64 under x64; the uniform then still carries 23 random bits).

  Returns:
    An array of the given shape.
  """
  shape = tuple(int(s) for s in shape)
  cols = shape[-1] if shape else 1
  rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
  pairs = (cols + 1) // 2
  if rows * pairs >= 2 ** 32:
    raise ValueError(f"shape {shape} is too large for one call (rows × ⌈cols/2⌉ must be < 2^32)")
  k1, k2 = _key_words(key)
  row = jax.lax.broadcasted_iota(jnp.uint32, (rows, pairs), 0)
  col = jax.lax.broadcasted_iota(jnp.uint32, (rows, pairs), 1)
  w1, w2 = threefry2x32_p.bind(k1, k2, row, col)
  bits = jnp.stack([w1, w2], axis=-1).reshape(rows, 2 * pairs)[:, :cols]
  one = jnp.uint32(np.float32(1.0).view(np.uint32))
  unit = jax.lax.bitcast_convert_type((bits >> jnp.uint32(9)) | one, jnp.float32) - 1.0  # [0, 1)
  lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
  u = jnp.maximum(lo, unit * (1.0 - lo) + lo)  # (−1, 1), as jax.random.uniform(lo, 1)
  z = jnp.sqrt(2.0).astype(jnp.float32) * jax.lax.erf_inv(u)
  return z.astype(dtype).reshape(shape)
