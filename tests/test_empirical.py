import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dae_theory as dt

EPS32 = float(np.finfo(np.float32).eps)


def reference(y, x, sigma, weights=None):
  """NumPy float64 f_emp from explicit pairwise distances; also log Z, entropy, weights."""
  y2 = np.atleast_2d(y)
  d2 = ((y2[:, None, :] - x[None]) ** 2).sum(-1)
  logits = -d2 / (2 * sigma ** 2)
  if weights is not None:
    with np.errstate(divide="ignore"):
      logits = logits + np.log(weights)[None]
  top = logits.max(1, keepdims=True)
  e = np.exp(logits - top)
  z = e.sum(1, keepdims=True)
  p = e / z
  log_z = (top + np.log(z))[:, 0]
  with np.errstate(invalid="ignore", divide="ignore"):
    ent = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
  return p @ x, log_z, ent, p


def shared_weight_data(rng, n=400, d=6, m=30, sigma=1.0):
  """σ comparable to the spacing of the data: many samples share the posterior weight."""
  x = rng.normal(size=(n, d)) + 2.0
  y = x[:m] + sigma * rng.normal(size=(m, d))
  return y, x, sigma


def test_float64_matches_reference_where_weights_are_shared(x64, rng):
  y, x, sigma = shared_weight_data(rng)
  f_ref, logz_ref, ent_ref, _ = reference(y, x, sigma)
  # the softmax is far from one-hot here
  assert ent_ref.mean() > np.log(10), f"mean posterior entropy must exceed log 10, got {ent_ref.mean():.3g}"
  for center in (True, False):
    for chunk in (None, 1, 37, 400):
      post = dt.empirical_posterior(y, x, sigma, center=center, chunk_size=chunk)
      where = f"center={center}, chunk_size={chunk}"
      np.testing.assert_allclose(post.denoised, f_ref, rtol=1e-10, atol=1e-12,
                                 err_msg=f"f_emp must match the float64 reference ({where})")
      np.testing.assert_allclose(post.log_normalizer, logz_ref, rtol=1e-10,
                                 err_msg=f"log Z must match the float64 reference ({where})")
      np.testing.assert_allclose(post.entropy, ent_ref, rtol=1e-10,
                                 err_msg=f"posterior entropy must match the float64 reference ({where})")


def test_top_k_matches_reference(x64, rng):
  y, x, sigma = shared_weight_data(rng, n=300, m=10)
  _, _, _, p = reference(y, x, sigma)
  post = dt.empirical_posterior(y, x, sigma, top_k=5, chunk_size=64)
  order = np.argsort(-p, axis=1)[:, :5]
  np.testing.assert_array_equal(post.top_indices, order, err_msg="top_indices must be the 5 largest posterior weights")
  np.testing.assert_allclose(post.top_weights, np.take_along_axis(p, order, 1), rtol=1e-10,
                             err_msg="top_weights must be the reference posterior weights at top_indices")


def test_weights_mask_and_duplication(x64, rng):
  y, x, sigma = shared_weight_data(rng, n=120, m=7)
  mask = np.zeros(120)
  mask[:50] = 1
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, sigma, weights=mask, chunk_size=33),
                             dt.empirical_denoiser(y, x[:50], sigma), rtol=1e-12,
                             err_msg="a 0/1 weight mask must equal restricting x to the masked samples")
  # An integer weight c is the same as c copies of that sample.
  counts = rng.integers(1, 4, size=120)
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, sigma, weights=counts.astype(float)),
                             dt.empirical_denoiser(y, np.repeat(x, counts, axis=0), sigma), rtol=1e-10,
                             err_msg="an integer weight c must equal c copies of the sample")
  f_ref, *_ = reference(y, x, sigma, weights=counts.astype(float))
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, sigma, weights=counts.astype(float), chunk_size=16),
                             f_ref, rtol=1e-10, err_msg="weighted, chunked f_emp must match the float64 reference")


