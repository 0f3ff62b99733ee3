"""The sweep's results store: one .npz + .json per chunk of models, written atomically.

A chunk counts as finished when its .json exists (written after its .npz); a rerun loads finished
chunks after checking that they belong to the same sweep (a fingerprint of the data, the static
config, the model and the rows). Parameters are stored as named arrays, one per leaf of the
model's parameter pytree ("w1", "w2", "gate/out/kernel", …), snapshots with a "snapshot_" prefix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import jax
import numpy as np

from dae_theory._src.config import TrainConfig
from dae_theory._src.results_io import load_json, load_npz, save_json, save_npz

SNAPSHOT_PREFIX = "snapshot_"


def _path_name(path) -> str:
  parts = []
  for entry in path:
    for attr in ("name", "key", "idx"):
      if hasattr(entry, attr):
        parts.append(str(getattr(entry, attr)))
        break
  return "/".join(parts)


def params_to_arrays(params, prefix: str = "") -> dict[str, np.ndarray]:
  """The leaves of a parameter pytree as {path name: host array}."""
  leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  return {prefix + _path_name(path): np.asarray(leaf) for path, leaf in leaves}


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


def save_chunk(results_dir: Path, chunk: int, arrays: dict[str, np.ndarray], meta: dict) -> None:
  # The .npz first, then the .json: a chunk counts as finished only when its .json exists.
  save_npz(results_dir / f"chunk_{chunk:05d}.npz", **arrays)
  save_json(results_dir / f"chunk_{chunk:05d}.json", meta)


def load_chunk(results_dir: Path, chunk: int, fingerprint_: str, rows: Sequence[dict]) -> dict[str, Any] | None:
  """A finished chunk's arrays, None when it is not finished, ValueError when it is another sweep's."""
  meta_path = results_dir / f"chunk_{chunk:05d}.json"
  if not meta_path.exists():
    return None
  meta = load_json(meta_path)
  if meta.get("fingerprint") != fingerprint_:
    raise ValueError(f"results_dir {results_dir} holds a different sweep (fingerprint {meta.get('fingerprint')} "
                     f"!= {fingerprint_}); use another folder or delete it")
  if meta.get("models") != json.loads(json.dumps(list(rows))):
    raise ValueError(f"results_dir {results_dir} was written in chunks of {len(meta.get('models', []))} models, "
                     f"this run makes chunks of {len(rows)} (models_per_chunk rounded up to a multiple of the "
                     f"device count): rerun with the same models_per_chunk and number of devices")
  return load_npz(results_dir / f"chunk_{chunk:05d}.npz")
