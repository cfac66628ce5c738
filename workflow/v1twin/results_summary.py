"""The results page: what a run measured, written from its result tables so the text cannot go stale.

Every number on the page is read from a table (or a job's `benchmark:` file) and carries its source, a
path under results/<dataset>/ in brackets. A section exists only when its tables do (its stage is
configured; ground-truth tables only on simulated data). Words that compare ("raises", "above") are chosen
by comparing the numbers as printed, never written in advance. Columns are read by name; an optional
column that a table lacks leaves its line out, and columns a stage adds later show up in the generic tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from v1twin.clustering.responses import ALL_MICE
from v1twin.files import read_table
from v1twin.identifiability.tables import SUMMARY_COLUMNS as IDENTIFIABILITY_COLUMNS
from v1twin.identifiability.tables import detection_limit, methods_of
from v1twin.plots.training import MEAN_ROW

PAPERS = [
    "- **R24**: Turishcheva, Burg, Sinz & Ecker (2024), *Reproducibility of predictive networks for mouse visual "
    "cortex* (arXiv:2406.12625).",
    "- **L25**: Turishcheva et al. (2025), *The landscape of functional neuron embeddings depends on "
    "regularization* (CCN).",
    "- **D25**: *Learning to cluster neuronal function* (DECEMber, 2025).",
    "- **L21**: Lurz et al. (2021), *Generalization in data-driven models of primary visual cortex* (ICLR).",
]
METHODS = {"kmeans": "k-means", "gmm": "GMM"}
GENERATOR = "the workflow's rule `results_summary` (`workflow/v1twin/results_summary.py`)"
MISSING = "–"


class ResultsError(ValueError):
    """A result table or benchmark file the page cannot be written from."""


@dataclass(frozen=True)
class PageSettings:
    """What the page needs from the resolved config (plain data, as the rule passes it).

    `variants`: every analysed model -> its variant's settings (core, readout, training; a pruned model
    has those of its variant); `pruned`: pruned model -> its variant; `controls`: D25's test
    ({discrete, continuum, n_types}) or None; `december`: {variant, main: {pe, beta_ratio, lr}, k} or None;
    `rule_stages`: rule name -> its stage (rule file), to sum the benchmark files per stage; `video_variants`:
    the video models of L25 Fig. 4 (landscapes.video_rows) -> their settings, and `video_types` the number of
    planted types of their simulated mice (None for real mice).
    """

    dataset: dict
    variants: dict[str, dict]
    study_variants: list[str]
    pruned: dict[str, str]
    figure_k: int
    controls: dict | None
    regularization_control_k: int | None
    december: dict | None
    rule_stages: dict[str, str]
    reference_levels: tuple[dict, ...] = ()  # identifiability.reference_levels: real-data ARI across seeds
    video_variants: dict[str, dict] = field(default_factory=dict)
    video_types: int | None = None


def relative(path: str | Path, root: Path) -> str:
    """How the page names a file: by its path under the run's results folder."""
    path = Path(path)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


class Tables:
    """The result tables by name; each is read once, and the page cites it by its path under `root`."""

    def __init__(self, paths: dict[str, str | Path], root: str | Path):
        self.paths = {name: Path(path) for name, path in paths.items()}
        self.root = Path(root)
        self._frames: dict[str, pd.DataFrame] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.paths

    def read(self, name: str, columns: Sequence[str]) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = read_table(self.paths[name], (), ResultsError)
        frame = self._frames[name]
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise ResultsError(f"{self.paths[name]} lacks column(s) {missing}; it has {list(frame.columns)}")
        return frame

    def source(self, name: str) -> str:
        return relative(self.paths[name], self.root)

    def cite(self, *names: str) -> str:
        return "[" + "; ".join(self.source(name) for name in names) + "]"

    def used(self) -> list[str]:
        return [self.source(name) for name in self._frames]


# ----------------------------------------------------------------------------------------------
# Numbers, comparisons and markdown


def fmt(value, digits: int = 2) -> str:
    """`value` with `digits` decimals ('–' if undefined; never '-0.00')."""
    if value is None or pd.isna(value):
        return MISSING
    text = f"{float(value):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def mean_sd(values: pd.Series, digits: int = 2) -> str:
    """'mean ± sd' (sample sd) of the defined values; one value alone."""
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return MISSING
    if len(values) == 1:
        return fmt(values.iloc[0], digits)
    return f"{fmt(values.mean(), digits)} ± {fmt(values.std(), digits)}"


def mean_paren_sd(mean, sd, digits: int = 2) -> str:
    """'mean (sd)', or the mean alone where the sd is undefined (one seed pair)."""
    return fmt(mean, digits) if pd.isna(sd) else f"{fmt(mean, digits)} ({fmt(sd, digits)})"


def compare(a, b, words: tuple[str, str, str], digits: int = 2) -> str:
    """words[0] if a > b, words[1] if a < b, words[2] if they are equal as printed with `digits`."""
    a, b = float(fmt(a, digits)), float(fmt(b, digits))
    return words[0] if a > b else words[1] if a < b else words[2]


RAISES = ("raises", "lowers", "leaves unchanged")
ABOVE = ("above", "below", "equal to")
RISES = ("rises", "falls", "stays the same")


def change(before, after, digits: int = 2, labels: tuple[str, str] = ("", "")) -> str:
    """'rises (a → b)', the verb chosen by the two numbers as printed; `labels` follow a and b."""
    verb = compare(after, before, RISES, digits)
    return f"{verb} ({fmt(before, digits)}{labels[0]} → {fmt(after, digits)}{labels[1]})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def section(title: str, *blocks: list[str]) -> list[str]:
    lines = [title, ""]
    for block in blocks:
        if block:
            lines += [*block, ""]
    return lines


# ----------------------------------------------------------------------------------------------
# Variants: what each is, and the pairs that differ in one setting only


def _unregularized(readout: dict) -> bool:
    return readout["type"] == "gaussian" and (
        readout.get("regularizer") == "none" or (readout.get("regularizer") == "l1" and readout["gamma"] == 0)
    )


def describe(settings: PageSettings, model: str) -> str:
    """A model in words: its readout and regularizer, its epoch cap (and its core where the variants differ)."""
    if model in settings.pruned:
        return f"{describe(settings, settings.pruned[model])}, pruned"
    spec = settings.variants[model]
    cores = {settings.variants[v]["core"]["type"] for v in settings.study_variants}
    core = f"{spec['core']['type'].replace('_', '-')} core, " if len(cores) > 1 else ""
    return f"{core}{_readout_text(spec['readout'])}, max {spec['training']['max_epochs']} epochs"


def _readout_text(readout: dict) -> str:
    if readout["type"] == "factorized":
        return f"factorized readout, γ {readout['gamma']:g}"
    if _unregularized(readout):
        return "Gaussian readout, no regularization"
    if readout["regularizer"] == "l1":
        return f"Gaussian readout, L1 γ {readout['gamma']:g}"
    return f"Gaussian readout, adaptive γ {readout['gamma']:g}, σ {readout['adaptive_sigma']:g}"


REGULARIZER_KEYS = ("regularizer", "gamma", "adaptive_sigma")


def _without(spec: dict, section_name: str, keys: tuple[str, ...]) -> dict:
    return {**spec, section_name: {k: v for k, v in spec[section_name].items() if k not in keys}}