def test_small_sigma_gives_nearest_sample_and_large_sigma_the_mean(rng):
  x = rng.normal(size=(200, 16)).astype(np.float32)
  y = x[:20] + 0.05 * rng.normal(size=(20, 16)).astype(np.float32)
  nearest = x[np.argmin(((y[:, None] - x[None]) ** 2).sum(-1), axis=1)]
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, 1e-3), nearest, atol=1e-6,
                             err_msg="at sigma = 1e-3 f_emp must be the nearest training sample")
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, 1e3), np.broadcast_to(x.mean(0), y.shape), atol=1e-4,
                             err_msg="at sigma = 1e3 f_emp must be the sample mean")
  w = rng.uniform(size=200).astype(np.float32)
  np.testing.assert_allclose(dt.empirical_denoiser(y, x, 1e3, weights=w),
                             np.broadcast_to(w @ x / w.sum(), y.shape), atol=1e-4,
                             err_msg="at sigma = 1e3 weighted f_emp must be the weighted sample mean")


@pytest.mark.parametrize("d", [2, 784, 3072])
@pytest.mark.parametrize("sigma", [1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2])
def test_finite_over_sigma_and_dimension(rng, d, sigma):
  x = rng.uniform(-1, 1, size=(64, d)).astype(np.float32)
  y = rng.uniform(-1, 1, size=(5, d)).astype(np.float32)
  post = dt.empirical_posterior(y, x, sigma, chunk_size=24, top_k=2)
  chex.assert_tree_all_finite((post.denoised, post.log_normalizer, post.entropy, post.top_weights))
  ent = np.asarray(post.entropy)
  assert (ent >= -1e-4).all() and (ent <= np.log(64) + 1e-4).all(), (
      f"entropy must lie in [0, log 64 = {np.log(64):.4f}] (slack 1e-4), got [{ent.min():.6g}, {ent.max():.6g}]")
  # f_emp lies in the convex hull of the samples: inside the data's bounding box.
  den = np.asarray(post.denoised)
  assert den.max() <= 1 + 1e-5 and den.min() >= -1 - 1e-5, (
      f"f_emp must lie in the data's box [-1, 1] (slack 1e-5), got [{den.min():.8g}, {den.max():.8g}]")


def test_float32_error_within_the_logit_conditioning_bound(rng):
  """Measured: relative error of f_emp − c ≤ 2 · ε₃₂ (‖y−c‖² + max‖x−c‖²)/2σ² (+ output rounding)."""
  worst = 0.0
  for d, offset in ((64, 0.0), (64, 5.0), (784, 3.0)):
    for sigma in (0.2, 1.0, 3.0):
      x = rng.normal(size=(1500, d)) * (3.0 / np.sqrt(d)) + offset
      y = x[:40] + sigma * rng.normal(size=(40, d))
      f_ref, *_ = reference(y, x, sigma)
      c = x.mean(0)
      f32 = np.asarray(dt.empirical_denoiser(y.astype(np.float32), x.astype(np.float32), sigma), np.float64)
      err = np.linalg.norm(f32 - f_ref, axis=1) / np.linalg.norm(f_ref - c, axis=1)
      bound = EPS32 * (((y - c) ** 2).sum(1) + ((x - c) ** 2).sum(1).max()) / (2 * sigma ** 2)
      worst = max(worst, float((err / (2 * bound + 20 * EPS32)).max()))
  assert worst <= 1.0, f"float32 error must be within the logit-conditioning bound (ratio <= 1), got ratio {worst:.3g}"


