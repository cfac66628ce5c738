"""The results page (v1twin.results_summary) on constructed tables with hand-known numbers: it prints exactly those
numbers with their sources, its comparison words follow the numbers, and a section exists only with its tables."""

import re
from pathlib import Path

import pandas as pd
import pytest

from v1twin import results_summary as rs
from v1twin.results_summary import PageSettings, ResultsError, Tables, results_page

from conftest import TINY_DATASET, run_snakemake

CORE = {"type": "rotation_equivariant", "channels": 4}
TRAINING = {"lr": 0.01, "max_epochs": 8}


def gaussian(**changes) -> dict:
    return {"type": "gaussian", "shifter": True, "regularizer": "none", "gamma": 0.0, "adaptive_sigma": 0.1, **changes}


VARIANTS = {
    "factorized": {"core": CORE, "readout": {"type": "factorized", "gamma": 0.01}, "training": TRAINING},
    "g0": {"core": CORE, "readout": gaussian(), "training": TRAINING},
    "g0_long": {"core": CORE, "readout": gaussian(), "training": {**TRAINING, "max_epochs": 40}},
    "g10": {"core": CORE, "readout": gaussian(regularizer="l1", gamma=10.0), "training": TRAINING},
    "g20": {"core": CORE, "readout": gaussian(regularizer="l1", gamma=20.0), "training": TRAINING},
    "adaptive": {"core": CORE, "readout": gaussian(regularizer="adaptive", gamma=2.0), "training": TRAINING},
}
DATASET = {"name": "sim", "source": "simulate", "mice": ["a", "b"], "simulation": {"neurons": 10, "n_types": 3}}


def page_settings(**changes) -> PageSettings:
    settings = dict(
        dataset=DATASET,
        variants=VARIANTS,
        study_variants=list(VARIANTS),
        pruned={},
        figure_k=3,
        controls=None,
        regularization_control_k=None,
        december=None,
        rule_stages={"training_run": "training", "data_simulate": "data"},
    )
    return PageSettings(**{**settings, **changes})


def tables_of(root: Path, **frames: tuple[str, pd.DataFrame]) -> Tables:
    """Tables named as the keywords, each (path under root, rows) written as CSV."""
    paths = {}
    for name, (relative, frame) in frames.items():
        paths[name] = root / relative
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(paths[name], index=False)
    return Tables(paths, root)


def performance_rows(test: dict[str, list[float]]) -> tuple[str, pd.DataFrame]:
    """Mean rows with the given test correlations per seed (fraction oracle = test + 0.3), and a per-mouse row of
    nonsense that the page must not read."""
    rows = []
    for variant, values in test.items():
        for seed, value in enumerate(values, start=1):
            rows.append(
                dict(
                    variant=variant,
                    seed=seed,
                    mouse="mean",
                    single_trial_correlation=value,
                    fraction_oracle=value + 0.3,
                    oracle=0.6,
                    ground_truth_correlation=value + 0.1,
                )
            )
            rows.append(
                dict(
                    variant=variant,
                    seed=seed,
                    mouse="a",
                    single_trial_correlation=9.0,
                    fraction_oracle=9.0,
                    oracle=9.0,
                    ground_truth_correlation=9.0,
                )
            )
    return "tables/performance.csv", pd.DataFrame(rows)


def test_performance_rows_are_mean_and_sd_over_seeds_with_their_source(tmp_path):
    tables = tables_of(tmp_path, performance=performance_rows({"g0": [0.50, 0.60], "factorized": [0.40, 0.42]}))
    text = "\n".join(rs.performance(tables, page_settings()))
    assert "| g0 | Gaussian readout, no regularization, max 8 epochs | 0.550 ± 0.071 | 0.850 ± 0.071 | 0.650 |" in text
    assert "| factorized | factorized readout, γ 0.01, max 8 epochs | 0.410 ± 0.014 | 0.710 ± 0.014 | 0.510 |" in text
    assert "the mean oracle is 0.60" in text and "2 seeds per variant" in text
    assert "9.0" not in text
    assert "[tables/performance.csv]" in text


