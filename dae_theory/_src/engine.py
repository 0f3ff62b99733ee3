"""The training engine: any ``Model`` (models.py), optax optimisers, one compiled loop.

One model's training is the pure function ``train_one(model, spec, x, cfg, width_max)``; a
sweep is the same function vmapped (or mapped) over a grid of ``ModelSpec`` rows (sweep.py).
Every step draws a fresh batch (full, or indices uniform with replacement as in the authors'
code), fresh noise and, for models that need it, a fresh per-step key; every random number
derives from (seed, step), so a run is reproducible and a sweep's model i equals training it
alone.

Two loops give the same numbers:
- "scan": the whole run is ONE compiled program, a ``lax.scan`` over blocks of ``log_every``
  steps, each block a ``lax.scan`` over its steps (the fastest form for the matrix models here).
- "python": a Python loop over a jitted step (``make_trainer``'s ``step``), for models that
  XLA:CPU runs slowly inside a loop (convolutions run about 40× slower inside a scan there).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dae_theory._src import checks
from dae_theory._src.config import NOISE_SAMPLERS, TrainConfig
from dae_theory._src.models import Model, get_model

LOOPS = ("scan", "python")


class ModelSpec(NamedTuple):
  """The per-model values a sweep varies (scalars, or arrays with a leading model axis).

  Attributes:
    seed: () uint32 PRNG seed.
    num_samples: () int32 n: the model trains on rows [0, n) of the shared data.
    sigma: () σ of the one-σ DAE, or σ_max of the diffusion model.
    lam: () explicit weight decay λ of eq. (6).
    learning_rate: () peak learning rate.
    width: () int32 p: units ≥ p stay exactly 0.
    sigma_min: () σ_min of the diffusion model (unused by the one-σ DAE).
  """

  seed: Any
  num_samples: Any
  sigma: Any
  lam: Any
  learning_rate: Any
  width: Any
  sigma_min: Any = np.float32(0.0)


def model_spec(config: TrainConfig, seed: int, num_samples: int) -> ModelSpec:
  """The ``ModelSpec`` of one run: the config's per-model fields with this seed (in [0, 2**32)) and n."""
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  seed = checks.check_seed("seed", seed)
  num_samples = checks.check_int("num_samples", num_samples)
  return ModelSpec(jnp.uint32(seed), jnp.int32(num_samples), jnp.float32(config.sigma), jnp.float32(config.lam),
                   jnp.float32(config.learning_rate), jnp.int32(config.width), jnp.float32(config.sigma_min))


class TrainState(NamedTuple):
  """What a step carries: the parameters and the optimiser's state."""

  params: Any
  opt_state: Any


class TrainOutput(NamedTuple):
  """What one compiled run returns (leading model axis in sweeps).

  Attributes:
    params: final parameters at the padded width (units ≥ the model's width are 0).
    loss_history: (num_logs,) mean training objective over each block of ``log_every`` steps
      (data term + λ·penalty; coupled weight decay lives in the optimiser and is not included).
    snapshots: parameters with a leading (len(snapshot_steps),) axis, or None.
  """

  params: Any
  loss_history: jax.Array
  snapshots: Any


class Trainer(NamedTuple):
  """The step factory's pure functions (``make_trainer``).

  Attributes:
    init: (spec, x) -> ``TrainState`` at step 0.
    step: (state, spec, x, step_index) -> (state, loss): one optimisation step with the batch,
      noise and model key of that step (the same numbers as the compiled loop's step).
    update: (state, spec, x, step_index, batch_key_or_indices, noise_keys, model_key) ->
      (state, loss): ``step`` with its keys given (loops that draw a block's keys at once).
  """

  init: Callable
  step: Callable
  update: Callable


