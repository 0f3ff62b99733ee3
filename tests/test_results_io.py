import functools

import numpy as np
import pytest

from dae_theory._src.results_io import code_digest, load_json, load_npz, run_parts, save_npz


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


def _script_part(folder, name: str, body: str):
  """A part function defined in its own file, as an experiment script defines its parts."""
  import importlib.util
  path = folder / f"{name}.py"
  path.write_text(f"import numpy as np\nfrom dae_theory import save_npz\n\ndef part(path):\n  {body}\n")
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.part


def test_parts_made_by_other_code_are_made_again_unless_asked_to_reuse(tmp_path, monkeypatch, capsys):
  out = tmp_path / "out"
  script = tmp_path / "scripts"
  script.mkdir()
  part = _script_part(script, "exp", "save_npz(path, a=np.ones(2))")
  run_parts(out, {"k": 1}, [("a.npz", part)])
  before = code_digest([("a.npz", part)])
  assert load_json(out / "code.json") == before
  assert code_digest([("a.npz", functools.partial(part))]) == before, "a partial is digested as its function"
  run_parts(out, {"k": 1}, [("a.npz", part)])
  assert "skipped" in capsys.readouterr().out, "parts made by the same code must be reused"
  edited = _script_part(script, "exp", "save_npz(path, a=np.zeros(2))")
  assert code_digest([("a.npz", edited)])["script"] != before["script"], "an edited script must change the digest"
  monkeypatch.setenv("DAE_THEORY_REUSE_STALE", "1")
  run_parts(out, {"k": 1}, [("a.npz", edited)])
  assert "reused" in capsys.readouterr().out
  np.testing.assert_array_equal(load_npz(out / "a.npz")["a"], 1.0, err_msg="asked to reuse: the old part stays")
  monkeypatch.delenv("DAE_THEORY_REUSE_STALE")
  run_parts(out, {"k": 1}, [("a.npz", edited)])
  assert "making them again" in capsys.readouterr().out
  np.testing.assert_array_equal(load_npz(out / "a.npz")["a"], 0.0, err_msg="a stale part must be made again")
  assert load_json(out / "code.json") == code_digest([("a.npz", edited)])
