"""Sweeps: one compiled program trains a grid of models, sharded over devices, resumable on disk.

This module orchestrates the grid (grid.py), the engine (engine.py), the model (models.py) and
the results store (store.py). The grid is seeds × sizes n × σ (× σ_min) × λ × learning rate × width p. All models share ONE data array:
model i trains on its first n_i rows (nested subsets; minibatch indices are drawn in [0, n_i),
full-batch losses mask the other rows). Widths are padded to the largest p with the unused
columns held at exactly zero. The model axis is split over the devices of a 1-D ``Mesh``.
Models run in chunks of equal shape (one compilation for the whole sweep); each finished chunk
is written atomically to ``results_dir`` as .npz + .json, and a rerun loads finished chunks.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dae_theory._src import checks
from dae_theory._src import store
from dae_theory._src.config import TrainConfig
from dae_theory._src.engine import (check_loop, check_noise_range, check_training_data, compiler_options,
                                    make_trainer, python_loop, static_part, train_one)
from dae_theory._src.grid import Grid, grid_specs, make_grid
from dae_theory._src.models import Model, get_model

@dataclasses.dataclass(frozen=True)
class SweepResult:
  """A trained grid of models (leading model axis M everywhere).

  Attributes:
    params: the models' parameters with a leading model axis (``DAEParams`` w1 (M, d, p_max), …);
      units ≥ p_i are 0.
    loss_history: (M, steps / log_every).
    log_steps: (steps / log_every,).
    snapshots: parameters (M, S, …) or None.
    grid: the models' settings as arrays (``Grid``: seed, num_samples, sigma, (sigma_min,) lam,
      learning_rate, width); ``grid[i]`` is model i's row as a dict.
    config: the shared ``TrainConfig`` (its sweepable fields are overridden by ``grid``).
    results_dir: where the chunks were written, or None.
    model_def: the ``Model`` trained.
  """

  params: object
  loss_history: np.ndarray
  log_steps: np.ndarray
  snapshots: object
  grid: Grid
  config: TrainConfig
  results_dir: Path | None
  model_def: Model | None = None

  def model(self, i: int):
    """Model i's parameters, cut to its own width."""
    p = int(self.grid.width[i])
    one = jax.tree.map(lambda w: w[i], self.params)
    model = self.model_def or get_model(self.config.model)
    return model.cut_width(one, p) if model.cut_width else one


VECTORIZE = ("vmap", "map")


def default_vectorize(mesh: Mesh, loop: str = "scan") -> str:
  """"map" on CPU (one model already fills the cores; batched small GEMMs lose to a loop there,
  see docs/performance-notes.md), "vmap" on GPU/TPU (one small model leaves the chip idle) and for
  models trained by the Python loop (a map is a loop: XLA:CPU runs convolutions slowly inside one)."""
  return "map" if mesh.devices.flat[0].platform == "cpu" and loop == "scan" else "vmap"


def default_models_per_chunk(mesh: Mesh, loop: str, total: int) -> int:
  """The whole grid in one compiled call, except on CPU for Python-loop models (the U-Net): one
  model per device, because a vmapped batch of such models runs slower there than the same models
  one after the other (two 8×8 U-Nets: 5× one model's step time batched; see
  docs/performance-notes.md)."""
  if mesh.devices.flat[0].platform == "cpu" and loop == "python":
    return int(mesh.devices.size)
  return total


def _sharded(fn, mesh: Mesh, in_specs, out_specs, vectorize: str, in_axes):
  """fn (one model) vectorised over the local models and sharded over the mesh's model axis."""
  def local(*args):
    if vectorize == "vmap":
      return jax.vmap(fn, in_axes=in_axes)(*args)
    mapped = [a for a, ax in zip(args, in_axes) if ax == 0]
    def one(per_model):
      it = iter(per_model)
      return fn(*(next(it) if ax == 0 else a for a, ax in zip(args, in_axes)))
    return jax.lax.map(one, tuple(mapped))

  def program(*args):
    return jax.shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=out_specs)(*args)
  return program