@pytest.mark.parametrize(("l1", "verb"), [(0.45, "lowers"), (0.65, "raises"), (0.5504, "leaves unchanged")])
def test_the_comparison_verb_follows_the_numbers_as_printed(tmp_path, l1, verb):
    test = {"g0": [0.55], "g10": [0.30], "g20": [l1], "factorized": [0.41], "g0_long": [0.70], "adaptive": [0.58]}
    text = "\n".join(rs.performance(tables_of(tmp_path, performance=performance_rows(test)), page_settings()))
    assert f"- Uniform L1 γ 20 instead of none {verb} the test correlation: {l1:.3f} (g20) vs 0.550 (g0)." in text
    assert "(g10)" not in text  # the strongest L1 only
    assert (
        "- The Gaussian readout (no regularization) instead of the factorized one raises the test correlation: "
        "0.550 (g0) vs 0.410 (factorized)."
    ) in text
    assert "- Max 40 instead of 8 epochs raises the test correlation: 0.700 (g0_long) vs 0.550 (g0)." in text
    assert "- The adaptive regularizer (γ 2) instead of none raises the test correlation: 0.580 (adaptive)" in text
    adaptive_vs_l1 = "raises" if 0.58 > l1 else "lowers"
    assert f"instead of uniform L1 γ 20 {adaptive_vs_l1} the test correlation: 0.580 (adaptive) vs {l1:.3f}" in text


def test_only_models_that_differ_in_one_setting_are_compared():
    cnn = {"core": {"type": "cnn"}, "readout": gaussian(regularizer="adaptive", gamma=2.0), "training": TRAINING}
    settings = page_settings(variants={**VARIANTS, "cnn_adaptive": cnn})
    pairs = {(model, reference) for _, model, reference in rs.contrasts(settings, list(settings.variants))}
    assert pairs == {("g20", "g0"), ("g0", "factorized"), ("adaptive", "g0"), ("adaptive", "g20"), ("g0_long", "g0")}


def consistency_tables(root: Path, ari: dict[str, float]) -> Tables:
    across = pd.DataFrame(
        [
            dict(variant=v, method=m, k=k, ari_mean=value if k == 3 else 0.99, ari_sd=0.05 if m == "kmeans" else None)
            for v, value in ari.items()
            for m in ("kmeans", "gmm")
            for k in (2, 3)
        ]
    )
    planted = pd.DataFrame(
        [
            dict(variant=v, seed=s, method="kmeans", k=k, ari=0.30 + 0.1 * s if k == 3 else 0.1)
            for v in ari
            for s in (1, 2)
            for k in (2, 3)
        ]
    )
    separability = pd.DataFrame(
        [dict(variant=v, seed=s, decoding_accuracy=0.8 + 0.1 * s, chance_accuracy=0.34) for v in ari for s in (1, 2)]
    )
    return tables_of(
        root,
        across_seeds=("consistency/clustering_across_seeds.csv", across),
        planted=("consistency/planted_types.csv", planted),
        separability=("consistency/planted_type_separability.csv", separability),
    )


@pytest.mark.parametrize(("g20", "verb"), [(0.10, "lowers"), (0.60, "raises")])
def test_consistency_at_the_figure_k_with_its_sources_and_computed_words(tmp_path, g20, verb):
    text = "\n".join(rs.consistency(consistency_tables(tmp_path, {"g0": 0.40, "g20": g20}), page_settings()))
    assert "| g0 | 0.40 (0.05) | 0.40 | 0.45 ± 0.07 | – | 0.95 (0.34) |" in text  # no GMM planted rows
    assert f"- Uniform L1 γ 20 instead of none {verb} the k-means ARI across seeds at K = 3: {g20:.2f} (g20)" in text
    assert "highest at the planted K = 3 for 2 of 2 models (g0, g20)." in text
    for source in (
        "consistency/clustering_across_seeds.csv",
        "consistency/planted_types.csv",
        "consistency/planted_type_separability.csv",
    ):
        assert source in text


