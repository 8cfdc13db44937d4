#!/usr/bin/env bash
# Runs every test of RMT and exits non-zero on any failure.
# On a fresh machine it first installs what is missing (scripts/setup.sh). The tests start and stop
# their own Azurite on free loopback ports; nothing needs to be running beforehand.
#   ./test.sh                      everything
#   ./test.sh --filter Name~Blob   extra arguments go to `dotnet test`
set -euo pipefail
cd "$(dirname "$0")"

scripts/setup.sh
echo "test: building (Release)..."
dotnet build Rmt.sln -c Release --no-restore --verbosity quiet -nologo
echo "test: running tests..."
dotnet test Rmt.sln -c Release --no-build --nologo --logger "console;verbosity=minimal" "$@"
if [ -x infra/validate.sh ] && [ $# -eq 0 ]; then
  echo "test: validating infrastructure (Bicep)..."
  infra/validate.sh
fi
echo "test: all passed"
