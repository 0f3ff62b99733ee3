"""The findings' tables and numbers are what the saved results say (docs/*.md against docs/results/)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _writer(name: str = "write_diffusion_tables"):
  spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("writer_name,doc_name", [("write_diffusion_tables", "diffusion.md"),
                                                  ("write_detection_tables", "detection-and-steering.md"),
                                                  ("write_deep_tables", "deep-denoisers.md")])
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


# ------------------------------------------------------------------------------------------------
# docs/findings.md: every number is a saved result
# ------------------------------------------------------------------------------------------------

FINDINGS = ROOT / "docs" / "findings.md"
SUMMARIES = ROOT / "docs" / "results"
EXPERIMENTS = ("denoisers_on_mixture", "regimes_on_synthetic_data", "regime_transition", "fashion_mnist_regimes",
               "diffusion_fashion_mnist", "diffusion_transition", "finite_noise", "memorization_detection",
               "hybrid_regime", "deep_denoisers")


def _at(summary, path: str):
  """summary["a"]["b"][0]… for the path "a/b/0"; list indices may be negative."""
  value = summary
  for part in path.split("/"):
    value = value[int(part)] if isinstance(value, list) else value[part]
  return value


def _p(prefix: str, *keys) -> tuple[str, ...]:
  """Key paths prefix/key for each key."""
  return tuple(f"{prefix}/{k}" for k in keys)


def _min(path):
  return lambda s: min(_at(s, path))


def _max(path):
  return lambda s: max(_at(s, path))


def _same(path):
  """The one value every entry of a list holds (a text that matches nothing when they differ)."""
  def pick(s):
    values = _at(s, path)
    return values[0] if len(set(values)) == 1 else f"<{path} differ: {values}>"
  return pick


def _over(paths, pick):
  return lambda s: pick(_at(s, p) for p in paths)


def _join(path):
  return lambda s: ", ".join(map(str, _at(s, path)))


def _g(v) -> str:
  return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def _fixed(digits: int):
  return lambda v: f"{v:.{digits}f}".replace("-", "−")


def _pct(digits: int):
  return lambda v: f"{100 * v:.{digits}f}"


def _none(v) -> str:
  return "none" if v == 0 else f"<{v}, not none>"


F1, F2, F3, E1 = _fixed(1), _fixed(2), _fixed(3), "{:.1e}".format
MEMORISERS = ("mem_authors", "mem_closed_form", "mem_violating")
DM, RS, RT, FM, FS = ("denoisers_on_mixture", "regimes_on_synthetic_data", "regime_transition", "fashion_mnist_regimes",
                      "fashion_mnist_separability")
DF, DT, FN, MD = "diffusion_fashion_mnist", "diffusion_transition", "finite_noise", "memorization_detection"
HY, DD = "hybrid_regime", "deep_denoisers"
DD_MLPS = ("mlp_L2", "mlp_L3", "mlp_L4", "mlp_L3_residual", "mlp_L3_no_bias")
MEM, GEN = "memorization", "generalization"
EXCESS, BOUNDARY36 = "f_excess_by_samples_per_mode", "width36_boundary_where_width9_generalizes"
AT300, DIST36 = "test_error_at_largest_n", "distances_width36_at_largest_n"
FMN, MIX = "fashion_mnist", "mixture"
DETECT = "detection_memorised_vs_generalised_training_inputs"


def _stage(s, model: str, n: int, step: str = "last") -> str:
  """The deep_denoisers key "n=…,step=…" of a model's last (or first, "snapshot") step at n."""
  steps = sorted(int(k.split("step=")[1]) for k in s[model]["memorized_fraction"] if k.startswith(f"n={n},"))
  return f"n={n},step={steps[-1] if step == 'last' else steps[0]}"


def _mem(model: str, n: int, step: str = "last"):
  """The memorised share of a deep_denoisers model at n and its last (or first, "snapshot") step."""
  return lambda s: s[model]["memorized_fraction"][_stage(s, model, n, step)]


def _det(model: str, key: str, field: str = "auroc", within: str | None = None):
  """A deep_denoisers detection entry (keys hold "/", so not a key path)."""
  def pick(s):
    entry = s[model] if within is None else s[model]["within_model"][within]
    return entry["detection"][key][field]
  return pick


def _n_of(stage: str) -> int:
  """n of a deep_denoisers stage key "n=…,step=…"."""
  return int(stage.split(",")[0].removeprefix("n="))


def _first_n_without_copies(models):
  """The smallest n (as written, "1,797") from which no step of the given models copies anything."""
  def pick(s):
    copies = {}
    for m in models:
      for k, v in s[m]["memorized_fraction"].items():
        copies[_n_of(k)] = max(copies.get(_n_of(k), 0.0), v)
    clean = [n for n in sorted(copies) if all(copies[m] == 0 for m in copies if m >= n)]
    return f"{clean[0]:,}" if clean else f"<copies at every n: {copies}>"
  return pick