def test_centring_lowers_float32_error_far_from_the_origin(rng):
  d, sigma = 784, 1.0
  x = rng.normal(size=(1500, d)) * (3.0 / np.sqrt(d)) + 3.0
  y = x[:40] + sigma * rng.normal(size=(40, d))
  f_ref, *_ = reference(y, x, sigma)
  errs = [np.abs(np.asarray(dt.empirical_denoiser(y.astype(np.float32), x.astype(np.float32), sigma,
                                                  center=c), np.float64) - f_ref).max() for c in (True, False)]
  assert errs[0] * 10 < errs[1], (
      f"centring must cut the float32 error more than 10-fold, got {errs[0]:.3g} centred vs {errs[1]:.3g} not")


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(1, 40), d=st.integers(1, 7), chunk=st.integers(1, 45),
       log_sigma=st.floats(-2.0, 1.5), seed=st.integers(0, 2 ** 16))
def test_chunked_equals_reference_hypothesis(m, n, d, chunk, log_sigma, seed):
  rng = np.random.default_rng(seed)
  sigma = 10.0 ** log_sigma
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(m, d))
  with jax.enable_x64(True):
    f_ref, logz, ent, _ = reference(y, x, sigma)
    post = dt.empirical_posterior(y, x, sigma, chunk_size=chunk)
    np.testing.assert_allclose(post.denoised, f_ref, rtol=1e-9, atol=1e-9,
                               err_msg="chunked f_emp must match the float64 reference")
    np.testing.assert_allclose(post.log_normalizer, logz, rtol=1e-9, atol=1e-9,
                               err_msg="chunked log Z must match the float64 reference")
    np.testing.assert_allclose(post.entropy, ent, rtol=1e-7, atol=1e-7,
                               err_msg="chunked entropy must match the float64 reference")


def test_single_query_shape_and_jit(rng):
  x = jnp.asarray(rng.normal(size=(50, 3)), jnp.float32)
  y = x[0] + 0.1
  out = dt.empirical_denoiser(y, x, 0.3)
  chex.assert_shape(out, (3,))
  jitted = jax.jit(lambda y, s: dt.empirical_denoiser(y, x, s))
  np.testing.assert_allclose(jitted(y, 0.3), out, rtol=1e-6, err_msg="jit must not change f_emp")
  batched = dt.empirical_denoiser(jnp.stack([y, y + 1]), x, 0.3)
  np.testing.assert_allclose(batched[0], out, rtol=1e-6, err_msg="row 0 of a batch must equal the single query")


def test_large_n_streams_through_chunks(rng):
  """n = 10⁶ samples in d = 4, one query: runs with chunked memory and matches a float64 check."""
  x = rng.normal(size=(1_000_000, 4)).astype(np.float32)
  y = np.array([[0.5, -0.2, 0.1, 0.0]], np.float32)
  got = np.asarray(dt.empirical_denoiser(y, x, 0.3, chunk_size=65536))
  f_ref, *_ = reference(y.astype(np.float64), x.astype(np.float64), 0.3)
  np.testing.assert_allclose(got, f_ref, atol=2e-5, err_msg="chunked f_emp over 10^6 samples must match float64")


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=0.0), "sigma must be > 0"),
    (dict(sigma=-0.5), "sigma must be > 0"),
    (dict(sigma=np.inf), "sigma must be finite"),
    (dict(y=np.ones((2, 5))), "y must have 4 entries"),
    (dict(y=np.ones((2, 2, 4))), "y must have rank 1 or 2"),
    (dict(x=np.ones((0, 4))), "x must not be empty"),
    (dict(x=np.ones(4)), "x must have rank 2"),
    (dict(x=np.array([[np.inf, 0, 0, 0]])), "x must be finite"),
    (dict(x=np.array([[0, 0, 0, 0], [0, np.nan, 0, 0]]), weights=np.ones(2)), "x must be finite"),
    (dict(y=np.array([np.nan, 0, 0, 0])), "y must be finite"),
    (dict(weights=np.ones(3)), "weights must have 1 entries"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(top_k=2), "top_k must be at most"),
    (dict(center="yes"), "center must be True or False"),
])
def test_bad_input(kwargs, match):
  args = dict(y=np.ones(4), x=np.ones((1, 4)), sigma=0.3)
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    dt.empirical_posterior(args.pop("y"), args.pop("x"), args.pop("sigma"), **args)