@pytest.mark.parametrize(("continuum", "word"), [(0.20, "above"), (0.90, "below")])
def test_discrete_vs_continuum_words_and_peaks_come_from_the_table(tmp_path, continuum, word):
    rows = [
        dict(variant="disc", method=m, k=k, ari_mean={2: 0.5, 3: 0.8, 4: 0.6}[k]) for m in rs.METHODS for k in (2, 3, 4)
    ]
    rows += [
        dict(variant="cont", method=m, k=k, ari_mean=continuum if k == 3 else 0.3)
        for m in rs.METHODS
        for k in (2, 3, 4)
    ]
    tables = tables_of(tmp_path, across_seeds=("consistency/clustering_across_seeds.csv", pd.DataFrame(rows)))
    settings = page_settings(controls={"discrete": "disc", "continuum": "cont", "n_types": 3})
    text = "\n".join(rs.discreteness(tables, settings))
    assert "| discrete (disc) | k-means | 0.50 | 0.80 | 0.60 |" in text
    assert (
        f"- GMM: the discrete population's ARI across seeds is {word} the continuum's at the planted K = 3 "
        f"(0.80 vs {continuum:.2f}); it peaks at K = 3 (0.80)" in text
    )
    assert rs.discreteness(tables, page_settings()) == []  # no controls configured: no section


def identifiability_rows(gmm_peaks: list[bool]) -> pd.DataFrame:
    """Three populations (separations 8 and 2, the continuum): k-means peaks down to 8, GMM as given."""
    rows = []
    for index, (population, separation) in enumerate((("8", 8.0), ("2", 2.0), ("continuum", None))):
        for method, peaks in (("kmeans", [True, False, False][index]), ("gmm", gmm_peaks[index])):
            rows.append(dict(population=population, separation=separation, method=method, true_k=6, n_seeds=2,
                             ari_truth_mean=0.9 - 0.4 * index, ari_truth_sd=0.05, ari_seeds_at_true_k=0.7 - 0.3 * index,
                             peak_k=6 if peaks else 2, prominence=0.1 if peaks else -0.1, peaks_at_true_k=peaks))
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("gmm_peaks", "gmm_line"),
    [
        ([True, True, False], "- GMM: ARI across seeds peaks at the true K = 6 at every tested separation, down to "
                              "2.0 within-type spreads."),
        ([False, True, False], "- GMM: ARI across seeds does not peak at the true K = 6 even at the largest "
                               "separation"),
        ([True, True, True], "- GMM: ARI across seeds peaks at the true K = 6 at every tested separation, down to "
                             "2.0 within-type spreads."),
    ],
)
def test_identifiability_rows_and_the_detection_limit_come_from_the_table(tmp_path, gmm_peaks, gmm_line):
    tables = tables_of(tmp_path, identifiability=("consistency/identifiability.csv", identifiability_rows(gmm_peaks)))
    text = "\n".join(rs.identifiability(tables, page_settings()))
    assert "| 8.0 | 0.90 (0.05) | 0.70, peaks |" in text
    assert "| continuum | 0.10 (0.05) | 0.10, no peak (max at K = 2) |" in text
    assert ("- k-means: ARI across seeds peaks at the true K = 6 down to a separation of 8.0 within-type spreads "
            "and not at 2.0, the next tested: with this model and data size, types separated by 2.0 within-type "
            "spreads or less are not detectable by consistency." in text)
    assert gmm_line in text and "[consistency/identifiability.csv]" in text
    # a method that recovers the planted types (ARI >= 0.5) without a peak there: the papers' inference fails
    assert "- k-means recovers the planted types (ARI with them ≥ 0.5) at separation 2.0 (ARI 0.50), yet" in text
    gmm_missed = "- GMM recovers the planted types (ARI with them ≥ 0.5) at separation 8.0 (ARI 0.90), yet"
    assert (gmm_missed in text) == (not gmm_peaks[0])
    # a peak on the continuum, or where the clusters are not the types, is named as such
    spurious = ("- GMM: ARI across seeds peaks at the true K at the continuum, where its clusters are not the planted "
                "types: a peak is not evidence of types either, at this scale.")
    assert (spurious in text) == gmm_peaks[2]
    assert "- k-means: ARI across seeds peaks at the true K at" not in text  # its one peak: where it finds the types
    unrecovered = identifiability_rows(gmm_peaks)
    unrecovered.loc[unrecovered["separation"] == 8.0, "ari_truth_mean"] = 0.3
    text = "\n".join(rs.identifiability(tables_of(tmp_path, identifiability=(
        "consistency/identifiability.csv", unrecovered)), page_settings()))
    assert "- k-means: ARI across seeds peaks at the true K at separation 8.0 (ARI with the types 0.30), where" in text
    retina = {"label": "retina", "ari": 0.65, "source": "D25 Fig. 3A"}
    text = "\n".join(rs.identifiability(tables, page_settings(reference_levels=(retina,))))
    assert ("- retina (D25 Fig. 3A): ARI across seeds 0.65; reached here by k-means at separation ≥ 8.0 and GMM at "
            "separation ≥ 8.0." in text)
    assert rs.identifiability(tables_of(tmp_path), page_settings()) == []  # not configured: no section