def lr_factor(step, steps: int, decay_steps: int, final_fraction: float):
  """1 until ``steps − decay_steps``, then a cosine from 1 down to ``final_fraction``."""
  if decay_steps == 0:
    return jnp.ones_like(step, dtype=jnp.float32)
  t = jnp.clip((step - (steps - decay_steps)) / decay_steps, 0.0, 1.0)
  return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + jnp.cos(jnp.pi * t))


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
  """The update direction before the learning rate: coupled decay, then the optimiser's transform."""
  if not isinstance(cfg, TrainConfig):
    raise ValueError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
  parts = []
  if cfg.weight_decay and cfg.optimizer != "adamw":
    parts.append(optax.add_decayed_weights(cfg.weight_decay))  # coupled L2, as PyTorch
  if cfg.optimizer in ("adam", "adamw"):
    parts.append(optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8))
  elif cfg.optimizer == "rmsprop":
    parts.append(optax.scale_by_rms(decay=0.99, eps=1e-8, eps_in_sqrt=False))
  elif cfg.optimizer == "sgd" and cfg.momentum:
    parts.append(optax.trace(decay=cfg.momentum))
  if cfg.optimizer == "adamw" and cfg.weight_decay:
    parts.append(optax.add_decayed_weights(cfg.weight_decay))  # decoupled
  return optax.chain(*parts) if parts else optax.identity()


def step_keys(k_run, step_index, cfg: TrainConfig):
  """The step's batch key, its (num_draws,) noise keys and its model key, from (k_run, step).

  The model key is fold_in(k_step, 2): with JAX's partitionable Threefry, split(k)[i] equals
  fold_in(k, i), so indices 0 and 1 are the batch and noise keys' own.
  """
  k_step = jax.random.fold_in(k_run, step_index)
  k_batch, k_noise = jax.random.split(k_step)
  return k_batch, jax.random.split(k_noise, cfg.num_draws), jax.random.fold_in(k_step, 2)


def draw_indices(k_batch, num_samples, cfg: TrainConfig):
  """Minibatch indices drawn uniformly with replacement from [0, num_samples) (the authors' code)."""
  return jax.random.randint(k_batch, (cfg.batch_size,), 0, num_samples)


def sample_batch(key_or_indices, x, num_samples, cfg: TrainConfig):
  """(batch, weights): all rows with weights 1[i < n] (full batch), else rows at the indices
  (with replacement, drawn ahead by ``draw_indices``) or the first batch_size of a random
  permutation of [0, n) (without replacement, drawn here from the key)."""
  n_max = x.shape[0]
  if cfg.batch_size is None:
    weights = (jnp.arange(n_max) < num_samples).astype(x.dtype)
    return x, weights
  if cfg.sampling == "with_replacement":
    idx = key_or_indices
  else:
    u = jnp.where(jnp.arange(n_max) < num_samples, jax.random.uniform(key_or_indices, (n_max,)), 2.0)
    idx = jax.lax.top_k(-u, cfg.batch_size)[1]
  return x[idx], None


def draw_noise(keys, cfg: TrainConfig, rows: int, dim: int, dtype):
  """(draws, rows, d) standard normals; one key per draw keeps the row-prefix property."""
  draw = NOISE_SAMPLERS[cfg.noise_sampler]
  return jax.vmap(lambda k: draw(k, (rows, dim), dtype))(keys)


def _run_keys(spec: ModelSpec):
  return jax.random.split(jax.random.key(spec.seed))  # (k_init, k_run)


