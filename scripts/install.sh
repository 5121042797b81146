#!/usr/bin/env bash
# Installs everything Freezeframe needs on this machine, idempotently (seconds when all is present):
# Debian packages, CRIU >= 4.2 (proven by a real dump + restore), node modules, the native launcher, the CLI,
# the archive signing key.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] cannot continue: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "Freezeframe runs criu, which needs root: run this as root (sudo npm start / sudo npm test)."
command -v apt-get >/dev/null || die "no apt-get: Freezeframe installs its programs from Debian packages (Debian 12 or newer)."
for ns in pid ipc mnt uts; do
  [ -e "/proc/self/ns/$ns" ] || die "the kernel has no $ns namespaces (CONFIG_${ns^^}_NS); desktops need them."
done
command -v node >/dev/null || die "no node: install Node.js >= 20.9."

# --- Debian packages ---------------------------------------------------------------------------------------
packages=(tigervnc-standalone-server icewm xterm x11-apps x11-utils xfonts-base iptables chromium
  fonts-dejavu-core gcc make libc6-dev procps xz-utils ca-certificates firefox-esr
  libreoffice-writer gnome-calculator mousepad xpdf mpv ffmpeg
  iproute2  # ip netns: the self-contained desktops' kept network namespaces (docs/self-contained.md)
  nginx  # nginx: the reverse-proxy test (test/proxy.test.ts) runs a real one on loopback
  etcd-server)  # etcd 3.4: the fleet (FREEZEFRAME_ETCD, server/fleet/); the fleet tests start their own on loopback and the test network
criuBuildDeps=(patch libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf
  libnl-3-dev libnl-route-3-dev libcap-dev libnet1-dev libbsd-dev libgnutls28-dev libnftables-dev uuid-dev
  pkg-config python3)
aptUpdated=0
ensurePackages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ $aptUpdated = 0 ]; then apt-get update -q >/dev/null || die "apt-get update failed"; aptUpdated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}
ensurePackages "${packages[@]}"

# X clients find a display's socket in /tmp/.X11-unix; desktops run without capabilities and cannot create it.
install -d -m 1777 /tmp/.X11-unix

# --- the desktops' user ---------------------------------------------------------------------------------------
# Every desktop's programs run as this unprivileged system user (native/newns drops to it); it has no login shell
# and no home of its own (each desktop gets one under the state folder).
desktopUser=${FREEZEFRAME_DESKTOP_USER:-freezeframe-desktop}
if ! getent passwd "$desktopUser" >/dev/null; then
  log "creating the system user $desktopUser (the desktops' programs run as it)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "Freezeframe desktops" "$desktopUser" || die "useradd $desktopUser failed"
fi