def control_tables(root: Path, silhouette_strong: float) -> Tables:
    summary = pd.DataFrame(
        [
            dict(
                row=row,
                variant=f"{row}-{g}",
                gamma=g,
                k=k,
                test_correlation=0.6,
                sparsity=0.1 * g,
                silhouette=(silhouette_strong if g == 20 else 0.20) if k == 6 else 0.9,
                null_gaussian_mean=0.07,
                null_shuffled_mean=0.03,
                ari_kmeans_mean=0.8 - 0.03 * g,
                ari_gmm_mean=0.7,
                n_collapsed=int(g == 20),
                ari_kmeans_ok_mean=0.5,
                ari_gmm_ok_mean=0.6,
            )
            for row in ("discrete", "continuum")
            for g in (0, 20)
            for k in (4, 6)
        ]
    )
    runs = pd.DataFrame(
        [
            dict(
                row="discrete",
                variant="discrete-20",
                gamma=20.0,
                seed=2,
                best_val_correlation=0.12,
                collapsed=True,
                k=6,
            ),
            dict(
                row="discrete",
                variant="discrete-20",
                gamma=20.0,
                seed=1,
                best_val_correlation=0.5,
                collapsed=False,
                k=6,
            ),
        ]
    )
    return tables_of(
        root,
        regularization_control=("tables/regularization_control.csv", summary),
        regularization_control_runs=("tables/regularization_control_runs.csv", runs),
    )


@pytest.mark.parametrize(("strong", "verb"), [(0.29, "rises"), (0.11, "falls")])
def test_regularization_control_rows_words_and_collapsed_runs(tmp_path, strong, verb):
    text = "\n".join(
        rs.regularization_control(control_tables(tmp_path, strong), page_settings(regularization_control_k=6))
    )
    assert (
        f"| discrete | 20 | 0.60 | 2.00 | {strong:.2f} (0.07 / 0.03) | 0.20 / 0.70 (0.50 / 0.60 without the 1 "
        "collapsed) |"
    ) in text
    assert f"- continuum: the silhouette {verb} (0.20 at γ 0 → {strong:.2f} at γ 20)." in text
    assert "- discrete: the k-means ARI across seeds falls (0.80 at γ 0 → 0.20 at γ 20)." in text
    assert "- 4 of 4 population × γ settings have a silhouette above both nulls." in text
    assert "discrete γ 20 seed 2 (best validation correlation 0.12)" in text and "seed 1 (" not in text
    assert "[tables/regularization_control_runs.csv]" in text


def sweep_rows(variant: str, role: str, gamma: float, ari: tuple[float, float], n_collapsed: int) -> list[dict]:
    """A sweep table's rows of one point: k-means ARI ari[0] and GMM ari[1] at K 3, nonsense at K 4."""
    return [
        dict(
            sweep="s",
            variant=variant,
            role=role,
            method=method,
            k=k,
            n_pairs=1,
            ari_mean=value if k == 3 else 9.0,
            ari_sd=float("nan"),
            **{"readout.gamma": gamma, "readout.regularizer": "adaptive"},
            fraction_oracle_mean=0.8,
            fraction_oracle_sd=0.05,
            n_seeds=2,
            n_collapsed=n_collapsed,
        )
        for method, value in zip(("kmeans", "gmm"), ari)
        for k in (3, 4)
    ]


