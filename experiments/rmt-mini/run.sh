#!/usr/bin/env bash
# The RMT miniature reproduction (README.md here). From the repository root:
#   experiments/rmt-mini/run.sh            full run (configs/full.json; its wall time is on the page it writes)
#   experiments/rmt-mini/run.sh quick      reduced run (configs/quick.json), ~15 min on 1 core
#   experiments/rmt-mini/run.sh smoke      seconds; checks the pipeline, numbers mean nothing
# Writes docs/results/rmt-mini.md (+ docs/results/rmt-mini/*.png) for full, and
# docs/results/rmt-mini-<config>.md for the others; work files (base model, entropies, checkpoints)
# go to .rmt/rmt-mini-<config>/ (ignored by git) and are reused by the next run of that config.
set -euo pipefail
cd "$(dirname "$0")/../.."
config="${1:-full}"
[ -f "experiments/rmt-mini/configs/$config.json" ] || { echo "no config experiments/rmt-mini/configs/$config.json" >&2; exit 2; }
report="docs/results/rmt-mini.md"
[ "$config" = full ] || report="docs/results/rmt-mini-$config.md"
mkdir -p .rmt
# Keeps TorchSharp's implicit Scalars alive through their native calls (docs/torchsharp-scalar-race.md).
export DOTNET_JITMinOpts=1
dotnet build experiments/rmt-mini/RmtMini.csproj -c Release --nologo --verbosity quiet
dotnet experiments/rmt-mini/bin/Release/net10.0/RmtMini.dll \
  "experiments/rmt-mini/configs/$config.json" ".rmt/rmt-mini-$config" "$report" \
  2>&1 | tee ".rmt/rmt-mini-$config.log"
