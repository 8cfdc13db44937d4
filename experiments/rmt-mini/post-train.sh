#!/usr/bin/env bash
# Post-trains the base, NTP-continued, RPT and RMT checkpoints of an rmt-mini work folder with the
# same budget (format warm-up + GRPO on generated two-digit sums) and writes the before -> after
# table and plots. Run experiments/rmt-mini first; its work folder is the input here.
#   experiments/rmt-mini/post-train.sh <rmt-mini work dir> [config.json] [results.md]
# Defaults: experiments/rmt-mini/post-train-quick.json, docs/results/rmt-mini-post.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:?usage: $0 <rmt-mini work dir> [config.json] [results.md]}"
config="${2:-experiments/rmt-mini/post-train-quick.json}"
results="${3:-docs/results/rmt-mini-post.md}"
mkdir -p "$(dirname "$results")"
# Keeps TorchSharp's implicit Scalars alive through their native calls (docs/torchsharp-scalar-race.md).
export DOTNET_JITMinOpts=1
dotnet run -c Release --project experiments/rmt-mini-post -- "$config" "$work" "$results"