def test_sweeps_list_every_point_at_the_figure_k_and_name_those_with_a_collapsed_seed(tmp_path):
    frame = pd.DataFrame(
        sweep_rows("base", "base", 2.0, (0.7, 0.6), 0) + sweep_rows("s-20", "point", 20.0, (0.1, 0.2), 1)
    )
    tables = tables_of(tmp_path, sweeps=("consistency/sweeps.csv", frame))
    text = "\n".join(rs.sweeps(tables, page_settings()))
    setting = "readout.gamma 2, readout.regularizer adaptive (base: base)"
    assert f"| s | {setting} | 0.70 / 0.60 | 0.80 (0.05) | 0 of 2 |" in text
    assert "| s | readout.gamma 20, readout.regularizer adaptive | 0.10 / 0.20 | 0.80 (0.05) | 1 of 2 |" in text
    assert "Points with a collapsed seed: s-20 (1 of 2)." in text and "[consistency/sweeps.csv]" in text
    frame["n_collapsed"] = 0
    tables = tables_of(tmp_path, sweeps=("consistency/sweeps.csv", frame))
    assert "No sweep point has a collapsed seed." in "\n".join(rs.sweeps(tables, page_settings()))
    assert rs.sweeps(tables_of(tmp_path), page_settings()) == []  # no sweeps tabled: no section


def pruning_table(extra: bool) -> tuple[str, pd.DataFrame]:
    rows = []
    for seed, (first, second) in ((1, (0.50, 0.52)), (2, (0.60, 0.62))):
        for step, value in ((0, first), (1, second), (2, 0.1)):
            row = dict(
                variant="g20",
                seed=seed,
                step=step,
                channels=4 - step,
                removed_feature=step - 1,
                val_correlation=value,
                fraction_pruned=step / 4,
                selected=step == 1,
            )
            rows.append({**row, "control_val_correlation": 0.40} if extra else row)
    return "tables/pruning.csv", pd.DataFrame(rows)


@pytest.mark.parametrize("extra", [False, True])
def test_pruning_reports_each_measure_of_the_curves_and_an_added_column_slots_in(tmp_path, extra):
    text = "\n".join(rs.pruning(tables_of(tmp_path, pruning=pruning_table(extra)), page_settings()))
    assert "- g20: 1 of 4 core features removed (R24 A.5)." in text
    assert "  - val correlation (mean over seeds) rises (0.550 trained → 0.570 pruned)." in text
    assert ("control val correlation (mean over seeds) stays the same (0.400 trained → 0.400 pruned)" in text) == extra
    assert "[tables/pruning.csv]" in text


@pytest.mark.parametrize(("control", "word"), [(0.50, "above"), (0.70, "below")])
def test_the_pruned_model_against_its_matched_budget_control(tmp_path, control, word):
    models = pd.DataFrame(
        [
            dict(
                variant="g20",
                seed=seed,
                kind=kind,
                model=model,
                channels=channels,
                fine_tune_epochs=epochs,
                single_trial_correlation=value + 0.1 * (seed - 1),
                fraction_oracle=value,
            )
            for seed in (1, 2)
            for kind, model, channels, epochs, value in (
                ("trained", "g20", 4, 0, 0.55),
                ("pruned", "g20-pruned", 3, 2 + seed, 0.60),
                ("finetuned", "g20-finetuned", 4, 3, control),
            )
        ]
    )
    across = pd.DataFrame(
        [
            dict(variant=v, method=m, k=3, ari_mean=a)
            for v, a in (("g20-pruned", 0.11), ("g20-finetuned", 0.2))
            for m in rs.METHODS
        ]
    )
    tables = tables_of(
        tmp_path,
        pruning=pruning_table(extra=False),
        pruning_models=("tables/pruning_models.csv", models),
        across_seeds=("consistency/clustering_across_seeds.csv", across),
    )
    text = "\n".join(rs.pruning(tables, page_settings()))
    assert "| g20-pruned | 3 | 3–4 | 0.650 ± 0.071 | 0.600 ± 0.000 | 0.11 | 0.11 |" in text
    assert "| g20 | 4 | 0 | 0.600 ± 0.071 | 0.550 ± 0.000 | – | – |" in text
    assert (
        f"- g20: the pruned model's fraction oracle is {word} its matched-budget control's (0.600 vs {control:.3f})."
        in text
    )
    assert "- g20: the pruned model's k-means ARI across seeds is below its control's (0.11 vs 0.20)." in text
    assert "[tables/pruning_models.csv; consistency/clustering_across_seeds.csv]" in text