def _same_but(a: dict, b: dict, section_name: str, keys: tuple[str, ...] | None) -> bool:
    """a and b agree in every setting except `keys` of `section_name` (the whole section when None)."""
    if keys is None:
        return {k: v for k, v in a.items() if k != section_name} == {k: v for k, v in b.items() if k != section_name}
    return _without(a, section_name, keys) == _without(b, section_name, keys)


def contrasts(settings: PageSettings, models: list[str]) -> list[tuple[str, str, str]]:
    """(what changes, model, reference) for the one-setting comparisons among `models` against each unregularized
    Gaussian model: the factorized readout, the strongest uniform L1, the adaptive regularizer, longer training."""
    specs = {m: settings.variants[m] for m in models if m not in settings.pruned}
    plain = [m for m, spec in specs.items() if _unregularized(spec["readout"])]
    pairs = []
    for reference in plain:
        strongest = _strongest_l1(specs, reference)
        if strongest:
            gamma = specs[strongest]["readout"]["gamma"]
            pairs.append((f"uniform L1 γ {gamma:g} instead of none", strongest, reference))
        for model, spec in specs.items():
            readout, epochs = spec["readout"], spec["training"]["max_epochs"]
            if readout["type"] == "factorized" and _same_but(spec, specs[reference], "readout", None):
                pairs.append(
                    ("the Gaussian readout (no regularization) instead of the factorized one", reference, model)
                )
            if readout.get("regularizer") == "adaptive" and _same_but(
                spec, specs[reference], "readout", REGULARIZER_KEYS
            ):
                pairs.append((f"the adaptive regularizer (γ {readout['gamma']:g}) instead of none", model, reference))
                if strongest:
                    pairs.append(
                        (
                            f"the adaptive regularizer (γ {readout['gamma']:g}) instead of uniform L1 γ {gamma:g}",
                            model,
                            strongest,
                        )
                    )
            shorter = specs[reference]["training"]["max_epochs"]
            if model in plain and epochs > shorter and _same_but(spec, specs[reference], "training", ("max_epochs",)):
                pairs.append((f"max {epochs} instead of {shorter} epochs", model, reference))
    return pairs


def _strongest_l1(specs: dict[str, dict], reference: str) -> str | None:
    """The model with the strongest uniform L1 that differs from `reference` in its regularizer only."""
    l1 = [
        m
        for m, spec in specs.items()
        if spec["readout"].get("regularizer") == "l1"
        and spec["readout"]["gamma"] > 0
        and _same_but(spec, specs[reference], "readout", REGULARIZER_KEYS)
    ]
    return max(l1, key=lambda m: specs[m]["readout"]["gamma"]) if l1 else None


def contrast_lines(pairs: list[tuple[str, str, str]], values: dict[str, float], measure: str, digits: int) -> list[str]:
    """One sentence per pair, its verb chosen by the two values as printed."""
    lines = []
    for what, model, reference in pairs:
        if model in values and reference in values:
            a, b = values[model], values[reference]
            verb = compare(a, b, RAISES, digits)
            lines.append(
                f"- {what[0].upper()}{what[1:]} {verb} the {measure}: {fmt(a, digits)} ({model}) vs "
                f"{fmt(b, digits)} ({reference})."
            )
    return lines


# ----------------------------------------------------------------------------------------------
# Sections


def introduction(settings: PageSettings) -> list[str]:
    dataset = settings.dataset
    lines = [
        "# Measured results",
        "",
        "What the workflow's run measured. Every number is read from a result table "
        "and followed by its source in brackets, a path under "
        f"`results/{dataset['name']}/`; the list of sources closes the page.",
        "",
        "The papers, as cited throughout:",
        *PAPERS,
        "",
    ]
    if dataset["source"] == "simulate":
        simulation = dataset["simulation"]
        lines += [
            f"Data: simulated V1, {len(dataset['mice'])} mice × {simulation['neurons']} neurons with "
            f"{simulation['n_types']} planted cell types [config: dataset].",
            "",
        ]
    else:
        lines += [f"Data: {dataset['name']}, {len(dataset['mice'])} mice [config: dataset].", ""]
    return lines


def performance(tables: Tables, settings: PageSettings) -> list[str]:
    if "performance" not in tables:
        return []
    columns = ("variant", "seed", "mouse", "single_trial_correlation", "fraction_oracle", "oracle")
    runs = tables.read("performance", columns)
    models = [v for v in settings.study_variants if v in set(runs["variant"])]
    runs = runs[(runs["mouse"].astype(str) == MEAN_ROW) & runs["variant"].isin(models)]
    if runs.empty:
        return []
    truth = "ground_truth_correlation" in runs.columns and runs["ground_truth_correlation"].notna().any()
    header = ["variant", "model", "test correlation", "fraction oracle", *(["vs true rates"] if truth else [])]
    rows = []
    for model in models:
        own = runs[runs["variant"] == model]
        rows.append(
            [
                model,
                describe(settings, model),
                mean_sd(own["single_trial_correlation"], 3),
                mean_sd(own["fraction_oracle"], 3),
                *([fmt(own["ground_truth_correlation"].mean(), 3)] if truth else []),
            ]
        )
    seeds = runs.groupby("variant")["seed"].nunique()
    intro = [
        f"Test set, mean ± sd over seeds ({_counts(seeds)} seeds per variant), averaged over mice. Fraction "
        "oracle: slope of test correlation vs the jackknife oracle (it can exceed 1); the mean oracle is "
        f"{fmt(runs['oracle'].mean(), 2)}"
        + (". Last column: correlation with the true noise-free rates." if truth else ".")
        + f" {tables.cite('performance')}"
    ]
    means = runs.groupby("variant")["single_trial_correlation"].mean().to_dict()
    compared = contrast_lines(contrasts(settings, models), means, "test correlation", 3)
    return section(
        "## Models and training",
        intro,
        table(header, rows),
        [*compared, "", tables.cite("performance")] if compared else [],
    )


def read_positions(tables: Tables, settings: PageSettings) -> list[str]:
    if "read_positions" not in tables:
        return []
    frame = tables.read("read_positions", ("variant", "seed", "mouse"))
    intro = [
        "Where the Gaussian readouts read, against the true receptive-field centres (model-input pixels), per "
        f"variant: the mean over seeds and mice, or (k/n) the models where a yes/no column holds. "
        f"{tables.cite('read_positions')}"
    ]
    return section("### Read positions", intro, measures_by_variant(frame, ("variant", "seed", "mouse")))


def _counts(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}–{high}"


def _at(frame: pd.DataFrame, **values) -> pd.DataFrame:
    """The rows whose columns equal `values` (compared with np.isclose: the numbers went through a CSV file)."""
    keep = np.ones(len(frame), dtype=bool)
    for column, value in values.items():
        keep &= np.isclose(frame[column].astype(float), value)
    return frame[keep]


