"""The sweep's results store: one .npz + .json per chunk of models, written atomically.

A chunk counts as finished when its .json exists (written after its .npz); a rerun loads finished
chunks after checking that they belong to the same sweep (a fingerprint of the data, the static
config, the model and the rows). Parameters are stored as named arrays, one per leaf of the
model's parameter pytree ("w1", "w2", "gate/out/kernel", …), snapshots with a "snapshot_" prefix.

Each chunk's .json records the sha256 and the size of its .npz file's bytes ("npz_sha256",
"npz_bytes"): hashing the whole file catches truncation (a full disk elsewhere, a partial copy
between hosts) as well as changed bytes, before NumPy parses anything. A chunk is never loaded
when its .json is not valid JSON, its .npz is missing, unreadable or does not match the checksum,
or its arrays lack the names and shapes this sweep expects; a ``DamagedChunkWarning`` names the
file and the reason, and the sweep recomputes the chunk and writes it anew (its old .json is
removed first, so a rewrite cut short leaves the chunk unfinished, never mismatched). Chunks
whose .json has no checksum load when the .npz opens cleanly and its arrays have the expected
names and shapes.

A failed write (a full disk, a read-only folder) raises ``ResultsWriteError``, an ``OSError``
naming the results folder and the file: the chunks already finished stay on disk, and a rerun
resumes from them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import jax
import numpy as np

from dae_theory._src.config import TrainConfig
from dae_theory._src.results_io import _atomic_write, save_json

SNAPSHOT_PREFIX = "snapshot_"
CHECKSUM_KEY = "npz_sha256"
SIZE_KEY = "npz_bytes"


class DamagedChunkWarning(UserWarning):
  """A finished chunk could not be loaded (damaged or unreadable); the sweep recomputes it."""


class ResultsWriteError(OSError):
  """Writing a chunk failed; the chunks already finished are kept and a rerun resumes from them."""


def _path_name(path) -> str:
  parts = []
  for entry in path:
    for attr in ("name", "key", "idx"):
      if hasattr(entry, attr):
        parts.append(str(getattr(entry, attr)))
        break
  return "/".join(parts)


def _named_leaves(tree, prefix: str = "") -> dict[str, Any]:
  return {prefix + _path_name(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def params_to_arrays(params, prefix: str = "") -> dict[str, np.ndarray]:
  """The leaves of a parameter pytree as {path name: host array}."""
  return {k: np.asarray(v) for k, v in _named_leaves(params, prefix).items()}


def params_from_arrays(arrays: dict[str, np.ndarray], like, prefix: str = ""):
  """Rebuilds the pytree of ``like`` (arrays or shape structs) from ``params_to_arrays``'s names."""
  paths, treedef = jax.tree_util.tree_flatten_with_path(like)
  return jax.tree_util.tree_unflatten(treedef, [arrays[prefix + _path_name(path)] for path, _ in paths])


def git_commit() -> str | None:
  try:
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                         cwd=Path(__file__).resolve().parent)
    return out.stdout.strip() or None
  except Exception:
    return None


def fingerprint(x: np.ndarray, static_config: TrainConfig, model_name: str, rows: Sequence[dict]) -> str:
  """A hash of what decides a sweep's numbers: data, static config, model, rows, package version."""
  from dae_theory import __version__
  h = hashlib.sha256()
  h.update(__version__.encode())
  h.update(np.ascontiguousarray(x).tobytes())
  h.update(str(x.shape).encode() + str(x.dtype).encode())
  h.update(json.dumps(dataclasses.asdict(static_config), sort_keys=True, default=str).encode())
  h.update(model_name.encode())
  h.update(json.dumps(list(rows), sort_keys=True).encode())
  return h.hexdigest()[:16]


