"""Atomic writes of results: a killed job leaves either the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
  """The process's umask. Linux shows it in /proc/self/status; elsewhere os.umask (which can only
  set it) is set to the strictest mask and straight back, so no file is ever created more open."""
  with contextlib.suppress(OSError, ValueError, IndexError):
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("Umask:"):
          return int(line.split()[1], 8)
  mask = os.umask(0o077)
  os.umask(mask)
  return mask


def _atomic_write(path: Path, write) -> Path:
  """Writes ``path`` through ``write(binary file)`` via a temporary file in the same folder, then
  renames it over ``path``. The file gets the mode a plain ``open(path, "w")`` gives (0o666 less the
  umask), not mkstemp's 0o600. On any error the temporary file is removed and the error re-raised."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      if hasattr(os, "fchmod"):
        os.fchmod(f.fileno(), 0o666 & ~_umask())
      write(f)
      f.flush()
      os.fsync(f.fileno())
    if not hasattr(os, "fchmod"):
      os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.unlink(tmp)
    raise
  return path


def _jsonable(obj: Any):
  if isinstance(obj, dict):
    return {str(k): _jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_jsonable(v) for v in obj]
  if isinstance(obj, (np.generic,)):
    return obj.item()
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, float) and not np.isfinite(obj):
    return str(obj)
  return obj


def save_json(path, data: dict) -> Path:
  """Writes ``data`` as indented JSON, atomically (NumPy values converted, inf as a string)."""
  if not isinstance(data, dict):
    raise ValueError(f"data must be a dict, got {type(data).__name__}")
  try:
    text = json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n"
  except (TypeError, ValueError) as err:
    raise ValueError(f"data must hold only JSON-serialisable values (numbers, strings, lists, dicts, NumPy "
                     f"values): {err}") from err
  return _atomic_write(path, lambda f: f.write(text.encode()))


def load_json(path) -> dict:
  """Reads a JSON file; a file that is not JSON raises a ValueError naming it."""
  text = Path(path).read_text()
  try:
    return json.loads(text)
  except json.JSONDecodeError as err:
    raise ValueError(f"path {path} is not a JSON file: {err}") from err


def save_npz(path, **arrays) -> Path:
  """Writes arrays to an .npz file, atomically (no pickled objects: each value must be a regular array)."""
  converted = {}
  for name, value in arrays.items():
    try:
      array = np.asarray(value)
    except ValueError as err:
      raise ValueError(f"{name} must be a regular (non-ragged) array: {err}") from err
    if array.dtype == object:
      raise ValueError(f"{name} must be a regular array of numbers, strings or booleans, got dtype object")
    converted[name] = array
  return _atomic_write(path, lambda f: np.savez(f, **converted))


def load_npz(path) -> dict[str, np.ndarray]:
  """Reads every array of an .npz file (no pickles); a file that is not one raises a ValueError naming it."""
  try:
    data = np.load(path, allow_pickle=False)
  except FileNotFoundError:
    raise
  except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:  # numpy reads unknown bytes as a pickle
    raise ValueError(f"path {path} is not a readable .npz file: {err}") from err
  if not hasattr(data, "files"):
    raise ValueError(f"path {path} holds a single .npy array, not an .npz archive")
  with data:
    try:
      return {k: data[k] for k in data.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
      raise ValueError(f"path {path} is not a readable .npz file: {err}") from err


_PACKAGE = Path(__file__).resolve().parents[1]
REUSE_STALE_ENV = "DAE_THEORY_REUSE_STALE"


def _digest(paths) -> str:
  h = hashlib.sha256()
  for path in paths:
    h.update(path.name.encode())
    h.update(path.read_bytes())
  return h.hexdigest()[:16]


def code_digest(parts) -> dict[str, str]:
  """Digests of the code that makes a results folder: the package's sources and the files that
  define the parts' functions (the experiment script)."""
  files = set()
  for _, fn in parts:
    while isinstance(fn, functools.partial):
      fn = fn.func
    with contextlib.suppress(TypeError):
      source = inspect.getsourcefile(inspect.unwrap(fn))
      if source:
        files.add(Path(source).resolve())
  files = sorted(files)
  return {"package": _digest(sorted(_PACKAGE.rglob("*.py"))), "script": _digest(files)}


def run_parts(out_dir, config: dict, parts, *args) -> None:
  """Runs an experiment's parts into ``out_dir``, resumably: ``parts`` is a sequence of
  (file name, fn) and each missing file is made by ``fn(path, *args)``; existing ones are kept.

  ``config.json`` is written first. If one is already there with a different config, finished
  parts belong to other settings: a ValueError asks to delete the folder instead of mixing them.
  ``code.json`` records ``code_digest`` (the package's sources and the experiment script): parts
  made by other code are stale and are made again, unless the environment variable
  ``DAE_THEORY_REUSE_STALE=1`` asks to keep them (a warning says so).
  """
  parts = list(parts)
  for part in parts:
    if not (isinstance(part, (tuple, list)) and len(part) == 2 and isinstance(part[0], str) and callable(part[1])):
      raise ValueError(f"parts must be (file name, fn) pairs, got {part!r}")
  out_dir = Path(out_dir)
  config_path = out_dir / "config.json"
  text = json.dumps(_jsonable(config), indent=2, sort_keys=True) + "\n"
  if config_path.exists() and config_path.read_text() != text:
    raise ValueError(f"{out_dir} holds results of another config; delete it (or use another --out) to recompute")
  code_path = out_dir / "code.json"
  code = json.dumps(code_digest(parts), indent=2, sort_keys=True) + "\n"
  finished = [out_dir / name for name, _ in parts if (out_dir / name).exists()]
  made_by = code_path.read_text() if code_path.exists() else None
  if finished and made_by != code:
    what = "code not recorded" if made_by is None else "the package or the script changed since"
    if os.environ.get(REUSE_STALE_ENV) == "1":
      print(f"warning: {out_dir} holds parts made by other code ({what}); reused ({REUSE_STALE_ENV}=1)")
      code = made_by if made_by is not None else code
    else:
      print(f"{out_dir} holds parts made by other code ({what}); making them again")
      for path in finished:
        path.unlink()
  _atomic_write(config_path, lambda f: f.write(text.encode()))
  _atomic_write(code_path, lambda f: f.write(code.encode()))
  for name, fn in parts:
    path = out_dir / name
    if path.exists():
      print(f"{path} exists; skipped (delete it to recompute)")
      continue
    start, cpu = time.time(), time.process_time()
    fn(path, *args)
    print(f"wrote {path} ({time.time() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU)", flush=True)


SIZES = ("fast", "default", "full")
SIZE_HELP = ("fast: every figure in minutes, for smoke tests; default: the figures and findings in the "
             "repository (2 CPU cores); full: the authors' step counts and sizes, for accelerator hosts")


def experiment_parser(description: str, out: str):
  """The command line every experiment script shares: ``--out DIR`` and ``--size``.

  Args:
    description: the script's one-line description.
    out: the default results folder, e.g. ``"results/steering"``.

  Returns:
    An ``argparse.ArgumentParser``; scripts add their own options to it. ``--size`` is one of
    ``SIZES``; a script picks its settings by it and records the size in ``config.json``.
  """
  import argparse
  for name, value in (("description", description), ("out", out)):
    if not isinstance(value, str) or not value:
      raise ValueError(f"{name} must be a non-empty string, got {value!r}")
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--out", default=out, help=f"results folder (default {out}); a rerun resumes")
  parser.add_argument("--size", default="default", choices=SIZES, help=SIZE_HELP)
  return parser
