"""A small sweep run in a subprocess by test_sweep.py (forced CPU device counts, SIGKILL, and
several processes joined by ``jax.distributed`` as on a multi-host cluster)."""

import argparse
import os
import sys


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--devices", type=int, default=1)
  parser.add_argument("--out", required=True, help=".npz for the stacked result")
  parser.add_argument("--results-dir", default=None)
  parser.add_argument("--models-per-chunk", type=int, default=None)
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--num-processes", type=int, default=1)
  parser.add_argument("--process-id", type=int, default=0)
  parser.add_argument("--coordinator", default=None, help="host:port of process 0")
  args = parser.parse_args()
  os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
  import jax
  if args.num_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)
  import numpy as np
  import dae_theory as dt

  assert jax.local_device_count() == args.devices and jax.process_count() == args.num_processes, jax.devices()
  x, cfg, grid = problem(dt, jax, args.steps)
  res = dt.train_sweep(x, cfg, results_dir=args.results_dir, models_per_chunk=args.models_per_chunk,
                       progress=lambda done, total, sec: print(f"progress {done}/{total}", flush=True), **grid)
  np.savez(args.out, w1=res.params.w1, loss_history=res.loss_history, process_count=jax.process_count(),
           device_count=jax.device_count())
  print("done", flush=True)


def problem(dt, jax, steps):
  mix = dt.gaussian_mixture(jax.random.PRNGKey(0), 3, 10, rank=2, cov_scale=0.3)
  x = dt.sample_mixture(jax.random.PRNGKey(1), mix, 200).x
  cfg = dt.TrainConfig(width=6, steps=steps, log_every=100, batch_size=32, learning_rate=3e-3, lam=1e-3)
  grid = dict(seeds=[0, 1, 2], sizes=[20, 200], widths=[3, 6], sigmas=[0.2, 0.4])  # 24 models
  return x, cfg, grid


if __name__ == "__main__":
  sys.exit(main())
