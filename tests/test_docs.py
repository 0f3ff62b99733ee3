"""The findings' tables are what the saved results say (docs/diffusion.md against docs/results/)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _writer():
  spec = importlib.util.spec_from_file_location("write_diffusion_tables", ROOT / "experiments" / "write_diffusion_tables.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_every_table_of_the_diffusion_findings_matches_its_saved_results():
  writer = _writer()
  doc = (ROOT / "docs" / "diffusion.md").read_text()
  sources = ROOT / "docs" / "results"
  missing = [name for name in writer.SOURCES if not (sources / name).exists()]
  assert not missing, f"docs/results lacks {missing}: run make figures (it copies them there)"
  assert writer.render(doc, sources) == doc, (
      "docs/diffusion.md's tables differ from what docs/results gives: rerun "
      "experiments/write_diffusion_tables.py --results results --doc docs/diffusion.md --keep-sources docs/results")


def test_a_missing_table_block_is_named():
  writer = _writer()
  with pytest.raises(ValueError, match="fmnist-samples"):
    writer.render("no tables here", ROOT / "docs" / "results")


def _detection_writer():
  spec = importlib.util.spec_from_file_location("write_detection_tables",
                                                ROOT / "experiments" / "write_detection_tables.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_every_table_of_the_detection_findings_matches_its_saved_results():
  writer = _detection_writer()
  doc = (ROOT / "docs" / "detection-and-steering.md").read_text()
  sources = ROOT / "docs" / "results"
  missing = [name for name in writer.SOURCES if not (sources / name).exists()]
  assert not missing, f"docs/results lacks {missing}: run make figures (it copies them there)"
  assert writer.render(doc, sources, writer.TABLES) == doc, (
      "docs/detection-and-steering.md's tables differ from what docs/results gives: rerun "
      "experiments/write_detection_tables.py --results results --doc docs/detection-and-steering.md "
      "--keep-sources docs/results")