def december_tables(root: Path, gmm: float) -> Tables:
    rows = []
    for k, (ours, start) in {2: (0.30, 0.20), 3: (0.25, 0.25)}.items():
        for ratio in (0.1, 1.0):
            rows.append(
                dict(
                    variant="dec",
                    method="december",
                    k=k,
                    beta_ratio=ratio,
                    pe=1.0,
                    lr=0.01,
                    ari_mean=ours,
                    ari_sd=0.05,
                    test_correlation=0.6,
                )
            )
            rows.append(
                dict(
                    variant="dec",
                    method="december_init",
                    k=k,
                    beta_ratio=ratio,
                    pe=1.0,
                    lr=0.01,
                    ari_mean=start,
                    ari_sd=None,
                    test_correlation=None,
                )
            )
        rows.append(dict(variant="dec", method="gmm_converged", k=k, ari_mean=gmm, ari_sd=0.1))
        rows.append(dict(variant="dec", method="kmeans_converged", k=k, ari_mean=0.4, ari_sd=0.1))
    return tables_of(root, december_vs_baseline=("tables/december_vs_baseline.csv", pd.DataFrame(rows)))


@pytest.mark.parametrize(("gmm", "word"), [(0.61, "more"), (0.12, "less")])
def test_december_against_its_start_and_the_converged_gmm(tmp_path, gmm, word):
    settings = page_settings(december={"variant": "dec", "main": {"pe": 1, "beta_ratio": 1.0, "lr": 0.01}, "k": 3})
    text = "\n".join(rs.december(december_tables(tmp_path, gmm), settings))
    assert "| DECEMber, β ratio 0.1 | 0.30 (0.05) | 0.25 (0.05) |" in text
    assert "| its k-means start (the PE-1 model, no loss) | 0.20 | 0.25 |" in text
    assert f"| GMM on the converged models | {gmm:.2f} (0.10) | {gmm:.2f} (0.10) |" in text
    assert "higher in 2, lower in 0 and equal (as printed) in 2 of 4 settings" in text
    assert (
        f"the GMM on the converged models is {word} consistent across seeds than DECEMber at β ratio 1 "
        f"({gmm:.2f} vs 0.25)" in text
    )
    assert rs.december(december_tables(tmp_path, gmm), page_settings()) == []  # no december section in the config


@pytest.mark.parametrize("extra", [False, True])
def test_ground_truth_check_shows_every_column_an_added_one_included(tmp_path, extra):
    check = pd.DataFrame(
        dict(
            variant=["g0", "g0", "g20"],
            seed=[1, 2, 1],
            phase_invariance_complex=[0.8, 0.9, 0.7],
            complex_more_invariant=[True, False, True],
        )
    )
    if extra:
        check["cross_orientation_more_inhibited"] = [True, True, False]
    tables = tables_of(tmp_path, ground_truth_check=("insilico/ground_truth_check.csv", check))
    text = "\n".join(rs.insilico(tables, page_settings()))
    assert "| phase invariance complex | 0.85 | 0.70 |" in text
    assert "| complex more invariant | 1/2 | 1/1 |" in text
    assert "complex more invariant: 2 of 3 rows" in text
    assert ("| cross orientation more inhibited | 2/2 | 0/1 |" in text) == extra
    assert "[insilico/ground_truth_check.csv]" in text