def _dd_transition(s) -> str:
  """The U-Net's stage at the largest n whose last step has its own detection numbers."""
  return max((k for k in s["unet"]["within_model"] if k == _stage(s, "unet", _n_of(k))), key=_n_of)


def _dd_best_unet_std(s) -> str:
  return max(s["unet"]["layers"], key=lambda l: s["unet"]["detection"][f"{l}/max/std"]["auroc"])


def _fm_row(model: str) -> tuple:
  """The PSNR and Std(h) cells of a Fashion-MNIST model's row."""
  return _p(model, "psnr_train", "psnr_test", "std_train_median", "std_test_median")


# (text of docs/findings.md with {} for each saved value, the experiment whose docs/results/<experiment>/summary.json
# holds them, the values (key paths into that file, or functions of it), their format (one for all, or one each)).
FINDINGS_QUOTES = [
    # denoisers_on_mixture
    ("mixture of {} modes of rank {} in d = {};", DM, _p("setup", "num_modes", "rank", "dim"), _g),
    ("for each n from {} to {} and σ ∈ {{{}, {}, {}}},", DM,
     _p("setup", "smallest_n", "largest_n", "sigmas/0", "sigmas/1", "sigmas/2"), _g),
    ("{} fresh noisy queries, over {} seeds,", DM, _p("setup", "queries", "seeds"), _g),
    ("a {}-D mixture at σ = {} with n = {} and n = {}.", DM,
     _p("setup", "scatter_dim", "scatter_sigma", "scatter_sizes/0", "scatter_sizes/1"), _g),
    ("at n = {} and σ = 0.1 each output rests on {} samples and its error is {} times the MMSE", DM,
     ("setup/smallest_n",) + _p("per_sigma/0.1", "effective_samples_at_smallest_n", "relative_error_at_smallest_n"),
     (_g, F2, _fixed(0))),
    ("only from n = {} at σ = 0.1, from n = {} at σ = 0.3 and from n = {} at σ = 1.", DM,
     tuple(f"per_sigma/{s}/first_n_below_mmse" for s in ("0.1", "0.3", "1")), _g),
    ("At n = {} it is {}, {} and {} of the MMSE.", DM,
     ("setup/largest_n",) + tuple(f"per_sigma/{s}/relative_error_at_largest_n" for s in ("0.1", "0.3", "1")),
     (_g, E1, E1, E1)),
    ("at n = {} an output averages about {} training samples at σ = 0.1, {} at σ = 0.3 and {} at σ = 1.", DM,
     ("setup/largest_n",) + tuple(f"per_sigma/{s}/effective_samples_at_largest_n" for s in ("0.1", "0.3", "1")),
     (_g,) + ("{:,.0f}".format,) * 3),
    # regimes_on_synthetic_data
    ("{} pairwise-obtuse points of norms {}–{} in d = {}, width p = {}, σ = {}, λ = {},", RS,
     _p(MEM, "num_samples", "norm_range/0", "norm_range/1", "dim", "width", "sigma", "lam"), _g),
    ("`memorization_closed_form`, {} seeds.", RS, _p(MEM, "seeds"), _g),
    ("exactly {} columns carry weight (norm > {})", RS,
     (_same(f"{MEM}/columns_above_threshold"), f"{MEM}/column_norm_threshold"), _g),
    ("cosine ≥ {}, norm within {} % of the prediction.", RS, _p(MEM, "min_matched_cosine", "max_norm_deviation"),
     (_fixed(6), _pct(2))),
    ("{} % of the codes of noisy training inputs are one-hot (one unit holds more than {} % of ‖h‖²)", RS,
     _p(MEM, "one_hot_fraction_min", "one_hot_share"), _pct(0)),
    ("the median peak energy fraction max_j h_j²/‖h‖² is {}.", RS, _p(MEM, "peak_energy_fraction_median"), F2),
    ("{} modes (‖μ‖ = {}, rank {}) in d = {}, n = {}, p = {}, σ = {},", RS,
     _p(GEN, "num_modes", "mean_norm", "rank", "dim", "num_samples", "width", "sigma"), _g),
    ("`generalization_closed_form` with {} steps, {} seeds.", RS, _p(GEN, "steps", "seeds"), _g),
    ("f is within {}–{} % of M_k on two modes and {}–{} % on the third.", RS,
     _p(GEN, "relative_error_min", "relative_error_best_modes_max", "relative_error_worst_mode_min",
        "relative_error_max"), _pct(1)),
    ("{} active units per input on average, median peak energy fraction {}.", RS,
     _p(GEN, "active_units_mean", "peak_energy_fraction_median"), (F1, F2)),
    ("median is {} for the one-hot codes of the memoriser and {} for the generaliser's balanced codes.", RS,
     (f"{MEM}/std_median", f"{GEN}/std_median"), F2),
    # regime_transition
    ("{} modes with obtuse means (‖μ‖ = {}) and rank-{} spread in d = {}; n_k from {} to {} samples per mode, "
     "{} seeds,", RT, _p("setup", "num_modes", "mean_norm", "rank", "dim", "samples_per_mode/0",
                         "samples_per_mode/-1", "seeds"), _g),
    ("p ∈ {{{}, {}, {}}}, λ ∈ {{{}, {}}}, σ ∈ {{{}, {}, {}}}: {} models (Adam at {} with cosine decay, {} steps).", RT,
     _p("setup", "widths/0", "widths/1", "widths/2", "lams/0", "lams/1", "sigmas/0", "sigmas/1", "sigmas/2", "models",
        "learning_rate", "steps"), _g),
    ("agree on {} of {} models away from the boundary ({} predicted memorisation, {} generalisation).", RT,
     _p("correspondence", "agreeing", "decided", "predicted_memorization", "predicted_generalization"), _g),
    ("the excess is {}–{} at n_k = 1, {}–{} at n_k = 2, {}–{} at n_k = 3 and at most {} from n_k = 6 on,", RT,
     _p(EXCESS, "1/0", "1/1", "2/0", "2/1", "3/0", "3/1")
     + (lambda s: max(v[1] for k, v in s[EXCESS].items() if int(k) >= 6),), F2),
    ("at p = {} the models at n_k = {}, where the rule n_k > p_k puts them on the boundary, all {}.", RT,
     ("setup/widths/-1", _join(f"{BOUNDARY36}/samples_per_mode"),
      lambda s: "generalise" if s[BOUNDARY36]["observed"] == ["generalization"] else "<not all generalization>"),
     str),
    ("still copies at n_k = {}: excess {} at σ = 0.1, {} at σ = 0.2, {} at σ = 0.5.", RT,
     ("largest_samples_per_mode",) + _p("empirical_excess_at_largest_n_by_sigma", "0.1", "0.2", "0.5"),
     (_g, F2, F2, F2)),
    ("at n_k = {} the test error E‖f(y) − x‖² is {} at p = {} and {} at p = {}, against {} for f_emp and {} for f_gt.",
     RT, ("largest_samples_per_mode", f"{AT300}/f_width9", "setup/widths/0", f"{AT300}/f_width36", "setup/widths/-1",
          f"{AT300}/f_emp", f"{AT300}/f_gt"), (_g, F2, _g, F2, _g, F2, F2)),
    ("At p = {} the network beats the block maps M_k ({})", RT, ("setup/widths/0", f"{AT300}/block_maps_width9"),
     (_g, F2)),
    ("At p = {}, n_k = {} the network is {} from f_gt, {} from M_k and {} from f_emp", RT,
     ("setup/widths/-1", "largest_samples_per_mode") + _p(DIST36, "f_to_gt", "f_to_mk", "f_to_emp"),
     (_g, _g, F2, F2, F2)),
    ("f_emp itself is {} from f_gt", RT, _p(DIST36, "emp_to_gt"), F2),
    # fashion_mnist_regimes and the separability of Fashion-MNIST
    ("the {} classes as clusters, {} training images;", FS, ("classes", "images"), _g),
    ("| raw, in [−1, 1] | {} | {} | {} | {} % | {}–{} images |", FS,
     _p("raw", "alpha", "beta", "pair_cosine_median", "fraction_obtuse_pairs", "greedy_obtuse_set_sizes/0",
        "greedy_obtuse_set_sizes/1"), (F2, F2, F2, _pct(1), _g, _g)),
    ("| centred on the mean | {} | {} | {} | {} % | {}–{} images |", FS,
     _p("centred", "alpha", "beta", "pair_cosine_median", "fraction_obtuse_pairs", "greedy_obtuse_set_sizes/0",
        "greedy_obtuse_set_sizes/1"), (F2, F2, F2, _pct(0), _g, _g)),
    ("(p = {}, σ = {}, images centred on the training mean", FM, _p("setup", "width", "sigma"), _g),
    ("found by greedy scans: {} images.", FM, ("mem_authors/num_images",), _g),
    ("| authors' memorising recipe, {} obtuse images | {} columns, cosine ≥ {}, norms {}–{} (predicted {}–{}) | "
     "{} / {} dB | {} / {} |", FM,
     _p("mem_authors", "num_images", "columns_above_10pct_of_max_norm")
     + (_min("mem_authors/matched_cosine"), _min("mem_authors/matched_norms"), _max("mem_authors/matched_norms"),
        _min("mem_authors/predicted_norms"), _max("mem_authors/predicted_norms")) + _fm_row("mem_authors"),
     (_g, _g, _fixed(4), F2, F2, F2, F2, F1, F1, F2, F2)),
    ("| our `memorization_closed_form`, same {} | {} columns, cosine ≥ {}, norms {}–{} (predicted {}); "
     "next column {} | {} / {} dB | {} / {} |", FM,
     ("mem_closed_form/num_images", lambda s: len(s["mem_closed_form"]["matched_cosine"]),
      _min("mem_closed_form/matched_cosine"), _min("mem_closed_form/matched_norms"),
      _max("mem_closed_form/matched_norms"), _same("mem_closed_form/predicted_norms"),
      "mem_closed_form/top_column_norms/7") + _fm_row("mem_closed_form"),
     (_g, _g, _fixed(4), F2, F2, F2, F2, F1, F1, F2, F2)),
    ("| authors' memorising recipe, {} random images (max cosine {}) | cosine {}–{}, norms {}–{} (predicted {}–{}) | "
     "{} / {} dB | {} / {} |", FM,
     _p("mem_violating", "num_images", "assumption_max_cosine")
     + tuple(f(f"mem_violating/{k}") for k in ("matched_cosine", "matched_norms", "predicted_norms")
             for f in (_min, _max)) + _fm_row("mem_violating"),
     (_g, F2, F2, F2, F2, F2, F2, F2, F1, F1, F2, F2)),
    ("| authors' generalising recipe, {} images | all {} columns used, largest ones at cosine {}–{} with any "
     "training image, {} antipodal pairs | {} / {} dB | {} / {} |", FM,
     ("setup/num_generalizing", "gen_authors/columns_above_10pct_of_max_norm",
      _min("gen_authors/max_cosine_of_top_columns"), _max("gen_authors/max_cosine_of_top_columns"),
      "gen_authors/antipodal_pairs") + _fm_row("gen_authors"),
     (_g, _g, F2, F2, _g, F1, F1, F2, F2)),
    ("Noisy inputs are at {} dB", FM,
     (_over([f"{m}/psnr_noisy_{s}" for m in MEMORISERS + ("gen_authors",) for s in ("train", "test")],
            lambda v: {round(x, 1) for x in v}.pop()),), F1),
    ("gains little on them ({} dB against {} dB for the noisy input).", FM,
     _p("gen_authors", "psnr_test", "psnr_noisy_test"), F1),
    ("with {} random images the columns still align to {}–{}.", FM,
     ("mem_violating/num_images", _min("mem_violating/matched_cosine"), _max("mem_violating/matched_cosine")),
     (_g, F2, F2)),
    ("ranks the memorisers below the generaliser ({} against {}).", FM,
     ("mem_authors/std_test_median", "gen_authors/std_test_median"), F2),
    ("Std(h) reaches AUROC {} and the scale-free max_j h_j²/‖h‖² {} (median {} against {}).", FM,
     _p(DETECT, "auroc_std", "auroc_peak_energy_fraction", "median_peak_energy_fraction/0",
        "median_peak_energy_fraction/1"), F2),
    ("(effective rank {}, the top singular value carries {} of the sum, its direction at cosine {} with the clean "
     "image)", FM, _p("mem_authors", "jacobian_effective_rank_median", "jacobian_top_singular_value_share_median",
                      "jacobian_top_direction_cosine_with_the_clean_image_median"), (F2, F2, _fixed(4))),
    ("(effective rank {}, top share {}, cosine {})", FM,
     _p("gen_authors", "jacobian_effective_rank_median", "jacobian_top_singular_value_share_median",
        "jacobian_top_direction_cosine_with_the_clean_image_median"), (F1, F2, F2)),
    ("Spearman {} for the generaliser, {} and {} for the two memorisers of the obtuse set and {} for the memoriser "
     "of the random set.", FM,
     tuple(f"{m}/gating_overlap_vs_similarity_spearman" for m in ("gen_authors",) + MEMORISERS), F2),
    ("only {}, {} and {} of the three memorisers' denoised test images copy a training image", FM,
     tuple(f"{m}/copied_test_fraction" for m in MEMORISERS), F2),
    ("(`dt.blend_residual`) is {}–{} for the memorisers and {} for the generaliser (clean images: {}–{} and {}).",
     FM, (_over([f"{m}/blend_residual_median" for m in MEMORISERS], min),
          _over([f"{m}/blend_residual_median" for m in MEMORISERS], max), "gen_authors/blend_residual_median",
          _over([f"{m}/blend_residual_clean_median" for m in MEMORISERS], min),
          _over([f"{m}/blend_residual_clean_median" for m in MEMORISERS], max),
          "gen_authors/blend_residual_clean_median"), F2),
    ("the generaliser's test error is {}, below f_emp of its own {} images ({}) and of the disjoint rest ({}), and "
     "its distance to either is {} and {} of theirs to each other.", FM,
     ("gen_authors/test_errors_f_own_disjoint/0", "setup/num_generalizing", "gen_authors/test_errors_f_own_disjoint/1",
      "gen_authors/test_errors_f_own_disjoint/2", "gen_authors/f_to_own_empirical_relative",
      "gen_authors/f_to_disjoint_empirical_relative"), (F1, _g, F1, F1, F2, F2)),
    # diffusion_fashion_mnist
    ("memorising recipe on {} raw images copies {} % of its samples", DF,
     _p("memorizing", "num_samples", "ancestral_memorized_scale_free/fraction"), (_g, _pct(1))),
    ("On {} pairwise-obtuse centred images (Cor 3.2's setting) {} % are copies.", DF,
     _p("memorizing_obtuse", "num_samples", "ancestral_memorized_scale_free/fraction"), (_g, _pct(1))),
    ("The generaliser on {} images copies {} %.", DF,
     _p("generalizing", "num_samples", "ancestral_memorized_scale_free/fraction"), (_g, _pct(1))),
    ("(AUROC {} and {} for the two memorisers); Std(h)/‖h‖ separates them completely ({}).", DF,
     ("auroc_memorizing_vs_generalizing/std", "auroc_memorizing_obtuse_vs_generalizing/std",
      _over(["auroc_memorizing_vs_generalizing/normalized_std",
             "auroc_memorizing_obtuse_vs_generalizing/normalized_std"], min)), F3),
    ("median norm {} for the generaliser against {} for the data ({} against {} for the raw memoriser).", DF,
     _p("generalizing", "ancestral_sample_norm_median", "data_norm_median")
     + _p("memorizing", "ancestral_sample_norm_median", "data_norm_median"), F2),
    ("starts at σ_max = {}, far below the data's scale along its top direction ({}).", DF,
     _p("generalizing", "sigma_max", "sqrt_top_second_moment"), (_g, F1)),
    ("with σ_max = {} restores the scale ({}).", DF,
     _p("generalizing_sigma_max_20", "sigma_max", "ancestral_sample_norm_median"), (_g, F2)),
    # diffusion_transition
    ("On the mixture: {}–{} at n = 3, {}–{} at n = 6, {}–{} at n = 12, and at most {} from n = {} on.", DT,
     tuple(f"{MIX}/memorized_at_last_step/{n}/{i}" for n in (3, 6, 12) for i in (0, 1))
     + _p(MIX, "max_copies_from_that_n", "no_copies_from_n"), (F3,) * 7 + (_g,)),
    ("On Fashion-MNIST: {}–{} at n = 5, {}–{} at n = 20, and {} from n = {} on.", DT,
     tuple(f"{FMN}/memorized_at_last_step/{n}/{i}" for n in (5, 20) for i in (0, 1))
     + _p(FMN, "max_copies_from_that_n", "no_copies_from_n"), (F3,) * 4 + (_none, _g)),
    ("copies every sample at every n (share {})", DT,
     (_over([f"{MIX}/f_emp_sampler_min", f"{FMN}/f_emp_sampler_min"], min),), F3),
    ("At p = {} and n = {} the sampler diverges: median sample norms {}, {} and {} against {}–{} for every other "
     "model with n ≥ {}.", DT,
     (_same(f"{FMN}/diverging_widths"), _join(f"{FMN}/diverging_sizes"))
     + _p(FMN, "diverging_sample_norms/0", "diverging_sample_norms/1", "diverging_sample_norms/2",
          "other_sample_norms/0", "other_sample_norms/1") + ("large_n",),
     (_g, str, _fixed(0), _fixed(0), _fixed(0), F1, F1, _g)),
    ("⟨x̂₀(s, σ), s⟩/‖s‖² is {}, {} and {} there, against {}–{} elsewhere", DT,
     _p(FMN, "diverging_gains/0", "diverging_gains/1", "diverging_gains/2", "other_gains/0", "other_gains/1"), F2),
    # finite_noise
    ("over {} pairwise-obtuse geometries × σ", FN, ("closed_forms/cases",), _g),
    ("up to {} % low.", FN, ("closed_forms/largest_loss_error",), _pct(0)),
    ("a noisy sample turns on is ≤ {} (`dt.COACTIVE_LIMIT`", FN, ("closed_forms/coactive_limit",), _g),
    ("shorter than r_i x_i, by up to {} %;", FN, ("closed_forms/largest_norm_deviation",), _pct(0)),
    ("is ≤ {} (`dt.WEIGHTED_COACTIVE_LIMIT`)", FN, ("closed_forms/weighted_coactive_limit",), _g),
    ("up to {} % above the exact minimiser's.", FN, ("closed_forms/largest_minimum_gap",), _pct(0)),
    ("is ≥ {} (`dt.EIGEN_GAP_LIMIT`)", FN, ("eigen_gap_limit",), _g),
    ("up to {} % below W_gen's loss.", FN,
     (lambda s: -min(g for row in s["flat_cut"] for g in row["gap_to_w_gen_range"]),), _pct(1)),
    # memorization_detection
    ("the wrong way (AUROC {}); the scale-free Std(h)/‖h‖ separates them perfectly ({}).", MD,
     _p("two_models/by_model", "std/auroc", "normalized_std/auroc"), F3),
    ("oracle reaches only {} there.", MD, ("two_models/by_model/nearest_distance/auroc",), F3),
    ("AUROC {} on Fashion-MNIST with duplicated images and {} on a mixture with points duplicated {} times.", MD,
     ("duplicated_fmnist/metrics/std/auroc",
      lambda s: max(s["duplicated_mixture"], key=lambda e: e["copies"])["metrics"]["std"]["auroc"],
      lambda s: max(e["copies"] for e in s["duplicated_mixture"])), (F3, F3, _g)),
    ("half of the generaliser's samples carry the concept at a = {};", MD,
     ("steering_mixture/generalizing/all/a_half",), F2),
    ("half carrying it only at a = {}.", MD, ("steering_mixture/memorizing/memorized/a_half",), F2),
    ("half carry the concept at a = {}, against {} for the generaliser's samples.", MD,
     ("steering_fmnist/memorizing/memorized/a_half", "steering_fmnist/generalizing/all/a_half"), F2),
    # deep_denoisers
    ("copies a share of {} of its samples at n = 8 after its last step ({} at its snapshot), {} at n = 32 and none "
     "from n = {} on.", DD,
     (_mem("unet", 8), _mem("unet", 8, "snapshot"), _mem("unet", 32), _first_n_without_copies(("unet",))),
     (F3, F3, F3, str)),
    ("n = 8, {} (L = 2), {} (L = 3) and {} (L = 4); residual skips cut L = 3 to {}, no biases to {}; at n = 32 at "
     "most {}, at n = 128 at most {}, and none at n = {}.", DD,
     tuple(_mem(m, 8) for m in DD_MLPS) + (lambda s: max(_mem(m, 32)(s) for m in DD_MLPS),
                                           lambda s: max(_mem(m, 128)(s) for m in DD_MLPS), _first_n_without_copies(DD_MLPS)),
     (F3,) * 7 + (str,)),
    ("the spiky signature sits in the last decoder block ({}): its max-pooled Std flags memorised (the copies of "
     "every model and snapshot) against generalised samples with AUROC {} and TPR at 1 % FPR {}", DD,
     (_dd_best_unet_std, lambda s: _det("unet", f"{_dd_best_unet_std(s)}/max/std")(s),
      lambda s: _det("unet", f"{_dd_best_unet_std(s)}/max/std", "tpr_at_1pct_fpr")(s)),
     ("`{}`".format, F3, F3)),
    ("the authors' layer by analogy with SD, gives {} and {}.", DD,
     (_det("unet", "dec1.0/max/std"), _det("unet", "dec1.0/max/std", "tpr_at_1pct_fpr")), F3),
    ("mean-pooled Std ranks the wrong way in {} of {} layers.", DD,
     (lambda s: sum(s["unet"]["detection"][f"{l}/mean/std"]["auroc"] < 0.5 for l in s["unet"]["layers"]),
      lambda s: len(s["unet"]["layers"])), _g),
    ("the denoising error reaches {}, the denoiser's step {}.", DD,
     (_det("unet", "baseline/denoising_error"), _det("unet", "baseline/displacement")), F3),
    ("among the samples of the n = 8 model at its snapshot ({} copies, {} not), the last decoder block's max-pooled "
     "Std reaches AUROC {}, the denoising error {} and the denoiser's step {}.", DD,
     (lambda s: s["unet"]["within_model"][_stage(s, "unet", 8, "snapshot")]["num_memorized"],
      lambda s: s["unet"]["within_model"][_stage(s, "unet", 8, "snapshot")]["num_other"])
     + tuple((lambda key: lambda s: _det("unet", key, within=_stage(s, "unet", 8, "snapshot"))(s))(key)
             for key in ("dec0.1/max/std", "baseline/denoising_error", "baseline/displacement")),
     (_g, _g, F3, F3, F3)),
    ("within the n = {} model after its last step ({} copies, {} not) no layer's max-pooled Std exceeds AUROC {}, and "
     "the denoising error gives {}; only the nearest-neighbour oracle separates them ({}).", DD,
     (lambda s: _n_of(_dd_transition(s)),
      lambda s: s["unet"]["within_model"][_dd_transition(s)]["num_memorized"],
      lambda s: s["unet"]["within_model"][_dd_transition(s)]["num_other"],
      lambda s: max(_det("unet", f"{l}/max/std", within=_dd_transition(s))(s) for l in s["unet"]["layers"]),
      lambda s: _det("unet", "baseline/denoising_error", within=_dd_transition(s))(s),
      lambda s: _det("unet", "baseline/nearest_distance", within=_dd_transition(s))(s)),
     (str, _g, _g, F3, F3, F3)),
    ("(AUROC at most {}: the memorisers' codes are smaller overall)", DD,
     (lambda s: max(s[m]["detection"][f"{l}/max/std"]["auroc"] for m in DD_MLPS for l in s[m]["layers"]),), F3),
    ("of the last layer separates them in all five (AUROC at least {}).", DD,
     (lambda s: min(s[m]["detection"][f"{s[m]['layers'][-1]}/max/normalized_std"]["auroc"] for m in DD_MLPS),), F3),
    ("(AUROC at least {} at σ = 0.1; L = 3: median effective rank {} against {})", DD,
     (lambda s: min(s[m]["detection"]["jacobian_rank/sigma=0.1"]["auroc"] for m in DD_MLPS),
      _det("mlp_L3", "jacobian_rank/sigma=0.1", "median_memorized"),
      _det("mlp_L3", "jacobian_rank/sigma=0.1", "median_generalized")), (F3, F1, F1)),
    ("along the copied image (cosine {} against {})", DD,
     (_det("mlp_L3", "jacobian_top_cosine/sigma=0.1", "median_memorized"),
      _det("mlp_L3", "jacobian_top_cosine/sigma=0.1", "median_generalized")), F2),
    ("median rank {} against {} at σ = 0.1, where its skip path dominates, and {} against {} at σ = 1 (AUROC {}).", DD,
     (_det("unet", "jacobian_rank/sigma=0.1", "median_memorized"),
      _det("unet", "jacobian_rank/sigma=0.1", "median_generalized"),
      _det("unet", "jacobian_rank/sigma=1", "median_memorized"),
      _det("unet", "jacobian_rank/sigma=1", "median_generalized"),
      _det("unet", "jacobian_rank/sigma=1")), (F1, F1, F1, F1, F3)),
    # hybrid_regime
    ("Training reached the predicted structure in {} of {} seeds.", HY,
     (lambda s: sum(s["structure_reached"]), lambda s: len(s["seeds"])), _g),
    ("(cosine ≥ {}) with a norm within {} % of", HY,
     ("duplicate_cosine_min", lambda s: max(abs(v - 1) for v in s["duplicate_norm_ratio_range"])), (_fixed(6), _pct(2))),
    ("singular values {}–{} of the closed form's, and f is within {} % of", HY,
     _p("block_singular_value_ratio_range", "0", "1") + ("mode_function_error_max",), (F3, F3, _pct(1))),
    ("with AUROC {} (medians {} and {}), Std(h) only with AUROC {}–{}:", HY,
     (_min("auroc/peak_energy_fraction"), "median_peak_energy_duplicates", "median_peak_energy_ordinary",
      _min("auroc/std"), _max("auroc/std")), (F3, F2, F2, F3, F3)),
]

