"""The sweep's results store under faults: damaged chunks are reported and recomputed, a failed write
says what is kept, and results files honour the umask."""

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
import warnings

import chex
import jax
import numpy as np
import pytest

import dae_theory as dt
from dae_theory._src import results_io, store
from dae_theory._src import sweep as sweep_mod

# Each fault is injected into a sweep that trains models.
pytestmark = pytest.mark.slow

GRID = dict(seeds=[0, 1, 2, 3])
CHUNK = 2  # models per chunk: 4 models in 2 chunks


@pytest.fixture(scope="module")
def problem():
  mix = dt.gaussian_mixture(jax.random.PRNGKey(0), 2, 6, rank=1, cov_scale=0.3)
  x = dt.sample_mixture(jax.random.PRNGKey(1), mix, 40).x
  cfg = dt.TrainConfig(width=4, steps=100, log_every=50, batch_size=8, learning_rate=3e-3, lam=1e-3)
  return x, cfg


def _sweep(problem, results_dir=None, **kw):
  x, cfg = problem
  return dt.train_sweep(x, cfg, results_dir=results_dir, models_per_chunk=CHUNK, **GRID, **kw)


@pytest.fixture(scope="module")
def reference(problem):
  """An undamaged run, kept in memory only."""
  return _sweep(problem)


@pytest.fixture(scope="module")
def good_store(problem, tmp_path_factory):
  rdir = tmp_path_factory.mktemp("good") / "r"
  _sweep(problem, rdir)
  return rdir


@pytest.fixture
def rdir(good_store, tmp_path):
  """A private copy of a finished store."""
  return shutil.copytree(good_store, tmp_path / "r")


def _assert_equal(res, reference):
  chex.assert_trees_all_equal(res.params, reference.params)
  np.testing.assert_array_equal(res.loss_history, reference.loss_history,
                                err_msg="the loss history must equal the undamaged run's")


def _no_recompute(monkeypatch):
  def boom(*a, **k):
    raise AssertionError("a finished chunk was recomputed")
  monkeypatch.setattr(sweep_mod, "_get_program", lambda *a: boom)


def _assert_good_chunk(rdir, chunk):
  meta = json.loads((rdir / f"chunk_{chunk:05d}.json").read_text())
  data = (rdir / f"chunk_{chunk:05d}.npz").read_bytes()
  digest = hashlib.sha256(data).hexdigest()
  assert meta["npz_sha256"] == digest and meta["npz_bytes"] == len(data), (
      f"chunk {chunk}: the .json must record the .npz's sha256 {digest} and size {len(data)}, "
      f"got {meta['npz_sha256']} and {meta['npz_bytes']}")


def _rerun_recomputes(problem, rdir, reference, name, reason, monkeypatch):
  """The rerun warns naming the file and the reason, gives the undamaged numbers and rewrites a good
  chunk; a further rerun loads every chunk, silently."""
  with pytest.warns(store.DamagedChunkWarning) as record:
    res = _sweep(problem, rdir)
  messages = [str(w.message) for w in record]
  assert len(messages) == 1 and str(rdir / name) in messages[0] and reason in messages[0], (
      f"expected one warning naming {rdir / name} and saying {reason!r}, got {messages}")
  _assert_equal(res, reference)
  for chunk in range(2):
    _assert_good_chunk(rdir, chunk)
  _no_recompute(monkeypatch)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    _assert_equal(_sweep(problem, rdir), reference)


def test_every_chunk_records_the_sha256_of_its_npz(rdir):
  for chunk in range(2):
    _assert_good_chunk(rdir, chunk)


