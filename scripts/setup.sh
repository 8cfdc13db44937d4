#!/usr/bin/env bash
# Installs what RMT needs on a fresh machine that has the .NET SDK, Node/npm and Debian's packages:
# the pinned Azurite (npm ci) and the NuGet packages (dotnet restore). Safe to run again; it only
# does work that is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is not installed. $2" >&2; exit 1; }
}
need dotnet "Install the .NET 10 SDK: https://dotnet.microsoft.com/download"
need node "Install Node.js 20 or newer (Debian: apt-get install nodejs npm)"
need npm "Install npm (Debian: apt-get install npm)"

# Azurite, pinned by package-lock.json. Reinstall when the lock file changed since the last install.
stamp=node_modules/.rmt-lock-stamp
if [ ! -x node_modules/.bin/azurite ] || ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  echo "setup: installing Azurite (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

echo "setup: restoring NuGet packages..."
dotnet restore Rmt.sln --verbosity quiet
