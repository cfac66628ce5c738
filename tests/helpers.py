"""Helpers shared by the tests: settings as the workflow resolves them, toy data and tiny results.

Settings come from the config schema's defaults (the one place they are written), so a test never
repeats a default that could drift from the workflow's.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml
from matplotlib.collections import PathCollection

from v1twin.config_schema import with_defaults
from v1twin.data.mouse_arrays import MouseArrays
from v1twin.data.tensors import MouseTensors, prepare_mouse

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
TINY_CONFIG = REPO / "tests" / "config" / "tiny.yaml"
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
PROFILE = REPO / "profiles" / "slurm"
TEST_PROFILE = REPO / "tests" / "slurm" / "profile"


def schema_defaults(definition: str) -> dict:
    """The defaults of one `$defs` mapping of the config schema, e.g. "training"."""
    properties = SCHEMA["$defs"][definition]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


def model_settings(section: str, kind: str, **overrides) -> dict:
    """Constructor arguments of a core or readout ("core"/"readout") of type `kind`: the schema's
    defaults for that type with `overrides`, as build_model passes them."""
    settings = with_defaults({"type": kind, **overrides}, section)
    del settings["type"]
    settings.pop("shifter", None)  # a module of its own beside the Gaussian readout (build_model)
    return settings


def insilico_settings(**section) -> dict:
    """The resolved `insilico:` section: `section` with the schema's defaults filled in at every level."""
    return with_defaults(section, "insilico")


def training_settings(**overrides) -> dict:
    """The `training:` settings a job receives: the schema's defaults with `overrides`."""
    return {**schema_defaults("training"), **overrides}


def tiny_config() -> dict:
    """The tiny config of the rule-level tests as the Snakefile resolves it: the schema's defaults filled in."""
    return with_defaults(yaml.safe_load(TINY_CONFIG.read_text()))


def rule_blocks(paths=RULE_FILES) -> dict[str, str]:
    """rule name -> its text, from every rule file (or the files given)."""
    blocks = {}
    for path in paths:
        for block in re.split(r"(?m)^(?=[ \t]*rule \w+:)", path.read_text())[1:]:
            blocks[re.match(r"[ \t]*rule (\w+):", block).group(1)] = block
    return blocks


def gpu_rules_in_workflow() -> set[str]:
    """Rules whose `resources:` declare gpu=1, read from the rule files."""
    return {name for name, block in rule_blocks().items() if re.search(r"(?<![\w.])gpu\s*=\s*[1-9]", block)}


def profile_settings() -> dict:
    """profiles/slurm/config.yaml."""
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


# Toy mice. Each builder draws from its own seeded generator in a fixed order: a test's numbers stay put.


@dataclass(frozen=True)
class Trials:
    """A mouse's trials: unique train and validation images, then `test_images` each shown `repeats` times."""

    train: int
    validation: int = 0
    test_images: int = 0
    repeats: int = 1

    @property
    def n_unique(self) -> int:
        return self.train + self.validation + self.test_images

    @property
    def count(self) -> int:
        return self.train + self.validation + self.test_images * self.repeats

    def tiers(self) -> np.ndarray:
        return np.array(["train"] * self.train + ["validation"] * self.validation
                        + ["test"] * (self.test_images * self.repeats))

    def image_ids(self) -> np.ndarray:
        """Image ids 0, 1, ... in trial order; a test image's repeats follow each other."""
        unique = self.train + self.validation
        return np.concatenate([np.arange(unique), np.repeat(np.arange(unique, self.n_unique), self.repeats)])


TOY_TRIALS = Trials(train=80, validation=20, test_images=5, repeats=4)


def mouse_arrays(trials: Trials, images: np.ndarray, responses: np.ndarray, rng: np.random.Generator,
                 first_unit_id: int = 0) -> MouseArrays:
    """A mouse of `trials` around the given images and responses; behaviour, pupil centre and neuron
    coordinates are drawn from `rng`, in that order."""
    n_trials, n_neurons = responses.shape
    return MouseArrays(
        images=images.astype(np.float32),
        responses=responses.astype(np.float32),
        behavior=rng.uniform(0.5, 1.5, (n_trials, 3)).astype(np.float32),
        pupil_center=rng.normal(size=(n_trials, 2)).astype(np.float32),
        tiers=trials.tiers(),
        image_ids=trials.image_ids().astype(np.int64),
        trial_idx=np.arange(n_trials),
        cell_motor_coordinates=rng.uniform(0, 100, (n_neurons, 3)).astype(np.float32),
        unit_ids=np.arange(first_unit_id, first_unit_id + n_neurons, dtype=np.int64),
    )


