import json
import os
import subprocess
import sys

import chex
import numpy as np
import pytest

# The command line runs in subprocesses that train sweeps.
pytestmark = pytest.mark.slow

ARGS = [sys.executable, "-m", "dae_theory", "sweep", "--data", "obtuse", "--data-set", "num=4", "--data-set", "dim=6",
        "--set", "steps=100", "--set", "log_every=50", "--set", "width=5", "--seeds", "0", "1", "--lams", "0", "0.01",
        "--models-per-chunk", "2"]


def test_cli_sweep_runs_resumes_and_reports(tmp_path):
  out = tmp_path / "sweep"
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  first = subprocess.run(ARGS + ["--out", str(out), "--host-devices", "2"], capture_output=True, text=True,
                         timeout=300, env=env)
  assert first.returncode == 0, f"the sweep must exit 0, got {first.returncode}; stderr:\n{first.stderr}"
  assert "4 models" in first.stdout and str(out.resolve()) in first.stdout, (
      f"stdout must report '4 models' and the folder {out.resolve()}, got:\n{first.stdout}")
  assert "4/4 models" in first.stderr, f"the progress bar must reach '4/4 models' on stderr, got:\n{first.stderr}"
  chunks = sorted(p.name for p in out.glob("chunk_*.json"))
  assert chunks == ["chunk_00000.json", "chunk_00001.json"], f"4 models in chunks of 2 must give 2 chunks, got {chunks}"
  num_devices = json.loads((out / "chunk_00000.json").read_text())["num_devices"]
  assert num_devices == 2, f"--host-devices 2: chunk 0 must record num_devices 2, got {num_devices}"
  spec = json.loads((out / "sweep.json").read_text())
  assert spec["data"]["kind"] == "obtuse" and spec["config"]["steps"] == 100, (
      f"sweep.json must record data kind 'obtuse' and steps 100, got {spec['data']['kind']!r} and "
      f"{spec['config']['steps']}")
  w_first = np.load(out / "chunk_00001.npz")["w1"]
  mtime = (out / "chunk_00001.npz").stat().st_mtime_ns
  again = subprocess.run(ARGS + ["--out", str(out)], capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, f"the rerun must exit 0, got {again.returncode}; stderr:\n{again.stderr}"
  mtime_again = (out / "chunk_00001.npz").stat().st_mtime_ns
  assert mtime_again == mtime, f"the rerun must not rewrite chunk_00001.npz: mtime was {mtime}, now {mtime_again}"
  np.testing.assert_array_equal(np.load(out / "chunk_00001.npz")["w1"], w_first,
                                err_msg="the rerun must leave the stored weights of chunk 1 as they were")


def test_cli_bad_input_is_a_clear_error(tmp_path):
  bad = subprocess.run(ARGS[:-2] + ["--set", "optimizer=lion", "--out", str(tmp_path / "x")], capture_output=True,
                       text=True, timeout=300)
  assert bad.returncode == 2 and "optimizer must be one of" in bad.stderr, (
      f"--set optimizer=lion must exit 2 saying 'optimizer must be one of', got {bad.returncode}; "
      f"stderr:\n{bad.stderr}")
  f = tmp_path / "file"
  f.write_text("")
  bad = subprocess.run(ARGS + ["--out", str(f)], capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and "out must be a folder" in bad.stderr, (
      f"--out naming a file must exit 2 saying 'out must be a folder', got {bad.returncode}; stderr:\n{bad.stderr}")
  bad = subprocess.run(ARGS + ["--out", str(tmp_path / "y"), "--host-devices", "0"], capture_output=True, text=True,
                       timeout=300)
  assert bad.returncode == 2 and "--host-devices must be an integer >= 1" in bad.stderr, (
      f"--host-devices 0 must exit 2 saying '--host-devices must be an integer >= 1', got {bad.returncode}; "
      f"stderr:\n{bad.stderr}")


def test_cli_sweeps_the_diffusion_model_over_its_noise_range(tmp_path):
  out = tmp_path / "diffusion"
  args = [sys.executable, "-m", "dae_theory", "sweep", "--data", "obtuse", "--data-set", "num=4", "--data-set",
          "dim=6", "--preset", "diffusion_memorizing_cpu", "--set", "steps=100", "--set", "log_every=50", "--set",
          "width=5", "--set", "time_hidden=8", "--sigma-mins", "0.02", "0.1", "--out", str(out), "--host-devices", "1"]
  run = subprocess.run(args, capture_output=True, text=True, timeout=300)
  assert run.returncode == 0, f"the diffusion sweep must exit 0, got {run.returncode}; stderr:\n{run.stderr}"
  meta = json.loads((out / "chunk_00000.json").read_text())
  sigma_mins = [m["sigma_min"] for m in meta["models"]]
  assert meta["model"] == "relu_diffusion" and sigma_mins == [0.02, 0.1], (
      f"chunk 0 must hold relu_diffusion models with sigma_min [0.02, 0.1], got {meta['model']!r} with {sigma_mins}")
  arrays = np.load(out / "chunk_00000.npz")
  missing = {"w1", "skip", "gate/out/kernel", "loss_history"} - set(arrays.files)
  assert not missing, f"chunk 0 must store w1, skip, gate/out/kernel and loss_history; missing {missing}"
  chex.assert_shape(arrays["gate/out/kernel"], (2, 8, 5))
