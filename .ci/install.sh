#!/bin/sh
# Installs somsim like a tool: a static release build (the Swift runtime linked in, so the binary
# runs without the toolchain) of somsim and somsim-agent into PREFIX/bin, the manual page into
# PREFIX/share/man/man1, and completions for bash, zsh and fish. README.md, "Install".
#
#   .ci/install.sh PREFIX          e.g. .ci/install.sh /usr/local
#
# The build goes to .build-install (kept between runs, so that a second install is incremental;
# SOMSIM_INSTALL_SCRATCH names another folder). validate finds somsim-agent beside somsim.
set -eu
if [ $# -ne 1 ]; then echo "usage: .ci/install.sh PREFIX (e.g. /usr/local)" >&2; exit 64; fi
case $1 in /*) prefix=$1 ;; *) prefix=$(pwd)/$1 ;; esac
cd "$(dirname "$0")/.."
scratch=${SOMSIM_INSTALL_SCRATCH:-.build-install}
build() { swift build -c release --static-swift-stdlib --scratch-path "$scratch" "$@"; }
build --product somsim
build --product somsim-agent
bin=$(build --show-bin-path)
install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -s -m 755 "$bin/somsim" "$bin/somsim-agent" "$prefix/bin/"  # stripped: 17 MB instead of 34
install -m 644 docs/man/somsim.1 "$prefix/share/man/man1/somsim.1"
"$prefix/bin/somsim" --generate-completion-script bash > "$prefix/share/bash-completion/completions/somsim"
"$prefix/bin/somsim" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_somsim"
"$prefix/bin/somsim" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/somsim.fish"
echo "install.sh: installed $("$prefix/bin/somsim" --version) into $prefix"
