#!/usr/bin/env bash
# Builds CRIU from Debian's newest source package (sid), with our patches (scripts/criu-patches/*.patch, applied
# in name order), into vendor/criu, unless that very build is already there (vendor/criu/PATCHES says which).
# Why not Debian 12's criu: 3.17 fails `criu check` on this kernel (vDSO vvar_vclock), and 4.1.1 fails every dump
# holding a TCP socket (SO_PASSCRED getsockopt returns EOPNOTSUPP since kernel 6.16). 4.2.1 works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/vendor/criu"
# criu caches its kernel probes (criu.kdat) only on a tmpfs at its build-time RUNDIR; /run is not a tmpfs here,
# so we point RUNDIR at a root-only tmpfs that scripts/install.sh mounts (70 ms -> 20 ms per call).
rundir="${FREEZEFRAME_CRIU_RUNDIR:-/run/freezeframe-criu}"
log() { printf '[build-criu] %s\n' "$*" >&2; }
patches=("$root"/scripts/criu-patches/*.patch)
# One line per patch, name and content hash: a vendor/criu built without one of them (or before it changed) is
# rebuilt, so an existing machine picks a new patch up by running scripts/install.sh again.
patchStamp=$(for p in "${patches[@]}"; do echo "$(basename "$p") $(sha256sum < "$p" | cut -d' ' -f1)"; done)

if [ -x "$dest/bin/criu" ] && [ ! -L "$dest/bin/criu" ] && [ "$(cat "$dest/RUNDIR" 2>/dev/null)" = "$rundir" ] \
   && [ "$(cat "$dest/PATCHES" 2>/dev/null)" = "$patchStamp" ]; then
  log "already built: $("$dest/bin/criu" --version | head -1), with $(basename -a "${patches[@]}" | tr '\n' ' ')"
  exit 0
fi

work=$(mktemp -d /tmp/freezeframe-criu.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The mirror is the one this machine already uses for Debian (deb822 or one-line format); never a hard-coded host.
uri=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
         grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' || true; } \
       | grep -v -e security -e '^$' | grep -i debian | head -1 || true)
[ -n "$uri" ] || { log "no Debian mirror found in /etc/apt/sources.list*: add one, then retry"; exit 1; }
log "fetching criu source from $uri sid (private apt config; the system's sources are not touched)"
mkdir -p "$work/apt/lists/partial" "$work/src"
# Signatures are checked against Debian's archive keyring, as for the machine's own sources.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -f "$keyring" ]; then opt="[signed-by=$keyring] "; else opt=""; fi
echo "deb-src ${opt}$uri sid main" > "$work/apt/sources.list"
aptOpts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=-" -o "Dir::State::Lists=$work/apt/lists" -o "APT::Get::List-Cleanup=0")
apt-get "${aptOpts[@]}" update -q >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; log "apt-get update for sid sources failed"; exit 1; }
# The mirror may serve the .orig tarball but not the .debian one, so apt-get source can exit non-zero with
# everything we need on disk: judge by the tarball, not the exit code.
(cd "$work/src" && apt-get "${aptOpts[@]}" source --download-only criu >"$work/apt-source.log" 2>&1) || true
tarball=$(ls "$work"/src/criu_*.orig.tar.* 2>/dev/null | sort -V | tail -1 || true)
[ -n "$tarball" ] || { cat "$work/apt-source.log" >&2; log "could not download criu's source package"; exit 1; }
version=$(basename "$tarball" | sed -E 's/^criu_([0-9.]+)\.orig.*/\1/')
log "building criu $version (about a minute)"
mkdir "$work/build"
tar -xf "$tarball" -C "$work/build" --strip-components=1
for p in "${patches[@]}"; do
  patch -d "$work/build" -p1 --forward --batch --quiet < "$p" >"$work/patch.log" 2>&1 \
    || { cat "$work/patch.log" >&2; log "$(basename "$p") does not apply to criu $version"; exit 1; }
  log "applied $(basename "$p")"
done
make -C "$work/build" -j"$(nproc)" RUNDIR="$rundir" criu >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; log "make criu failed"; exit 1; }
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/bin"
install -m 0755 "$work/build/criu/criu" "$dest.tmp/bin/criu"
echo "$rundir" > "$dest.tmp/RUNDIR"
echo "$version" > "$dest.tmp/VERSION"
echo "$patchStamp" > "$dest.tmp/PATCHES"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
log "installed $("$dest/bin/criu" --version | head -1) at $dest/bin/criu"