def make_trainer(model: Model, cfg: TrainConfig, width_max: int) -> Trainer:
  """The pure (init, step) functions that every loop of the engine runs (jax-md's factory pattern).

  ``step`` draws its own keys from (seed, step_index), so a Python loop over a jitted ``step``
  reproduces the compiled scan; ``train_one`` draws a block's keys at once (the same bits) and
  calls the same update. Vmap both over a ``ModelSpec`` with a model axis to run a sweep.

  Args:
    model: a ``Model`` (``models.RELU_DAE``, ``models.RELU_DIFFUSION`` or your own).
    cfg: the ``TrainConfig`` (its per-model fields are read from the spec instead).
    width_max: the padded width p of the parameters.
  """
  if not isinstance(model, Model):
    raise ValueError(f"model must be a Model, got {type(model).__name__}")
  if not isinstance(cfg, TrainConfig):
    raise ValueError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
  check_noise_range(model, cfg)
  width_max = checks.check_int("width_max", width_max)
  optimizer = make_optimizer(cfg)
  view = model.optimizer_view or (lambda p, c: p)
  merge = model.merge_updates or (lambda u, c: u)

  def init(spec: ModelSpec, x) -> TrainState:
    k_init, _ = _run_keys(spec)
    params = model.init(k_init, x.shape[1], width_max, cfg, x.dtype)
    mask = model.unit_mask(params, spec.width)
    params = jax.tree.map(lambda w, m: w * m, params, mask)
    return TrainState(params, optimizer.init(view(params, cfg)))

  def update(state: TrainState, spec: ModelSpec, x, step_index, batch_key_or_indices, noise_keys, model_key):
    params, opt_state = state
    dtype = x.dtype
    batch, weights = sample_batch(batch_key_or_indices, x, spec.num_samples, cfg)
    rows = x.shape[0] if cfg.batch_size is None else cfg.batch_size
    noise = draw_noise(noise_keys, cfg, rows, x.shape[1], dtype)
    objective = lambda p: model.objective(p, batch, noise, weights, spec, cfg, model_key)
    loss, grads = jax.value_and_grad(objective)(view(params, cfg))
    updates, opt_state = optimizer.update(grads, opt_state, view(params, cfg))
    scale = -spec.learning_rate.astype(dtype) * lr_factor(step_index, cfg.steps, cfg.decay_steps,
                                                          cfg.final_lr_fraction).astype(dtype)
    mask = model.unit_mask(params, spec.width)
    params = jax.tree.map(lambda w, u, m: w + scale * u * m, params, merge(updates, cfg), mask)
    return TrainState(params, opt_state), loss

  def step(state: TrainState, spec: ModelSpec, x, step_index):
    _, k_run = _run_keys(spec)
    k_batch, noise_keys, model_key = step_keys(k_run, step_index, cfg)
    if cfg.batch_size is not None and cfg.sampling == "with_replacement":
      k_batch = draw_indices(k_batch, spec.num_samples, cfg)
    return update(state, spec, x, step_index, k_batch, noise_keys, model_key)

  return Trainer(init, step, update)


def _snapshot_init(params, snap_steps: np.ndarray):
  return jax.tree.map(lambda w: jnp.where((snap_steps == 0).reshape((-1,) + (1,) * w.ndim), w[None],
                                          jnp.zeros_like(w)[None]), params)


def _snapshot_take(snaps, params, snap_steps: np.ndarray, step_done):
  return jax.tree.map(lambda s, w: jnp.where((snap_steps == step_done).reshape((-1,) + (1,) * w.ndim), w[None], s),
                      snaps, params)


def train_one(model: Model, spec: ModelSpec, x: jax.Array, cfg: TrainConfig, width_max: int) -> TrainOutput:
  """Trains one model on rows [0, spec.num_samples) of x as one ``lax.scan``; pure, so it vmaps."""
  trainer = make_trainer(model, cfg, width_max)
  state = trainer.init(spec, x)
  _, k_run = _run_keys(spec)
  snap_steps = np.asarray(cfg.snapshot_steps, np.int32)
  snaps = _snapshot_init(state.params, snap_steps) if snap_steps.size else None

  def block(carry, block_index):
    state, snaps = carry
    steps = block_index * cfg.log_every + jnp.arange(cfg.log_every)
    # The block's keys (and with-replacement indices) in one vectorised draw: the same bits as
    # drawing them step by step, but one small Threefry loop per block instead of four per step.
    batch_keys, noise_keys, model_keys = jax.vmap(lambda i: step_keys(k_run, i, cfg))(steps)
    if cfg.batch_size is not None and cfg.sampling == "with_replacement":
      batch_keys = jax.vmap(lambda k: draw_indices(k, spec.num_samples, cfg))(batch_keys)
    body = lambda s, inputs: trainer.update(s, spec, x, *inputs)
    state, losses = jax.lax.scan(body, state, (steps, batch_keys, noise_keys, model_keys))
    if snaps is not None:
      snaps = _snapshot_take(snaps, state.params, snap_steps, (block_index + 1) * cfg.log_every)
    return (state, snaps), jnp.mean(losses)

  num_blocks = cfg.steps // cfg.log_every
  (state, snaps), history = jax.lax.scan(block, (state, snaps), jnp.arange(num_blocks))
  return TrainOutput(state.params, history, snaps)