# Digits that are not results: references to the paper, and the definitions the findings use.
FINDINGS_NOT_RESULTS = [
    r"(?:eq\.|Cor|Definition|Thm|Sec\.|App\.|Algorithm|Fig|Table)\s?\(?[A-Z]?\.?\d+(?:\.\d+)*\)?",  # paper numbering
    r"d₁/d₂ < 1/3",  # the copy criterion
    r"the paper's EDM row: 0\.998 and 0\.984",  # the paper's own numbers (Table 1)
    r"within 1 %",  # the accuracy the finite-noise limits are defined by
    r"```.*?```", r"`[^`]*`",  # commands and code
    r"!?\[[^\]]*\]\([^)]*\)",  # links and figures
]


def _normalised(text: str) -> str:
  return re.sub(r"\s+", " ", text)


def _quoted(doc: str, quotes) -> tuple[list, list]:
  """The spans of ``doc`` the quotes cover, and the quotes whose saved values ``doc`` does not hold as written."""
  spans, missing = [], []
  for template, name, values, fmt in quotes:
    summary = json.loads((SUMMARIES / name / "summary.json").read_text())
    fmts = fmt if isinstance(fmt, tuple) else (fmt,) * len(values)
    text = template.format(*(f(v(summary) if callable(v) else _at(summary, v)) for v, f in zip(values, fmts)))
    found = [m.span() for m in re.finditer(re.escape(text), doc)]
    spans += found
    if not found:
      missing.append(text)
  return spans, missing


