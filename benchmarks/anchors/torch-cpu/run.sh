#!/usr/bin/env bash
# libtorch CPU anchor: times our benchmark workloads with TorchSharp-cpu (libtorch) and prints one JSON line each.
#
# libtorch's native library needs GLIBCXX_3.4.32 (GCC 13), newer than Debian 12 ships, so the anchor runs inside a
# Debian 13 ("trixie") root made with debootstrap from the mirror this machine's apt already uses. The root is made
# once and reused; the anchor is published self-contained on the host and copied in.
#
# usage: run.sh [--prepare-only | --no-publish] [-- ANCHOR ARGS...]
#   --prepare-only   create the root (if missing) and publish the anchor, do not run it
#   --no-publish     run the anchor already copied into the root (repeated runs)
#   ANCHOR ARGS      passed to the anchor, e.g. -- --threads 2 --rounds 7 (see its --help)
# environment:
#   O2RL_ANCHOR_ROOT  where the trixie root lives (default: the user cache dir, outside the work tree)
# Needs root (debootstrap, mount, chroot). Exit status: the anchor's, or 1 when the root cannot be made.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=${O2RL_ANCHOR_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/o2rl/torch-anchor-trixie}
publish_dir="$here/bin/publish"
prepare_only=0
publish=1
anchor_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare-only) prepare_only=1; shift ;;
    --no-publish) publish=0; shift ;;
    --) shift; anchor_args=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: needs root for debootstrap, mount and chroot (running as uid $(id -u))" >&2
  exit 1
fi

# The Debian mirror apt is configured with (deb822 .sources or one-line sources.list), skipping the security
# archive: the root is fetched from the same place as every other package on this machine.
debian_mirror() {
  local file uri suites
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # deb822 stanzas: pair each URIs line with the Suites line of the same stanza.
    awk 'BEGIN{RS=""} {uri=""; suites=""; n=split($0, lines, "\n");
           for (i=1;i<=n;i++) { if (lines[i] ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", lines[i]); split(lines[i], u, " "); uri=u[1] }
                                if (lines[i] ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", lines[i]); suites=lines[i] } }
           if (uri != "" && suites !~ /-security/ && uri ~ /debian/) { print uri; exit } }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk '$1=="deb" && $0 !~ /-security/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$file"
  done
}

create_root() {
  local mirror started partial
  mirror=$(debian_mirror | head -n 1)
  if [ -z "$mirror" ]; then
    echo "run.sh: found no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/" >&2
    exit 1
  fi
  if ! command -v debootstrap > /dev/null; then
    echo "run.sh: installing debootstrap" >&2
    # A machine whose package lists were never fetched knows no debootstrap yet: update once and retry.
    apt-get install -y debootstrap > /dev/null 2>&1 || { apt-get update > /dev/null && apt-get install -y debootstrap > /dev/null; }
  fi
  # Built beside its final place and renamed when complete, so an interrupted run never leaves a root that
  # looks usable.
  partial="$root.partial"
  rm -rf "$partial"
  mkdir -p "$(dirname "$root")"
  echo "run.sh: creating a Debian 13 (trixie) root at $root from $mirror" >&2
  started=$(date +%s)
  debootstrap --variant=minbase trixie "$partial" "$mirror" > "$(dirname "$root")/debootstrap.log" 2>&1 || {
    echo "run.sh: debootstrap failed; last lines of $(dirname "$root")/debootstrap.log:" >&2
    tail -n 20 "$(dirname "$root")/debootstrap.log" >&2
    exit 1
  }
  mv "$partial" "$root"
  echo "$(( $(date +%s) - started ))" > "$root/.o2rl-root-seconds"
  echo "run.sh: root created in $(cat "$root/.o2rl-root-seconds") s" >&2
}

if [ -x "$root/usr/bin/env" ] && [ -f "$root/.o2rl-root-seconds" ]; then
  echo "run.sh: reusing the trixie root at $root (created in $(cat "$root/.o2rl-root-seconds") s)" >&2
else
  create_root
fi

if [ "$publish" -eq 1 ] || [ ! -x "$root/opt/torch-anchor/TorchCpuAnchor" ]; then
  echo "run.sh: publishing the anchor (self-contained, linux-x64)" >&2
  mkdir -p "$here/bin"
  if ! dotnet publish "$here/TorchCpuAnchor.csproj" -c Release -o "$publish_dir" -nologo -v quiet > "$here/bin/publish.log" 2>&1; then
    grep -E "error|Error" "$here/bin/publish.log" | sort -u >&2 || tail -n 20 "$here/bin/publish.log" >&2
    exit 1
  fi
  rm -rf "$root/opt/torch-anchor"
  mkdir -p "$root/opt/torch-anchor"
  cp -a "$publish_dir/." "$root/opt/torch-anchor/"
fi
[ "$prepare_only" -eq 1 ] && exit 0

# .NET and libtorch read /proc (CPU count, memory limits) and /dev (urandom); mount them for the run only.
mounted=()
cleanup() {
  local i
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount "${mounted[$i]}" 2> /dev/null || umount -l "${mounted[$i]}" || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --bind /dev "$root/dev" && mounted+=("$root/dev")
mount -t sysfs sysfs "$root/sys" && mounted+=("$root/sys")

set +e
chroot "$root" /usr/bin/env -i HOME=/root TMPDIR=/tmp PATH=/usr/bin:/bin DOTNET_CLI_TELEMETRY_OPTOUT=1 \
  /opt/torch-anchor/TorchCpuAnchor "${anchor_args[@]}"
status=$?
set -e
exit $status
