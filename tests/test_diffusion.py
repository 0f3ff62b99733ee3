"""The multi-noise ReLU diffusion model: reduces to the one-σ DAE, trains in the engine, sweeps."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import dae_theory as dt


@pytest.fixture
def points():
  return np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(0), 4, 16, norm_range=(2.5, 3.5)))


def test_gate_off_skip_off_fixed_sigma_is_the_one_sigma_dae(x64):
  """Paper eq. (6) is the diffusion objective at one noise level with g ≡ 0 and s = 0: loss and gradient."""
  rng = np.random.default_rng(0)
  x, noise = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
  params = dt.init_diffusion_params(jax.random.key(1), 10, 7, gate=False, skip=False, dtype=jnp.float64)
  dae = dt.DAEParams(params.w1)
  sigma, lam = 0.3, 1e-2
  loss = lambda p: dt.diffusion_loss_given_noise(p, x, noise, jnp.full((6,), sigma), lam)
  ref = lambda q: dt.dae_loss_given_noise(q, x, noise, sigma, lam)
  np.testing.assert_allclose(loss(params), ref(dae), rtol=1e-12,
                             err_msg="gate off, skip off, one sigma: the diffusion loss must be eq. (6)")
  np.testing.assert_allclose(jax.grad(loss)(params).w1, jax.grad(ref)(dae).w1, rtol=1e-10, atol=1e-12,
                             err_msg="gate off, skip off, one sigma: the gradient must be that of eq. (6)")
  untied = dt.init_diffusion_params(jax.random.key(1), 10, 7, tied=False, gate=False, skip=False, dtype=jnp.float64)
  np.testing.assert_allclose(dt.diffusion_loss_given_noise(untied, x, noise, jnp.full((6,), sigma), lam),
                             dt.dae_loss_given_noise(dt.DAEParams(untied.w1, untied.w2), x, noise, sigma, lam),
                             rtol=1e-12, err_msg="untied: the diffusion loss must be eq. (6)")


def test_at_initialisation_the_gate_is_one_and_the_skip_zero():
  params = dt.init_diffusion_params(jax.random.key(0), 12, 5, time_hidden=16)
  y = jax.random.normal(jax.random.key(1), (12,))
  for sigma in (0.02, 0.3, 2.0):
    np.testing.assert_array_equal(dt.time_gate(params, sigma), jnp.ones(5),
                                  err_msg=f"the gate must be 1 at initialisation (sigma={sigma})")
    np.testing.assert_allclose(dt.diffusion_apply(params, y, sigma), dt.dae_apply(dt.DAEParams(params.w1), y),
                               rtol=1e-6, err_msg=f"at initialisation the model must be the one-sigma DAE (sigma={sigma})")
  assert float(params.skip) == 0.0, f"the skip must be 0 at initialisation, got {float(params.skip)}"
  bound = (6.0 / 12) ** 0.5  # Kaiming-uniform with ReLU gain, the authors' encoder init
  top = float(jnp.max(jnp.abs(params.w1)))
  assert top <= bound and top > 0.8 * bound, (
      f"max |w1| of a Kaiming-uniform init must lie in (0.8, 1] x sqrt(6/d) = {bound:.4f}, got {top:.4f}")


def test_codes_hooks_and_the_batched_denoiser():
  params = dt.init_diffusion_params(jax.random.key(0), 8, 6, time_hidden=4)
  params = params._replace(gate=jax.tree.map(lambda a: a + 0.1, params.gate), skip=jnp.float32(0.2))
  x = jax.random.normal(jax.random.key(1), (5, 8))
  sigma = 0.5
  denoise = dt.diffusion_denoiser(params)
  expected = jax.vmap(dt.diffusion_apply, in_axes=(None, 0, None))(params, x, sigma)
  np.testing.assert_allclose(denoise(x, sigma), expected, rtol=1e-6, err_msg="batched denoiser vs vmap of apply")
  out, codes = dt.diffusion_denoiser(params, with_code=True)(x, sigma)
  np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg="with_code must not change the output")
  np.testing.assert_allclose(codes["ungated"], jax.nn.relu(x @ params.w1), rtol=1e-6,
                             err_msg="ungated code must be ReLU(x W1)")
  np.testing.assert_allclose(codes["gated"], codes["ungated"] * dt.time_gate(params, sigma)[None], rtol=1e-6,
                             err_msg="gated code must be the ungated code times the time gate")
  # A hook that adds a·v shifts the output by a·W v; the identity hook changes nothing.
  v = jnp.arange(6.0)
  steered = dt.diffusion_denoiser(params, code_hook=lambda h, s: h + 0.5 * v)(x, sigma)
  np.testing.assert_allclose(steered - expected, jnp.broadcast_to(0.5 * params.w1 @ v, (5, 8)), rtol=1e-5,
                             atol=1e-6, err_msg="a hook adding a v must shift the output by a W v")
  np.testing.assert_array_equal(dt.diffusion_denoiser(params, code_hook=lambda h, s: h)(x, sigma), denoise(x, sigma),
                                err_msg="the identity hook must change nothing")
  with pytest.raises(ValueError, match="code_hook must return the code's shape"):
    dt.diffusion_apply(params, x[0], sigma, code_hook=lambda h, s: h[:3])
  bad = dt.diffusion_denoiser(params, code_hook=lambda h, s: jnp.concatenate([h, h]))
  with pytest.raises(ValueError, match="code_hook must return the code's shape"):
    dt.sample(bad, jax.random.key(0), (5, 8), dt.geometric_sigmas(1.0, 0.1, 4))


def test_training_noise_levels_are_log_uniform():
  sig = np.asarray(dt.log_uniform_sigmas(jax.random.key(0), 20_000, 0.02, 2.0))
  assert sig.min() >= 0.02 and sig.max() <= 2.0, f"sigmas must lie in [0.02, 2], got [{sig.min():.6g}, {sig.max():.6g}]"
  u = (np.log(sig) - np.log(0.02)) / (np.log(2.0) - np.log(0.02))
  p = scipy.stats.kstest(u, "uniform").pvalue
  assert p > 1e-3, f"log sigma must pass a KS test for uniformity (p > 1e-3), got p = {p:.3g}"


@pytest.mark.slow
def test_the_memorizing_recipe_stores_each_training_point(points):
  """Few pairwise-obtuse points, full batch, RMSprop with coupled decay (the authors' memorizing
  recipe, shortened): one unit per point, its column pointing at the point (cosine > 0.99), and
  the sampler copies the points."""
  cfg = dt.preset("diffusion_memorizing_cpu", width=12, time_hidden=32, steps=3000, log_every=500,
                  learning_rate=3e-3)
  res = dt.train(points, cfg, seed=0)
  w = np.asarray(res.params.w1)
  norms = np.linalg.norm(w, axis=0)
  cos = (points @ w) / (np.linalg.norm(points, axis=1)[:, None] * np.maximum(norms, 1e-12)[None])
  best = cos.max(axis=1)
  assert best.min() > 0.99, f"every point must have a column pointing at it (cosine > 0.99), got {best}"
  # Its samples are copies of the points (unit-norm d1/d2 < 1/3; they are faint, see docs/diffusion.md):
  # measured 98 % of 400, every point copied.
  samples = dt.sample(dt.diffusion_denoiser(res.params), jax.random.key(0), (400, 16), dt.geometric_sigmas(2.0, 0.02, 60))
  ev = dt.evaluate_samples(samples, points)
  frac = ev.memorized_scale_free.mean()
  assert frac > 0.9, f"more than 90 % of samples must copy a point (scale-free), got {frac:.1%}"
  copied = set(ev.cosine_index[ev.memorized_scale_free].tolist())
  assert copied == set(range(4)), f"every one of the 4 points must be copied, got {sorted(copied)}"


@pytest.mark.slow
def test_a_diffusion_sweep_equals_each_model_trained_alone(points, tmp_path):
  cfg = dt.preset("diffusion_generalizing_cpu", width=5, time_hidden=8, steps=200, log_every=100, batch_size=3,
                  decay_steps=0)
  sweep = dt.train_sweep(points, cfg, seeds=(0, 1), widths=(3, 5), sigma_mins=(0.02, 0.1), results_dir=tmp_path / "r")
  assert len(sweep.grid) == 8 and {"sigma_min", "sigma"} <= set(sweep.grid[0]), (
      f"2 seeds x 2 widths x 2 sigma_mins: expected 8 rows with sigma_min and sigma, got {len(sweep.grid)} rows, "
      f"first {sweep.grid[0]}")
  for i, row in enumerate(sweep.grid):
    alone = dt.train(points, cfg.replace(width=row["width"], sigma_min=row["sigma_min"]), seed=row["seed"])
    chex.assert_trees_all_close(sweep.model(i), alone.params, rtol=1e-5, atol=1e-6)
    if row["width"] < 5:  # padded units and their gate outputs stay exactly 0
      assert np.all(sweep.params.w1[i][:, row["width"]:] == 0), f"row {i}: padded columns of w1 must stay exactly 0"
      assert np.all(sweep.params.gate["out"]["kernel"][i][:, row["width"]:] == 0), (
          f"row {i}: gate outputs of padded units must stay exactly 0")
  again = dt.train_sweep(points, cfg, seeds=(0, 1), widths=(3, 5), sigma_mins=(0.02, 0.1), results_dir=tmp_path / "r")
  chex.assert_trees_all_equal(sweep.params, again.params)  # loaded from the store


def test_bad_diffusion_arguments_are_named():
  params = dt.init_diffusion_params(jax.random.key(0), 4, 3, time_hidden=2)
  x = np.ones((2, 4), np.float32)
  with pytest.raises(ValueError, match="sigmas must have 2 entries"):
    dt.diffusion_loss_given_noise(params, x, x, np.ones(3, np.float32), 0.0)
  with pytest.raises(ValueError, match="noise must have the shape of x"):
    dt.diffusion_loss_given_noise(params, x, x[:1], np.ones(2, np.float32), 0.0)
  with pytest.raises(ValueError, match="params must be a DiffusionParams"):
    dt.diffusion_denoiser(dt.DAEParams(params.w1))
  with pytest.raises(ValueError, match="y must have shape"):
    dt.diffusion_apply(params, x, 0.1)
  with pytest.raises(ValueError, match="sigma must be > 0"):
    dt.diffusion_apply(params, x[0], 0.0)
  with pytest.raises(ValueError, match="sigma must be > 0"):
    dt.diffusion_denoiser(params)(x, -1.0)
  with pytest.raises(ValueError, match="sigmas must all be > 0"):
    dt.diffusion_loss_given_noise(params, x, x, np.array([0.1, -0.1], np.float32), 0.0)
  with pytest.raises(ValueError, match="x must be finite"):
    dt.diffusion_loss_given_noise(params, np.full((2, 4), np.nan, np.float32), x, np.ones(2, np.float32), 0.0)
  with pytest.raises(ValueError, match="sigma_min must be at most sigma_max"):
    dt.log_uniform_sigmas(jax.random.key(0), 5, 2.0, 0.1)
  with pytest.raises(ValueError, match="num must be an integer"):
    dt.log_uniform_sigmas(jax.random.key(0), 0, 0.1, 2.0)
  with pytest.raises(ValueError, match="gate must be True or False"):
    dt.init_diffusion_params(jax.random.key(0), 4, 3, gate=None)