@jax.jit
def _mean_of_losses(losses):
  """The mean of a block's step losses (one program per block length and loss shape)."""
  return jnp.mean(jnp.stack(losses), axis=0)


def python_loop(init: Callable, step: Callable, cfg: TrainConfig, params_of: Callable = lambda s: s.params,
                progress: Callable[[int, int], None] | None = None) -> TrainOutput:
  """Runs ``cfg.steps`` steps as a Python loop over ``step(state, step_index) -> (state, loss)``.

  ``init()`` gives the first state. The loss history and snapshots are taken as ``train_one``
  takes them (the mean of each block of ``log_every`` step losses; parameters after a step
  count in ``snapshot_steps``). ``step`` should be jitted with the state donated.
  """
  state = init()
  snap_steps = np.asarray(cfg.snapshot_steps, np.int32)
  snaps = _snapshot_init(params_of(state), snap_steps) if snap_steps.size else None
  history = []
  for block in range(cfg.steps // cfg.log_every):
    losses = []
    for i in range(block * cfg.log_every, (block + 1) * cfg.log_every):
      state, loss = step(state, jnp.int32(i))
      losses.append(loss)
    history.append(_mean_of_losses(losses))
    if snaps is not None:
      snaps = _snapshot_take(snaps, params_of(state), snap_steps, (block + 1) * cfg.log_every)
    if progress is not None:
      progress((block + 1) * cfg.log_every, cfg.steps)
  return TrainOutput(params_of(state), jnp.stack(history, axis=-1), snaps)


def static_part(cfg: TrainConfig) -> TrainConfig:
  """The config with the per-model (sweepable) fields blanked: the key of one compilation."""
  return cfg.replace(width=1, sigma=1.0, sigma_min=0.5, lam=0.0, learning_rate=1.0)


def default_loop(model: Model, platform: str) -> str:
  """The model's ``loop_on_cpu`` on CPU, "scan" elsewhere (one compiled program)."""
  return model.loop_on_cpu if platform == "cpu" else "scan"


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """A trained model.

  Attributes:
    params: the model's parameters (``DAEParams`` (d, p), ``DiffusionParams``, …).
    loss_history: (steps / log_every,) mean training objective per block.
    log_steps: (steps / log_every,) the step at the end of each block.
    snapshots: parameters with a leading snapshot axis, or None.
    snapshot_steps: steps of the snapshots.
    config: the ``TrainConfig``.
    seed: the seed.
    num_samples: n, the rows of x it was trained on.
  """

  params: Any
  loss_history: np.ndarray
  log_steps: np.ndarray
  snapshots: Any
  snapshot_steps: tuple[int, ...]
  config: TrainConfig
  seed: int
  num_samples: int


def check_training_data(x, name: str = "x") -> jax.Array:
  x = checks.check_array(name, x, ndim=2)
  checks.check_nonempty(name, x)
  checks.check_finite(name, x)
  return jnp.asarray(x, checks.float_dtype(x))


def check_batch(cfg: TrainConfig, num_samples: int) -> None:
  if cfg.batch_size is not None and cfg.sampling == "without_replacement" and cfg.batch_size > num_samples:
    raise ValueError(f"batch_size ({cfg.batch_size}) must be at most the number of samples ({num_samples}) "
                     f"when sampling='without_replacement'")


def check_noise_range(model: Model, config: TrainConfig) -> None:
  """A model that trains over a noise range [σ_min, σ] (it reads σ_min, as the diffusion and deep
  models do) needs ``config.model="relu_diffusion"``: that is what checks σ_min < σ and one draw."""
  if "sigma_min" in model.sweep_fields and config.model != "relu_diffusion":
    raise ValueError(f"config.model must be 'relu_diffusion' for model {model.name!r}, which trains over the noise "
                     f"range [sigma_min, sigma] (the config checks that range only then), got {config.model!r}")


def check_loop(loop: str | None, model: Model, platform: str) -> str:
  loop = default_loop(model, platform) if loop is None else loop
  if loop not in LOOPS:
    raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
  return loop


def compiler_options(cfg: TrainConfig, platform: str) -> dict | None:
  """XLA options for compiling a training program of ``cfg`` on ``platform`` (None: the defaults).

  On CPUs with AVX-512 the Box–Muller sampler's fused noise loop runs 1.45× faster with 512-bit
  vectors (1.16× the training steps/s on a 2-core Xeon, the same bits); elsewhere the hint is
  moot. The erfinv sampler gains nothing (0.97×), so it keeps the default width.
  """
  if not isinstance(cfg, TrainConfig):
    raise ValueError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
  if not isinstance(platform, str):
    raise ValueError(f"platform must be a backend name such as 'cpu', 'gpu' or 'tpu', got {platform!r}")
  if platform == "cpu" and cfg.noise_sampler == "box_muller":
    return {"xla_cpu_prefer_vector_width": 512}
  return None


@functools.cache
def _train_program(options: tuple[tuple[str, object], ...]):
  return jax.jit(train_one, static_argnames=("model", "cfg", "width_max"), compiler_options=dict(options) or None)


@functools.cache
def _step_program(model: Model, cfg: TrainConfig, width_max: int, options: tuple[tuple[str, object], ...]):
  trainer = make_trainer(model, cfg, width_max)
  opts = dict(options) or None
  return (jax.jit(trainer.init, compiler_options=opts),
          jax.jit(trainer.step, donate_argnums=0, compiler_options=opts))


def train_model(model: Model, x, config: TrainConfig, seed: int = 0, *, num_samples: int | None = None,
                loop: str | None = None) -> TrainResult:
  """Trains one ``model`` (any ``Model``) with the engine; see ``train``."""
  if not isinstance(model, Model):
    raise ValueError(f"model must be a Model, got {type(model).__name__}")
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  check_noise_range(model, config)
  x = check_training_data(x)
  n = x.shape[0] if num_samples is None else checks.check_int("num_samples", num_samples)
  if n > x.shape[0]:
    raise ValueError(f"num_samples must be at most the rows of x ({x.shape[0]}), got {n}")
  check_batch(config, n)
  seed = checks.check_seed("seed", seed)
  platform = jax.default_backend()
  loop = check_loop(loop, model, platform)
  spec = model_spec(config, seed, n)
  options = tuple(sorted((compiler_options(config, platform) or {}).items()))
  static = static_part(config)
  if loop == "scan":
    out = _train_program(options)(model, spec, x, static, config.width)
  else:
    init, step = _step_program(model, static, config.width, options)
    out = python_loop(lambda: init(spec, x), lambda s, i: step(s, spec, x, i), config)
  log_steps = config.log_every * np.arange(1, config.steps // config.log_every + 1)
  return TrainResult(out.params, np.asarray(out.loss_history), log_steps, out.snapshots, config.snapshot_steps,
                     config, seed, n)


def train(x, config: TrainConfig, seed: int = 0, *, num_samples: int | None = None,
          loop: str | None = None) -> TrainResult:
  """Trains the config's model (``config.model``: the one-σ ReLU-DAE on eq. 6, or the multi-noise
  ReLU diffusion model) in one compiled program.

  Args:
    x: (N, d) clean training samples.
    config: a ``TrainConfig`` (or ``preset(name)``).
    seed: PRNG seed in [0, 2³²) (initialisation, batches, noise). The same seed gives the same
      numbers.
    num_samples: train on the first n rows of x (default: all); the way sweeps share one data array.
    loop: "scan" (one compiled program) or "python" (a Python loop over a jitted step; the same
      numbers); default ``default_loop``.

  Returns:
    ``TrainResult``.
  """
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  return train_model(get_model(config.model), x, config, seed, num_samples=num_samples, loop=loop)
