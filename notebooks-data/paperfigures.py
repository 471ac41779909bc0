"""What the notebooks of notebooks-data/ share: where the data is, where the figures go, and a
matplotlib set-up that draws the same bytes on every run.

papers/figures.sh runs the notebooks with SOMSIM_DATA (the CSV and JSON files of
papers/reproduce.sh) and SOMSIM_FIGURES (the folder for the SVG files) set; opened by hand from
this folder, they read published-figures/ and write ../papers/figures/.
"""

import json
import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import SVG

DATA = Path(os.environ.get("SOMSIM_DATA", "published-figures"))
FIGURES = Path(os.environ.get("SOMSIM_FIGURES", "../papers/figures"))

MIB = 1 << 20
GIB = 1 << 30


def size_text(size_bytes):
    """4096 -> '4 KiB', 2097152 -> '2 MiB', as the papers write sizes."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (1024, "KiB")):
        if size_bytes >= unit and size_bytes % unit == 0:
            return f"{size_bytes // unit} {name}"
    return f"{size_bytes} B"


def setup():
    """matplotlib's own defaults (no matplotlibrc of the user's), with fixed SVG ids."""
    mpl.rcdefaults()
    mpl.rcParams.update({
        "svg.hashsalt": "somsim",  # the ids of clip paths and glyphs, random otherwise
        "svg.fonttype": "path",  # glyphs as paths: no font needed to view the file
        "figure.figsize": (6.4, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def read_csv(name, text=()):
    """A CSV of the data, with every column but those named in `text` numeric (a trailer or
    summary row would make its column text)."""
    frame = pd.read_csv(DATA / name)
    for column in frame.columns:
        if column in text:
            continue
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ValueError(f"{name}: column {column} is not numeric: {frame[column].tolist()}")
    return frame


def read_json(name):
    with open(DATA / name, encoding="utf-8") as file:
        return json.load(file)


def check_every_csv():
    """Every CSV of the data loads with each column all numbers or all text: a column pandas reads
    as text holds no value that is a number. Returns the column types, file by file."""
    types = {}
    for path in sorted(DATA.glob("*.csv")):
        frame = pd.read_csv(path)
        for column in frame.columns:
            values = frame[column].dropna()
            if pd.api.types.is_numeric_dtype(frame[column]):
                kind = "numeric"
            else:
                numbers = pd.to_numeric(values, errors="coerce").notna()
                if numbers.any():
                    raise ValueError(f"{path.name}: column {column} mixes numbers and text: {values[~numbers].tolist()}")
                kind = "text"
            types.setdefault(path.name, {})[column] = kind
    return types


def save(fig, name):
    """Saves `fig` as FIGURES/name (SVG, without a date, so the same data gives the same bytes),
    closes it and returns the file to show."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(FIGURES / name, format="svg", metadata={"Date": None})
    plt.close(fig)
    return SVG(filename=str(FIGURES / name))
