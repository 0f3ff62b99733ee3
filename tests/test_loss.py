import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt


def _ref_loss(w1, w2, x, noise, sigma, lam):
  """NumPy float64 eq. (6) with given noise (draws, n, d)."""
  y = x[None] + sigma * noise
  f = np.maximum(y @ w1, 0) @ w2.T
  return ((f - x[None]) ** 2).sum(-1).mean() + lam * ((w1 ** 2).sum() + (w2 ** 2).sum())


def test_loss_matches_float64_reference(x64, rng):
  n, d, p = 11, 6, 4
  x = rng.normal(size=(n, d))
  noise = rng.normal(size=(3, n, d))
  w1, w2 = rng.normal(size=(2, d, p))
  for params, (a, b) in ((dt.DAEParams(jnp.asarray(w1)), (w1, w1)),
                         (dt.DAEParams(jnp.asarray(w1), jnp.asarray(w2)), (w1, w2))):
    got = dt.dae_loss_given_noise(params, x, noise, 0.3, 0.05)
    np.testing.assert_allclose(got, _ref_loss(a, b, x, noise, 0.3, 0.05), rtol=1e-12,
                               err_msg=f"eq. (6) must match the float64 reference (tied={params.tied})")


def test_tied_weights_are_penalised_on_both_sides(rng):
  w = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
  expect = 2 * float(jnp.sum(w ** 2))
  tied = dt.weight_penalty(dt.DAEParams(w))
  assert np.isclose(tied, expect, rtol=1e-6), f"tied penalty must be 2|W|^2 = {expect:.7g}, got {tied:.7g}"
  untied = dt.weight_penalty(dt.DAEParams(w, w))
  assert np.isclose(untied, expect, rtol=1e-6), f"untied penalty with W2 = W1 must be {expect:.7g}, got {untied:.7g}"


def test_mask_weights_select_a_subset(rng):
  x = jnp.asarray(rng.normal(size=(10, 4)), jnp.float32)
  noise = jnp.asarray(rng.normal(size=(10, 4)), jnp.float32)
  params = dt.init_params(jax.random.PRNGKey(0), 4, 3)
  mask = jnp.asarray([1.0] * 6 + [0.0] * 4)
  full = dt.dae_loss_given_noise(params, x, noise, 0.2, 0.1, weights=mask)
  sub = dt.dae_loss_given_noise(params, x[:6], noise[:6], 0.2, 0.1)
  np.testing.assert_allclose(full, sub, rtol=1e-6, err_msg="a 0/1 mask must equal the loss on the masked subset")


def test_monte_carlo_loss_is_unbiased():
  """Where every ReLU stays on, E‖A(x+σε) − x‖² = ‖(A − I)x‖² + σ²‖A‖²_F with A = WWᵀ."""
  d, p, n, sigma = 5, 3, 4, 0.1
  w = jnp.full((d, p), 0.3) + 0.05 * jnp.arange(d * p, dtype=jnp.float32).reshape(d, p) / (d * p)
  x = 2.0 + jnp.arange(n * d, dtype=jnp.float32).reshape(n, d) / (n * d)
  a = np.asarray(w, np.float64) @ np.asarray(w, np.float64).T
  xn = np.asarray(x, np.float64)
  exact = np.mean(((xn @ (a - np.eye(d)).T) ** 2).sum(1)) + sigma ** 2 * (a ** 2).sum()
  est = dt.dae_loss(dt.DAEParams(w), x, sigma, 0.0, key=jax.random.PRNGKey(3), num_draws=20000)
  # MC std of the data term here is about 1e-3 relative; 5 standard errors.
  np.testing.assert_allclose(est, exact, rtol=5e-3, err_msg="MC loss must match the all-on closed form")
  other = dt.dae_loss(dt.DAEParams(w), x, sigma, 0.0, key=jax.random.PRNGKey(4), num_draws=1)
  # the key drives the noise
  assert not np.isclose(other, est, rtol=1e-7), f"another key must give another loss, both are {float(est):.8g}"