def metadata(config: TrainConfig, model_name: str, rows, chunk: int, fingerprint_: str, mesh, seconds: float) -> dict:
  from dae_theory import __version__
  return {"config": dataclasses.asdict(config), "model": model_name, "models": list(rows), "chunk": chunk,
          "fingerprint": fingerprint_, "package_version": __version__, "git_commit": git_commit(),
          "jax_version": jax.__version__, "device_kind": mesh.devices.flat[0].device_kind,
          "num_devices": int(mesh.devices.size), "platform": mesh.devices.flat[0].platform, "seconds": seconds,
          "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def chunk_arrays(params, loss_history, snapshots, count: int) -> dict[str, np.ndarray]:
  """The first ``count`` models of a (padded) chunk's output, as named arrays."""
  arrays = {**params_to_arrays(params), "loss_history": np.asarray(loss_history)}
  if snapshots is not None:
    arrays.update(params_to_arrays(snapshots, SNAPSHOT_PREFIX))
  return {k: np.asarray(v[:count]) for k, v in arrays.items()}


def chunk_shapes(like, config: TrainConfig, count: int) -> dict[str, tuple[int, ...]]:
  """The names and shapes of a chunk's arrays for ``count`` models (``like``: one model's parameters
  at the sweep's largest width, arrays or shape structs)."""
  shapes = {k: (count, *v.shape) for k, v in _named_leaves(like).items()}
  shapes["loss_history"] = (count, config.steps // config.log_every)
  if config.snapshot_steps:
    num = len(config.snapshot_steps)
    shapes.update({k: (count, num, *v.shape) for k, v in _named_leaves(like, SNAPSHOT_PREFIX).items()})
  return shapes


def _paths(results_dir: Path, chunk: int) -> tuple[Path, Path]:
  return results_dir / f"chunk_{chunk:05d}.npz", results_dir / f"chunk_{chunk:05d}.json"


def save_chunk(results_dir: Path, chunk: int, arrays: dict[str, np.ndarray], meta: dict) -> None:
  """Writes a chunk: its .npz, then its .json (``meta`` plus the sha256 and size of the .npz's bytes).

  Raises:
    ResultsWriteError: a write failed (e.g. a full disk); the message names the folder and the file.
  """
  npz_path, json_path = _paths(Path(results_dir), chunk)
  buf = io.BytesIO()
  np.savez(buf, **arrays)
  data = buf.getvalue()
  meta = {**meta, CHECKSUM_KEY: hashlib.sha256(data).hexdigest(), SIZE_KEY: len(data)}
  path = json_path
  try:
    # A chunk being rewritten (it was damaged) stops counting as finished before its .npz changes;
    # then the .npz first, the .json last: a chunk counts as finished only when its .json exists.
    json_path.unlink(missing_ok=True)
    path = npz_path
    _atomic_write(npz_path, lambda f: f.write(data))
    path = json_path
    save_json(json_path, meta)
  except OSError as err:
    message = (f"could not write {path}: {err.strerror or err}. The chunks already finished in the results folder "
               f"{results_dir} are kept, and a rerun resumes from them (free some space or make the folder "
               f"writable first).")
    raise (ResultsWriteError(message) if err.errno is None else ResultsWriteError(err.errno, message)) from err


def _damaged(path: Path, reason: str) -> None:
  warnings.warn(f"results chunk {path} is damaged ({reason}): not loaded; its models are recomputed and the chunk "
                f"rewritten", DamagedChunkWarning, stacklevel=3)


def _shape_problem(arrays: dict[str, np.ndarray], count: int, expected: dict | None) -> str | None:
  if expected is None:  # at least one model axis of the chunk's length and a loss history
    expected = {k: (count, *np.shape(v)[1:]) for k, v in arrays.items()}
    if "loss_history" not in arrays:
      return "no array 'loss_history'"
  missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
  if missing or extra:
    return f"arrays {missing} missing, {extra} unexpected"
  for k, shape in expected.items():
    if arrays[k].shape != tuple(shape):
      return f"array {k!r} has shape {arrays[k].shape}, expected {tuple(shape)}"
  return None


def load_chunk(results_dir: Path, chunk: int, fingerprint_: str, rows: Sequence[dict],
               expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any] | None:
  """A finished chunk's arrays.

  Args:
    results_dir: the results folder.
    chunk: the chunk's index.
    fingerprint_: the sweep's ``fingerprint``.
    rows: the chunk's grid rows.
    expected: the arrays' names and shapes (``chunk_shapes``); if None, only the leading model axis
      and the presence of "loss_history" are checked.

  Returns:
    The arrays by name; None when the chunk is not finished, or when it is damaged (its .json is
    not valid JSON; its .npz is missing, unreadable, or does not match the checksum; its arrays
    lack the expected names or shapes): then a ``DamagedChunkWarning`` names the file and why.

  Raises:
    ValueError: the folder holds another sweep, or the same sweep cut into other chunks.
  """
  results_dir = Path(results_dir)
  npz_path, meta_path = _paths(results_dir, chunk)
  if not meta_path.exists():
    return None
  try:
    meta = json.loads(meta_path.read_bytes())
  except (OSError, ValueError) as err:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
    return _damaged(meta_path, f"not valid JSON: {err}")
  if not isinstance(meta, dict) or "fingerprint" not in meta or "models" not in meta:
    return _damaged(meta_path, "no fingerprint or models in it")
  if meta["fingerprint"] != fingerprint_:
    raise ValueError(f"results_dir {results_dir} holds a different sweep (fingerprint {meta['fingerprint']} "
                     f"!= {fingerprint_}); use another folder or delete it")
  if meta["models"] != json.loads(json.dumps(list(rows))):
    raise ValueError(f"results_dir {results_dir} was written in chunks of {len(meta['models'])} models, "
                     f"this run makes chunks of {len(rows)} (models_per_chunk rounded up to a multiple of the "
                     f"device count): rerun with the same models_per_chunk and number of devices")
  try:
    data = npz_path.read_bytes()
  except FileNotFoundError:
    return _damaged(npz_path, f"missing, although {meta_path.name} exists")
  except OSError as err:
    return _damaged(npz_path, f"cannot be read: {err.strerror or err}")
  if meta.get(CHECKSUM_KEY) is not None:
    got, want = hashlib.sha256(data).hexdigest(), meta[CHECKSUM_KEY]
    if got != want:
      size = meta.get(SIZE_KEY)
      sizes = f" ({len(data)} bytes on disk, {size} written)" if size is not None and size != len(data) else ""
      return _damaged(npz_path, f"its sha256 {got[:12]}… does not match the {want[:12]}… recorded in "
                                f"{meta_path.name}{sizes}")
  try:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
      arrays = {k: npz[k] for k in npz.files}
  except Exception as err:  # zipfile.BadZipFile, EOFError, ValueError, zlib.error, …: all mean unreadable
    return _damaged(npz_path, f"unreadable: {type(err).__name__}: {err}")
  problem = _shape_problem(arrays, len(rows), expected)
  if problem is not None:
    return _damaged(npz_path, problem)
  return arrays
