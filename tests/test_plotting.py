"""dae_theory.plotting: atomic saving, file-name checks, the shared command line and number formatting."""

import os

import pytest

from dae_theory import plotting


def _figure():
  fig, ax = plotting.subplots(figsize=(2, 2))
  ax.plot([0, 1], [0, 1])
  return fig


def test_save_figure_writes_the_file_into_a_new_folder_and_closes_the_figure(tmp_path):
  import matplotlib.pyplot as plt
  fig = _figure()
  path = plotting.save_figure(fig, tmp_path / "new" / "folder", "line.png")
  assert path == tmp_path / "new" / "folder" / "line.png"
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert not plt.fignum_exists(fig.number)
  assert sorted(p.name for p in path.parent.iterdir()) == ["line.png"]  # no temporary file left


def test_save_figure_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  (tmp_path / "line.png").write_bytes(b"old figure")
  fig = _figure()

  def broken(f, **kwargs):
    f.write(b"half a PNG")
    raise RuntimeError("disk full")

  monkeypatch.setattr(fig, "savefig", broken)
  with pytest.raises(RuntimeError, match="disk full"):
    plotting.save_figure(fig, tmp_path, "line.png")
  assert (tmp_path / "line.png").read_bytes() == b"old figure"
  assert os.listdir(tmp_path) == ["line.png"]  # the temporary file is removed


@pytest.mark.parametrize("name", ["", "figures/line.png", "../line.png", "line", None, 3])
def test_save_figure_takes_a_bare_file_name_with_an_extension(tmp_path, name):
  fig = _figure()
  with pytest.raises(ValueError, match="name must be a file name"):
    plotting.save_figure(fig, tmp_path, name)
  assert not any(tmp_path.iterdir())


def test_figure_parser_takes_results_and_an_output_folder():
  parser = plotting.figure_parser("draws a figure", "results/x")
  args = parser.parse_args([])
  assert (args.results, args.out) == ("results/x", "figures")
  args = parser.parse_args(["--results", "r", "--out", "/tmp/f"])
  assert (args.results, args.out) == ("r", "/tmp/f")


@pytest.mark.parametrize("value, text", [(124_750, "124,750"), (0.2, "0.2"), (1e-4, "1e-4"), (2.5e-5, "2.5e-5"),
                                         (3.0, "3"), (10_000.0, "10,000"), (0.0, "0"), (0.123456, "0.1235")])
def test_number(value, text):
  assert plotting.number(value) == text


def test_number_rounds_the_mantissa_without_a_stray_point():
  assert plotting.number(2.0036e-6, 2) == "2e-6"
  assert plotting.cosine_bound(1 - 2.0036e-6) == "1 − cosine ≤ 2e-6"
  assert plotting.cosine_bound(0.98765) == "cosine ≥ 0.9877"


def test_roles_are_okabe_ito_colours_and_distinct():
  roles = (plotting.MEMORIZED, plotting.GENERALIZED, plotting.HYBRID, plotting.EMPIRICAL)
  assert len(set(roles)) == 4 and set(roles) <= set(plotting.PALETTE)
  assert plotting.REGIME_COLOURS["memorization"] == plotting.MEMORIZED
