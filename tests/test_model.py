import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt


def test_init_shapes_range_and_default_scale():
  key = jax.random.PRNGKey(0)
  p = dt.init_params(key, 100, 30)
  assert p.tied and p.w2 is None, f"init_params must default to a tied model without w2, got tied={p.tied}"
  chex.assert_shape(p.w1, (100, 30))
  chex.assert_type(p.w1, jnp.float32)
  w = np.asarray(p.w1)
  # 1/sqrt(100)
  assert np.abs(w).max() <= 0.1, f"|w| must be at most 1/sqrt(dim) = 0.1, got {np.abs(w).max():.6g}"
  # U(-a, a) has variance a^2/3: a = 0.1 -> std 0.0577
  assert abs(w.std() - 0.1 / np.sqrt(3)) < 0.003, (
      f"std of U(-0.1, 0.1) must be {0.1 / np.sqrt(3):.4f} within 0.003, got {w.std():.4f}")
  q = dt.init_params(key, 100, 30, tied=False)
  chex.assert_shape(q.w2, (100, 30))
  assert not np.allclose(q.w1, q.w2), "an untied model must draw w2 independently of w1"
  same = dt.init_params(key, 100, 30)
  np.testing.assert_array_equal(p.w1, same.w1, err_msg="the same key must give the same weights")


def test_apply_matches_formula(rng):
  w1, w2 = rng.normal(size=(2, 7, 5)).astype(np.float32)
  y = rng.normal(size=7).astype(np.float32)
  h = np.maximum(w1.T @ y, 0)
  tied = dt.DAEParams(jnp.asarray(w1))
  untied = dt.DAEParams(jnp.asarray(w1), jnp.asarray(w2))
  np.testing.assert_allclose(dt.representation(tied, y), h, rtol=1e-6, err_msg="representation must be ReLU(W1^T y)")
  # the ReLU is exercised
  assert (h == 0).any() and (h > 0).any(), f"the test input must switch some units off and some on, got h = {h}"
  np.testing.assert_allclose(dt.dae_apply(tied, y), w1 @ h, rtol=1e-5, atol=1e-6,
                             err_msg="tied model must compute W1 ReLU(W1^T y)")
  np.testing.assert_allclose(dt.dae_apply(untied, y), w2 @ h, rtol=1e-5, atol=1e-6,
                             err_msg="untied model must compute W2 ReLU(W1^T y)")


def test_vmap_over_inputs_and_over_models(rng):
  params = dt.init_params(jax.random.PRNGKey(1), 6, 4)
  ys = jnp.asarray(rng.normal(size=(9, 6)), jnp.float32)
  batched = jax.vmap(dt.dae_apply, in_axes=(None, 0))(params, ys)
  for i in range(9):
    np.testing.assert_allclose(batched[i], dt.dae_apply(params, ys[i]), rtol=1e-5, atol=1e-7,
                               err_msg=f"vmap over inputs: row {i} must equal the single call")
  # An ensemble of models is the constructor vmapped over keys.
  keys = jax.random.split(jax.random.PRNGKey(2), 3)
  ensemble = jax.vmap(lambda k: dt.init_params(k, 6, 4))(keys)
  chex.assert_shape(ensemble.w1, (3, 6, 4))
  outs = jax.vmap(dt.dae_apply, in_axes=(0, None))(ensemble, ys[0])
  np.testing.assert_allclose(outs[1], dt.dae_apply(dt.DAEParams(ensemble.w1[1]), ys[0]), rtol=1e-6,
                             err_msg="vmap over models: member 1 must equal the model built from its weights")


@pytest.mark.parametrize("call, match", [
    (lambda: dt.init_params(jax.random.PRNGKey(0), 5, 0), "width"),
    (lambda: dt.init_params(jax.random.PRNGKey(0), 0, 3), "dim"),
    (lambda: dt.init_params(jax.random.PRNGKey(0), 5, 3, scale=-1.0), "scale"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3))), jnp.ones(4)), "y must have shape"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3))), jnp.ones((2, 5))), "y must have shape"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3)), jnp.ones((5, 4))), jnp.ones(5)), "params.w2"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones(5)), jnp.ones(5)), "params.w1"),
])
def test_bad_input(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_columns_do_not_depend_on_width():
  key = jax.random.PRNGKey(5)
  narrow, wide = dt.init_params(key, 9, 3, tied=False), dt.init_params(key, 9, 7, tied=False)
  chex.assert_trees_all_equal((narrow.w1, narrow.w2), (wide.w1[:, :3], wide.w2[:, :3]))
