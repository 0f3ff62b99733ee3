import json
import os
import subprocess
import sys

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
  assert first.returncode == 0, first.stderr
  assert "4 models" in first.stdout and str(out.resolve()) in first.stdout
  assert "4/4 models" in first.stderr  # the progress bar
  assert sorted(p.name for p in out.glob("chunk_*.json")) == ["chunk_00000.json", "chunk_00001.json"]
  assert json.loads((out / "chunk_00000.json").read_text())["num_devices"] == 2  # one model per host device
  spec = json.loads((out / "sweep.json").read_text())
  assert spec["data"]["kind"] == "obtuse" and spec["config"]["steps"] == 100
  w_first = np.load(out / "chunk_00001.npz")["w1"]
  mtime = (out / "chunk_00001.npz").stat().st_mtime_ns
  again = subprocess.run(ARGS + ["--out", str(out)], capture_output=True, text=True, timeout=300)
  assert again.returncode == 0 and (out / "chunk_00001.npz").stat().st_mtime_ns == mtime
  np.testing.assert_array_equal(np.load(out / "chunk_00001.npz")["w1"], w_first)


def test_cli_bad_input_is_a_clear_error(tmp_path):
  bad = subprocess.run(ARGS[:-2] + ["--set", "optimizer=lion", "--out", str(tmp_path / "x")], capture_output=True,
                       text=True, timeout=300)
  assert bad.returncode == 2 and "optimizer must be one of" in bad.stderr
  f = tmp_path / "file"
  f.write_text("")
  bad = subprocess.run(ARGS + ["--out", str(f)], capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and "out must be a folder" in bad.stderr
  bad = subprocess.run(ARGS + ["--out", str(tmp_path / "y"), "--host-devices", "0"], capture_output=True, text=True,
                       timeout=300)
  assert bad.returncode == 2 and "--host-devices must be an integer >= 1" in bad.stderr


def test_cli_sweeps_the_diffusion_model_over_its_noise_range(tmp_path):
  out = tmp_path / "diffusion"
  args = [sys.executable, "-m", "dae_theory", "sweep", "--data", "obtuse", "--data-set", "num=4", "--data-set",
          "dim=6", "--preset", "diffusion_memorizing_cpu", "--set", "steps=100", "--set", "log_every=50", "--set",
          "width=5", "--set", "time_hidden=8", "--sigma-mins", "0.02", "0.1", "--out", str(out), "--host-devices", "1"]
  run = subprocess.run(args, capture_output=True, text=True, timeout=300)
  assert run.returncode == 0, run.stderr
  meta = json.loads((out / "chunk_00000.json").read_text())
  assert meta["model"] == "relu_diffusion" and [m["sigma_min"] for m in meta["models"]] == [0.02, 0.1]
  arrays = np.load(out / "chunk_00000.npz")
  assert {"w1", "skip", "gate/out/kernel", "loss_history"} <= set(arrays.files)
  assert arrays["gate/out/kernel"].shape == (2, 8, 5)