def smooth(noise: np.ndarray) -> np.ndarray:
    """3x3 box blur over the last two axes, so receptive fields can be learned from few images."""
    padded = np.pad(noise, ((0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = noise.shape[1:]
    return sum(padded[:, dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)) / 9


def toy_mouse(seed: int, trials: Trials = TOY_TRIALS, n_neurons: int = 10, height: int = 12,
              width: int = 16) -> tuple[MouseArrays, np.ndarray]:
    """A learnable mouse: neurons are Gaussian-blob linear filters + softplus, with Poisson responses.
    Returns the arrays and the true rates."""
    rng = np.random.default_rng(seed)
    stimuli = smooth(rng.normal(size=(trials.n_unique, height, width)))
    image_ids = trials.image_ids()
    rows, columns = np.mgrid[0:height, 0:width]
    centre_rows = rng.uniform(4, height - 4, n_neurons)[:, None, None]
    centre_columns = rng.uniform(4, width - 4, n_neurons)[:, None, None]
    filters = np.exp(-((rows - centre_rows) ** 2 + (columns - centre_columns) ** 2) / (2 * 1.5**2))
    filters *= rng.choice([-1.0, 1.0], n_neurons)[:, None, None]
    drive = np.einsum("thw,nhw->tn", stimuli[image_ids], filters)
    rates = np.log1p(np.exp(1.5 * drive / drive.std(axis=0))) + 0.2
    responses = rng.poisson(rates)
    return mouse_arrays(trials, (128 + 60 * stimuli[image_ids])[:, None], responses, rng), rates.astype(np.float32)


def toy_tensors(name: str, seed: int, trials: Trials = TOY_TRIALS, n_neurons: int = 10, height: int = 12,
                width: int = 16) -> MouseTensors:
    """`toy_mouse` in the training view, normalized as the workflow does."""
    return prepare_mouse(name, toy_mouse(seed, trials, n_neurons, height, width)[0], image_scale=1.0)


MOUSE_NAME = "static12345-6-7-GrayImageNet-0123456789abcdef"  # a Sensorium mouse's folder name


def sensorium_mouse(n_trials: int = 14, n_neurons: int = 5, height: int = 6, width: int = 8,
                    seed: int = 0) -> MouseArrays:
    """A random mouse as a Sensorium folder holds it: integer pixel values, image ids at random, shuffled
    trial indices, and the tiers train, validation, test and final_test (two trials each but train)."""
    rng = np.random.default_rng(seed)
    tiers = np.array(["train"] * (n_trials - 6) + ["validation"] * 2 + ["test"] * 2 + ["final_test"] * 2)
    return MouseArrays(
        images=rng.integers(0, 256, (n_trials, 1, height, width)).astype(np.float32),
        responses=rng.gamma(1.0, 2.0, (n_trials, n_neurons)).astype(np.float32),
        behavior=rng.normal(size=(n_trials, 3)).astype(np.float32),
        pupil_center=rng.normal(size=(n_trials, 2)).astype(np.float32),
        tiers=tiers,
        image_ids=rng.integers(0, 1000, n_trials).astype(np.int64),
        trial_idx=rng.permutation(n_trials).astype(np.int64),
        cell_motor_coordinates=rng.uniform(-300, 300, (n_neurons, 3)).astype(np.float32),
        unit_ids=np.arange(1, n_neurons + 1, dtype=np.int64),
        statistics=None,
    )


class CreatesFile:
    """Unpickling this calls open(path, 'w'): the marker file proves that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# What a figure draws, read back from the matplotlib Figure every v1twin.plots function returns.
FIGURE_MIN_BYTES = 5_000  # an empty figure is smaller than this


def assert_figure_files(pdf: str | Path) -> None:
    """The PDF and the PNG beside it exist and are not empty figures."""
    pdf = Path(pdf)
    for path in (pdf, pdf.with_suffix(".png")):
        assert path.stat().st_size > FIGURE_MIN_BYTES, path


def panels(fig: plt.Figure) -> list[plt.Axes]:
    """The figure's visible axes (plotting panels), without colorbars' or hidden ones."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]


def scatter_points(ax: plt.Axes) -> int:
    """Points drawn by scatter/strip plots on `ax`."""
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def legend_labels(container: plt.Axes | plt.Figure) -> list[str]:
    """The entries of every legend of an axes or a figure (figure legends and each panel's)."""
    legends = container.legends if isinstance(container, plt.Figure) else []
    axes = container.axes if isinstance(container, plt.Figure) else [container]
    legends = [*legends, *(ax.get_legend() for ax in axes if ax.get_legend() is not None)]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def legends_off_the_data(fig: plt.Figure) -> bool:
    """Does every legend of the figure (its own and its panels') lie outside every panel's plotting area?"""
    fig.canvas.draw()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    return bool(legends) and not any(legend.get_window_extent().overlaps(ax.get_window_extent())
                                     for legend in legends for ax in panels(fig))


def tick_labels(ax: plt.Axes, axis: str = "x") -> list[str]:
    return [label.get_text() for label in getattr(ax, f"get_{axis}ticklabels")()]


def errorbar_curves(ax: plt.Axes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (x, y) of each errorbar curve on `ax` (the mean ± sd curves), x sorted as drawn."""
    from matplotlib.container import ErrorbarContainer

    return {container.get_label(): (np.asarray(container.lines[0].get_xdata(), float),
                                    np.asarray(container.lines[0].get_ydata(), float))
            for container in ax.containers if isinstance(container, ErrorbarContainer)}


def line_slots(ax: plt.Axes, position: int) -> list[plt.Line2D]:
    """The lines drawn over the categorical slot `position` (x within ±0.5): a violin's quartiles, a strip's lines."""
    return [line for line in ax.lines if len(line.get_xdata()) and abs(np.mean(line.get_xdata()) - position) < 0.5]