def _sweep_programs(model: Model, static_cfg: TrainConfig, width_max: int, mesh: Mesh, vectorize: str, loop: str):
  """The compiled program(s) of one chunk: scan → run(specs, x); python → (init, step)."""
  models, rep = PartitionSpec("models"), PartitionSpec()
  model_sharding, replicated = NamedSharding(mesh, models), NamedSharding(mesh, rep)
  options = compiler_options(static_cfg, mesh.devices.flat[0].platform)
  if loop == "scan":
    fn = lambda spec, x: train_one(model, spec, x, static_cfg, width_max)
    program = _sharded(fn, mesh, (models, rep), models, vectorize, (0, None))
    return jax.jit(program, in_shardings=(model_sharding, replicated), out_shardings=model_sharding,
                   compiler_options=options)
  trainer = make_trainer(model, static_cfg, width_max)
  init = _sharded(trainer.init, mesh, (models, rep), models, vectorize, (0, None))
  step = _sharded(lambda state, spec, x, i: trainer.step(state, spec, x, i), mesh, (models, models, rep, rep),
                  models, vectorize, (0, 0, None, None))
  return (jax.jit(init, in_shardings=(model_sharding, replicated), out_shardings=model_sharding,
                  compiler_options=options),
          jax.jit(step, in_shardings=(model_sharding, model_sharding, replicated, replicated),
                  out_shardings=model_sharding, donate_argnums=0, compiler_options=options))


_PROGRAMS: dict = {}


def _get_program(model, static_cfg, width_max, mesh, vectorize, loop):
  key = (model, static_cfg, width_max, tuple(mesh.devices.flat), mesh.axis_names, vectorize, loop)
  if key not in _PROGRAMS:
    _PROGRAMS[key] = _sweep_programs(model, static_cfg, width_max, mesh, vectorize, loop)
  return _PROGRAMS[key]


def default_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis "models" over ``devices`` (default: all devices of all hosts)."""
  devices = jax.devices() if devices is None else list(devices)
  if not devices or not all(isinstance(d, jax.Device) for d in devices):
    raise ValueError(f"devices must be a non-empty sequence of jax.Device (e.g. jax.devices()), got {devices!r}")
  return Mesh(np.asarray(devices), ("models",))


def _global_array(a: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """A host array (the same on every process) placed with ``sharding``; each process fills only
  its own devices' shards, so this works on one host and across hosts alike."""
  return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])


