"""Command line: ``python -m dae_theory sweep …`` (or the ``dae-theory`` script).

A sweep is described by a JSON file and/or flags (flags win):

    {"data":  {"kind": "mixture", "num": 3000, "num_modes": 3, "dim": 20, "rank": 2, "seed": 0},
     "train": {"preset": "generalization_closed_form", "steps": 5000},
     "grid":  {"seeds": [0, 1, 2], "sizes": [30, 300, 3000], "widths": [9]},
     "out": "results/sweeps/demo", "models_per_chunk": 9}

Data kinds: mixture (``gaussian_mixture`` arguments + num, seed), obtuse (num, dim, norm_range,
seed), fashion_mnist (split, num, classes, seed, center), digits (num, classes, seed, center),
npy (path to an (N, d) array).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DATA_KINDS = ("mixture", "obtuse", "fashion_mnist", "digits", "npy")


def load_data(spec: dict) -> np.ndarray:
  """The (N, d) training array a data spec describes."""
  import jax
  import dae_theory as dt
  from dae_theory._src import checks

  spec = dict(spec)
  kind = spec.pop("kind", None)
  if kind not in DATA_KINDS:
    raise ValueError(f"data.kind must be one of {DATA_KINDS}, got {kind!r}")
  if kind == "mixture":
    num, seed = spec.pop("num"), checks.check_seed("data.seed", spec.pop("seed", 0))
    k_mix, k_data = jax.random.split(jax.random.PRNGKey(seed))
    mixture = dt.gaussian_mixture(k_mix, spec.pop("num_modes", 3), spec.pop("dim", 20), **spec)
    return np.asarray(dt.sample_mixture(k_data, mixture, num).x)
  if kind == "obtuse":
    seed = checks.check_seed("data.seed", spec.pop("seed", 0))
    if "norm_range" in spec:
      spec["norm_range"] = tuple(spec["norm_range"])
    return np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(seed), spec.pop("num"), spec.pop("dim"), **spec))
  if kind == "fashion_mnist":
    return dt.load_fashion_mnist(spec.pop("split", "train"), **spec).x
  if kind == "digits":
    return dt.load_digits(**spec).x
  arr = np.load(spec["path"])
  if arr.ndim != 2:
    raise ValueError(f"data.path must hold an (N, d) array, got shape {arr.shape}")
  return arr


def _progress_bar(stream=sys.stderr):
  def show(done: int, total: int, seconds: float) -> None:
    frac = done / total
    left = seconds / frac - seconds if frac > 0 else float("nan")
    bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
    fmt = lambda s: time.strftime("%H:%M:%S", time.gmtime(s)) if np.isfinite(s) else "?"
    stream.write(f"\r[{bar}] {done}/{total} models  elapsed {fmt(seconds)}  left ~{fmt(left)}")
    if done == total:
      stream.write("\n")
    stream.flush()
  return show


def _parse_set(items: list[str]) -> dict:
  out = {}
  for item in items:
    if "=" not in item:
      raise ValueError(f"--set takes key=value, got {item!r}")
    key, value = item.split("=", 1)
    try:
      out[key] = json.loads(value)
    except json.JSONDecodeError:
      out[key] = value
  return out


def build_sweep(args) -> dict:
  spec = json.loads(Path(args.config).read_text()) if args.config else {}
  spec.setdefault("data", {})
  spec.setdefault("train", {})
  spec.setdefault("grid", {})
  if args.data:
    spec["data"] = {**spec["data"], "kind": args.data}
  spec["data"].update(_parse_set(args.data_set))
  if args.preset:
    spec["train"]["preset"] = args.preset
  spec["train"].update(_parse_set(args.set))
  for axis in ("seeds", "sizes", "sigmas", "sigma_mins", "lams", "learning_rates", "widths"):
    values = getattr(args, axis)
    if values is not None:
      spec["grid"][axis] = values
  if args.out:
    spec["out"] = args.out
  if args.models_per_chunk:
    spec["models_per_chunk"] = args.models_per_chunk
  if "out" not in spec:
    raise ValueError("out must be given (in the config file or with --out): the folder for the results")
  if "kind" not in spec["data"]:
    raise ValueError(f"data.kind must be given (config file or --data), one of {DATA_KINDS}")
  return spec


def run_sweep(spec: dict, progress=None):
  import dae_theory as dt
  from dae_theory._src.results_io import save_json

  train = dict(spec["train"])
  name = train.pop("preset", None)
  if "snapshot_steps" in train:
    train["snapshot_steps"] = tuple(train["snapshot_steps"])
  config = dt.preset(name, **train) if name else dt.TrainConfig(**train)
  out = Path(spec["out"])
  if out.exists() and not out.is_dir():
    raise ValueError(f"out must be a folder, but {out} is a file")
  x = load_data(spec["data"])
  save_json(out / "sweep.json", {**spec, "config": config.__dict__, "data_shape": list(x.shape)})
  return dt.train_sweep(x, config, results_dir=out, models_per_chunk=spec.get("models_per_chunk"),
                        progress=progress, **spec["grid"])


HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def use_host_devices(count: int) -> bool:
  """Splits the CPU into ``count`` JAX devices (``XLA_FLAGS``) so a sweep runs that many models at
  once, one per device: 1.1–1.4× the model-steps/s of one device on a 2-core CPU (docs/performance-notes.md).

  Works only before JAX creates its CPU backend, and leaves a flag the user set alone; returns
  whether the flag is now in force. Accelerator hosts are unaffected (sweeps use their devices).
  """
  flags = os.environ.get("XLA_FLAGS", "")
  if HOST_DEVICE_FLAG in flags:
    return True
  try:
    from jax._src import xla_bridge  # no public way to ask whether the backends exist yet
    started = xla_bridge.backends_are_initialized()
  except (ImportError, AttributeError):
    started = True  # cannot tell: leave XLA_FLAGS alone
  if started:
    return False
  os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICE_FLAG}={count}".strip()
  return True


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="dae-theory", description="dae-theory command line")
  sub = parser.add_subparsers(dest="command", required=True)
  p = sub.add_parser("sweep", help="train a grid of models (ReLU-DAEs, ReLU diffusion models) in one compiled program")
  p.add_argument("--config", help="JSON file with data, train, grid, out (flags override it)")
  p.add_argument("--data", choices=DATA_KINDS, help="data kind")
  p.add_argument("--data-set", action="append", default=[], metavar="KEY=VALUE", help="a data argument")
  p.add_argument("--preset", help="a named TrainConfig preset")
  p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig field")
  p.add_argument("--seeds", type=int, nargs="+")
  p.add_argument("--sizes", type=int, nargs="+")
  p.add_argument("--sigmas", type=float, nargs="+")
  p.add_argument("--sigma-mins", dest="sigma_mins", type=float, nargs="+",
                 help="smallest training noise levels (models with a noise range, e.g. relu_diffusion)")
  p.add_argument("--lams", type=float, nargs="+")
  p.add_argument("--learning-rates", dest="learning_rates", type=float, nargs="+")
  p.add_argument("--widths", type=int, nargs="+")
  p.add_argument("--out", help="results folder (a rerun resumes)")
  p.add_argument("--models-per-chunk", type=int)
  p.add_argument("--host-devices", type=int, default=os.cpu_count() or 1,
                 help="on CPU, split the cores into this many JAX devices, one model running on each "
                      "(default: one per core; 1 turns it off; an XLA_FLAGS setting wins)")
  args = parser.parse_args(argv)
  if args.host_devices < 1:
    print(f"error: --host-devices must be an integer >= 1, got {args.host_devices}", file=sys.stderr)
    return 2
  if args.host_devices > 1 and not use_host_devices(args.host_devices):
    print("note: JAX had already started, so --host-devices has no effect in this process", file=sys.stderr)
  try:
    spec = build_sweep(args)
    result = run_sweep(spec, progress=_progress_bar())
  except (ValueError, FileNotFoundError) as err:
    print(f"error: {err}", file=sys.stderr)
    return 2
  except OSError as err:
    from dae_theory._src.store import ResultsWriteError
    if not isinstance(err, ResultsWriteError):
      raise
    print(f"error: {err}", file=sys.stderr)  # a full disk or a read-only folder: finished chunks are kept
    return 1
  final = result.loss_history[:, -1]
  print(f"{len(result.grid)} models; final training loss min {final.min():.4g} median {np.median(final):.4g} "
        f"max {final.max():.4g}")
  print(f"results in {Path(spec['out']).resolve()}")
  return 0