def consistency(tables: Tables, settings: PageSettings) -> list[str]:
    if "across_seeds" not in tables:
        return []
    k = settings.figure_k
    across = _at(tables.read("across_seeds", ("variant", "method", "k", "ari_mean", "ari_sd")), k=k)
    models = [m for m in settings.variants if m in set(across["variant"])]
    columns: dict[str, pd.Series] = {}  # header -> the cell text per model
    for method, name in METHODS.items():
        rows = across[across["method"] == method].set_index("variant")
        columns[f"ARI across seeds, {name}"] = rows.apply(lambda r: mean_paren_sd(r["ari_mean"], r["ari_sd"]), axis=1)
    cited = ["across_seeds"]
    if "reruns" in tables:
        reruns = _at(tables.read("reruns", ("variant", "seed", "k", "ari_mean")), k=k)
        columns["k-means reruns"] = reruns.groupby("variant")["ari_mean"].mean().map(fmt)
        cited.append("reruns")
    if "response" in tables:
        response = tables.read("response", ("variant", "mouse", "correlation"))
        pooled = response[response["mouse"].astype(str) == ALL_MICE]
        columns["response correlation across seeds"] = pooled.groupby("variant")["correlation"].mean().map(fmt)
        cited.append("response")
    if "planted" in tables:
        columns.update({f"planted-type ARI, {name}": cells for name, cells in planted_ari(tables, k).items()})
        cited.append("planted")
    if "separability" in tables:
        separability = tables.read("separability", ("variant", "decoding_accuracy", "chance_accuracy"))
        accuracy = separability.groupby("variant")[["decoding_accuracy", "chance_accuracy"]].mean()
        columns["planted-type decoding accuracy (chance)"] = accuracy.apply(
            lambda r: f"{fmt(r['decoding_accuracy'])} ({fmt(r['chance_accuracy'])})", axis=1
        )
        cited.append("separability")
    rows = [[m, *(column.get(m, MISSING) for column in columns.values())] for m in models]
    intro = [
        f"At K = {k} (`clustering.figure_k`): agreement of each variant's clusterings across seeds (ARI, "
        "mean (sd) over seed pairs), of k-means reruns on one embedding (R24 A.4, mean over seeds), the "
        "correlation of the predicted responses across seeds and, on simulated data, the ARI with the planted "
        "types and the cross-validated linear decoding accuracy of the planted type (mean ± sd over seeds). "
        f"{tables.cite(*cited)}"
    ]
    kmeans = across[across["method"] == "kmeans"].set_index("variant")["ari_mean"].to_dict()
    compared = contrast_lines(
        contrasts(settings, [m for m in models if m in settings.study_variants]),
        kmeans,
        f"k-means ARI across seeds at K = {k}",
        2,
    )
    peaks = _planted_peaks(tables, settings, models) if "planted" in tables else []
    return section(
        "## Embedding consistency",
        intro,
        table(["variant", *columns], rows),
        [*compared, *peaks, "", tables.cite(*cited)] if compared or peaks else [],
    )


def planted_ari(tables: Tables, k: int) -> dict[str, pd.Series]:
    """Method name -> each model's ARI with the planted types at K = k as 'mean ± sd' over seeds."""
    planted = _at(tables.read("planted", ("variant", "seed", "method", "k", "ari")), k=k)
    return {name: planted[planted["method"] == method].groupby("variant")["ari"].agg(mean_sd)
            for method, name in METHODS.items()}


def _planted_peaks(tables: Tables, settings: PageSettings, models: list[str]) -> list[str]:
    """How many models' k-means planted-type ARI (mean over seeds) is highest at the planted number of types."""
    n_types = settings.dataset["simulation"]["n_types"]
    planted = tables.read("planted", ("variant", "seed", "method", "k", "ari"))
    means = planted[planted["method"] == "kmeans"].groupby(["variant", "k"])["ari"].mean().reset_index()
    if n_types not in set(means["k"]):
        return []
    best = means.loc[means.groupby("variant")["ari"].idxmax()].set_index("variant")["k"]
    at_truth = [m for m in models if best.get(m) == n_types]
    return [
        f"- The k-means ARI with the planted types is highest at the planted K = {n_types} for "
        f"{len(at_truth)} of {len(models)} models" + (f" ({', '.join(at_truth)})." if at_truth else ".")
    ]


def discreteness(tables: Tables, settings: PageSettings) -> list[str]:
    if settings.controls is None or "across_seeds" not in tables:
        return []
    across = tables.read("across_seeds", ("variant", "method", "k", "ari_mean"))
    populations = {"discrete": settings.controls["discrete"], "continuum": settings.controls["continuum"]}
    k_values = sorted(across.loc[across["variant"].isin(populations.values()), "k"].unique())
    curves = {
        (population, method): across[(across["variant"] == model) & (across["method"] == method)].set_index("k")[
            "ari_mean"
        ]
        for population, model in populations.items()
        for method in METHODS
    }
    rows = [
        [f"{population} ({populations[population]})", name, *(fmt(curves[population, method].get(k)) for k in k_values)]
        for method, name in METHODS.items()
        for population in populations
    ]
    n_types = settings.controls["n_types"]
    lines = []
    for method, name in METHODS.items():
        discrete, continuum = curves["discrete", method], curves["continuum", method]
        if discrete.empty or continuum.empty:
            continue
        at = f" at the planted K = {n_types}" if n_types in discrete.index and n_types in continuum.index else ""
        if at:
            lines.append(
                f"- {name}: the discrete population's ARI across seeds is "
                f"{compare(discrete[n_types], continuum[n_types], ABOVE)} the continuum's{at} "
                f"({fmt(discrete[n_types])} vs {fmt(continuum[n_types])}); it peaks at K = "
                f"{discrete.idxmax()} ({fmt(discrete.max())}), the continuum's at K = {continuum.idxmax()} "
                f"({fmt(continuum.max())})."
            )
    intro = [
        "D25's test on fitted models: ARI across seeds vs K for a population with planted types and a "
        f"continuum of the same size (config `landscapes.controls`). {tables.cite('across_seeds')}"
    ]
    return section(
        "### Discrete vs continuum population",
        intro,
        table(["population", "method", *(f"K {k}" for k in k_values)], rows),
        [*lines, "", tables.cite("across_seeds")] if lines else [],
    )


def identifiability(tables: Tables, settings: PageSettings) -> list[str]:
    """Per population and method the planted-type ARI and the peak criterion, and the detection limit."""
    if "identifiability" not in tables:
        return []
    frame = tables.read("identifiability", IDENTIFIABILITY_COLUMNS)
    true_k = int(frame["true_k"].iloc[0])
    methods = methods_of(frame)
    rows = []
    for (population, separation), group in frame.groupby(["population", "separation"], sort=False, dropna=False):
        cells = []
        for method in methods:
            row = group[group["method"] == method].iloc[0]
            peak = "peaks" if row["peaks_at_true_k"] else f"no peak (max at K = {int(row['peak_k'])})"
            cells += [mean_paren_sd(row["ari_truth_mean"], row["ari_truth_sd"]),
                      f"{fmt(row['ari_seeds_at_true_k'])}, {peak}"]
        rows.append(["continuum" if pd.isna(separation) else fmt(separation, 1), *cells])
    lines = []
    for method, name in methods.items():
        limit = detection_limit(frame, method)
        if pd.isna(limit):
            lines.append(f"- {name}: ARI across seeds does not peak at the true K = {true_k} even at the largest "
                         "separation: with this model and data size, consistency does not detect these types.")
            continue
        below = sorted(s for s in frame["separation"].dropna().unique() if s < limit)
        if not below:
            lines.append(f"- {name}: ARI across seeds peaks at the true K = {true_k} at every tested separation, "
                         f"down to {fmt(limit, 1)} within-type spreads.")
            continue
        lines.append(f"- {name}: ARI across seeds peaks at the true K = {true_k} down to a separation of "
                     f"{fmt(limit, 1)} within-type spreads and not at {fmt(below[-1], 1)}, the next tested: with this "
                     f"model and data size, types separated by {fmt(below[-1], 1)} within-type spreads or less are "
                     "not detectable by consistency.")
    lines += _missed_peak_lines(frame, methods)
    lines += _spurious_peak_lines(frame, methods)
    lines += [_reference_line(frame, reference) for reference in settings.reference_levels]
    intro = [
        "How far apart must planted types be for clustering to find them (METHODS §11)? Populations with "
        "their type prototypes the given number of within-type spreads apart (and a continuum), one model "
        f"per population and seed; {', '.join(methods.values())} at the true K = {true_k}. A curve peaks when its "
        "maximum over K is at the true K and beats both neighbours by the configured margin. "
        f"{tables.cite('identifiability')}"
    ]
    header = ["separation", *(f"{name}: {what}" for name in methods.values()
                              for what in ("ARI with planted types (sd)", "ARI across seeds at true K"))]
    return section("### Identifiability: how separated must types be?", intro, table(header, rows),
                   [*lines, "", tables.cite("identifiability")])


