#!/usr/bin/env bash
# Regenerate completions/ from the installed `dunetrace` (tests/test_completions.py checks they are current).
set -euo pipefail
cd "$(dirname "$0")/.."
for shell in bash zsh fish; do
  case $shell in bash) out=completions/dunetrace.bash ;; zsh) out=completions/_dunetrace ;; fish) out=completions/dunetrace.fish ;; esac
  _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION=1 dunetrace --show-completion "$shell" > "$out"
done
