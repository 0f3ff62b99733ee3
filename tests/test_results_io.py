import numpy as np
import pytest

from dae_theory._src.results_io import load_json, load_npz, run_parts, save_npz


def test_run_parts_resumes_and_refuses_another_config(tmp_path):
  calls = []

  def part(path, value):
    calls.append(path.name)
    save_npz(path, a=np.full(3, value))

  parts = (("a.npz", part), ("b.npz", part))
  run_parts(tmp_path, {"k": 1}, parts, 7.0)
  assert calls == ["a.npz", "b.npz"] and load_json(tmp_path / "config.json") == {"k": 1}
  (tmp_path / "b.npz").unlink()  # as if the job was killed before b finished
  run_parts(tmp_path, {"k": 1}, parts, 7.0)
  assert calls == ["a.npz", "b.npz", "b.npz"]
  np.testing.assert_array_equal(load_npz(tmp_path / "b.npz")["a"], 7.0)
  with pytest.raises(ValueError, match="holds results of another config"):
    run_parts(tmp_path, {"k": 2}, parts, 7.0)
  assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