RECOVERED_ARI = 0.5  # ARI with the planted types at which a method is said to recover them


def _missed_peak_lines(frame: pd.DataFrame, methods: dict[str, str]) -> list[str]:
    """Where a method recovers the planted types but its across-seed curve does not peak at the true K.

    There the papers' inference (no peak at any K, so no discrete types: R24, D25) would be wrong.
    """
    lines = []
    for method, name in methods.items():
        rows = frame[(frame["method"] == method) & frame["separation"].notna()]
        missed = rows[(rows["ari_truth_mean"] >= RECOVERED_ARI) & ~rows["peaks_at_true_k"].astype(bool)]
        if missed.empty:
            continue
        where = ", ".join(f"{fmt(s, 1)} (ARI {fmt(a)})" for s, a in zip(missed["separation"], missed["ari_truth_mean"]))
        lines.append(f"- {name} recovers the planted types (ARI with them ≥ {RECOVERED_ARI}) at separation {where}, "
                     "yet its ARI across seeds does not peak at the true K there: with this model and data size a "
                     "missing peak is weak evidence against discrete types, and the papers' inference from it "
                     "(R24, D25) assumes more power than this.")
    return lines


def _spurious_peak_lines(frame: pd.DataFrame, methods: dict[str, str]) -> list[str]:
    """Where a method's across-seed curve peaks at the true K although its clusters are not the planted types
    (ARI with them below RECOVERED_ARI), or on the continuum: peaks the criterion counts as detections."""
    lines = []
    for method, name in methods.items():
        rows = frame[(frame["method"] == method) & frame["peaks_at_true_k"].astype(bool)]
        spurious = rows[rows["separation"].isna() | (rows["ari_truth_mean"] < RECOVERED_ARI)]
        if spurious.empty:
            continue
        where = ", ".join("the continuum" if pd.isna(s) else f"separation {fmt(s, 1)} (ARI with the types {fmt(a)})"
                          for s, a in zip(spurious["separation"], spurious["ari_truth_mean"]))
        lines.append(f"- {name}: ARI across seeds peaks at the true K at {where}, where its clusters are not the "
                     "planted types: a peak is not evidence of types either, at this scale.")
    return lines


def _reference_line(frame: pd.DataFrame, reference: dict) -> str:
    """Where on the curve a real-data ARI across seeds lies: the tested separations that reach it, per method."""
    parts = []
    for method, name in methods_of(frame).items():
        rows = frame[(frame["method"] == method) & frame["separation"].notna()]
        reaching = rows.loc[rows["ari_seeds_at_true_k"] >= reference["ari"], "separation"]
        parts.append(f"{name} at separation ≥ {fmt(reaching.min(), 1)}" if len(reaching)
                     else f"{name} at no tested separation (at most {fmt(rows['ari_seeds_at_true_k'].max())})")
    return (f"- {reference['label']} ({reference['source']}): ARI across seeds {fmt(reference['ari'])}; reached here "
            f"by {' and '.join(parts)}.")


def regularization_control(tables: Tables, settings: PageSettings) -> list[str]:
    if "regularization_control" not in tables:
        return []
    k = settings.regularization_control_k
    columns = (
        "row",
        "variant",
        "gamma",
        "k",
        "test_correlation",
        "sparsity",
        "silhouette",
        "null_gaussian_mean",
        "null_shuffled_mean",
        "ari_kmeans_mean",
        "ari_gmm_mean",
        "n_collapsed",
    )
    summary = _at(tables.read("regularization_control", columns), k=k)
    planted = all(f"ari_planted_{m}" in summary.columns for m in METHODS)
    header = [
        "population",
        "γ",
        "test correlation",
        "sparsity",
        "silhouette (Gaussian / shuffled null)",
        "ARI across seeds k-means / GMM",
        *(["planted-type ARI k-means / GMM"] if planted else []),
    ]
    rows = []
    for _, row in summary.iterrows():
        across = f"{fmt(row['ari_kmeans_mean'])} / {fmt(row['ari_gmm_mean'])}"
        if row["n_collapsed"] and all(f"ari_{m}_ok_mean" in row for m in METHODS):
            across += (
                f" ({fmt(row['ari_kmeans_ok_mean'])} / {fmt(row['ari_gmm_ok_mean'])} without the "
                f"{int(row['n_collapsed'])} collapsed)"
            )
        rows.append(
            [
                row["row"],
                f"{row['gamma']:g}",
                fmt(row["test_correlation"]),
                fmt(row["sparsity"]),
                f"{fmt(row['silhouette'])} ({fmt(row['null_gaussian_mean'])} / {fmt(row['null_shuffled_mean'])})",
                across,
                *([f"{fmt(row['ari_planted_kmeans'])} / {fmt(row['ari_planted_gmm'])}"] if planted else []),
            ]
        )
    intro = [
        f"Gaussian readouts at increasing uniform L1 γ per population, K = {k}, means over seeds: the k-means "
        "silhouette beside its matched nulls without clusters (a Gaussian of the same covariance, every "
        "dimension shuffled), readout sparsity (share of weights below a fraction of the neuron's largest |w|), "
        f"ARI across seeds and with the planted types. {tables.cite('regularization_control')}"
    ]
    return section(
        "## Can L1 readout regularization fake cell types?", intro, table(header, rows), _control_lines(tables, summary)
    )