@pytest.mark.parametrize("tied", [True, False])
def test_torch_convention_has_the_same_stationary_points(x64, rng, tied):
  """d · ∇(torch loss) = ∇(paper loss) at λ = d·wd/2, and torch's tied mechanics agree.

  PyTorch with a tied decoder computes one gradient for the encoder use and one for the decoder
  use of the shared matrix, adds wd·W to EACH, and the two updates land on the same storage.
  """
  n, d, p, sigma, wd = 8, 7, 5, 0.2, 3e-3
  x = jnp.asarray(rng.normal(size=(n, d)))
  noise = jnp.asarray(rng.normal(size=(n, d)))
  lam = dt.lam_from_torch_weight_decay(wd, d)
  assert lam == pytest.approx(d * wd / 2), f"lam must be d * wd / 2 = {d * wd / 2:.6g}, got {lam}"
  w1, w2 = (jnp.asarray(a) for a in rng.normal(size=(2, d, p)))
  params = dt.DAEParams(w1) if tied else dt.DAEParams(w1, w2)
  g_paper = jax.grad(dt.dae_loss_given_noise)(params, x, noise, sigma, lam)
  g_torch = jax.grad(dt.torch_convention_loss)(params, x, noise, sigma, wd)
  chex.assert_trees_all_close(jax.tree.map(lambda a: d * a, g_torch), g_paper, rtol=1e-10, atol=1e-12)
  if tied:
    mse = lambda enc, dec: dt.torch_convention_loss(dt.DAEParams(enc, dec), x, noise, sigma, 0.0)
    g_enc, g_dec = jax.grad(mse, argnums=(0, 1))(w1, w1)
    torch_step = (g_enc + wd * w1) + (g_dec + wd * w1)
    np.testing.assert_allclose(d * torch_step, g_paper.w1, rtol=1e-10, atol=1e-12,
                               err_msg="d x torch's tied step (two grads, wd on each) must equal the paper gradient")


def test_authors_recipes_map_to_the_spec_lambdas():
  lam = dt.lam_from_torch_weight_decay(1e-2, 1024)
  assert lam == pytest.approx(5.12), f"wd = 1e-2 in d = 1024 must map to lam = 5.12, got {lam}"
  lam = dt.lam_from_torch_weight_decay(1e-4, 1024)
  assert lam == pytest.approx(0.0512), f"wd = 1e-4 in d = 1024 must map to lam = 0.0512, got {lam}"


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=0.0), "sigma must be > 0"),
    (dict(sigma=-1.0), "sigma must be > 0"),
    (dict(lam=-0.1), "lam must be >= 0"),
    (dict(x=np.full((3, 4), np.nan)), "x must be finite"),
    (dict(x=np.ones((3, 5))), "x must have 4 entries along axis 1"),
    (dict(x=np.ones((0, 4))), "x must not be empty"),
    (dict(x=np.ones(4)), "x must have rank 2"),
    (dict(num_draws=0), "num_draws"),
    (dict(weights=np.ones(2)), "weights must have 3 entries"),
    (dict(weights=-np.ones(3)), "weights must be >= 0"),
    (dict(weights=np.zeros(3)), "at least one positive"),
])
def test_bad_input(kwargs, match):
  args = dict(params=dt.init_params(jax.random.PRNGKey(0), 4, 2), x=np.ones((3, 4)), sigma=0.2, lam=0.1,
              key=jax.random.PRNGKey(0), num_draws=1, weights=None)
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    dt.dae_loss(args.pop("params"), args.pop("x"), args.pop("sigma"), args.pop("lam"), **args)


def test_bad_noise_shape_and_weight_decay():
  params = dt.init_params(jax.random.PRNGKey(0), 4, 2)
  with pytest.raises(ValueError, match="noise must have shape"):
    dt.dae_loss_given_noise(params, np.ones((3, 4)), np.ones((3, 5)), 0.2, 0.1)
  with pytest.raises(ValueError, match="weight_decay must be >= 0"):
    dt.torch_convention_loss(params, np.ones((3, 4)), np.ones((3, 4)), 0.2, -1.0)
