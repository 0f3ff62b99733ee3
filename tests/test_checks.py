import jax.numpy as jnp
import numpy as np
import pytest

from dae_theory._src import checks, empirical


@pytest.mark.parametrize("to_array", [np.asarray, jnp.asarray], ids=["numpy", "jax"])
@pytest.mark.parametrize("bad", [[np.nan], [np.inf], [-np.inf], [np.inf, -np.inf]], ids=["nan", "inf", "-inf", "both"])
def test_check_finite_finds_one_bad_entry(to_array, bad):
  x = np.zeros((300, 7), np.float32)
  x.flat[[1234, 17][:len(bad)]] = bad
  with pytest.raises(ValueError, match="x must be finite"):
    checks.check_finite("x", to_array(x))


@pytest.mark.parametrize("to_array", [np.asarray, jnp.asarray], ids=["numpy", "jax"])
def test_check_finite_accepts_finite_entries_whose_sum_overflows(to_array):
  """The fast path's sum overflows here, so the entry-wise fallback must decide both ways."""
  x = np.full((1000,), 3e38, np.float32)
  with np.errstate(over="ignore"):
    total = np.sum(to_array(x))
  # the premise: the fast path alone would reject x
  assert not np.isfinite(total), f"the premise: 1000 × 3e38 must overflow float32 to inf, got the sum {total}"
  got = checks.check_finite("x", to_array(x))  # every entry is finite: accepted
  assert got is None, f"check_finite must accept finite entries whose sum overflows and return None, got {got!r}"
  x[500] = np.nan  # the same overflowing sum, now with one bad entry: rejected
  with pytest.raises(ValueError, match="x must be finite"):
    checks.check_finite("x", to_array(x))
  got = checks.check_finite("x", to_array(np.arange(12, dtype=np.int32)))
  assert got is None, f"check_finite must accept an integer array and return None, got {got!r}"


@pytest.mark.parametrize("m, n, d, platform, want", [
    (1000, 60_000, 784, "cpu", 384),
    (4000, 60_000, 784, "cpu", 384),
    (100, 60_000, 784, "cpu", 1024),
    (1000, 300, 784, "cpu", 300),  # never more than n
    (20_000, 60_000, 784, "cpu", 128),  # 2M-entry budget, floor of 128 rows
    (1000, 60_000, 784, "gpu", 2048),  # 2M // 1000 = 2097, rounded down to a multiple of 128
    (1, 60_000, 784, "tpu", 2560),  # 2M // d = 2674
])
def test_default_chunk_size(m, n, d, platform, want):
  got = empirical.default_chunk_size(m, n, d, platform)
  assert got == want, f"default_chunk_size(m={m}, n={n}, d={d}, {platform!r}) must be {want}, got {got}"
