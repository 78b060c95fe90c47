#!/usr/bin/env bash
# Packs the CLI and the engine's test suite (framework-dependent, native libraries for linux-x64 only) with the .NET
# runtime they need,
# compressed into .device/ at the repository root (about 40 MB), so that a machine without .NET (a GPU machine) can run them:
#   .device/run cli ARGS...            (o2rl)
#   .device/run engine-tests ARGS...   (xunit v3 / Microsoft.Testing.Platform options, e.g. --filter-class)
# .device/ is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf "$out"
mkdir -p "$out"
# No runtime identifier: a RID-specific publish would re-restore the projects and leave the normal build stale.
# Instead the other platforms' native libraries (most of the size) are dropped afterwards.
publish() { dotnet publish "$1" -c Release -o "$stage/$2" -v quiet -nologo -p:GenerateDocumentationFile=false; }
publish src/O2RL.Cli/O2RL.Cli.csproj cli
publish tests/O2RL.Engine.Tests/O2RL.Engine.Tests.csproj engine-tests
for runtimes in "$stage"/*/runtimes; do
  [ -d "$runtimes" ] && find "$runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 ! -name linux ! -name unix -exec rm -rf {} +
done
# One archive: the two apps share most of their assemblies, and the whole travels under a size limit.
tar -C "$stage" -cJf "$out/apps.tar.xz" cli engine-tests
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
tar -C "$dotnet_root" -cJf "$out/dotnet.tar.xz" dotnet host shared/Microsoft.NETCore.App
cat > "$out/run" <<'RUN'
#!/usr/bin/env bash
# usage: .device/run cli|engine-tests [args...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runtime=${TMPDIR:-/tmp}/o2rl-dotnet-runtime
apps=${TMPDIR:-/tmp}/o2rl-apps
[ -x "$runtime/dotnet" ] || { mkdir -p "$runtime" && tar -C "$runtime" -xJf "$here/dotnet.tar.xz"; }
[ "$apps/.from" -nt "$here/apps.tar.xz" ] || { rm -rf "$apps"; mkdir -p "$apps" && tar -C "$apps" -xJf "$here/apps.tar.xz" && touch "$apps/.from"; }
export DOTNET_ROOT=$runtime DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
case "${1:?usage: .device/run cli|engine-tests [args...]}" in
  cli) shift; exec "$runtime/dotnet" "$apps/cli/o2rl.dll" "$@" ;;
  engine-tests) shift; exec "$runtime/dotnet" "$apps/engine-tests/O2RL.Engine.Tests.dll" "$@" ;;
  *) echo "unknown program '$1' (cli, engine-tests)" >&2; exit 2 ;;
esac
RUN
chmod +x "$out/run"
du -sh "$out" | sed 's/\t.*/ in .device/'
