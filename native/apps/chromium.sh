#!/bin/sh
# The chromium preset: Debian's Chromium on a profile of the desktop's own (in its home), the page as an app window
# (no address bar), kept off the network by itself: no first run, background networking, component or extension
# updates, sync, pings, crash report uploads (its two crashpad handlers still start), and no name ever resolved (a
# dump then meets no half-made connection, and a restore elsewhere or later resumes none). Only what the page
# itself loads would go out.
# --no-sandbox: its sandbox puts renderers in namespaces of their own, which criu cannot dump. --disable-gpu: Xvnc
# has no GPU (Chromium composites in software). --password-store=basic: no D-Bus, so no keyring to look for.
# --disable-dev-shm-usage: the same on every host (Debian's /etc/chromium.d/dev-shm adds it only where /dev/shm is
# under 3.8 GB); measured here both ways, its shared memory is memfds either way, and its only deleted-but-open
# files are BrowserMetrics-*.pma (4 MiB) and two empty ones, all in the profile (see the preset's ghostLimit).
set -eu
profile=$HOME/.freezeframe-chromium
mkdir -p "$profile"
exec chromium --user-data-dir="$profile" \
  --no-sandbox --disable-gpu \
  --no-first-run --no-default-browser-check --disable-default-apps --disable-extensions \
  --disable-background-networking --disable-component-update --disable-sync --disable-domain-reliability \
  --disable-client-side-phishing-detection --no-pings --disable-breakpad --disable-crash-reporter \
  --host-resolver-rules='MAP * ~NOTFOUND' \
  --password-store=basic --disable-dev-shm-usage \
  --window-position=10,10 --window-size=800,600 \
  --app="file://$1"