# --- the native launcher ------------------------------------------------------------------------------------
make -s -C native >/dev/null || die "building native/ (newns and the .node addons) failed (see: make -C native)"
chmod 0755 native/desktop.sh native/apps/*.sh
# The mpv preset's clip, made here with ffmpeg rather than shipped or downloaded (nothing when it is there).
sh native/apps/makeClip.sh || die "making the mpv preset's clip (native/apps/makeClip.sh) failed"

# --- CRIU ---------------------------------------------------------------------------------------------------
# criu keeps its kernel probes (criu.kdat) only on a tmpfs at its build-time RUNDIR; /run is not one here, so
# every call would re-probe (criu check: 70 ms instead of 20 ms). The build sets RUNDIR to this root-only tmpfs.
criuRundir=/run/freezeframe-criu
mkdir -p "$criuRundir"
mountpoint -q "$criuRundir" || mount -t tmpfs -o mode=0700,size=16m freezeframe-criu "$criuRundir" \
  || log "could not mount a tmpfs on $criuRundir: criu will work, re-probing the kernel on every call"

criu="$root/vendor/criu/bin/criu"
smokeStamp="$root/vendor/criu/SMOKE_OK"
# The smoke test itself is part of the stamp: when it asks more (as when desktops began to run as an unprivileged
# user), a criu it passed before is proven again, and rebuilt if it fails.
stampValue() { echo "$(uname -r) $(readlink -f "$criu") $(stat -c %Y "$(readlink -f "$criu")") $(sha256sum < scripts/criu-smoke.mjs | cut -c1-16)"; }
criuProven() { [ -x "$criu" ] && [ "$(cat "$smokeStamp" 2>/dev/null)" = "$(stampValue)" ]; }
prove() {
  node scripts/criu-smoke.mjs "$criu" "$desktopUser" >&2 && stampValue > "$smokeStamp"
}
# A criu this script built from an older set of scripts/criu-patches/ is rebuilt with the current one (build-criu.sh
# does nothing when its PATCHES stamp is current): proven as it was, it would never pick up a new patch (0002, the
# lazy-pages fix). The new binary is proven again below.
if [ -x "$criu" ] && [ ! -L "$criu" ] && [ -f "$root/vendor/criu/PATCHES" ]; then
  FREEZEFRAME_CRIU_RUNDIR="$criuRundir" bash scripts/build-criu.sh || die "rebuilding CRIU with scripts/criu-patches/ failed (see the lines above)"
fi
if ! criuProven; then
  if [ -x "$criu" ] && prove; then :
  else
    # Debian 12's criu (3.17) fails `criu check` on this kernel, 4.1.1 fails every dump with a TCP socket, and
    # where root lacks CAP_SYS_RESOURCE an unpatched criu cannot dump a tree of another uid (prlimit() EPERM):
    # a criu on PATH is used only if it really dumps and restores, as desktops run, here.
    system=$(command -v criu || true)
    if [ -n "$system" ] && [ "$system" != "$criu" ]; then
      log "trying the system's $system ($("$system" --version 2>/dev/null | head -1))"
      mkdir -p "$(dirname "$criu")"
      ln -sfn "$system" "$criu"
      prove || { log "the system's criu does not dump and restore here; building CRIU instead"; rm -f "$criu"; }
    fi
    if ! criuProven; then
      ensurePackages "${criuBuildDeps[@]}"
      FREEZEFRAME_CRIU_RUNDIR="$criuRundir" bash scripts/build-criu.sh
      prove || die "the CRIU just built does not dump and restore here (see the lines above)"
    fi
  fi
fi

# --- kernel settings ----------------------------------------------------------------------------------------
# A lazy move's source (criu dump --lazy-pages) answers each page request through a pipe it sizes to 3.2 MB, which
# needs CAP_SYS_RESOURCE above fs.pipe-max-size (1 MB by default); without either it keeps a 64 KB pipe and the first
# larger request fails the move ("tee: 65536", server/fleet/lazyMove.ts). Raised here, for now and for boots to come.
pipeMax=4194304
if [ "$(cat /proc/sys/fs/pipe-max-size)" -lt "$pipeMax" ]; then
  log "fs.pipe-max-size -> $pipeMax (criu's lazy page server)"
  sysctl -q -w fs.pipe-max-size=$pipeMax || log "could not raise fs.pipe-max-size: lazy moves from this host are refused"
fi
if [ -d /etc/sysctl.d ] && ! grep -qs "fs.pipe-max-size = $pipeMax" /etc/sysctl.d/60-freezeframe.conf; then
  printf '# Freezeframe (scripts/install.sh): criu lazy page server pipes\nfs.pipe-max-size = %s\n' "$pipeMax" > /etc/sysctl.d/60-freezeframe.conf
fi

# --- node modules -------------------------------------------------------------------------------------------
lockHash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.freezeframe-lock 2>/dev/null)" != "$lockHash" ]; then
  log "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
  echo "$lockHash" > node_modules/.freezeframe-lock
fi
# --- the CLI, compiled ----------------------------------------------------------------------------------------
# bin/freezeframe.js runs .build/cli (plain JavaScript: no TypeScript compiled per call); nothing is done when no
# source changed.
node scripts/build-cli.mjs || die "building the CLI (node scripts/build-cli.mjs) failed"

# --- the archive signing key ----------------------------------------------------------------------------------
# Exports are signed with this installation's Ed25519 key and imports must be signed by it or by a key listed in
# trusted-keys (criu restores an archive's images as root). Made once (server/checkpoints/keys.ts), root-only.
keyDir=${FREEZEFRAME_KEY_DIR:-/etc/freezeframe}
install -d -m 0700 -o root -g root "$keyDir"
keyLine=$(FREEZEFRAME_KEY_DIR="$keyDir" node bin/freezeframe.js key) || die "could not make the signing key in $keyDir"
log "archive signing key ($keyDir): $keyLine"
log "ready: $("$criu" --version | head -1), $(Xvnc -version 2>&1 | grep -m1 -o 'TigerVNC [0-9.]*'), node $(node --version)"