def _gather(tree):
  """Device arrays to host NumPy; across hosts every process receives the whole model axis."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
  return jax.device_get(tree)


def _run_chunk(programs, loop: str, specs, x_dev, cfg: TrainConfig):
  if loop == "scan":
    return programs(specs, x_dev)
  init, step = programs
  out = python_loop(lambda: init(specs, x_dev), lambda s, i: step(s, specs, x_dev, i), cfg)
  if out.snapshots is None:
    return out
  # python_loop stacks snapshots in front of the model axis; the store wants (models, snapshots, …).
  return out._replace(snapshots=jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), out.snapshots))


def train_sweep(x, config: TrainConfig, *, seeds: Sequence[int] = (0,), sizes: Sequence[int] | None = None,
                sigmas: Sequence[float] | None = None, sigma_mins: Sequence[float] | None = None,
                lams: Sequence[float] | None = None, learning_rates: Sequence[float] | None = None,
                widths: Sequence[int] | None = None, results_dir: str | Path | None = None,
                models_per_chunk: int | None = None, mesh: Mesh | None = None, vectorize: str | None = None,
                loop: str | None = None, model: Model | None = None,
                progress: Callable[[int, int, float], None] | None = None) -> SweepResult:
  """Trains the grid seeds × sizes × sigmas (× sigma_mins) × lams × learning_rates × widths in one
  compiled program.

  Each model equals ``train(x, config.replace(sigma=…, lam=…, learning_rate=…, width=…), seed,
  num_samples=n)`` to float tolerance (the same random numbers; only the reduction order differs).

  Args:
    x: (N, d) data shared by all models; model i uses rows [0, n_i).
    config: the shared ``TrainConfig``; an axis left as None takes its value from it (sizes: N).
    seeds, sizes, sigmas, sigma_mins, lams, learning_rates, widths: the grid's axes (sigma_mins
      only for models that read σ_min, such as the diffusion model). Every model trains at the
      largest width, its units ≥ p masked to 0: where widths differ a lot, one sweep per width
      costs less.
    results_dir: if given, each chunk of models is written there atomically
      (chunk_XXXXX.npz + .json with config, model, rows, package version, git commit, jax version,
      device kind, the .npz's sha256) and a rerun loads the chunks already finished; a damaged chunk
      is reported (``DamagedChunkWarning``) and recomputed. A failed write raises
      ``ResultsWriteError`` (an ``OSError``); the chunks already finished are kept.
    models_per_chunk: models per compiled call, rounded up to a multiple of the device count
      (default: the whole grid; on CPU for models trained by the Python loop, one model per
      device, since XLA:CPU runs a vmapped batch of convolutional models slower than the same
      models one after the other). Smaller chunks lose less when a job is killed.
    mesh: a 1-D ``jax.sharding.Mesh`` with axis "models" (default: all devices).
    vectorize: how one device runs its models: "vmap" (batched) or "map" (a loop inside the
      compiled program); default ``default_vectorize(mesh, loop)``.
    loop: "scan" (one program per chunk) or "python" (a Python loop over a jitted step of the whole
      chunk); default ``engine.default_loop``.
    model: a ``Model`` to train (default: the built-in ``config.model``).
    progress: called as progress(models_done, models_total, seconds_elapsed) after each chunk.

  Returns:
    ``SweepResult``.
  """
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  model = get_model(config.model) if model is None else model
  if not isinstance(model, Model):
    raise ValueError(f"model must be a Model, got {type(model).__name__}")
  check_noise_range(model, config)
  x = check_training_data(x)
  grid = make_grid(config, x.shape[0], model=model, seeds=seeds, sizes=sizes, sigmas=sigmas, sigma_mins=sigma_mins,
                   lams=lams, learning_rates=learning_rates, widths=widths)
  rows = grid.rows()
  widths_used = sorted(set(np.asarray(grid.width).tolist()))
  if model.fixed_width and len(widths_used) > 1:
    raise ValueError(f"widths must all be equal for model {model.name!r} (its width is part of the architecture), "
                     f"got {widths_used}")
  if results_dir is not None:
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
      raise ValueError(f"results_dir must be a folder, but {results_dir} is a file")
  mesh = default_mesh() if mesh is None else mesh
  if mesh.axis_names != ("models",):
    raise ValueError(f"mesh must be 1-D with axis name 'models', got axes {mesh.axis_names}")
  num_dev = int(mesh.devices.size)
  if vectorize is not None and vectorize not in VECTORIZE:
    raise ValueError(f"vectorize must be one of {VECTORIZE}, got {vectorize!r}")
  loop = check_loop(loop, model, mesh.devices.flat[0].platform)
  vectorize = default_vectorize(mesh, loop) if vectorize is None else vectorize
  total = len(rows)
  if models_per_chunk is None:
    models_per_chunk = default_models_per_chunk(mesh, loop, total)
  models_per_chunk = checks.check_int("models_per_chunk", models_per_chunk)
  chunk_size = -(-min(models_per_chunk, total) // num_dev) * num_dev
  num_chunks = -(-total // chunk_size)
  width_max = max(r["width"] for r in rows)
  static_cfg = static_part(config)
  fingerprint = store.fingerprint(np.asarray(x), static_cfg, model.name, rows) if results_dir is not None else None
  x_dev = _global_array(np.asarray(x), NamedSharding(mesh, PartitionSpec()))
  programs = _get_program(model, static_cfg, width_max, mesh, vectorize, loop)
  like = jax.eval_shape(lambda: model.init(jax.random.key(0), x.shape[1], width_max, static_cfg, x.dtype))

  pieces: list[dict] = []
  start = time.time()
  for c in range(num_chunks):
    chunk_rows = rows[c * chunk_size:(c + 1) * chunk_size]
    loaded = None
    if results_dir is not None:  # None also for a damaged chunk (a warning names it): it is recomputed
      loaded = store.load_chunk(results_dir, c, fingerprint, chunk_rows,
                                store.chunk_shapes(like, config, len(chunk_rows)))
    if loaded is None:
      padded = list(chunk_rows) + [chunk_rows[-1]] * (chunk_size - len(chunk_rows))
      t0 = time.time()
      specs = jax.tree.map(lambda a: _global_array(a, NamedSharding(mesh, PartitionSpec("models"))),
                           grid_specs(padded))
      out = _gather(_run_chunk(programs, loop, specs, x_dev, static_cfg))
      loaded = store.chunk_arrays(out.params, out.loss_history, out.snapshots, len(chunk_rows))
      if results_dir is not None and jax.process_index() == 0:
        meta = store.metadata(config, model.name, chunk_rows, c, fingerprint, mesh, time.time() - t0)
        store.save_chunk(results_dir, c, loaded, meta)
    pieces.append(loaded)
    if progress is not None:
      progress(min((c + 1) * chunk_size, total), total, time.time() - start)

  arrays = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
  params = store.params_from_arrays(arrays, like)
  snapshots = None
  if config.snapshot_steps:
    snapshots = store.params_from_arrays(arrays, like, store.SNAPSHOT_PREFIX)
  log_steps = config.log_every * np.arange(1, config.steps // config.log_every + 1)
  return SweepResult(params, arrays["loss_history"], log_steps, snapshots, grid, config, results_dir, model)
