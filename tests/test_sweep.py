import signal
import subprocess
import sys
import time
from pathlib import Path

import chex
import jax
import numpy as np
import pytest

import dae_theory as dt
from dae_theory._src import sweep as sweep_mod

sys.path.insert(0, str(Path(__file__).parent))
import sweep_job  # noqa: E402

# Sweeps train many models and some tests start subprocesses.
pytestmark = pytest.mark.slow

JOB = Path(__file__).parent / "sweep_job.py"


@pytest.fixture(scope="module")
def problem():
  return sweep_job.problem(dt, jax, 300)


@pytest.fixture(scope="module")
def reference(problem):
  x, cfg, grid = problem
  return dt.train_sweep(x, cfg, **grid)


def test_each_model_equals_training_it_alone(problem, reference):
  x, cfg, _ = problem
  chex.assert_shape(reference.params.w1, (24, 10, 6))
  for i in (0, 5, 10, 17, 23):
    g = reference.grid[i]
    alone = dt.train(x, cfg.replace(width=g["width"], sigma=g["sigma"], lam=g["lam"],
                                    learning_rate=g["learning_rate"]), g["seed"], num_samples=g["num_samples"])
    np.testing.assert_allclose(reference.model(i).w1, alone.params.w1, rtol=1e-5, atol=1e-6,
                               err_msg=f"model {i} ({g}) must equal training it alone")
    np.testing.assert_allclose(reference.loss_history[i], alone.loss_history, rtol=1e-5,
                               err_msg=f"model {i}: loss history must equal training it alone")
    np.testing.assert_array_equal(reference.params.w1[i][:, g["width"]:], 0.0,  # padded columns stay exactly 0
                                  err_msg=f"model {i}: padded columns must stay exactly 0")


def test_full_batch_sweep_over_n_matches_alone():
  mix = dt.gaussian_mixture(jax.random.PRNGKey(3), 2, 6, rank=1, cov_scale=0.3)
  x = dt.sample_mixture(jax.random.PRNGKey(4), mix, 60).x
  cfg = dt.TrainConfig(width=4, steps=200, log_every=100, learning_rate=3e-3)
  res = dt.train_sweep(x, cfg, sizes=[7, 60])
  alone = dt.train(x[:7], cfg, seed=0)
  np.testing.assert_allclose(res.params.w1[0], alone.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="full batch over the first 7 rows must equal training on x[:7]")


def test_one_compilation_per_sweep(problem, monkeypatch):
  """Every chunk of one shape, and a second sweep with new values, reuse one traced program."""
  x, cfg, grid = problem
  cfg = cfg.replace(steps=200)
  traced = []
  sharded = sweep_mod._sharded

  def counted(*args, **kwargs):
    program = sharded(*args, **kwargs)
    def once(*a):
      traced.append(1)
      return program(*a)
    return chex.assert_max_traces(once, n=1)

  monkeypatch.setattr(sweep_mod, "_sharded", counted)
  monkeypatch.setattr(sweep_mod, "_PROGRAMS", {})
  res = dt.train_sweep(x, cfg, models_per_chunk=5, **grid)  # 5 chunks of the same shape
  again = dt.train_sweep(x, cfg, models_per_chunk=5, **{**grid, "sigmas": [0.3, 0.5]})  # new values, same shapes
  assert len(traced) == 1, f"expected the sweep program to be traced once, it was traced {len(traced)} times"
  assert not np.allclose(res.params.w1, again.params.w1), "new sigmas must give other weights"


def _run_job(tmp_path, devices, name, **kw):
  out = tmp_path / f"{name}.npz"
  cmd = [sys.executable, str(JOB), "--devices", str(devices), "--out", str(out)]
  for k, v in kw.items():
    cmd += [f"--{k.replace('_', '-')}", str(v)]
  subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
  with np.load(out) as f:
    return f["w1"], f["loss_history"]


@pytest.mark.parametrize("devices", [4, 8])
def test_sharded_over_forced_cpu_devices_gives_the_same_numbers(tmp_path, reference, devices):
  w1, hist = _run_job(tmp_path, devices, f"dev{devices}")
  np.testing.assert_allclose(w1, reference.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg=f"{devices} devices: weights must be the single-device sweep's")
  np.testing.assert_allclose(hist, reference.loss_history, rtol=1e-5,
                             err_msg=f"{devices} devices: loss history must be the single-device sweep's")


