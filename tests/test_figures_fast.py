"""`make figures SIZE=fast` draws every committed figure from a smoke run, with finite numbers behind it."""

import json
import math
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _floats(obj):
  """Every float in a JSON document (nested dicts and lists)."""
  if isinstance(obj, float):
    yield obj
  elif isinstance(obj, dict):
    for v in obj.values():
      yield from _floats(v)
  elif isinstance(obj, list):
    for v in obj:
      yield from _floats(v)


@pytest.mark.slow
def test_make_figures_fast_draws_every_figure_from_finite_results(tmp_path):
  results = tmp_path / "results"
  proc = subprocess.run(["make", "--no-print-directory", "figures", "SIZE=fast", f"RESULTS={results}"], cwd=ROOT,
                        capture_output=True, text=True, timeout=1200)
  assert proc.returncode == 0, f"make figures SIZE=fast failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

  expected = sorted(p.name for p in (ROOT / "figures").glob("*.png"))
  drawn = sorted(p.name for p in (results / "figures").glob("*.png"))
  assert drawn == expected, f"expected the committed figures {expected}, the fast run drew {drawn}"
  for name in drawn:
    image = matplotlib.image.imread(results / "figures" / name)
    assert image.shape[0] >= 200 and image.shape[1] >= 200, f"{name} is only {image.shape[:2]} pixels"
    assert np.ptp(image[..., :3]) > 0.5, f"{name} is blank"

  # The committed findings are never touched by a smoke run; their copies are rewritten instead.
  assert (results / "docs" / "diffusion.md").is_file() and (results / "docs" / "detection-and-steering.md").is_file()

  npz_files, json_files = sorted(results.rglob("*.npz")), sorted(results.rglob("*.json"))
  assert len(npz_files) >= 10 and len(json_files) >= 9, (len(npz_files), len(json_files))
  for path in npz_files:
    finite = 0
    with np.load(path) as arrays:
      for key in arrays.files:
        a = arrays[key]
        if np.issubdtype(a.dtype, np.floating) and a.size:
          # NaN marks a measure that does not apply (e.g. the mixture log-likelihood of images); inf never.
          assert not np.isinf(a).any(), f"{path.relative_to(results)}[{key}] has an infinite entry"
          finite += int(np.isfinite(a).sum())
    assert finite, f"{path.relative_to(results)} holds no finite number"
  for path in json_files:
    values = list(_floats(json.loads(path.read_text())))
    bad = [v for v in values if not math.isfinite(v)]
    assert not bad, f"{path.relative_to(results)} holds non-finite numbers {bad[:5]}"
