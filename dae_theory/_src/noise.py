"""Fast exact Gaussian noise from Threefry-2x32 counters: two transforms of the same words.

Each Threefry-2x32 evaluation (the same 20-round hash as ``jax.extend.random.threefry2x32_p``, bit
for bit) on the counter (row, column pair j) yields two uint32 words. Two exact maps to N(0, 1):

- ``standard_normal_box_muller`` (the default noise of training): the pair of words →
  (r cos θ, r sin θ) for columns j and ⌈d/2⌉ + j, with r = √(−2 ln u), u ∈ (0, 1] from word 1
  (23 bits) and θ uniform on a full turn from word 2 (2 quadrant bits + 23 bits); sin and cos are
  short polynomials on [−π/4, π/4] (error ≤ 2e-7), cheaper than erfinv's logarithm-plus-polynomial
  per value. Box and Muller (1958): two independent standard normals per pair of independent
  uniforms.
- ``standard_normal``: word 1 → column 2j, word 2 → column 2j + 1, each through JAX's own
  uniform → normal map (23 mantissa bits, √2·erfinv): float32 standard normals with the same law
  as ``jax.random.normal``'s, different draws from Box–Muller's. (``jax.random.normal`` under
  JAX's default partitionable Threefry XORs the two words of each hash into one.)

The hash is written out round by round (``threefry2x32``) rather than bound as JAX's primitive:
on CPU JAX lowers that primitive to a 5-trip while loop, which XLA cannot fuse, so the state
arrays go through memory on every trip and the uniform → normal map runs as a separate pass.
Unrolled, hash, transform and whatever consumes the noise (y = x + σε) are one fused loop: 1.15×
the training steps per second on a 2-core CPU with the same bits; Box–Muller gains another
1.3× there (its programs compiled with 512-bit vectors, ``train.compiler_options``;
docs/performance-notes.md). Both samplers are written per output value (counter, word and formula from the
column index), so that XLA emits that one loop and hashes once per value.

Row-prefix property (as for JAX's partitionable keys): ``standard_normal(key, (m, d))`` equals the
first m rows of ``standard_normal(key, (n, d))`` for n > m (both transforms), so models that share
a padded data array draw the same noise for the same rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def threefry2x32(key1: jax.Array, key2: jax.Array, count1: jax.Array, count2: jax.Array):
  """Threefry-2x32 with 20 rounds (Salmon et al. 2011), unrolled; uint32 in, two uint32 words out.

  Bit-identical to ``jax.extend.random.threefry2x32_p.bind(key1, key2, count1, count2)``; the four
  arguments broadcast against each other.
  """
  keys = (key1, key2, key1 ^ key2 ^ jnp.uint32(_KEY_PARITY))
  x0, x1 = count1 + keys[0], count2 + keys[1]
  for block in range(5):
    for r in _ROTATIONS[block % 2]:
      x0 = x0 + x1
      x1 = (x1 << jnp.uint32(r)) | (x1 >> jnp.uint32(32 - r))
      x1 = x0 ^ x1
    x0 = x0 + keys[(block + 1) % 3]
    x1 = x1 + keys[(block + 2) % 3] + jnp.uint32(block + 1)
  return x0, x1


def _key_words(key: jax.Array) -> tuple[jax.Array, jax.Array]:
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    data = jax.random.key_data(key)
  else:
    data = key
  if data.shape != (2,):
    raise ValueError(f"key must be a threefry key (two uint32 words), got key data of shape {data.shape}")
  return data[0], data[1]


def _rows_and_cols(shape: tuple[int, ...]):
  """(shape, rows, cols): rows = product of the leading axes, cols = the last axis."""
  shape = tuple(int(s) for s in shape)
  cols = shape[-1] if shape else 1
  rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
  if rows * ((cols + 1) // 2) >= 2 ** 32:
    raise ValueError(f"shape {shape} is too large for one call (rows × ⌈cols/2⌉ must be < 2^32)")
  return shape, rows, cols


def _unit_interval(bits: jax.Array) -> jax.Array:
  """[0, 1) from the top 23 bits, as ``jax.random.uniform``: a float in [1, 2) minus 1."""
  one = jnp.uint32(np.float32(1.0).view(np.uint32))
  return jax.lax.bitcast_convert_type((bits >> jnp.uint32(9)) | one, jnp.float32) - 1.0


def standard_normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """i.i.d. N(0, 1) of the given shape (last axis = columns), from a Threefry key: √2·erfinv(u).

  Args:
    key: a ``jax.random.key(…)`` with the threefry2x32 implementation (or raw (2,) uint32 data).
    shape: output shape; leading axes are flattened into rows (row-prefix property above).
    dtype: float32 (or float64 under x64; the uniform then still carries 23 random bits).

  Returns:
    An array of the given shape.
  """
  shape, rows, cols = _rows_and_cols(shape)
  k1, k2 = _key_words(key)
  row = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 0)
  col = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 1)
  # Column c takes word 1 or 2 of pair c // 2, written per output value (the same bits as stacking
  # the two words and reshaping, which XLA fused less well: 1.06× the sweep's steps/s this way).
  w1, w2 = threefry2x32(k1, k2, row, col >> jnp.uint32(1))
  bits = jnp.where((col & jnp.uint32(1)) == 1, w2, w1)
  lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
  u = jnp.maximum(lo, _unit_interval(bits) * (1.0 - lo) + lo)  # (−1, 1), as jax.random.uniform(lo, 1)
  z = jnp.sqrt(2.0).astype(jnp.float32) * jax.lax.erf_inv(u)
  return z.astype(dtype).reshape(shape)


# Cephes' single-precision minimax coefficients for sin and cos on [−π/4, π/4].
_SIN = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)
_COS = (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)


def _cos_of_turn(bits: jax.Array, quarter_turns_back: jax.Array) -> jax.Array:
  """cos(θ − k·π/2) with θ = q·π/2 + φ: q the top 2 bits of ``bits``, φ = (t − ½)·π/2 with t the
  next 23 bits, k = ``quarter_turns_back`` (0 gives cos θ, 1 gives sin θ).

  θ covers [−π/4, 7π/4) uniformly, a full turn. sin φ and cos φ are polynomials; turning back by
  k quarters only changes the quadrant q − k (mod 4), which picks sin φ or cos φ and the sign
  exactly: cos φ, −sin φ, −cos φ, sin φ for quadrants 0, 1, 2, 3.
  """
  quadrant = ((bits >> jnp.uint32(30)) - quarter_turns_back) & jnp.uint32(3)
  phi = (_unit_interval(bits << jnp.uint32(2)) - 0.5) * jnp.float32(np.pi / 2)
  z = phi * phi
  sin = phi + phi * z * (_SIN[2] + z * (_SIN[1] + z * _SIN[0]))
  cos = 1.0 - 0.5 * z + z * z * (_COS[2] + z * (_COS[1] + z * _COS[0]))
  value = jnp.where((quadrant & jnp.uint32(1)) == 1, sin, cos)
  return jnp.where((quadrant == 1) | (quadrant == 2), -value, value)


def standard_normal_box_muller(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """i.i.d. N(0, 1) of the given shape from a Threefry key, by Box–Muller (module docstring).

  Column j < ⌈d/2⌉ holds r cos θ and column ⌈d/2⌉ + j holds r sin θ of the same counter (row, j);
  r = √(−2 ln u) with u = 1 − (23-bit uniform) ∈ (0, 1], so |z| ≤ √(46 ln 2) ≈ 5.65.

  Args:
    key: a ``jax.random.key(…)`` with the threefry2x32 implementation (or raw (2,) uint32 data).
    shape: output shape; leading axes are flattened into rows (row-prefix property above).
    dtype: float32 (computed in float32 and cast).

  Returns:
    An array of the given shape.
  """
  shape, rows, cols = _rows_and_cols(shape)
  pairs = (cols + 1) // 2
  k1, k2 = _key_words(key)
  row = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 0)
  col = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 1)
  second_half = (col >= pairs).astype(jnp.uint32)  # the sin column of pair col − pairs
  # One formula per output value (hash, radius, one quarter-turned cosine): XLA fuses it into one
  # vectorised loop with its consumer (y = x + σε). Computing the cos and sin halves separately and
  # concatenating them hashed each pair three times in three passes (0.92× the steps/s).
  w1, w2 = threefry2x32(k1, k2, row, col - second_half * jnp.uint32(pairs))
  radius = jnp.sqrt(-2.0 * jnp.log(1.0 - _unit_interval(w1)))
  z = radius * _cos_of_turn(w2, second_half)
  return z.astype(dtype).reshape(shape)