def _uncovered_numbers(doc: str, spans) -> list[str]:
  skip = spans + [m.span() for pattern in FINDINGS_NOT_RESULTS for m in re.finditer(pattern, doc, re.S)]
  return [doc[max(0, m.start() - 30): m.end() + 10] for m in re.finditer(r"\d+(?:[.,]\d+)*", doc)
          if not any(a <= m.start() and m.end() <= b for a, b in skip)]


def test_every_number_in_the_findings_is_a_saved_result():
  doc = _normalised(FINDINGS.read_text())
  spans, missing = _quoted(doc, FINDINGS_QUOTES)
  assert not missing, ("docs/findings.md does not quote these saved results (docs/results/*/summary.json) as "
                       f"written; rerun experiments/write_findings.py or fix the text: {missing}")
  uncovered = _uncovered_numbers(doc, spans)
  assert not uncovered, f"docs/findings.md has numbers no saved result backs (add them to FINDINGS_QUOTES): {uncovered}"


def test_the_findings_check_fails_on_a_changed_or_an_unbacked_number():
  doc = _normalised(FINDINGS.read_text())
  changed = doc.replace("agree on 111 of 111 models", "agree on 110 of 111 models")
  assert changed != doc
  spans, missing = _quoted(changed, FINDINGS_QUOTES)
  assert missing and _uncovered_numbers(changed, spans)
  added = doc.replace("## hybrid_regime", "## hybrid_regime Training takes 42 s.")
  spans, missing = _quoted(added, FINDINGS_QUOTES)
  assert not missing and any("42" in u for u in _uncovered_numbers(added, spans))


