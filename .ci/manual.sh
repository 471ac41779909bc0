#!/bin/sh
# Regenerates docs/man/somsim.1, the manual page .ci/install.sh installs, with argument-parser's
# GenerateManual plugin (it runs the built somsim with --experimental-dump-help and renders mdoc).
# Run it after changing a command, an option or a help text; ManualTests fails until you do.
#
#   sh .ci/manual.sh [SCRATCH]        # SCRATCH: the build folder (default .build)
#
# The plugin builds the package (debug: incremental with `swift build`) and writes the page into
# SCRATCH/plugins/GenerateManual/outputs/somsim/; the page's date is the day it is regenerated.
set -eu
cd "$(dirname "$0")/.."
scratch=${1:-.build}
swift package --scratch-path "$scratch" plugin generate-manual --configuration debug
mkdir -p docs/man
cp "$scratch/plugins/GenerateManual/outputs/somsim/somsim.1" docs/man/somsim.1
echo "manual.sh: wrote docs/man/somsim.1"
