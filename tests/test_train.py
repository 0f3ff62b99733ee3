import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt
from dae_theory._src.engine import _train_program, compiler_options, lr_factor, static_part

# Every test here trains models.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
  mix = dt.gaussian_mixture(jax.random.PRNGKey(0), 3, 12, rank=2, cov_scale=0.3)
  return dt.sample_mixture(jax.random.PRNGKey(1), mix, 300).x


def _torch_reference(kind, grads, w0, lr, wd, momentum=0.0):
  """PyTorch's update rules written out in NumPy (coupled L2 decay for adam/rmsprop/sgd)."""
  w = w0.copy()
  m = np.zeros_like(w)
  v = np.zeros_like(w)
  for t, g in enumerate(grads, start=1):
    if kind == "adamw":
      w = w * (1 - lr * wd)
    else:
      g = g + wd * w
    if kind in ("adam", "adamw"):
      m = 0.9 * m + 0.1 * g
      v = 0.999 * v + 0.001 * g * g
      w = w - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    elif kind == "rmsprop":
      v = 0.99 * v + 0.01 * g * g
      w = w - lr * g / (np.sqrt(v) + 1e-8)
    else:
      m = momentum * m + g if t > 1 else g
      w = w - lr * (m if momentum else g)
  return w


@pytest.mark.parametrize("kind, momentum", [("adam", 0.0), ("adamw", 0.0), ("rmsprop", 0.0), ("sgd", 0.0), ("sgd", 0.9)])
def test_optimizers_follow_pytorch_update_rules(x64, rng, kind, momentum):
  cfg = dt.TrainConfig(optimizer=kind, weight_decay=0.05, momentum=momentum, learning_rate=1e-2)
  opt = dt.make_optimizer(cfg)
  w = rng.normal(size=(4, 3))
  grads = [rng.normal(size=(4, 3)) for _ in range(5)]
  state = opt.init(jnp.asarray(w))
  cur = jnp.asarray(w)
  for g in grads:
    upd, state = opt.update(jnp.asarray(g), state, cur)
    cur = cur - 1e-2 * upd
  np.testing.assert_allclose(cur, _torch_reference(kind, grads, w, 1e-2, 0.05, momentum), rtol=1e-10, atol=1e-12,
                             err_msg=f"{kind} (momentum {momentum}) must follow PyTorch's update rule")


def test_learning_rate_schedule():
  steps = jnp.arange(100)
  f = np.asarray(lr_factor(steps, 100, 40, 1e-3))
  assert (f[:60] == 1).all() and f[-1] < 0.01 and np.all(np.diff(f[60:]) < 0), (
      f"expected factor 1 for 60 steps, then strictly decreasing to below 0.01, got {f}")
  np.testing.assert_allclose(lr_factor(jnp.asarray(80), 100, 40, 0.0), 0.5, atol=1e-6,
                             err_msg="halfway through the cosine decay the factor must be 0.5")
  assert (np.asarray(lr_factor(steps, 100, 0, 1e-3)) == 1).all(), "without decay steps the factor must stay 1"


def test_training_lowers_the_loss_and_is_deterministic(data):
  cfg = dt.TrainConfig(width=6, steps=600, log_every=100, batch_size=64, learning_rate=3e-3, lam=1e-3)
  a = dt.train(data, cfg, seed=3)
  b = dt.train(data, cfg, seed=3)
  c = dt.train(data, cfg, seed=4)
  assert a.loss_history[-1] < 0.6 * a.loss_history[0], (
      f"training must lower the loss below 0.6 x its first logged value {a.loss_history[0]:.5g}, got "
      f"{a.loss_history[-1]:.5g}")
  np.testing.assert_array_equal(a.params.w1, b.params.w1, err_msg="the same seed must give the same weights")
  assert not np.allclose(a.params.w1, c.params.w1), "another seed must give other weights"
  chex.assert_shape(a.loss_history, (6,))
  assert list(a.log_steps) == [100, 200, 300, 400, 500, 600], f"expected a log every 100 steps, got {list(a.log_steps)}"


def test_full_batch_on_a_prefix_equals_training_on_the_cut_data(data):
  cfg = dt.TrainConfig(width=5, steps=200, log_every=100, learning_rate=3e-3)
  cut = dt.train(data[:40], cfg, seed=1)
  prefix = dt.train(data, cfg, seed=1, num_samples=40)
  np.testing.assert_allclose(prefix.params.w1, cut.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="num_samples=40 must train as on data[:40]")