def test_the_findings_have_one_section_per_experiment_with_figure_and_commands():
  doc = FINDINGS.read_text()
  sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", doc, re.S | re.M))
  assert list(sections) == list(EXPERIMENTS)
  for name, body in sections.items():
    assert "**Question.**" in body, name
    assert re.search(r"!\[[^\]]*\]\(\.\./figures/\w+\.png\)", body), f"{name}: no figure"
    assert f"experiments/{name}.py --out results/{name}" in body, f"{name}: no command"
    assert f"--results results/{name} --out figures" in body, f"{name}: no figure command"
  figures = set(re.findall(r"\(\.\./figures/(\w+\.png)\)", doc))
  assert figures >= {p.name for p in (ROOT / "figures").glob("*.png")}, "a figure of figures/ is not in the findings"


def test_write_findings_reproduces_the_tracked_diffusion_transition_summary():
  writer = _writer("write_findings")
  summary = json.loads(json.dumps(writer.diffusion_transition(SUMMARIES / "diffusion_transition")))
  assert summary == json.loads((SUMMARIES / "diffusion_transition" / "summary.json").read_text())


def test_write_findings_skips_results_of_another_size(tmp_path, monkeypatch, capsys):
  writer = _writer("write_findings")
  (tmp_path / "results" / "regime_transition").mkdir(parents=True)
  (tmp_path / "results" / "regime_transition" / "config.json").write_text('{"size": "fast"}')
  monkeypatch.setattr("sys.argv", ["write_findings.py", "--results", str(tmp_path / "results"),
                                   "--keep-sources", str(tmp_path / "kept")])
  writer.main()
  assert "results of --size fast; skipped" in capsys.readouterr().out
  assert not (tmp_path / "kept").exists()


