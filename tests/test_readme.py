"""The README's example runs as written."""

import re
from pathlib import Path

import numpy as np


def test_readme_example_runs(capsys):
  text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
  section = text.split("## Example", 1)[1]
  code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  namespace: dict = {}
  exec(compile(code, "README.md", "exec"), namespace)
  assert namespace["h"].shape == (8, 9)
  assert np.isfinite(float(namespace["loss"]))
  # At n = 3000 with σ = 0.2 the empirical optimum is already close to f_gt.
  assert float(np.abs(np.asarray(namespace["f_emp"]) - np.asarray(namespace["f_gt"])).max()) < 0.2
  assert "Separability" in capsys.readouterr().out