def test_per_side_tied_gradient_is_joint_for_sgd_and_not_for_adam(data):
  base = dt.TrainConfig(width=5, steps=200, log_every=100, batch_size=32, optimizer="sgd", learning_rate=1e-2,
                        weight_decay=1e-3)
  # Per side, PyTorch adds wd·W on the encoder AND the decoder use: SGD then equals one joint
  # gradient with twice the decay.
  joint = dt.train(data, base.replace(weight_decay=2e-3), seed=0)
  side = dt.train(data, base.replace(tied_gradient="per_side"), seed=0)
  np.testing.assert_allclose(side.params.w1, joint.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="SGD per side must equal the joint gradient with twice the decay")
  assert not np.allclose(dt.train(data, base, seed=0).params.w1, side.params.w1, atol=1e-5), (
      "SGD per side must differ from the joint gradient with the same decay")
  adam = base.replace(optimizer="adam", learning_rate=1e-3)
  assert not np.allclose(dt.train(data, adam, seed=0).params.w1,
                         dt.train(data, adam.replace(tied_gradient="per_side"), seed=0).params.w1, atol=1e-5), (
      "Adam per side must differ from Adam on the joint gradient")


def test_snapshots_and_untied(data):
  cfg = dt.TrainConfig(width=4, steps=300, log_every=100, tied=False, snapshot_steps=(0, 300), learning_rate=1e-2)
  res = dt.train(data, cfg, seed=2)
  init = dt.init_params(jax.random.split(jax.random.key(2))[0], 12, 4, tied=False)
  np.testing.assert_array_equal(res.snapshots.w1[0], init.w1, err_msg="the step-0 snapshot must be the initial w1")
  np.testing.assert_array_equal(res.snapshots.w2[0], init.w2, err_msg="the step-0 snapshot must be the initial w2")
  np.testing.assert_array_equal(res.snapshots.w1[1], res.params.w1, err_msg="the last snapshot must be the final w1")
  assert not np.allclose(res.params.w1, res.params.w2), "untied w1 and w2 must train apart"


def test_without_replacement_batches_are_distinct_rows(data):
  from dae_theory._src.engine import sample_batch
  cfg = dt.TrainConfig(batch_size=30, sampling="without_replacement")
  batch, _ = sample_batch(jax.random.key(0), data, jnp.int32(30), cfg)
  # a permutation of the first 30 rows
  distinct = np.unique(np.asarray(batch), axis=0).shape[0]
  assert distinct == 30, f"a batch of 30 without replacement must hold 30 distinct rows, got {distinct}"
  np.testing.assert_allclose(np.sort(np.asarray(batch).sum(1)), np.sort(np.asarray(data[:30]).sum(1)), rtol=1e-6,
                             err_msg="the batch must be a permutation of the first 30 rows")


def test_randomness_drawn_per_block_equals_drawing_it_step_by_step():
  from dae_theory._src.engine import draw_indices, step_keys
  cfg = dt.TrainConfig(batch_size=16, num_draws=3)
  k_run = jax.random.key(7)
  steps = jnp.arange(200, 210)
  batch_keys, noise_keys, model_keys = jax.jit(jax.vmap(lambda i: step_keys(k_run, i, cfg)))(steps)
  indices = jax.jit(jax.vmap(lambda k: draw_indices(k, jnp.int32(50), cfg)))(batch_keys)
  for j, i in enumerate(steps):
    k_batch, k_noise, k_model = step_keys(k_run, i, cfg)
    np.testing.assert_array_equal(jax.random.key_data(noise_keys[j]), jax.random.key_data(k_noise),
                                  err_msg=f"step {i}: noise key")
    np.testing.assert_array_equal(jax.random.key_data(model_keys[j]), jax.random.key_data(k_model),
                                  err_msg=f"step {i}: model key")
    np.testing.assert_array_equal(indices[j], draw_indices(k_batch, jnp.int32(50), cfg), err_msg=f"step {i}: indices")
  chex.assert_shape(indices, (10, 16))
  assert int(indices.max()) < 50, f"indices must lie below the 50 samples, got max {int(indices.max())}"


def test_noise_samplers_train_alike_with_different_draws(data):
  cfg = dt.TrainConfig(width=6, steps=800, log_every=200, batch_size=64, learning_rate=3e-3, lam=1e-3)
  runs = {s: dt.train(data, cfg.replace(noise_sampler=s), seed=5) for s in ("threefry_pairs", "box_muller", "jax_normal")}
  losses = {s: r.loss_history[-1] for s, r in runs.items()}
  reference = losses["threefry_pairs"]
  for s, loss in losses.items():  # the same law of noise: the same loss up to sampling noise
    # measured ≤ 0.4 %; σ 5 % too large gives 4.7 %
    assert abs(loss / reference - 1) < 0.02, f"{s}: final loss must be threefry_pairs' within 2 %, got {losses}"
  assert not np.allclose(runs["box_muller"].params.w1, runs["threefry_pairs"].params.w1), (
      "box_muller and threefry_pairs must draw different noise")