# ------------------------------------------------------------------------------------------------
# README.md is the entry point: short, every figure in its gallery, every public name findable
# ------------------------------------------------------------------------------------------------

README = ROOT / "README.md"


def test_the_readme_is_short_and_its_lines_fit():
  text = README.read_text()
  assert len(text.encode()) <= 11_000, f"README.md has {len(text.encode())} bytes: move detail to docs/"
  long = [i + 1 for i, line in enumerate(text.splitlines()) if len(line) > 120]
  assert not long, f"README.md lines over 120 characters: {long}"


def test_the_readme_gallery_shows_every_figure_with_its_experiment():
  text = README.read_text()
  gallery = text.split("## Gallery", 1)[1].split("\n## ", 1)[0]
  shown = re.findall(r'<img src="figures/(\w+\.png)" width="\d+">', gallery)
  expected = {p.name for p in (ROOT / "figures").glob("*.png")}
  assert set(shown) == expected and len(shown) == len(expected), (sorted(shown), sorted(expected))
  cells = re.findall(r"<td[^>]*>(.*?)</td>", gallery, re.S)
  for cell in cells:
    if "<img" in cell:
      experiment = re.search(r"<code>(\w+)</code>", cell).group(1)
      assert (ROOT / "experiments" / f"{experiment}.py").exists(), experiment
  assert "experiments/E.py --out results/E" in gallery and "plot_E.py --results results/E --out figures" in gallery


