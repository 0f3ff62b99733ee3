"""The findings' tables and numbers are what the saved results say (docs/*.md against docs/results/)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _writer(name: str = "write_diffusion_tables"):
  spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("writer_name,doc_name", [("write_diffusion_tables", "diffusion.md"),
                                                  ("write_detection_tables", "detection-and-steering.md")])
def test_every_table_of_the_findings_matches_its_saved_results(writer_name, doc_name):
  writer = _writer(writer_name)
  doc = (ROOT / "docs" / doc_name).read_text()
  sources = ROOT / "docs" / "results"
  missing = [name for name in writer.SOURCES if not (sources / name).exists()]
  assert not missing, f"docs/results lacks {missing}: run make figures (it copies them there)"
  assert writer.render(doc, sources, writer.TABLES) == doc, (
      f"docs/{doc_name}'s tables differ from what docs/results gives: rerun experiments/{writer_name}.py "
      f"--results results --doc docs/{doc_name} --keep-sources docs/results")


def test_a_missing_table_block_is_named():
  writer = _writer()
  with pytest.raises(ValueError, match="fmnist-samples"):
    writer.render("no tables here", ROOT / "docs" / "results")


def test_the_finite_noise_findings_quote_their_saved_results():
  import json

  doc = (ROOT / "docs" / "finite-noise.md").read_text()
  summary = json.loads((ROOT / "docs" / "results" / "finite_noise" / "summary.json").read_text())
  closed = summary["closed_forms"]
  gaps = [g for row in summary["flat_cut"] for g in row["gap_to_w_gen_range"]]
  quoted = {
      "cases": f"{closed['cases']} geometries",
      "largest_loss_error": f"up to {100 * closed['largest_loss_error']:.0f} % low",
      "largest_norm_deviation": f"by up to {100 * closed['largest_norm_deviation']:.0f} %",
      "largest_minimum_gap": f"up to {100 * closed['largest_minimum_gap']:.0f} % above",
      "coactive_limit": f"≤ {closed['coactive_limit']:g}",
      "weighted_coactive_limit": f"≤ {closed['weighted_coactive_limit']:g}",
      "eigen_gap_limit": f"≥ {summary['eigen_gap_limit']:g}",
      "flat cut, lowest gap to W_gen": f"up to {-100 * min(gaps):.1f} % below",
  }
  missing = {key: text for key, text in quoted.items() if text not in doc}
  assert not missing, f"docs/finite-noise.md does not quote these saved results as expected: {missing}"
