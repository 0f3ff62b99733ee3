"""The README's example runs as written."""

import re
from pathlib import Path

import chex
import numpy as np


def test_readme_example_runs(capsys):
  text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
  section = text.split("## Example", 1)[1]
  code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  namespace: dict = {}
  exec(compile(code, "README.md", "exec"), namespace)
  chex.assert_shape(namespace["h"], (8, 9))
  loss = float(namespace["loss"])
  assert np.isfinite(loss), f"the README's loss must be finite, got {loss}"
  # At n = 3000 with σ = 0.2 the empirical optimum is already close to f_gt.
  gap = float(np.abs(np.asarray(namespace["f_emp"]) - np.asarray(namespace["f_gt"])).max())
  assert gap < 0.2, f"max |f_emp - f_gt| at n = 3000, σ = 0.2 must be below 0.2, got {gap:.3g}"
  out = capsys.readouterr().out
  assert "Separability" in out, f"the README's example must print its Separability, got stdout:\n{out}"
