"""Sweeps: one compiled program trains a grid of models, sharded over devices, resumable on disk.

The grid is seeds × sizes n × σ × λ × learning rate × width p. All models share ONE data array:
model i trains on its first n_i rows (nested subsets; minibatch indices are drawn in [0, n_i),
full-batch losses mask the other rows). Widths are padded to the largest p with the unused
columns held at exactly zero. The model axis is split over the devices of a 1-D ``Mesh``.
Models run in chunks of equal shape (one compilation for the whole sweep); each finished chunk
is written atomically to ``results_dir`` as .npz + .json, and a rerun loads finished chunks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dae_theory._src import checks
from dae_theory._src.model import DAEParams
from dae_theory._src.results_io import load_json, load_npz, save_json, save_npz
from dae_theory._src.train import (ModelSpec, TrainConfig, TrainOutput, _train_one, check_batch, check_training_data,
                                   compiler_options, static_part)

GRID_AXES = ("seeds", "sizes", "sigmas", "lams", "learning_rates", "widths")
_SPEC_FIELDS = dict(seeds="seed", sizes="num_samples", sigmas="sigma", lams="lam", learning_rates="learning_rate",
                    widths="width")

# Counts traces of the sweep program (a trace precedes every compilation); tests read it.
TRACE_COUNT = {"sweep": 0}


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """A trained grid of models (leading model axis M everywhere).

  Attributes:
    params: ``DAEParams`` with w1 (and w2) of shape (M, d, p_max); columns ≥ p_i are 0.
    loss_history: (M, steps / log_every).
    log_steps: (steps / log_every,).
    snapshots: ``DAEParams`` (M, S, d, p_max) or None.
    grid: one dict per model: seed, num_samples, sigma, lam, learning_rate, width.
    config: the shared ``TrainConfig`` (its sweepable fields are overridden by ``grid``).
    results_dir: where the chunks were written, or None.
  """

  params: DAEParams
  loss_history: np.ndarray
  log_steps: np.ndarray
  snapshots: DAEParams | None
  grid: tuple[dict, ...]
  config: TrainConfig
  results_dir: Path | None

  def model(self, i: int) -> DAEParams:
    """Model i's weights, cut to its own width."""
    p = int(self.grid[i]["width"])
    return jax.tree.map(lambda w: w[i][:, :p], self.params)


def make_grid(config: TrainConfig, num_rows: int, *, seeds=(0,), sizes=None, sigmas=None, lams=None,
              learning_rates=None, widths=None) -> list[dict]:
  """The Cartesian product of the axes (defaults from ``config`` and all rows), as dicts."""
  axes = dict(seeds=seeds, sizes=(num_rows,) if sizes is None else sizes,
              sigmas=(config.sigma,) if sigmas is None else sigmas, lams=(config.lam,) if lams is None else lams,
              learning_rates=(config.learning_rate,) if learning_rates is None else learning_rates,
              widths=(config.width,) if widths is None else widths)
  for name, values in axes.items():
    values = np.atleast_1d(np.asarray(values))
    if values.size == 0:
      raise ValueError(f"{name} must not be empty: a sweep grid needs at least one value on every axis")
    axes[name] = values.tolist()
  for s in axes["seeds"]:
    checks.check_int("seeds", s, minimum=0)
  for n in axes["sizes"]:
    checks.check_int("sizes", n)
    if n > num_rows:
      raise ValueError(f"sizes must be at most the rows of x ({num_rows}), got {n}")
    check_batch(config, n)
  for w in axes["widths"]:
    checks.check_int("widths", w)
  for v in axes["sigmas"]:
    checks.check_scalar("sigmas", v, positive=True)
  for v in axes["lams"]:
    checks.check_scalar("lams", v, nonnegative=True)
  for v in axes["learning_rates"]:
    checks.check_scalar("learning_rates", v, positive=True)
  rows = []
  for combo in itertools.product(*(axes[a] for a in GRID_AXES)):
    rows.append({_SPEC_FIELDS[a]: v for a, v in zip(GRID_AXES, combo)})
  return rows


def _specs(rows: Sequence[dict]) -> ModelSpec:
  col = lambda f, dt: np.asarray([r[f] for r in rows], dt)
  return ModelSpec(col("seed", np.uint32), col("num_samples", np.int32), col("sigma", np.float32),
                   col("lam", np.float32), col("learning_rate", np.float32), col("width", np.int32))


VECTORIZE = ("vmap", "map")


def default_vectorize(mesh: Mesh) -> str:
  """"map" on CPU (one model already fills the cores; batched small GEMMs lose to a loop there,
  see BENCHMARKS.md), "vmap" on GPU/TPU (one small model leaves the chip idle)."""
  return "map" if mesh.devices.flat[0].platform == "cpu" else "vmap"