def _control_lines(tables: Tables, summary: pd.DataFrame) -> list[str]:
    """Per population how silhouette and consistency move from the weakest to the strongest γ; the populations
    compared at the strongest γ; the models above both nulls; the collapsed runs."""
    lines = []
    strongest = {}
    for population, rows in summary.groupby("row", sort=False):
        rows = rows.sort_values("gamma")
        first, last = rows.iloc[0], rows.iloc[-1]
        strongest[population] = last
        for column, measure in (("silhouette", "silhouette"), ("ari_kmeans_mean", "k-means ARI across seeds")):
            lines.append(
                f"- {population}: the {measure} "
                f"{change(first[column], last[column], labels=(f' at γ {first.gamma:g}', f' at γ {last.gamma:g}'))}."
            )
    names = list(strongest)
    for other in names[1:]:
        a, b = strongest[other], strongest[names[0]]
        lines.append(
            f"- At its strongest γ the {other} population's silhouette is "
            f"{compare(a['silhouette'], b['silhouette'], ABOVE)} the {names[0]}'s ({fmt(a['silhouette'])} "
            f"vs {fmt(b['silhouette'])}), its k-means ARI across seeds "
            f"{compare(a['ari_kmeans_mean'], b['ari_kmeans_mean'], ABOVE)} it "
            f"({fmt(a['ari_kmeans_mean'])} vs {fmt(b['ari_kmeans_mean'])})."
        )
    nulls = summary[["null_gaussian_mean", "null_shuffled_mean"]].max(axis=1)
    above = sum(compare(a, b, ABOVE) == "above" for a, b in zip(summary["silhouette"], nulls))
    lines.append(f"- {above} of {len(summary)} population × γ settings have a silhouette above both nulls.")
    lines += ["", tables.cite("regularization_control")]
    if "regularization_control_runs" in tables:
        runs = tables.read(
            "regularization_control_runs", ("row", "variant", "gamma", "seed", "best_val_correlation", "collapsed")
        )
        flagged = runs[runs["collapsed"].astype(bool)].drop_duplicates(["variant", "seed"])
        listed = ", ".join(
            f"{r['row']} γ {r['gamma']:g} seed {r['seed']} (best validation correlation "
            f"{fmt(r['best_val_correlation'])})"
            for _, r in flagged.iterrows()
        )
        lines += [
            "",
            f"Collapsed runs (flagged, kept in the means): {listed or 'none'}. "
            f"{tables.cite('regularization_control_runs')}",
        ]
    return lines


SWEEP_KEYS = ("sweep", "variant", "role", "method", "k", "ari_mean", "ari_sd", "fraction_oracle_mean",
              "fraction_oracle_sd", "n_seeds", "n_collapsed")


def sweeps(tables: Tables, settings: PageSettings) -> list[str]:
    """Every point of the regularization sweeps (R24 Fig. 3, L25 Fig. 5) at K = figure_k, with the points
    whose seeds include a collapsed run named apart: their ARI across seeds measures the failed fit."""
    if "sweeps" not in tables:
        return []
    k = settings.figure_k
    frame = _at(tables.read("sweeps", SWEEP_KEYS), k=k)
    parameters = [column for column in frame.columns if "." in column]
    rows = []
    for _, methods in frame.groupby(["sweep", "variant"], sort=False):
        point, ari = methods.iloc[0], methods.set_index("method")
        values = ", ".join(f"{name} {_setting(point[name])}" for name in parameters if pd.notna(point[name]))
        rows.append([
            point["sweep"],
            f"{values} (base: {point['variant']})" if point["role"] == "base" else values,
            " / ".join(mean_paren_sd(ari.loc[m, "ari_mean"], ari.loc[m, "ari_sd"]) for m in METHODS),
            mean_paren_sd(point["fraction_oracle_mean"], point["fraction_oracle_sd"]),
            f"{int(point['n_collapsed'])} of {int(point['n_seeds'])}",
        ])
    header = ["sweep", "setting", "ARI across seeds k-means / GMM", "fraction oracle", "collapsed seeds"]
    intro = [
        f"Every point of the regularization sweeps at K = {k}: ARI across seeds, mean (sd) over seed pairs, and "
        "the fraction oracle, mean (sd) over seeds. A seed is collapsed when its best validation correlation is "
        "below `clustering.collapse_fraction` × its seed-mates' median: a failed fit. "
        f"{tables.cite('sweeps')}"
    ]
    return section("## Regularization sweeps", intro, table(header, rows), _collapsed_sweep_lines(tables, frame))


def _setting(value) -> str:
    """A swept value as the config writes it: numbers without trailing zeros, words as they are."""
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _collapsed_sweep_lines(tables: Tables, frame: pd.DataFrame) -> list[str]:
    points = frame[frame["n_collapsed"] > 0].drop_duplicates("variant")
    if points.empty:
        return [f"No sweep point has a collapsed seed. {tables.cite('sweeps')}"]
    named = ", ".join(f"{p['variant']} ({int(p['n_collapsed'])} of {int(p['n_seeds'])})" for _, p in points.iterrows())
    return [
        f"Points with a collapsed seed: {named}. Their ARI across seeds and mean fraction oracle measure the failed "
        f"fit, not the setting; the sweep figures draw them as an × off the line. {tables.cite('sweeps')}"
    ]


TRAINED_PRUNED = (" trained", " pruned")
MODEL_MEASURES = {"single_trial_correlation": "test correlation", "fraction_oracle": "fraction oracle"}
PRUNING_KEYS = ("variant", "seed", "step", "channels", "removed_feature", "fraction_pruned", "selected")


def pruning(tables: Tables, settings: PageSettings) -> list[str]:
    if "pruning" not in tables:
        return []
    curves = tables.read("pruning", ("variant", "seed", "step", "channels", "val_correlation", "selected"))
    measures = [
        c
        for c in curves.columns
        if c not in PRUNING_KEYS and curves[c].dtype != bool and pd.api.types.is_numeric_dtype(curves[c])
    ]
    lines = []
    for variant, rows in curves.groupby("variant", sort=False):
        trained, chosen = rows[rows["step"] == 0], rows[rows["selected"].astype(bool)]
        n_features, channels = int(rows["channels"].max()), int(chosen["channels"].iloc[0])
        lines.append(f"- {variant}: {n_features - channels} of {n_features} core features removed (R24 A.5).")
        for column in measures:
            before, after = trained[column].mean(), chosen[column].mean()
            lines.append(
                f"  - {column.replace('_', ' ')} (mean over seeds) {change(before, after, 3, TRAINED_PRUNED)}."
            )
    intro = [
        "Iterative channel pruning (R24 §3.3): per pruned variant, the features removed and each measure of the "
        f"pruning curves at the trained model and at the selected step. {tables.cite('pruning')}"
    ]
    models = _pruning_models(tables, settings) if "pruning_models" in tables else []
    return section("## Channel pruning", intro, lines, *models)


VIDEO_CORE_LABELS = {"rotation_equivariant_3d": "3D", "rotation_equivariant_factorized": "factorized"}


