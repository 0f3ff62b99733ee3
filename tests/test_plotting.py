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
  want = tmp_path / "new" / "folder" / "line.png"
  assert path == want, f"save_figure must return the path it wrote, {want}, got {path}"
  head = path.read_bytes()[:8]
  assert head == b"\x89PNG\r\n\x1a\n", f"line.png must start with the PNG signature, got {head!r}"
  assert not plt.fignum_exists(fig.number), f"save_figure must close the figure, figure {fig.number} is still open"
  names = sorted(p.name for p in path.parent.iterdir())
  assert names == ["line.png"], f"the folder must hold line.png alone (no temporary file left), got {names}"


def test_save_figure_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  (tmp_path / "line.png").write_bytes(b"old figure")
  fig = _figure()

  def broken(f, **kwargs):
    f.write(b"half a PNG")
    raise RuntimeError("disk full")

  monkeypatch.setattr(fig, "savefig", broken)
  with pytest.raises(RuntimeError, match="disk full"):
    plotting.save_figure(fig, tmp_path, "line.png")
  kept = (tmp_path / "line.png").read_bytes()
  assert kept == b"old figure", f"a failed write must keep the old file's bytes b'old figure', got {kept!r}"
  names = os.listdir(tmp_path)
  assert names == ["line.png"], f"a failed write must remove its temporary file, leaving ['line.png'], got {names}"


@pytest.mark.parametrize("name", ["", "figures/line.png", "../line.png", "line", None, 3])
def test_save_figure_takes_a_bare_file_name_with_an_extension(tmp_path, name):
  fig = _figure()
  with pytest.raises(ValueError, match="name must be a file name"):
    plotting.save_figure(fig, tmp_path, name)
  left = sorted(p.name for p in tmp_path.iterdir())
  assert not left, f"a rejected name {name!r} must write nothing, got {left}"


def test_figure_parser_takes_results_and_an_output_folder():
  parser = plotting.figure_parser("draws a figure", "results/x")
  args = parser.parse_args([])
  got = (args.results, args.out)
  assert got == ("results/x", "figures"), f"defaults must be ('results/x', 'figures'), got {got}"
  args = parser.parse_args(["--results", "r", "--out", "/tmp/f"])
  got = (args.results, args.out)
  assert got == ("r", "/tmp/f"), f"--results r --out /tmp/f must give ('r', '/tmp/f'), got {got}"


@pytest.mark.parametrize("value, text", [(124_750, "124,750"), (0.2, "0.2"), (1e-4, "1e-4"), (2.5e-5, "2.5e-5"),
                                         (3.0, "3"), (10_000.0, "10,000"), (0.0, "0"), (0.123456, "0.1235")])
def test_number(value, text):
  got = plotting.number(value)
  assert got == text, f"number({value!r}) must be {text!r}, got {got!r}"


def test_number_rounds_the_mantissa_without_a_stray_point():
  got = plotting.number(2.0036e-6, 2)
  assert got == "2e-6", f"number(2.0036e-6, 2) must be '2e-6', got {got!r}"
  got = plotting.cosine_bound(1 - 2.0036e-6)
  assert got == "1 − cosine ≤ 2e-6", f"cosine_bound(1 - 2.0036e-6) must be '1 − cosine ≤ 2e-6', got {got!r}"
  got = plotting.cosine_bound(0.98765)
  assert got == "cosine ≥ 0.9877", f"cosine_bound(0.98765) must be 'cosine ≥ 0.9877', got {got!r}"


def test_roles_are_okabe_ito_colours_and_distinct():
  roles = (plotting.MEMORIZED, plotting.GENERALIZED, plotting.HYBRID, plotting.EMPIRICAL)
  assert len(set(roles)) == 4 and set(roles) <= set(plotting.PALETTE), (
      f"the 4 role colours must be distinct and from the Okabe-Ito PALETTE {plotting.PALETTE}, got {roles}")
  got = plotting.REGIME_COLOURS["memorization"]
  assert got == plotting.MEMORIZED, f"the memorization regime must use MEMORIZED {plotting.MEMORIZED!r}, got {got!r}"
