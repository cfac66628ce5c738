"""The figure registry: what one figure of the study is, and the plotting function that draws it.

workflow/rules/figures.smk declares every figure as a `Figure` and makes one rule per figure from
it; workflow/scripts/figures.py calls `plot_function(figure.plot)` with the rule's inputs.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One figure: rule `figure_<name>` draws results/<dataset>/figures/<name>.pdf (and the PNG beside
    it, shown in the report under `category` with the caption workflow/report/<name>.rst)."""

    name: str
    description: str  # the rule's docstring: what the figure shows and which paper figure it reproduces
    plot: str  # `module.function` in v1twin.plots
    inputs: dict[str, str | list[str]]  # keyword arguments of the function: a path or a list of paths
    category: str
    options: dict[str, Any] = field(default_factory=dict)  # the function's other keyword arguments


def plot_function(plot: str) -> Callable[..., Any]:
    """The function `module.function` of v1twin.plots."""
    module_name, function_name = plot.split(".")
    return getattr(importlib.import_module(f"v1twin.plots.{module_name}"), function_name)