def dynamic(tables: Tables, settings: PageSettings) -> list[str]:
    """L25 Fig. 4's numbers: each video model's ρ_st, its agreement across seeds and (simulated mice) its ARI
    with the planted types at their true number."""
    if not settings.video_variants or "performance" not in tables:
        return []
    runs = tables.read("performance", ("variant", "seed", "mouse", "single_trial_correlation", "fraction_oracle"))
    models = [v for v in settings.video_variants if v in set(runs["variant"])]
    runs = runs[(runs["mouse"].astype(str) == MEAN_ROW) & runs["variant"].isin(models)]
    if runs.empty:
        return []
    by_model = runs.groupby("variant")
    columns = {"ρ_st": by_model["single_trial_correlation"].agg(lambda v: mean_sd(v, 3)),
               "fraction oracle": by_model["fraction_oracle"].agg(lambda v: mean_sd(v, 3))}
    if "ground_truth_correlation" in runs.columns and runs["ground_truth_correlation"].notna().any():
        columns["vs true rates"] = by_model["ground_truth_correlation"].mean().map(lambda v: fmt(v, 3))
    cited = ["performance"]
    k = settings.figure_k
    for name, values in ari_across_seeds(tables, k).items():
        columns[f"ARI across seeds, {name} (K = {k})"] = values.map(fmt)
    if "across_seeds" in tables:
        cited.append("across_seeds")
    if "planted" in tables and settings.video_types:
        for name, cells in planted_ari(tables, settings.video_types).items():
            columns[f"planted-type ARI, {name} (K = {settings.video_types})"] = cells
        cited.append("planted")
    rows = [[model, f"{VIDEO_CORE_LABELS.get(spec['core']['type'], spec['core']['type'])} core, "
             f"{_readout_text(spec['readout'])}", *(column.get(model, MISSING) for column in columns.values())]
            for model, spec in settings.video_variants.items() if model in models]
    seeds = by_model["seed"].nunique()
    intro = [
        f"Video models (L25 Fig. 4), {_counts(seeds)} seeds each: ρ_st is the single-trial correlation over the "
        "scored frames (`video.scored_from` on) of the final main-track test trials, mean ± sd over seeds; the "
        "fraction oracle is measured on the oracle tier's repeated clips; ARI with the planted types is the mean ± "
        f"sd over seeds. {tables.cite(*cited)}"
    ]
    return section("## Dynamic models", intro, table(["variant", "model", *columns], rows))


def ari_across_seeds(tables: Tables, k: int) -> dict[str, pd.Series]:
    """Method name -> each model's ARI across seeds (mean over seed pairs) at K = k; empty without the table."""
    if "across_seeds" not in tables:
        return {}
    across = _at(tables.read("across_seeds", ("variant", "method", "k", "ari_mean")), k=k)
    return {
        name: across[across["method"] == method].set_index("variant")["ari_mean"] for method, name in METHODS.items()
    }


def _pruning_models(tables: Tables, settings: PageSettings) -> list[list[str]]:
    """The trained, pruned and fine-tuned-only (matched-budget) models of each pruned variant side by side: test
    measures (mean ± sd over seeds) and ARI across seeds; the pruned model against its control."""
    frame = tables.read("pruning_models", ("variant", "seed", "kind", "model", "channels"))
    measures = {c: label for c, label in MODEL_MEASURES.items() if c in frame.columns}
    epochs = "fine_tune_epochs" in frame.columns
    k = settings.figure_k
    ari = ari_across_seeds(tables, k)
    header = [
        "model",
        "channels",
        *(["fine-tune epochs"] if epochs else []),
        *measures.values(),
        *(f"{name} ARI across seeds, K = {k}" for name in ari),
    ]
    rows, lines = [], []
    for model, runs in frame.groupby("model", sort=False):
        rows.append(
            [
                model,
                _counts(runs["channels"]),
                *([_counts(runs["fine_tune_epochs"])] if epochs else []),
                *(mean_sd(runs[c], 3) for c in measures),
                *(fmt(values.get(model)) for values in ari.values()),
            ]
        )
    for variant, runs in frame.groupby("variant", sort=False):
        kinds = runs.groupby("kind")
        if not {"pruned", "finetuned"} <= set(kinds.groups):
            continue
        pruned, control = (kinds.get_group(kind) for kind in ("pruned", "finetuned"))
        for column, label in measures.items():
            a, b = pruned[column].mean(), control[column].mean()
            lines.append(
                f"- {variant}: the pruned model's {label} is {compare(a, b, ABOVE, 3)} its matched-budget "
                f"control's ({fmt(a, 3)} vs {fmt(b, 3)})."
            )
        names = (pruned["model"].iloc[0], control["model"].iloc[0])
        for name, values in ari.items():
            if all(n in values for n in names):
                a, b = values[names[0]], values[names[1]]
                lines.append(
                    f"- {variant}: the pruned model's {name} ARI across seeds is {compare(a, b, ABOVE)} "
                    f"its control's ({fmt(a)} vs {fmt(b)})."
                )
    cited = ["pruning_models", *(["across_seeds"] if "across_seeds" in tables else [])]
    intro = [
        f"Each pruned variant's trained model, its pruned model and its matched-budget control (the trained model "
        f"fine-tuned as long, nothing removed). {tables.cite(*cited)}"
    ]
    return [intro, table(header, rows), [*lines, "", tables.cite(*cited)] if lines else []]


def december(tables: Tables, settings: PageSettings) -> list[str]:
    if settings.december is None or "december_vs_baseline" not in tables:
        return []
    variant, main, k = settings.december["variant"], settings.december["main"], settings.december["k"]
    columns = ("variant", "method", "k", "beta_ratio", "pe", "lr", "ari_mean", "ari_sd", "test_correlation")
    frame = tables.read("december_vs_baseline", columns)
    frame = frame[frame["variant"] == variant]
    source = tables.cite("december_vs_baseline")
    lr_main = frame["lr"].isna() | np.isclose(frame["lr"], main["lr"])
    at_pe = frame["pe"].isna() | np.isclose(frame["pe"], main["pe"])
    main_rows = frame[lr_main & at_pe]  # the converged baselines have neither
    k_values = sorted(main_rows["k"].unique())
    rows = []
    for ratio in sorted(main_rows["beta_ratio"].dropna().unique()):
        rows.append(
            _ari_row(
                f"DECEMber, β ratio {ratio:g}",
                _at(main_rows[main_rows["method"] == "december"], beta_ratio=ratio),
                k_values,
            )
        )
    start = _at(main_rows[main_rows["method"] == "december_init"], beta_ratio=main["beta_ratio"])
    rows.append(_ari_row(f"its k-means start (the PE-{main['pe']:g} model, no loss)", start, k_values))
    for method, label in (
        ("gmm_converged", "GMM on the converged models"),
        ("kmeans_converged", "k-means on the converged models"),
    ):
        rows.append(_ari_row(label, main_rows[main_rows["method"] == method], k_values))
    intro = [
        f"DECEMber (D25) on {variant}: ARI across seeds, mean (sd) over seed pairs, at PE {main['pe']:g} and lr "
        f"{main['lr']:g}. {source}"
    ]
    blocks = [
        intro,
        table(["method", *(f"K {int(v)}" for v in k_values)], rows),
        _december_lines(frame, main, k, source),
    ]
    blocks += [_december_pe(frame, main, k, source)]
    if "december_runs" in tables:
        blocks += _december_runs(tables, settings)
    if "december_planted" in tables:
        blocks += _december_retina(tables)
    return section("## DECEMber", *blocks)


def _ari_row(label: str, rows: pd.DataFrame, k_values: list) -> list[str]:
    by_k = rows.set_index("k")
    return [
        label,
        *(
            mean_paren_sd(by_k.at[k, "ari_mean"], by_k.at[k, "ari_sd"]) if k in by_k.index else MISSING
            for k in k_values
        ),
    ]


