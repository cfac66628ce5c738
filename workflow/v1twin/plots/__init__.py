"""Figures of the workflow: one module per stage, one function per figure.

Every figure is saved as PDF (for papers) and PNG (for the report and quick looks) by `save_figure`.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are rendered on cluster nodes without a display
import matplotlib.pyplot as plt  # noqa: E402

from v1twin.files import read_table  # noqa: E402,F401  (re-exported: every plot module reads its tables with it)


def legend_right(ax: "plt.Axes") -> None:
    """The panel's legend right of it, off the data."""
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))


def save_figure(fig: "plt.Figure", pdf_path: str | Path) -> "plt.Figure":
    """Save `fig` as `pdf_path` and as the PNG beside it, then close it. Returned (every plotting function
    returns it) so that tests can check what is drawn: axes, labels, points and lines."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf_path, bbox_inches="tight")
    fig.savefig(pdf_path.with_suffix(".png"), dpi=150, bbox_inches="tight")
    plt.close(fig)
    return fig
