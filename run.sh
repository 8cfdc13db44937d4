#!/usr/bin/env bash
# Runs the RMT demo pipeline on this machine, end to end, with one command:
#   Azurite (data kept in .rmt/azurite) -> the durable pipeline (the same orchestrations as the
#   Functions app) -> a tiny model pretrained from scratch -> RMT mid-training -> evaluation -> math
#   post-training -> evaluation -> report, all on the CPU, each stage a child process like the GPU job.
# On a fresh machine it first installs what is missing (scripts/setup.sh) and builds (Release).
#   ./run.sh                 the demo; prints progress, then where the report and checkpoints are
#   ./run.sh --serve         keep the HTTP API up on http://127.0.0.1:7071/api (Ctrl+C stops)
#   ./run.sh --help          all options (see src/Rmt.Local/LocalCommand.cs)
# Interrupt it with Ctrl+C and start it again: the run goes on from its durable state.
set -euo pipefail
cd "$(dirname "$0")"

scripts/setup.sh
# Keeps TorchSharp's implicit Scalars alive through their native calls (docs/torchsharp-scalar-race.md).
export DOTNET_JITMinOpts=1
echo "run: building (Release)..."
dotnet build src/Rmt.Local/Rmt.Local.csproj -c Release --no-restore --verbosity quiet -nologo
dotnet build src/Rmt.GpuJob/Rmt.GpuJob.csproj -c Release --no-restore --verbosity quiet -nologo
echo "run: starting the local host..."
exec dotnet src/Rmt.Local/bin/Release/net10.0/Rmt.Local.dll "$@"