def test_wide_vectors_for_box_muller_on_cpu_change_speed_not_numbers(data):
  cfg = dt.TrainConfig(width=6, steps=400, log_every=100, batch_size=64, learning_rate=3e-3, lam=1e-3,
                       noise_sampler="box_muller")
  options = compiler_options(cfg, "cpu")
  assert options == {"xla_cpu_prefer_vector_width": 512}, f"box_muller on CPU must ask for 512-bit vectors, got {options}"
  gpu, other = compiler_options(cfg, "gpu"), compiler_options(cfg.replace(noise_sampler="threefry_pairs"), "cpu")
  assert gpu is None and other is None, f"no options off CPU nor for other samplers, got {gpu} and {other}"
  spec = dt.model_spec(cfg, 5, data.shape[0])
  x = jnp.asarray(data, jnp.float32)
  wide = _train_program(tuple(options.items()))(dt.RELU_DAE, spec, x, static_part(cfg), cfg.width)
  default = _train_program(())(dt.RELU_DAE, spec, x, static_part(cfg), cfg.width)
  np.testing.assert_allclose(wide.params.w1, default.params.w1, rtol=0, atol=1e-6,  # bit for bit here
                             err_msg="wide vectors must not change the weights")
  np.testing.assert_allclose(wide.loss_history, default.loss_history, rtol=1e-6,
                             err_msg="wide vectors must not change the loss history")
  if jax.default_backend() == "cpu":  # train() takes the wide program
    np.testing.assert_array_equal(dt.train(data, cfg, seed=5).params.w1, wide.params.w1,
                                  err_msg="train() on CPU must run the wide program")


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="adagrad"), "optimizer must be one of"),
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(sigma=0.0), "sigma must be > 0"),
    (dict(lam=-1.0), "lam must be >= 0"),
    (dict(width=0), "width must be an integer >= 1"),
    (dict(steps=250, log_every=100), "multiple of log_every"),
    (dict(snapshot_steps=(50,), steps=200, log_every=100), "snapshot_steps"),
    (dict(decay_steps=500, steps=200, log_every=100), "decay_steps"),
    (dict(momentum=0.9), "momentum applies to optimizer='sgd'"),
    (dict(sampling="shuffle"), "sampling must be one of"),
    (dict(tied=False, tied_gradient="per_side"), "per_side"),
])
def test_bad_config(kwargs, match):
  with pytest.raises(ValueError, match=match):
    dt.TrainConfig(**kwargs)


def test_bad_training_input(data):
  with pytest.raises(ValueError, match="preset must be one of"):
    dt.preset("overfit")
  cfg = dt.TrainConfig(batch_size=50, sampling="without_replacement", steps=100)
  with pytest.raises(ValueError, match="batch_size .* must be at most the number of samples"):
    dt.train(data, cfg, num_samples=20)
  with pytest.raises(ValueError, match="num_samples must be at most"):
    dt.train(data, dt.TrainConfig(steps=100), num_samples=1000)
  with pytest.raises(ValueError, match="x must be finite"):
    dt.train(np.full((5, 3), np.nan), dt.TrainConfig(steps=100))
  with pytest.raises(ValueError, match="config must be a TrainConfig"):
    dt.train(data, {"steps": 10})


def test_presets_match_the_authors_recipes():
  mem, gen = dt.preset("memorizing"), dt.preset("generalizing")
  got = (mem.optimizer, mem.learning_rate, mem.weight_decay, mem.batch_size, mem.steps)
  assert got == ("rmsprop", 1e-3, 1e-2, None, 50_000), f"memorizing recipe: expected RMSprop 1e-3, wd 1e-2, full batch, 50k steps, got {got}"
  got = (gen.optimizer, gen.learning_rate, gen.weight_decay, gen.batch_size, gen.steps)
  assert got == ("adam", 1e-4, 1e-4, 256, 50_000), f"generalizing recipe: expected Adam 1e-4, wd 1e-4, batch 256, 50k steps, got {got}"
  assert mem.width == gen.width == 100 and mem.sigma == gen.sigma == 0.2, (
      f"both recipes: expected width 100 and sigma 0.2, got {(mem.width, gen.width)} and {(mem.sigma, gen.sigma)}")
  steps = dt.preset("generalizing", steps=1000).steps
  assert steps == 1000, f"a preset's fields must be overridable: expected steps 1000, got {steps}"
