#!/bin/sh
# Draws the figures of papers/ from the data in notebooks-data/: runs every notebook
# notebooks-data/*.ipynb headless (jupyter nbconvert --execute) and keeps the SVG files they save.
# Run from the repository root (papers/reproduce.sh runs it after writing the data):
#   sh papers/figures.sh [data folder [figures folder]]
# Defaults: notebooks-data/published-figures and papers/figures.
#
# The notebooks run on $SOMSIM_PYTHON (default /usr/bin/python3, Debian's, whatever python3 comes
# first in PATH) with a kernel of that same interpreter, and need its pandas, matplotlib,
# nbconvert, nbformat and ipykernel (papers/README.md); without them the script exits 69 with a
# message saying what to install, and draws nothing.
#
# The executed notebooks go to a temporary folder and are removed: the committed notebooks stay
# without outputs. The figures are drawn into a temporary folder and replace the figures folder's
# SVG files only when every notebook succeeded; the first failure stops the script with a message
# and exit 1, leaving the figures as they were. The same data drawn with the same matplotlib
# (Debian 12: 3.6.3) gives the same bytes.
set -eu
data=${1:-notebooks-data/published-figures}
drawn=${2:-papers/figures}
python=${SOMSIM_PYTHON:-/usr/bin/python3}
if [ ! -d notebooks-data ]; then
  echo "figures.sh: run me from the repository root (no notebooks-data/ here)" >&2
  exit 64
fi
packages="python3-pandas python3-matplotlib jupyter-nbconvert python3-ipykernel python3-nbformat"
if ! "$python" -c 'import pandas, matplotlib, nbconvert, nbformat, ipykernel' 2>/dev/null; then
  echo "figures.sh: the notebooks need $python with pandas, matplotlib, nbconvert, nbformat and ipykernel; on Debian: apt-get install -y $packages (or give another interpreter in SOMSIM_PYTHON); no figure was drawn" >&2
  exit 69
fi
if [ ! -d "$data" ]; then
  echo "figures.sh: $data is not a folder of data; run sh papers/reproduce.sh first; no figure was drawn" >&2
  exit 66
fi
mkdir -p "$drawn"
data=$(cd "$data" && pwd)
drawn=$(cd "$drawn" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A kernel spec of its own, so that the kernel is $python whatever kernels PATH or the user's
# Jupyter folders hold.
mkdir -p "$work/jupyter/kernels/somsim-python3" "$work/figures"
printf '{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "somsim (%s)", "language": "python"}\n' \
  "$python" "$python" > "$work/jupyter/kernels/somsim-python3/kernel.json"

for notebook in notebooks-data/*.ipynb; do
  if ! JUPYTER_PATH="$work/jupyter" PYDEVD_DISABLE_FILE_VALIDATION=1 PYTHONDONTWRITEBYTECODE=1 SOMSIM_DATA="$data" SOMSIM_FIGURES="$work/figures" \
    "$python" -m nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=somsim-python3 \
    --ExecutePreprocessor.timeout=600 --output-dir "$work/executed" --log-level WARN "$notebook" >&2; then
    echo "figures.sh: $notebook failed (its error is above); the figures in $drawn are unchanged" >&2
    exit 1
  fi
done

# Every notebook succeeded: the new figures replace the old, and a figure no notebook draws any
# more is removed.
for old in "$drawn"/*.svg; do
  if [ -f "$old" ] && [ ! -f "$work/figures/$(basename "$old")" ]; then rm -f "$old"; fi
done
for new in "$work/figures"/*.svg; do
  if [ -f "$new" ]; then mv -f "$new" "$drawn/"; fi
done
echo "drew $drawn"
