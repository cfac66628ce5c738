"""Figures of the workflow: one module per stage, one function per figure.

Every figure is saved as PDF (for papers) and PNG (for the report and quick looks) by `save_figure`.
"""
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # figures are rendered on cluster nodes without a display
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig: "plt.Figure", pdf_path: str | Path) -> None:
    """Save `fig` as `pdf_path` and as the PNG beside it, then close it."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf_path, bbox_inches="tight")
    fig.savefig(pdf_path.with_suffix(".png"), dpi=150, bbox_inches="tight")
    plt.close(fig)


def read_table(path: str | Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A CSV file that must hold `columns`; a missing column is an error naming the file."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; it has {list(frame.columns)}")
    return frame