def _december_lines(frame: pd.DataFrame, main: dict, k: int, source: str) -> list[str]:
    """DECEMber against the k-means start it came from (every setting), and against the converged GMM at K = k."""
    keys = ["k", "beta_ratio", "pe", "lr"]
    paired = frame[frame["method"] == "december"].merge(
        frame[frame["method"] == "december_init"], on=keys, suffixes=("", "_start")
    )
    signs = [compare(a, b, ("higher", "lower", "equal")) for a, b in zip(paired["ari_mean"], paired["ari_mean_start"])]
    lines = [
        f"- Against the k-means start it came from, DECEMber's ARI across seeds is higher in "
        f"{signs.count('higher')}, lower in {signs.count('lower')} and equal (as printed) in "
        f"{signs.count('equal')} of {len(signs)} settings (K × β ratio × PE × lr). {source}"
    ]
    ours = _at(frame[frame["method"] == "december"], k=k, **main)
    gmm = _at(frame[frame["method"] == "gmm_converged"], k=k)
    if len(ours) and len(gmm):
        a, b = gmm["ari_mean"].iloc[0], ours["ari_mean"].iloc[0]
        lines.append(
            f"- At K = {k} the GMM on the converged models is {compare(a, b, ('more', 'less', 'as'))} "
            f"consistent across seeds than DECEMber at β ratio {main['beta_ratio']:g} ({fmt(a)} vs "
            f"{fmt(b)}). {source}"
        )
    return lines


def _december_pe(frame: pd.DataFrame, main: dict, k: int, source: str) -> list[str]:
    at = _at(frame, k=k, beta_ratio=main["beta_ratio"], lr=main["lr"])
    ours, start = (at[at["method"] == m].set_index("pe") for m in ("december", "december_init"))
    pes = sorted(ours.index)
    if len(pes) < 2:
        return []
    rows = [
        [
            f"{pe:g}",
            mean_paren_sd(ours.at[pe, "ari_mean"], ours.at[pe, "ari_sd"]),
            mean_paren_sd(start.at[pe, "ari_mean"], start.at[pe, "ari_sd"]) if pe in start.index else MISSING,
            fmt(ours.at[pe, "test_correlation"], 3),
        ]
        for pe in pes
    ]
    return [
        f"Over the pretraining epochs PE at K = {k}, β ratio {main['beta_ratio']:g}: {source}",
        "",
        *table(["PE", "DECEMber ARI across seeds", "its k-means start", "DECEMber test correlation"], rows),
    ]


def _december_runs(tables: Tables, settings: PageSettings) -> list[list[str]]:
    variant, main, k = settings.december["variant"], settings.december["main"], settings.december["k"]
    runs = tables.read(
        "december_runs",
        (
            "variant",
            "model",
            "k",
            "beta_ratio",
            "pe",
            "lr",
            "seed",
            "test_single_trial_correlation",
            "best_val_correlation",
        ),
    )
    runs = runs[runs["variant"] == variant]
    source = tables.cite("december_runs")
    baseline = runs[runs["model"] == "baseline"]["test_single_trial_correlation"]
    ours = runs[runs["model"] != "baseline"]
    at = _at(ours, k=k, pe=main["pe"], lr=main["lr"])
    optional = [c for c in ("saturated_initial", "saturated_final", "ari_initial_final") if c in ours.columns]
    header = ["β ratio", "test correlation", *(c.replace("_", " ") for c in optional)]
    rows = [
        [f"{ratio:g}", mean_sd(group["test_single_trial_correlation"], 3), *(mean_sd(group[c]) for c in optional)]
        for ratio, group in at.groupby("beta_ratio")
    ]
    blocks = [
        [
            f"Per β ratio at K = {k}, PE {main['pe']:g}, mean ± sd over seeds (saturated: share of soft "
            "assignments with max q ≥ 0.99 at the loss's start and end; ari initial final: agreement of a run's "
            f"first and last labels); the converged baseline's test correlation is {mean_sd(baseline, 3)}. "
            f"{source}",
            "",
            *table(header, rows),
        ]
    ]
    by_ratio = at.groupby("beta_ratio")["test_single_trial_correlation"].mean().sort_index()
    if len(by_ratio) > 1:
        ratios = (f" at β ratio {by_ratio.index[0]:g}", f" at β ratio {by_ratio.index[-1]:g}")
        blocks[0] += [
            "",
            f"- Test correlation {change(by_ratio.iloc[0], by_ratio.iloc[-1], 3, ratios)}. {source}",
        ]
    grid = (
        _at(ours, k=k, beta_ratio=main["beta_ratio"]).groupby(["lr", "pe"])["best_val_correlation"].mean().unstack("pe")
    )
    if len(grid) > 1:
        rows = [[f"{lr:g}", *(fmt(grid.at[lr, pe], 3) for pe in grid.columns)] for lr in grid.index]
        blocks.append(
            [
                f"Learning rate × PE at K = {k}: best validation correlation, mean over seeds. {source}",
                "",
                *table(["lr", *(f"PE {pe:g}" for pe in grid.columns)], rows),
            ]
        )
    return blocks


def _december_retina(tables: Tables) -> list[list[str]]:
    planted = tables.read(
        "december_planted",
        (
            "variant",
            "method",
            "k",
            "n_labelled",
            "ari_mean",
            "ari_sd",
            "ari_truth_mean",
            "ari_truth_sd",
            "test_correlation",
        ),
    )
    source = tables.cite("december_planted")
    rows = [
        [
            r["method"],
            mean_paren_sd(r["ari_mean"], r["ari_sd"]),
            mean_paren_sd(r["ari_truth_mean"], r["ari_truth_sd"]),
            fmt(r["test_correlation"], 3),
        ]
        for _, r in planted.iterrows()
    ]
    first = planted.iloc[0]
    block = [
        f"Retina-style check (D25 Fig. 3) on {first['variant']}, K = {first['k']}, "
        f"{first['n_labelled']} labelled cells: ARI across seeds and with the planted labels, mean (sd). {source}",
        "",
        *table(["method", "ARI across seeds", "ARI with the planted labels", "test correlation"], rows),
    ]
    methods = planted.set_index("method")
    if {"december", "gmm_converged"} <= set(methods.index):
        a, b = methods.at["december", "ari_truth_mean"], methods.at["gmm_converged", "ari_truth_mean"]
        block += [
            "",
            f"- DECEMber's agreement with the planted labels is {compare(a, b, ABOVE)} the converged "
            f"GMM's ({fmt(a)} vs {fmt(b)}). {source}",
        ]
    blocks = [block]
    if "december_confusion" in tables:
        confusion = tables.read("december_confusion", ("seed", "type", "cluster", "count"))
        seed = confusion["seed"].min()
        matrix = confusion[confusion["seed"] == seed].pivot(index="type", columns="cluster", values="count")
        rows = [[str(t), *(str(int(matrix.at[t, c])) for c in matrix.columns)] for t in matrix.index]
        blocks.append(
            [
                f"DECEMber's clusters (columns) by planted type (rows), seed {seed}. "
                f"{tables.cite('december_confusion')}",
                "",
                *table(["planted type", *(f"cluster {c}" for c in matrix.columns)], rows),
            ]
        )
    return blocks


def insilico(tables: Tables, settings: PageSettings) -> list[str]:
    blocks = []
    if "insilico" in tables:
        frame = tables.read("insilico", ("variant", "n_pairs", "response_correlation"))
        nmae = [c for c in frame.columns if c.startswith("nmae_") and not c.endswith("_std")]
        rows = [
            [r["variant"], str(r["n_pairs"]), fmt(r["response_correlation"]), *(fmt(r[c]) for c in nmae)]
            for _, r in frame.iterrows()
        ]
        blocks += [
            [
                "R24 Table 1: response correlation across seeds and the NMAE of each tuning index across seeds "
                f"(mean over seed pairs; 0: identical, about 1.4: unrelated). {tables.cite('insilico')}"
            ],
            table(
                ["variant", "seed pairs", "response correlation", *(f"NMAE {c[5:].replace('_', ' ')}" for c in nmae)],
                rows,
            ),
        ]
    if "ground_truth_check" in tables:
        blocks += _ground_truth(tables)
    return section("## In-silico experiments vs ground truth", *blocks) if blocks else []


