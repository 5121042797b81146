#!/bin/bash
# The program at the top of a desktop's tree (PID 1 of its namespace): Xvnc, then the window manager and apps.
#
# usage: desktop.sh DISPLAY GEOMETRY DEPTH PASSWORD_FILE WM [ARGC ARG...]...
#   PASSWORD_FILE: Xvnc's obfuscated VNC password (viewers must authenticate), or - for none.
#   each app is given as its argument count followed by its arguments, so no shell string is ever built.
# It runs until Xvnc exits; SIGTERM stops Xvnc cleanly (which removes its lock and socket), and with PID 1 gone
# the kernel ends every other process of the namespace.
set -u
display=$1 geometry=$2 depth=$3 passwordFile=$4 wm=$5
shift 5
if [ "$passwordFile" = - ]; then security=(-SecurityTypes None); else security=(-SecurityTypes VncAuth -PasswordFile "$passwordFile"); fi

log() { printf '[desktop %s] %s\n' "$(date +%T.%3N)" "$*"; }

# -displayfd: Xvnc writes the display number once it accepts clients, so we wait for that event, not a time.
readyFifo=$(mktemp -u "/tmp/freezeframe-ready.$display.XXXXXX")
mkfifo -m 600 "$readyFifo" || { log "cannot create $readyFifo"; exit 1; }
log "starting Xvnc :$display $geometry"
Xvnc ":$display" -interface 127.0.0.1 -rfbport $((5900 + display)) -geometry "$geometry" -depth "$depth" \
  "${security[@]}" -AlwaysShared -desktop "freezeframe:$display" -displayfd 3 3>"$readyFifo" &
xvncPid=$!
trap 'log "stopping"; kill -TERM "$xvncPid" 2>/dev/null' TERM INT HUP

ready=""
read -r -t 30 ready <"$readyFifo"
rm -f "$readyFifo"
if [ "$ready" != "$display" ]; then
  log "Xvnc did not become ready on :$display (got '${ready}')"
  kill -TERM "$xvncPid" 2>/dev/null
  wait "$xvncPid"
  exit 1
fi
log "display :$display ready"
export DISPLAY=":$display"

"$wm" &
while [ $# -gt 0 ]; do
  count=$1
  shift
  app=("${@:1:$count}")
  shift "$count"
  log "starting ${app[*]}"
  "${app[@]}" &
done
# The server waits for this line before it calls the desktop running (see server/desktops/registry.ts).
log "desktop started"

# Wait for Xvnc itself; `wait` returns early when a trapped signal arrives, so loop until it is really gone.
while kill -0 "$xvncPid" 2>/dev/null; do
  wait "$xvncPid"
done
log "Xvnc exited"
