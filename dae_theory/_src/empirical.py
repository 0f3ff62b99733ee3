"""The empirical (memorising) optimum f_emp (paper eq. 3), streamed over the training set.

    f_emp(y) = Σ_i w_i N(y; x_i, σ²I) x_i / Σ_i w_i N(y; x_i, σ²I) = Σ_i softmax_i(ℓ_i + log w_i) x_i,
    ℓ_i = −‖y − x_i‖² / 2σ².

Numerics:
- f_emp(y; X) = c + f_emp(y − c; X − c) for any c; we centre on the (weighted) data mean, chunk by
  chunk, which shrinks the norms entering the logits without copying X.
- ‖y‖² is the same for every i and cancels in the softmax, so the logits are
  s_i = ((y−c)ᵀ(x_i−c) − ½‖x_i−c‖²)/σ² + log w_i, from a Gram product at HIGHEST precision.
- X is streamed in chunks with an online log-sum-exp: memory is O(m · chunk + chunk · d) beyond
  the inputs. The last chunk is a window ending at row n (overlapping its predecessor, with the
  overlap masked) so X is never padded or copied.

Accuracy (measured by tests/test_empirical.py and stated for users): in float64 the result matches
a NumPy float64 reference to 1e-10 relative. In float32 the logits carry an absolute error of
order ε₃₂ · (‖y−c‖² + ‖x−c‖²) / 2σ² (ε₃₂ ≈ 1.2e-7); the posterior weights inherit that relative
error, and so does f_emp(y) − c. Where that product is ≪ 1 float32 is as good as float64.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dae_theory._src import checks

HIGHEST = jax.lax.Precision.HIGHEST
_BLOCK_BUDGET = 2 ** 21  # most entries of the (m, chunk) logit block and of the (chunk, d) data block
_CPU_CHUNK_ROWS = (1024, 384)  # rows per chunk for m < 512 and m >= 512 queries (CPU; docs/performance-notes.md)


class EmpiricalPosterior(NamedTuple):
  """The posterior over training samples behind f_emp, for queries y.

  Attributes:
    denoised: f_emp(y), (d,) or (m, d).
    log_normalizer: log Σ_i w_i exp(−‖y − x_i‖²/2σ²), () or (m,). With unit weights,
      log p_emp,σ(y) = log_normalizer − log n − (d/2) log(2πσ²).
    entropy: entropy (nats) of the posterior weights p_i(y), () or (m,): 0 for one-hot
      (memorising) posteriors, log n when all n samples share the weight.
    top_indices: (k,) or (m, k) indices of the k heaviest training samples (int32), when asked.
    top_weights: their posterior weights p_i(y), when asked.
  """

  denoised: jax.Array
  log_normalizer: jax.Array
  entropy: jax.Array
  top_indices: jax.Array | None = None
  top_weights: jax.Array | None = None


def default_chunk_size(num_queries: int, num_samples: int, dim: int, platform: str | None = None) -> int:
  """Rows of X per streamed chunk.

  On CPU: 384 rows for m >= 512 queries, 1024 for fewer (a multiple of 128 keeps the GEMMs aligned;
  measured 1.1-1.15x faster than 2M-logit chunks at m = 1000, see docs/performance-notes.md). On GPU and TPU,
  where each chunk is a few kernel launches, chunks are as large as the budget allows. Either way
  the (m, chunk) logits and the (chunk, d) data block stay within 2M entries (at least 128 rows).
  """
  num_queries = checks.check_int("num_queries", num_queries, minimum=0)
  num_samples = checks.check_int("num_samples", num_samples)
  dim = checks.check_int("dim", dim)
  if platform is not None and not isinstance(platform, str):
    raise ValueError(f"platform must be a backend name such as 'cpu', 'gpu' or 'tpu', or None, got {platform!r}")
  platform = platform or jax.default_backend()
  budget_rows = min(_BLOCK_BUDGET // max(num_queries, 1), _BLOCK_BUDGET // max(dim, 1))
  if platform == "cpu":
    budget_rows = min(budget_rows, _CPU_CHUNK_ROWS[num_queries >= 512])
  rows = max(128, budget_rows // 128 * 128)
  return int(max(1, min(num_samples, rows)))


def _safe_exp_diff(old_max, new_max):
  """exp(old − new), with exp(−∞ − (−∞)) taken as 0 (nothing seen yet)."""
  return jnp.where(jnp.isfinite(old_max), jnp.exp(old_max - jnp.where(jnp.isfinite(new_max), new_max, 0.0)), 0.0)


@functools.partial(jax.jit, static_argnames=("chunk", "top_k", "with_entropy"))
def _posterior_core(y, x, sigma, log_w, center, *, chunk: int, top_k: int, with_entropy: bool = True):
  m, d = y.shape
  n = x.shape[0]
  dtype = y.dtype
  num_chunks = -(-n // chunk)
  inv_s2 = 1.0 / (sigma * sigma)
  yc = y - center[None, :]
  y_scaled = yc * inv_s2  # logits = y_scaledᵀ(x − c) − ‖x − c‖²/2σ² + log w

  def body(c, carry):
    run_max, run_sum, run_ent, run_acc, top_val, top_idx = carry
    start = jnp.minimum(c * chunk, n - chunk)
    xs = jax.lax.dynamic_slice_in_dim(x, start, chunk, axis=0) - center[None, :]  # (chunk, d)
    idx = start + jnp.arange(chunk)
    # Per-sample terms, with the overlap of the last window masked by −∞ (all O(chunk)).
    column = jnp.where(idx >= c * chunk, -0.5 * inv_s2 * jnp.sum(xs * xs, axis=1), -jnp.inf)
    if log_w is not None:
      column = column + jax.lax.dynamic_slice_in_dim(log_w, start, chunk)
    logits = jnp.matmul(y_scaled, xs.T, precision=HIGHEST) + column[None, :]  # (m, chunk)

    new_max = jnp.maximum(run_max, jnp.max(logits, axis=1))
    safe_max = jnp.where(jnp.isfinite(new_max), new_max, 0.0)
    scale = _safe_exp_diff(run_max, new_max)
    centred = logits - safe_max[:, None]
    e = jnp.exp(centred)
    if with_entropy:
      shift = jnp.where(jnp.isfinite(run_max), run_max - safe_max, 0.0)
      e_centred = jnp.where(e > 0, e * centred, 0.0)
      run_ent = scale * (run_ent + shift * run_sum) + jnp.sum(e_centred, axis=1)
    run_sum = scale * run_sum + jnp.sum(e, axis=1)
    run_acc = scale[:, None] * run_acc + jnp.matmul(e, xs, precision=HIGHEST)
    if top_k:
      k_here = min(top_k, chunk)
      val, arg = jax.lax.top_k(logits, k_here)
      val = jnp.concatenate([top_val, val], axis=1)
      ids = jnp.concatenate([top_idx, idx[arg].astype(jnp.int32)], axis=1)
      top_val, pick = jax.lax.top_k(val, top_k)
      top_idx = jnp.take_along_axis(ids, pick, axis=1)
    return new_max, run_sum, run_ent, run_acc, top_val, top_idx

  init = (jnp.full((m,), -jnp.inf, dtype), jnp.zeros((m,), dtype), jnp.zeros((m,), dtype),
          jnp.zeros((m, d), dtype), jnp.full((m, top_k), -jnp.inf, dtype), jnp.zeros((m, top_k), jnp.int32))
  run_max, run_sum, run_ent, run_acc, top_val, top_idx = jax.lax.fori_loop(0, num_chunks, body, init)

  log_sum = jnp.log(run_sum)
  denoised = center[None, :] + run_acc / run_sum[:, None]
  log_normalizer = run_max + log_sum - 0.5 * jnp.sum(yc * yc, axis=1) * inv_s2
  entropy = log_sum - run_ent / run_sum if with_entropy else jnp.full((m,), jnp.nan, dtype)
  top_weights = jnp.exp(top_val - (run_max + log_sum)[:, None])
  return denoised, log_normalizer, entropy, top_idx, top_weights


@jax.jit
def _column_sum(x):
  return jnp.sum(x, axis=0)


def _prepare(y, x, sigma, weights, chunk_size, center, top_k, with_entropy=True):
  y = checks.check_array("y", y, ndim=(1, 2))
  x = checks.check_array("x", x, ndim=2)
  checks.check_nonempty("x", x)
  n, d = x.shape
  checks.check_dim("y", y, y.ndim - 1, d, "the dimension d of the training samples x")
  checks.check_finite("y", y)
  dtype = checks.float_dtype(y, x)
  x = jnp.asarray(x, dtype)
  # One pass over X gives both its column sums (for the centre) and the finiteness check: the
  # sums are finite only when every entry is; if they are not, the entry-wise check decides.
  x_sum = _column_sum(x)
  if checks.is_concrete(x_sum) and not bool(jnp.isfinite(x_sum).all()):
    checks.check_finite("x", x)
  checks.check_scalar("sigma", sigma, positive=True)
  if weights is not None:
    weights = checks.check_weights("weights", weights, n)
  if chunk_size is not None:
    chunk_size = min(checks.check_int("chunk_size", chunk_size), n)
  top_k = checks.check_int("top_k", top_k, minimum=0)
  if top_k > n:
    raise ValueError(f"top_k must be at most the number of training samples n = {n}, got {top_k}")
  if not isinstance(center, bool):
    raise ValueError(f"center must be True or False, got {center!r}")

  yb = jnp.asarray(y, dtype).reshape(-1, d)
  m = yb.shape[0]
  chunk = chunk_size or default_chunk_size(m, n, d)
  log_w = None
  if weights is not None:
    w = jnp.asarray(weights, dtype)
    log_w = jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)
  if center:
    if weights is not None:
      c = jnp.dot(w, x, precision=HIGHEST) / jnp.sum(w)
    else:
      c = x_sum / n
  else:
    c = jnp.zeros((d,), dtype)
  out = _posterior_core(yb, x, jnp.asarray(sigma, dtype), log_w, c, chunk=chunk, top_k=top_k,
                        with_entropy=with_entropy)
  return y.ndim, out


def empirical_posterior(y, x, sigma, *, weights=None, chunk_size: int | None = None, center: bool = True,
                        top_k: int = 0) -> EmpiricalPosterior:
  """f_emp(y) (eq. 3) with the posterior's log-normaliser, entropy and (optionally) top samples.

  Args:
    y: queries, (d,) or (m, d).
    x: training samples X, (n, d).
    sigma: noise level σ > 0.
    weights: optional (n,) non-negative sample weights w_i (a 0/1 mask selects a subset of a
      padded X, so sweeps over n can share one data array).
    chunk_size: rows of X per streamed chunk; default from ``default_chunk_size`` (384 on CPU for
      m >= 512, never more than 2M logits).
    center: centre on the (weighted) data mean before forming logits (exact; lowers the float32
      error, see the module docstring).
    top_k: also return the k samples with the largest posterior weight (0: none).

  Returns:
    ``EmpiricalPosterior``; leading shapes follow y.
  """
  ndim, (denoised, log_norm, entropy, top_idx, top_w) = _prepare(y, x, sigma, weights, chunk_size, center, top_k)
  if not top_k:
    top_idx = top_w = None
  out = EmpiricalPosterior(denoised, log_norm, entropy, top_idx, top_w)
  if ndim == 1:
    out = jax.tree.map(lambda a: a[0], out)
  return out


def empirical_denoiser(y, x, sigma, *, weights=None, chunk_size: int | None = None,
                       center: bool = True) -> jax.Array:
  """Empirical optimum f_emp(y) = Σ_i softmax_i(−‖y − x_i‖²/2σ² + log w_i) x_i (paper eq. 3).

  The minimiser of eq. (6) over all functions for a finite training set (λ = 0): it can only
  reproduce training samples. σ → 0 gives the nearest training sample; σ → ∞ the (weighted) mean.

  Args:
    y: queries, (d,) or (m, d).
    x: training samples X, (n, d); streamed in chunks (memory O(m · chunk) beyond the inputs).
    sigma: noise level σ > 0.
    weights: optional (n,) non-negative sample weights or 0/1 mask.
    chunk_size: rows per chunk (default: ``default_chunk_size``).
    center: centre on the data mean first (exact identity, better float32 accuracy).

  Returns:
    f_emp(y), same shape as y.

  Accuracy: float64 matches a NumPy float64 reference to 1e-10 relative; float32 logits err by
  about 1.2e-7 · (‖y−c‖² + ‖x−c‖²)/2σ² (c the data mean). See the module docstring.
  """
  ndim, (denoised, *_) = _prepare(y, x, sigma, weights, chunk_size, center, 0, with_entropy=False)
  return denoised[0] if ndim == 1 else denoised