def _sweep_program(static_cfg: TrainConfig, width_max: int, mesh: Mesh, vectorize: str):
  model_sharding = NamedSharding(mesh, PartitionSpec("models"))
  replicated = NamedSharding(mesh, PartitionSpec())
  train_one = lambda spec, x: _train_one(spec, x, static_cfg, width_max)

  def local(specs, x):  # the models of one device
    if vectorize == "vmap":
      return jax.vmap(train_one, in_axes=(0, None))(specs, x)
    return jax.lax.map(lambda spec: train_one(spec, x), specs)

  def program(specs, x):
    TRACE_COUNT["sweep"] += 1
    return jax.shard_map(local, mesh=mesh, in_specs=(PartitionSpec("models"), PartitionSpec()),
                         out_specs=PartitionSpec("models"))(specs, x)

  return jax.jit(program, in_shardings=(model_sharding, replicated), out_shardings=model_sharding,
                 compiler_options=compiler_options(static_cfg, mesh.devices.flat[0].platform))


_PROGRAMS: dict = {}


def _get_program(static_cfg, width_max, mesh, vectorize):
  key = (static_cfg, width_max, tuple(mesh.devices.flat), mesh.axis_names, vectorize)
  if key not in _PROGRAMS:
    _PROGRAMS[key] = _sweep_program(static_cfg, width_max, mesh, vectorize)
  return _PROGRAMS[key]


def default_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis "models" over ``devices`` (default: all devices of all hosts)."""
  devices = jax.devices() if devices is None else list(devices)
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


def _git_commit() -> str | None:
  try:
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                         cwd=Path(__file__).resolve().parent)
    return out.stdout.strip() or None
  except Exception:
    return None


def _fingerprint(x: np.ndarray, config: TrainConfig, rows: Sequence[dict]) -> str:
  h = hashlib.sha256()
  h.update(np.ascontiguousarray(x).tobytes())
  h.update(str(x.shape).encode() + str(x.dtype).encode())
  h.update(json.dumps(dataclasses.asdict(static_part(config)), sort_keys=True, default=str).encode())
  h.update(json.dumps(list(rows), sort_keys=True).encode())
  return h.hexdigest()[:16]


def _metadata(config, rows, chunk, fingerprint, mesh, seconds) -> dict:
  from dae_theory import __version__
  return {"config": dataclasses.asdict(config), "models": list(rows), "chunk": chunk, "fingerprint": fingerprint,
          "package_version": __version__, "git_commit": _git_commit(), "jax_version": jax.__version__,
          "device_kind": mesh.devices.flat[0].device_kind, "num_devices": int(mesh.devices.size),
          "platform": mesh.devices.flat[0].platform, "seconds": seconds,
          "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _chunk_arrays(out: TrainOutput, count: int) -> dict[str, np.ndarray]:
  """The first ``count`` models of a (padded) chunk's output, as named arrays."""
  arrays = {"w1": out.params.w1, "loss_history": out.loss_history, "w2": out.params.w2}
  if out.snapshots is not None:
    arrays.update(snapshot_w1=out.snapshots.w1, snapshot_w2=out.snapshots.w2)
  return {k: np.asarray(v[:count]) for k, v in arrays.items() if v is not None}


def _save_chunk(results_dir: Path, chunk: int, arrays: dict[str, np.ndarray], meta: dict) -> None:
  # The .npz first, then the .json: a chunk counts as finished only when its .json exists.
  save_npz(results_dir / f"chunk_{chunk:05d}.npz", **arrays)
  save_json(results_dir / f"chunk_{chunk:05d}.json", meta)


def _load_chunk(results_dir: Path, chunk: int, fingerprint: str, rows: Sequence[dict]) -> dict | None:
  meta_path = results_dir / f"chunk_{chunk:05d}.json"
  if not meta_path.exists():
    return None
  meta = load_json(meta_path)
  if meta.get("fingerprint") != fingerprint:
    raise ValueError(f"results_dir {results_dir} holds a different sweep (fingerprint {meta.get('fingerprint')} "
                     f"!= {fingerprint}); use another folder or delete it")
  if meta.get("models") != json.loads(json.dumps(list(rows))):
    raise ValueError(f"results_dir {results_dir} was written in chunks of {len(meta.get('models', []))} models, "
                     f"this run makes chunks of {len(rows)} (models_per_chunk rounded up to a multiple of the "
                     f"device count): rerun with the same models_per_chunk and number of devices")
  return load_npz(results_dir / f"chunk_{chunk:05d}.npz")