def test_every_public_name_is_in_the_readme_or_the_docs():
  import dae_theory as dt

  text = README.read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
  missing = [name for name in list(dt.__all__) + ["plotting"] if f"`{name}`" not in text and f"`{name}(" not in text]
  assert not missing, f"public names no document mentions (add them to docs/guide.md's index): {missing}"


def _anchors(path: Path) -> set[str]:
  """GitHub's anchors of a Markdown file's headings."""
  return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
          for h in re.findall(r"^#+ (.*)$", path.read_text(), re.M)}


def test_the_docs_link_only_to_files_and_headings_in_the_repository():
  for path in [README] + sorted((ROOT / "docs").glob("*.md")):
    text = path.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)|^\[[\w-]+\]: (\S+)|(?:src|href)=\"([^\"]+)\"", text, re.M):
      target = next(t for t in target if t)
      if target.startswith("http"):
        continue
      file, _, anchor = target.partition("#")
      linked = path.parent / file if file else path
      assert linked.exists(), f"{path.name} links to a missing {target}"
      if anchor and linked.suffix == ".md":
        assert anchor in _anchors(linked), f"{path.name} links to a missing heading {target}"
    assert "../shared" not in text and "SPEC.md" not in text, path.name


def test_the_python_blocks_of_the_guide_and_the_paper_notes_compile():
  blocks = 0
  for name in ("guide.md", "paper.md"):
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", (ROOT / "docs" / name).read_text(), re.S)):
      assert compile(code, f"docs/{name} block {i}", "exec") is not None  # a SyntaxError names the block
      blocks += 1
  assert blocks >= 1, "expected python examples in docs/guide.md or docs/paper.md"