def test_a_truncated_npz_is_reported_and_recomputed(problem, rdir, reference, monkeypatch):
  path = rdir / "chunk_00001.npz"
  size = path.stat().st_size
  digest = json.loads((rdir / "chunk_00001.json").read_text())["npz_sha256"]
  path.write_bytes(path.read_bytes()[:size // 2])  # as a full disk or a partial copy leaves it
  mtime = (rdir / "chunk_00000.npz").stat().st_mtime_ns
  reason = (f"does not match the {digest[:12]}… recorded in chunk_00001.json "
            f"({size // 2} bytes on disk, {size} written)")
  _rerun_recomputes(problem, rdir, reference, "chunk_00001.npz", reason, monkeypatch)
  mtime_now = (rdir / "chunk_00000.npz").stat().st_mtime_ns
  assert mtime_now == mtime, f"the good chunk 0 must be kept, not rewritten: mtime was {mtime}, now {mtime_now}"


@pytest.mark.parametrize("how", ["flipped_bytes", "other_arrays"])
def test_an_npz_that_no_longer_matches_its_checksum_is_recomputed(problem, rdir, reference, monkeypatch, how):
  path = rdir / "chunk_00000.npz"
  if how == "flipped_bytes":
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4] = bytes(b ^ 0xFF for b in data[len(data) // 2:len(data) // 2 + 4])
    path.write_bytes(bytes(data))
  else:  # a well-formed .npz that opens cleanly, with other numbers
    with np.load(path) as f:
      arrays = {k: f[k] for k in f.files}
    arrays["w1"] = arrays["w1"] + 1.0
    np.savez(path, **arrays)
    np.load(path)["w1"]  # still opens
  _rerun_recomputes(problem, rdir, reference, "chunk_00000.npz", "does not match", monkeypatch)


@pytest.mark.parametrize("content", [b'{"chunk": 1, "fingerprint": "ab', b"", b"\xff\xfe\x00garbage", b"[1, 2]"])
def test_a_damaged_json_is_reported_and_recomputed(problem, rdir, reference, monkeypatch, content):
  (rdir / "chunk_00001.json").write_bytes(content)
  reason = "no fingerprint" if content == b"[1, 2]" else "not valid JSON"
  _rerun_recomputes(problem, rdir, reference, "chunk_00001.json", reason, monkeypatch)


def test_a_missing_npz_is_reported_and_recomputed(problem, rdir, reference, monkeypatch):
  (rdir / "chunk_00000.npz").unlink()
  _rerun_recomputes(problem, rdir, reference, "chunk_00000.npz", "missing", monkeypatch)


def _strip_checksum(path):
  meta = json.loads(path.read_text())
  del meta["npz_sha256"], meta["npz_bytes"]
  path.write_text(json.dumps(meta))


def test_chunks_without_a_checksum_load_when_whole(problem, rdir, reference, monkeypatch):
  for chunk in range(2):
    _strip_checksum(rdir / f"chunk_{chunk:05d}.json")
  _no_recompute(monkeypatch)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    _assert_equal(_sweep(problem, rdir), reference)


@pytest.mark.parametrize("damage, reason", [("truncated", "unreadable: BadZipFile"),
                                            ("narrower", "array 'w1' has shape (2, 6, 3), expected (2, 6, 4)"),
                                            ("renamed", "['w1'] missing, ['w9'] unexpected")])
def test_a_damaged_chunk_without_a_checksum_is_recomputed(problem, rdir, reference, monkeypatch, damage, reason):
  _strip_checksum(rdir / "chunk_00001.json")
  path = rdir / "chunk_00001.npz"
  if damage == "truncated":
    path.write_bytes(path.read_bytes()[:200])
  else:
    with np.load(path) as f:
      arrays = {k: f[k] for k in f.files}
    if damage == "narrower":
      arrays["w1"] = arrays["w1"][:, :, :3]
    else:
      arrays["w9"] = arrays.pop("w1")
    np.savez(path, **arrays)
  _rerun_recomputes(problem, rdir, reference, "chunk_00001.npz", reason, monkeypatch)


def test_snapshots_are_part_of_the_expected_arrays(problem, tmp_path, monkeypatch):
  x, cfg = problem
  cfg = cfg.replace(snapshot_steps=(0, 50))
  first = dt.train_sweep(x, cfg, results_dir=tmp_path / "s", models_per_chunk=CHUNK, **GRID)
  for chunk in range(2):
    _strip_checksum(tmp_path / "s" / f"chunk_{chunk:05d}.json")
  _no_recompute(monkeypatch)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    again = dt.train_sweep(x, cfg, results_dir=tmp_path / "s", models_per_chunk=CHUNK, **GRID)
  np.testing.assert_array_equal(again.snapshots.w1, first.snapshots.w1,
                                err_msg="a resumed sweep must load the stored snapshots")


def _fail_writing(monkeypatch, name):
  """Every atomic write of a file called ``name`` writes its bytes, then hits a full disk."""
  real = results_io._atomic_write

  def atomic_write(path, write):
    if path.name != name:
      return real(path, write)

    def write_then_fail(f):
      write(f)
      raise OSError(errno.ENOSPC, "No space left on device")
    return real(path, write_then_fail)
  monkeypatch.setattr(results_io, "_atomic_write", atomic_write)
  monkeypatch.setattr(store, "_atomic_write", atomic_write)


@pytest.mark.parametrize("name", ["chunk_00001.npz", "chunk_00001.json"])
def test_a_full_disk_names_the_folder_and_keeps_finished_chunks(problem, reference, tmp_path, monkeypatch, name):
  rdir = tmp_path / "r"
  _fail_writing(monkeypatch, name)
  with pytest.raises(OSError) as info:
    _sweep(problem, rdir)
  err = info.value
  assert isinstance(err, store.ResultsWriteError) and err.errno == errno.ENOSPC, (
      f"expected a ResultsWriteError with errno ENOSPC, got {type(err).__name__} with errno {err.errno}")
  cause = err.__cause__
  assert isinstance(cause, OSError) and cause.errno == errno.ENOSPC, (
      f"the error must be caused by the OSError ENOSPC, got {cause!r}")
  message = str(err)
  assert str(rdir / name) in message and f"results folder {rdir} " in message and "No space left" in message, (
      f"the error must name {rdir / name}, the results folder {rdir} and 'No space left', got {message!r}")
  assert "chunks already finished" in message and "are kept" in message and "a rerun resumes from them" in message, (
      f"the error must say the finished chunks are kept and a rerun resumes from them, got {message!r}")
  files = sorted(p.name for p in rdir.iterdir())
  # The first chunk is kept; the second is unfinished (no .json); no temporary file is left.
  assert files[:2] == ["chunk_00000.json", "chunk_00000.npz"] and "chunk_00001.json" not in files, (
      f"chunk 0 must be kept and chunk 1 left without its .json, got {files}")
  temporary = [f for f in files if f.endswith(".tmp")]
  assert not temporary, f"no temporary file may be left, got {temporary} among {files}"
  mtime = (rdir / "chunk_00000.npz").stat().st_mtime_ns
  monkeypatch.undo()
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    _assert_equal(_sweep(problem, rdir), reference)  # the rerun resumes
  mtime_now = (rdir / "chunk_00000.npz").stat().st_mtime_ns
  assert mtime_now == mtime, f"the rerun must keep chunk 0, not rewrite it: mtime was {mtime}, now {mtime_now}"
  _assert_good_chunk(rdir, 1)


def test_a_read_only_folder_names_the_folder(problem, tmp_path, monkeypatch):
  rdir = tmp_path / "r"

  def mkstemp(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")

  def lock_after_first_chunk(done, total, seconds):
    rdir.chmod(0o555)
    if os.geteuid() == 0:  # root writes into read-only folders: fail as a normal user would
      monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
  try:
    with pytest.raises(store.ResultsWriteError, match="chunks already finished in the results folder") as info:
      _sweep(problem, rdir, progress=lock_after_first_chunk)
  finally:
    rdir.chmod(0o755)
  assert info.value.errno == errno.EACCES and str(rdir / "chunk_00001.npz") in str(info.value), (
      f"expected errno EACCES and the path {rdir / 'chunk_00001.npz'} in the message, got errno {info.value.errno} "
      f"and {str(info.value)!r}")
  names = sorted(p.name for p in rdir.iterdir())
  assert names == ["chunk_00000.json", "chunk_00000.npz"], f"only the finished chunk 0 may be on disk, got {names}"


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path):
  def fail(f):
    f.write(b"half")
    raise OSError(errno.ENOSPC, "No space left on device")
  with pytest.raises(OSError, match="No space left"):
    results_io._atomic_write(tmp_path / "a.json", fail)
  left = sorted(p.name for p in tmp_path.iterdir())
  assert left == [], f"a failed atomic write must leave no file behind, got {left}"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_results_files_honour_the_umask(problem, tmp_path, umask, mode):
  old = os.umask(umask)
  try:
    _sweep(problem, tmp_path / "r")
    results_io.save_json(tmp_path / "r" / "extra.json", {"a": 1})
    results_io.save_npz(tmp_path / "r" / "extra.npz", a=np.zeros(2))
  finally:
    os.umask(old)
  files = sorted((tmp_path / "r").iterdir())
  assert len(files) == 6, f"expected 2 chunks of .json and .npz plus extra.json and extra.npz, got {files}"
  modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
  assert modes == {f.name: oct(mode) for f in files}, (
      f"umask {oct(umask)}: every file must have mode {oct(mode)}, got {modes}")
  now = results_io._umask()
  assert now == old, f"reading the umask must leave it alone: it was {oct(old)}, now {oct(now)}"
