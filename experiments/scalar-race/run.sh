#!/usr/bin/env bash
# Shows TorchSharp 0.107's scalar race and both ways around it (docs/torchsharp-scalar-race.md).
# Four copies per case on purpose: the race needs the main thread preempted inside a native call.
#   experiments/scalar-race/run.sh [seconds]      (default 20 per case, 3 cases)
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
dotnet build experiments/scalar-race/ScalarRace.csproj -c Release --nologo --verbosity quiet || exit 1
dll=experiments/scalar-race/bin/Release/net10.0/ScalarRace.dll
run_case() { # label, env, mode
  echo "== $1"
  for i in 1 2 3 4; do
    (out=$(env $2 dotnet "$dll" "$seconds" "$3" 2>&1)
     echo "$out" | grep -m1 -E "^survived|Expected false|INTERNAL ASSERT" | cut -c1-160 | sed "s/^/  copy $i: /") 2>/dev/null &
  done
  wait
}
run_case "implicit scalars, optimized JIT (TorchSharp as shipped)" "DOTNET_JITMinOpts=0" implicit
run_case "implicit scalars, DOTNET_JITMinOpts=1 (what our scripts set)" "DOTNET_JITMinOpts=1" implicit
run_case "scalars we keep referenced, optimized JIT" "DOTNET_JITMinOpts=0" kept