def measures_by_variant(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Every column but `keys` as a row, one column per variant: the mean over the variant's rows, or for a yes/no
    column the rows where it holds (k/n). Columns a stage adds later appear without a change here."""
    variants = list(dict.fromkeys(frame["variant"]))
    groups = frame.groupby("variant", sort=False)
    rows = []
    for column in (c for c in frame.columns if c not in keys):
        values = [groups.get_group(v)[column] for v in variants]
        if frame[column].dtype == bool:
            cells = [f"{int(v.sum())}/{len(v)}" for v in values]
        elif pd.api.types.is_numeric_dtype(frame[column]):
            cells = [fmt(v.mean()) for v in values]
        else:
            continue
        rows.append([column.replace("_", " "), *cells])
    return table(["measure", *variants], rows)


def _ground_truth(tables: Tables) -> list[list[str]]:
    check = tables.read("ground_truth_check", ("variant", "seed"))
    flags = [c for c in check.columns if check[c].dtype == bool]
    totals = [f"{c.replace('_', ' ')}: {int(check[c].sum())} of {len(check)} rows" for c in flags]
    source = tables.cite("ground_truth_check")
    return [
        [
            "Tuning indices against the planted neurons, per variant: the mean over seeds, or (k/n) the seeds where "
            f"the statement holds. {source}"
        ],
        measures_by_variant(check, ("variant", "seed")),
        [f"- Over all rows of the check: {'; '.join(totals)}. {source}"] if totals else [],
    ]


def transfer(tables: Tables, settings: PageSettings) -> list[str]:
    if "transfer" not in tables:
        return []
    frame = tables.read("transfer", ("experiment", "condition", "n_images", "n_neurons", "fraction_oracle"))
    source = tables.cite("transfer")
    blocks = [
        [
            "Fraction oracle per experiment and condition (L21), by the number of training images the condition "
            f"varies; mean ± sd where several seeds ran. {source}"
        ]
    ]
    for experiment, rows in frame.groupby("experiment", sort=False):
        several = rows.groupby("condition")["n_neurons"].nunique().max() > 1
        labels = rows["condition"] + (", " + rows["n_neurons"].astype(str) + " neurons" if several else "")
        grouped = rows.assign(label=labels).groupby(["label", "n_images"], sort=False)["fraction_oracle"]
        counts = sorted(rows["n_images"].unique())
        cells = {key: mean_sd(values) for key, values in grouped}
        body = [[label, *(cells.get((label, n), MISSING) for n in counts)] for label in dict.fromkeys(labels)]
        blocks += [[f"**{experiment}**", "", *table(["condition", *(f"{n} images" for n in counts)], body)]]
        blocks += [_transfer_lines(rows[rows["n_neurons"] == rows["n_neurons"].max()], experiment, source)]
    return section("## Core transfer", *blocks)


def _transfer_lines(rows: pd.DataFrame, experiment: str, source: str) -> list[str]:
    """Each condition against the one it is measured against, at every image count both ran."""
    conditions = list(dict.fromkeys(rows["condition"]))
    means = rows.groupby(["condition", "n_images"])["fraction_oracle"].mean()
    pairs = [
        (c, "direct")
        for c in conditions
        if c.startswith(("best-core", "diff-core", "core: ")) and "position network" not in c and "direct" in conditions
    ]
    pairs += [(c, c.split(",")[0]) for c in conditions if "position network" in c and c.split(",")[0] in conditions]
    pairs += [(c, c.split(" + ")[0]) for c in conditions if " + " in c and c.split(" + ")[0] in conditions]
    pairs += [("gaussian", "factorized")] if {"gaussian", "factorized"} <= set(conditions) else []
    lines = []
    for a, b in pairs:
        for n in sorted(rows["n_images"].unique()):
            if (a, n) in means and (b, n) in means:
                lines.append(
                    f"- {experiment}, {n} images: {a} is {compare(means[a, n], means[b, n], ABOVE)} {b} "
                    f"({fmt(means[a, n])} vs {fmt(means[b, n])})."
                )
    return [*lines, "", source] if lines else []


def wall_time(benchmarks: Path, root: Path, settings: PageSettings) -> list[str]:
    """Wall time (the `s` column) of every benchmark file, summed per stage and in total."""
    files = sorted(Path(benchmarks).rglob("*.tsv"))
    if not files:
        return []
    rows = []
    for path in files:
        rule = path.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        rows.append({"stage": settings.rule_stages.get(rule, "other"), "rule": rule, "s": _benchmark_seconds(path)})
    frame = pd.DataFrame(rows)
    stages = frame.groupby("stage", sort=False).agg(jobs=("s", "size"), s=("s", "sum"), rules=("rule", "unique"))
    stages = stages.sort_values("s", ascending=False)
    folder = relative(benchmarks, root)
    body = [
        [
            stage,
            str(r["jobs"]),
            f"{r['s'] / 60:.1f}",
            f"{r['s'] / r['jobs']:.0f}",
            ", ".join(f"{folder}/{rule}" for rule in sorted(r["rules"])),
        ]
        for stage, r in stages.iterrows()
    ]
    body.append(["**total**", str(len(frame)), f"{frame['s'].sum() / 60:.1f}", f"{frame['s'].mean():.0f}", ""])
    intro = [
        f"Wall time of every job with a `benchmark:` file ({folder}/, column s; table and figure rules run "
        "locally and are not timed), summed per stage. Jobs that ran in parallel overlap, so the run took less "
        "than the total."
    ]
    return section("## Wall time", intro, table(["stage", "jobs", "total (min)", "mean per job (s)", "source"], body))


def _benchmark_seconds(path: Path) -> float:
    try:
        frame = pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as problem:
        raise ResultsError(f"cannot read benchmark file {path}: {problem}") from problem
    if "s" not in frame.columns or frame.empty:
        raise ResultsError(f"benchmark file {path} has no wall time (column s); it has {list(frame.columns)}")
    return float(frame["s"].sum())  # one row per run of the job (`repeat`)


def sources(tables: Tables) -> list[str]:
    return section(
        "## Sources",
        ["Every table this page read, under the run's results folder:", *(f"- `{name}`" for name in tables.used())],
    )


def results_page(tables: Tables, settings: PageSettings, benchmarks: str | Path) -> str:
    """The whole page; its first line says what wrote it."""
    lines = [
        f"*Generated by {GENERATOR} from the result tables of `results/{settings.dataset['name']}/`. Do not "
        "edit: rerun the workflow; `make results-doc` copies the demo's page to docs/results.md.*",
        "",
        *introduction(settings),
    ]
    for part in (
        performance,
        read_positions,
        consistency,
        dynamic,
        discreteness,
        identifiability,
        sweeps,
        regularization_control,
        pruning,
        december,
        insilico,
        transfer,
    ):
        lines += part(tables, settings)
    lines += wall_time(Path(benchmarks), tables.root, settings)
    lines += sources(tables)
    return "\n".join(lines).rstrip() + "\n"