def train_sweep(x, config: TrainConfig, *, seeds: Sequence[int] = (0,), sizes: Sequence[int] | None = None,
                sigmas: Sequence[float] | None = None, lams: Sequence[float] | None = None,
                learning_rates: Sequence[float] | None = None, widths: Sequence[int] | None = None,
                results_dir: str | Path | None = None, models_per_chunk: int | None = None,
                mesh: Mesh | None = None, vectorize: str | None = None,
                progress: Callable[[int, int, float], None] | None = None) -> SweepResult:
  """Trains the grid seeds × sizes × sigmas × lams × learning_rates × widths in one compiled program.

  Each model equals ``train(x, config.replace(sigma=…, lam=…, learning_rate=…, width=…), seed,
  num_samples=n)`` to float tolerance (the same random numbers; only the reduction order differs).

  Args:
    x: (N, d) data shared by all models; model i uses rows [0, n_i).
    config: the shared ``TrainConfig``; an axis left as None takes its value from it (sizes: N).
    seeds, sizes, sigmas, lams, learning_rates, widths: the grid's axes.
    results_dir: if given, each chunk of models is written there atomically
      (chunk_XXXXX.npz + .json with config, models, package version, git commit, jax version,
      device kind) and a rerun loads the chunks already finished.
    models_per_chunk: models per compiled call (default: the whole grid, rounded up to a multiple
      of the device count). Smaller chunks lose less when a job is killed.
    mesh: a 1-D ``jax.sharding.Mesh`` with axis "models" (default: all devices).
    vectorize: how one device runs its models: "vmap" (batched) or "map" (a loop inside the
      compiled program); default ``default_vectorize(mesh)``.
    progress: called as progress(models_done, models_total, seconds_elapsed) after each chunk.

  Returns:
    ``SweepResult``.
  """
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  x = check_training_data(x)
  rows = make_grid(config, x.shape[0], seeds=seeds, sizes=sizes, sigmas=sigmas, lams=lams,
                   learning_rates=learning_rates, widths=widths)
  if results_dir is not None:
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
      raise ValueError(f"results_dir must be a folder, but {results_dir} is a file")
  mesh = default_mesh() if mesh is None else mesh
  if mesh.axis_names != ("models",):
    raise ValueError(f"mesh must be 1-D with axis name 'models', got axes {mesh.axis_names}")
  num_dev = int(mesh.devices.size)
  vectorize = default_vectorize(mesh) if vectorize is None else vectorize
  if vectorize not in VECTORIZE:
    raise ValueError(f"vectorize must be one of {VECTORIZE}, got {vectorize!r}")
  total = len(rows)
  if models_per_chunk is None:
    models_per_chunk = total
  models_per_chunk = checks.check_int("models_per_chunk", models_per_chunk)
  chunk_size = -(-min(models_per_chunk, total) // num_dev) * num_dev
  num_chunks = -(-total // chunk_size)
  width_max = max(r["width"] for r in rows)
  static_cfg = static_part(config)
  fingerprint = _fingerprint(np.asarray(x), config, rows) if results_dir is not None else None
  x_dev = _global_array(np.asarray(x), NamedSharding(mesh, PartitionSpec()))
  program = _get_program(static_cfg, width_max, mesh, vectorize)

  pieces: list[dict] = []
  start = time.time()
  for c in range(num_chunks):
    chunk_rows = rows[c * chunk_size:(c + 1) * chunk_size]
    loaded = _load_chunk(results_dir, c, fingerprint, chunk_rows) if results_dir is not None else None
    if loaded is None:
      padded = list(chunk_rows) + [chunk_rows[-1]] * (chunk_size - len(chunk_rows))
      t0 = time.time()
      specs = jax.tree.map(lambda a: _global_array(a, NamedSharding(mesh, PartitionSpec("models"))), _specs(padded))
      loaded = _chunk_arrays(_gather(program(specs, x_dev)), len(chunk_rows))
      if results_dir is not None and jax.process_index() == 0:
        _save_chunk(results_dir, c, loaded, _metadata(config, chunk_rows, c, fingerprint, mesh, time.time() - t0))
    pieces.append(loaded)
    if progress is not None:
      progress(min((c + 1) * chunk_size, total), total, time.time() - start)

  cat = lambda k: np.concatenate([p[k] for p in pieces]) if k in pieces[0] else None
  params = DAEParams(cat("w1"), cat("w2"))
  snapshots = DAEParams(cat("snapshot_w1"), cat("snapshot_w2")) if "snapshot_w1" in pieces[0] else None
  log_steps = config.log_every * np.arange(1, config.steps // config.log_every + 1)
  return SweepResult(params, cat("loss_history"), log_steps, snapshots, tuple(rows), config, results_dir)