@pytest.mark.parametrize(("core", "word"), [(0.73, "above"), (0.61, "below")])
def test_transfer_tables_and_words_with_several_seeds(tmp_path, core, word):
    rows = [
        dict(experiment="across", condition="direct", n_images=250, n_neurons=500, fraction_oracle=v, seed=s)
        for s, v in ((1, 0.6), (2, 0.8))
    ]
    rows += [
        dict(experiment="across", condition="core: m1", n_images=250, n_neurons=500, fraction_oracle=core, seed=1),
        dict(
            experiment="across",
            condition="core: m1, no position network",
            n_images=250,
            n_neurons=500,
            fraction_oracle=0.5,
            seed=1,
        ),
    ]
    text = "\n".join(
        rs.transfer(tables_of(tmp_path, transfer=("tables/transfer.csv", pd.DataFrame(rows))), page_settings())
    )
    assert "| direct | 0.70 ± 0.14 |" in text and f"| core: m1 | {core:.2f} |" in text
    assert f"- across, 250 images: core: m1 is {word} direct ({core:.2f} vs 0.70)." in text
    assert f"- across, 250 images: core: m1, no position network is below core: m1 (0.50 vs {core:.2f})." in text


def write_benchmark(folder: Path, rule: str, name: str, seconds: float) -> None:
    path = folder / rule / f"{name}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t10.0\n")


def test_wall_time_sums_the_benchmark_files_per_stage(tmp_path):
    benchmarks = tmp_path / "benchmarks"
    for name, seconds in (("a", 60.0), ("b", 120.0)):
        write_benchmark(benchmarks, "training_run", name, seconds)
    write_benchmark(benchmarks, "data_simulate", "m1", 30.0)
    text = "\n".join(rs.wall_time(benchmarks, tmp_path, page_settings()))
    assert "| training | 2 | 3.0 | 90 | benchmarks/training_run |" in text
    assert "| data | 1 | 0.5 | 30 | benchmarks/data_simulate |" in text
    assert "| **total** | 3 | 3.5 | 70 |  |" in text
    (benchmarks / "data_simulate" / "m1.tsv").write_text("max_rss\n10\n")
    with pytest.raises(ResultsError, match="m1.tsv"):
        rs.wall_time(benchmarks, tmp_path, page_settings())


def test_sections_exist_only_with_their_tables_and_the_page_names_its_sources(tmp_path):
    empty = results_page(Tables({}, tmp_path), page_settings(), tmp_path / "benchmarks")
    assert empty.splitlines()[0].startswith("*Generated by the workflow's rule `results_summary`")
    assert re.findall(r"^#+ .*", empty, flags=re.M) == ["# Measured results", "## Sources"]
    tables = tables_of(tmp_path, performance=performance_rows({"g0": [0.5, 0.6]}), pruning=pruning_table(extra=False))
    page = results_page(tables, page_settings(), tmp_path / "benchmarks")
    assert re.findall(r"^#+ .*", page, flags=re.M) == [
        "# Measured results",
        "## Models and training",
        "## Channel pruning",
        "## Sources",
    ]
    assert page.endswith("- `tables/performance.csv`\n- `tables/pruning.csv`\n")
    assert "**R24**" in page and "**D25**" in page


def test_a_table_without_a_needed_column_is_refused_with_its_file_named(tmp_path):
    path, frame = performance_rows({"g0": [0.5]})
    tables = tables_of(tmp_path, performance=(path, frame.drop(columns="fraction_oracle")))
    with pytest.raises(ResultsError, match=r"performance.csv lacks column\(s\) \['fraction_oracle'\]"):
        rs.performance(tables, page_settings())


def test_numbers_round_as_printed_and_never_show_minus_zero():
    assert rs.fmt(-0.001) == "0.00" and rs.fmt(-0.005, 3) == "-0.005" and rs.fmt(None) == rs.MISSING
    assert rs.compare(0.1234, 0.1229, rs.ABOVE) == "equal to"  # both print as 0.12
    assert rs.mean_sd(pd.Series([0.5, float("nan")])) == "0.50"


