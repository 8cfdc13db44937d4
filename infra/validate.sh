#!/usr/bin/env bash
# Validates the infrastructure code: compiles and lints every Bicep file under infra/bicep with the
# pinned Bicep CLI and fails on any error or warning (zero tolerance; linter settings are in
# infra/bicep/bicepconfig.json). The compiled ARM templates land in infra/bicep/bin/ (ignored).
#
# The Bicep CLI comes from NuGet (Azure.Bicep.CommandLine.linux-x64, version pinned in
# infra/bicep-cli.props): restoring infra/tools/BicepCli.csproj places it in the NuGet cache; no other
# download happens. ./test.sh runs this script after the tests.
#   infra/validate.sh               validate everything
#   infra/validate.sh --bicep-path  only fetch the CLI and print its path
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "validate: $*" >&2; exit 1; }
command -v dotnet >/dev/null 2>&1 || fail "'dotnet' is not installed; install the .NET 10 SDK"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) fail "the pinned Bicep CLI package is for linux-x64; this is $(uname -s)-$(uname -m)" ;;
esac

tools=tools/BicepCli.csproj
if ! restore_log=$(dotnet restore "$tools" --verbosity quiet -nologo 2>&1); then
  echo "$restore_log" >&2
  fail "could not restore the Bicep CLI package (see above); check the NuGet feed"
fi
bicep=$(dotnet msbuild "$tools" -nologo -getProperty:RmtBicepPath)
version=$(dotnet msbuild "$tools" -nologo -getProperty:RmtBicepVersion)
[ -f "$bicep" ] || fail "the Bicep CLI is not at $bicep after restore; delete that package folder from the NuGet cache and rerun"
[ -x "$bicep" ] || chmod u+x "$bicep"
if [ "${1:-}" = "--bicep-path" ]; then echo "$bicep"; exit 0; fi

"$bicep" --version | grep -q "version $version " || fail "$bicep is not Bicep $version"

files=$(find bicep -name '*.bicep' -not -path 'bicep/bin/*' | sort)
[ -n "$files" ] || fail "no .bicep files under infra/bicep"
echo "validate: Bicep $version, $(echo "$files" | wc -l) files: $(echo $files)"

# Any line of output is a diagnostic (Error, Warning, or Info such as an experimental-feature
# notice): all of them fail the validation. The exit code catches errors without output.
problems=0
run() {
  local what=$1; shift
  local out rc=0
  out=$("$bicep" "$@" 2>&1) || rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    [ -n "$out" ] && echo "$out" >&2
    echo "validate: bicep $what failed (exit $rc, $(printf '%s' "$out" | grep -c ' : Error ' || true) errors, $(printf '%s' "$out" | grep -c ' : Warning ' || true) warnings)" >&2
    problems=1
  fi
}

rm -rf bicep/bin
run lint lint --pattern 'bicep/**/*.bicep'
run build build --pattern 'bicep/**/*.bicep' --outdir bicep/bin
[ $problems -eq 0 ] || fail "fix the diagnostics above"
[ -s bicep/bin/main.json ] || fail "bicep build wrote no bicep/bin/main.json"
echo "validate: ok (0 errors, 0 warnings); ARM templates in infra/bicep/bin/"
