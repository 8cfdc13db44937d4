#!/usr/bin/env bash
# The chaos run of issue 12 (docs/reliability.md): the tiny pipeline with the real trainer under seeded
# random transient storage faults on the pipeline's storage requests, one killed job process, one
# duplicate delivery and one host restart. It must complete with every checkpoint downloadable and no
# stage trained twice beyond one checkpoint interval; it prints faults injected, retries and work lost.
# About 5-10 minutes on two cores; not part of ./test.sh.
#   scripts/chaos.sh                 seed 12, 3% of storage requests faulted
#   scripts/chaos.sh SEED [RATE]     e.g. scripts/chaos.sh 7 0.05
set -euo pipefail
cd "$(dirname "$0")/.."

export RMT_CHAOS=1
export RMT_CHAOS_SEED="${1:-12}"
export RMT_CHAOS_RATE="${2:-0.03}"
mkdir -p .rmt/chaos
export RMT_CHAOS_REPORT="$PWD/.rmt/chaos/seed-$RMT_CHAOS_SEED.txt"
rm -f "$RMT_CHAOS_REPORT"

scripts/setup.sh
dotnet build Rmt.sln -c Release --no-restore --verbosity quiet -nologo
status=0
( cd tests/Rmt.Local.Tests && dotnet test -c Release --no-build --nologo \
    --filter "FullyQualifiedName~ChaosRunTests" --logger "console;verbosity=normal" ) || status=$?
echo
if [ -f "$RMT_CHAOS_REPORT" ]; then
  echo "chaos: figures (also in $RMT_CHAOS_REPORT):"
  cat "$RMT_CHAOS_REPORT"
fi
[ $status -eq 0 ] && echo "chaos: passed" || echo "chaos: FAILED (exit $status)"
exit $status