# Every table the tiny config reports that the page reads (no pruning, no discrete-vs-continuum controls there).
TINY_TABLES = {
    "tables/performance.csv",
    "tables/read_positions.csv",
    "consistency/clustering_across_seeds.csv",
    "consistency/kmeans_reruns.csv",
    "consistency/response_correlation.csv",
    "consistency/planted_types.csv",
    "consistency/planted_type_separability.csv",
    "consistency/identifiability.csv",
    "consistency/sweeps.csv",
    "tables/regularization_control.csv",
    "tables/regularization_control_runs.csv",
    "tables/december_vs_baseline.csv",
    "tables/december_runs.csv",
    "consistency/december_planted_types.csv",
    "consistency/december_confusion.csv",
    "tables/insilico_consistency.csv",
    "insilico/ground_truth_check.csv",
    "tables/transfer.csv",
}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_rule_writes_the_page_from_the_tiny_runs_tables(tiny_workdir):
    # the page waits for every table and figure: the whole tiny DAG, unless an earlier test built it
    run_snakemake(tiny_workdir, f"results/{TINY_DATASET}/results.md", timeout=1500)
    results = tiny_workdir / "results" / TINY_DATASET
    page = (results / "results.md").read_text()
    assert page.splitlines()[0].startswith("*Generated by the workflow's rule `results_summary`")
    body, listed = page.split("## Sources")
    used = set(re.findall(r"^- `(.+)`$", listed, flags=re.M))
    assert used == TINY_TABLES
    cited = {name for group in re.findall(r"\[([^\]\n]+)\]", body) for name in group.split("; ")}
    assert cited == used | {"config: dataset"}  # every table read is cited where its numbers are
    assert "## Channel pruning" not in page and "### Discrete vs continuum" not in page
    runs = pd.read_csv(results / "tables" / "performance.csv").query("mouse == 'mean' and variant == 'gaussian_g0'")
    assert f"| {rs.mean_sd(runs['single_trial_correlation'], 3)} |" in body
    seconds = sum(pd.read_csv(path, sep="\t")["s"].sum() for path in (results / "benchmarks").rglob("*.tsv"))
    assert f"| **total** | {len(list((results / 'benchmarks').rglob('*.tsv')))} | {seconds / 60:.1f} |" in body


def test_dynamic_models_rows_from_performance_across_seeds_and_planted_tables(tmp_path):
    video = {"vid_3d": {"core": {"type": "rotation_equivariant_3d"},
                        "readout": {"type": "gaussian", "regularizer": "l1", "gamma": 80.0}, "training": {}},
             "vid_f0": {"core": {"type": "rotation_equivariant_factorized"},
                        "readout": {"type": "gaussian", "regularizer": "l1", "gamma": 0.0}, "training": {}}}
    across = pd.DataFrame([{"variant": v, "method": m, "k": 3, "ari_mean": ari, "ari_sd": float("nan")}
                           for v, ari in (("vid_3d", 0.7), ("vid_f0", 0.2)) for m in ("kmeans", "gmm")])
    planted = pd.DataFrame([{"variant": v, "seed": seed, "method": m, "k": k, "ari": ari + 0.1 * seed}
                            for v, ari in (("vid_3d", 0.5), ("vid_f0", 0.1)) for seed in (1, 2)
                            for m in ("kmeans", "gmm") for k in (3, 6)])
    performance = performance_rows({"vid_3d": [0.50, 0.60], "vid_f0": [0.40, 0.44], "g0": [0.9]})
    tables = tables_of(tmp_path, performance=performance,
                       across_seeds=("consistency/clustering_across_seeds.csv", across),
                       planted=("consistency/planted_types.csv", planted))
    text = "\n".join(rs.dynamic(tables, page_settings(video_variants=video, video_types=6)))
    assert "## Dynamic models" in text and "2 seeds each" in text
    assert ("| vid_3d | 3D core, Gaussian readout, L1 γ 80 | 0.550 ± 0.071 | 0.850 ± 0.071 | 0.650 | 0.70 | 0.70 | "
            "0.65 ± 0.07 | 0.65 ± 0.07 |") in text
    assert "| vid_f0 | factorized core, Gaussian readout, no regularization | 0.420 ± 0.028 |" in text
    assert "planted-type ARI, k-means (K = 6)" in text and "| g0 |" not in text  # static models have their sections
    assert "[tables/performance.csv; consistency/clustering_across_seeds.csv; consistency/planted_types.csv]" in text
    assert rs.dynamic(tables, page_settings()) == []  # no video models, no section