def test_two_processes_joined_by_jax_distributed_give_the_same_numbers(tmp_path, reference):
  """The multi-host path: 2 processes × 2 CPU devices (gloo collectives on localhost) shard the
  model axis over 4 global devices; every process receives all models, process 0 writes the store."""
  import socket

  with socket.socket() as sock:
    sock.bind(("localhost", 0))
    port = sock.getsockname()[1]
  store = tmp_path / "store"
  procs = []
  for pid in range(2):
    cmd = [sys.executable, str(JOB), "--devices", "2", "--out", str(tmp_path / f"p{pid}.npz"),
           "--num-processes", "2", "--process-id", str(pid), "--coordinator", f"localhost:{port}",
           "--results-dir", str(store)]
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  for p in procs:
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, f"a sweep process must exit 0, got {p.returncode}; output:\n{out}"
  for pid in range(2):
    with np.load(tmp_path / f"p{pid}.npz") as f:
      assert int(f["process_count"]) == 2 and int(f["device_count"]) == 4, (
          f"process {pid}: expected 2 processes and 4 global devices, got {int(f['process_count'])} and "
          f"{int(f['device_count'])}")
      np.testing.assert_allclose(f["w1"], reference.params.w1, rtol=1e-5, atol=1e-6,
                                 err_msg=f"process {pid}: weights must be the single-process sweep's")
      np.testing.assert_allclose(f["loss_history"], reference.loss_history, rtol=1e-5,
                                 err_msg=f"process {pid}: loss history must be the single-process sweep's")
  names = sorted(q.name for q in store.iterdir())
  assert names == ["chunk_00000.json", "chunk_00000.npz"], f"process 0 alone must write one chunk, got {names}"


def test_results_store_resumes_without_recomputing(problem, tmp_path, monkeypatch):
  x, cfg, grid = problem
  first = dt.train_sweep(x, cfg, results_dir=tmp_path / "r", models_per_chunk=8, **grid)
  files = sorted((tmp_path / "r").glob("chunk_*"))
  names = [f.name for f in files]
  assert names[:2] == ["chunk_00000.json", "chunk_00000.npz"] and len(files) == 6, (
      f"24 models in chunks of 8: expected 3 chunks of .json and .npz, got {names}")
  meta = dt._src.results_io.load_json(tmp_path / "r" / "chunk_00001.json")
  assert meta["models"] == list(first.grid[8:16]) and meta["jax_version"] == jax.__version__, (
      f"chunk 1 must record models 8..15 and jax {jax.__version__}, got {meta['models']} and {meta['jax_version']}")
  missing = {"git_commit", "device_kind", "package_version", "config"} - set(meta)
  assert not missing, f"chunk metadata must record git_commit, device_kind, package_version, config; missing {missing}"

  def boom(*a, **k):
    raise AssertionError("a finished chunk was recomputed")
  monkeypatch.setattr(sweep_mod, "_get_program", lambda *a: boom)
  again = dt.train_sweep(x, cfg, results_dir=tmp_path / "r", models_per_chunk=8, **grid)
  np.testing.assert_array_equal(again.params.w1, first.params.w1, err_msg="a resumed sweep must load the stored weights")
  with pytest.raises(ValueError, match="holds a different sweep"):
    dt.train_sweep(x, cfg.replace(steps=200), results_dir=tmp_path / "r", models_per_chunk=8, **grid)
  # Other chunk boundaries (another models_per_chunk or device count) would misplace finished models.
  with pytest.raises(ValueError, match="written in chunks of 8 models, this run makes chunks of 6"):
    dt.train_sweep(x, cfg, results_dir=tmp_path / "r", models_per_chunk=6, **grid)


def test_sigkill_mid_sweep_loses_nothing_finished(tmp_path, reference):
  rdir = tmp_path / "killed"
  cmd = [sys.executable, str(JOB), "--devices", "1", "--out", str(tmp_path / "x.npz"), "--results-dir", str(rdir),
         "--models-per-chunk", "2", "--steps", "300"]
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  deadline = time.time() + 240
  while time.time() < deadline and len(list(rdir.glob("chunk_*.json"))) < 3:
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  finished = {p.name: p.stat().st_mtime_ns for p in rdir.glob("chunk_*.json")}
  # killed mid-run, after some chunks
  assert 3 <= len(finished) < 12, f"the kill must land after 3 and before all 12 chunks, got {sorted(finished)}"
  # Everything on disk is whole: each finished chunk's arrays load.
  for name in finished:
    np.load(rdir / name.replace(".json", ".npz"))["w1"]
  w1, hist = _run_job(tmp_path, 1, "resumed", results_dir=rdir, models_per_chunk=2)
  for name, mtime in finished.items():
    # finished chunks were not rewritten
    assert (rdir / name).stat().st_mtime_ns == mtime, f"finished chunk {name} must not be rewritten on resume"
  done = len(list(rdir.glob("chunk_*.json")))
  assert done == 12, f"the resumed sweep must finish all 12 chunks, got {done}"
  np.testing.assert_allclose(w1, reference.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="a killed and resumed sweep must give the uninterrupted sweep's weights")


def test_bad_sweep_input(problem, tmp_path):
  x, cfg, _ = problem
  with pytest.raises(ValueError, match="seeds must not be empty"):
    dt.train_sweep(x, cfg, seeds=[])
  with pytest.raises(ValueError, match="sizes must be at most the rows of x"):
    dt.train_sweep(x, cfg, sizes=[10_000])
  f = tmp_path / "file"
  f.write_text("")
  with pytest.raises(ValueError, match="results_dir must be a folder"):
    dt.train_sweep(x, cfg, results_dir=f)
  with pytest.raises(ValueError, match="batch_size"):
    dt.train_sweep(x, cfg.replace(sampling="without_replacement", batch_size=64), sizes=[20])
  with pytest.raises(ValueError, match="widths must be an integer >= 1"):
    dt.train_sweep(x, cfg, widths=[0])
