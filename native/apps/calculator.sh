#!/bin/sh
# The calculator preset: gnome-calculator with its settings in a key file in the desktop's home (a desktop has no
# D-Bus, so no dconf) that turns off its currency-rate download: a dump must not meet a half-made connection to
# the internet, and a restore on another machine or later must not resume one.
set -eu
settings=${XDG_CONFIG_HOME:-$HOME/.config}/glib-2.0/settings
mkdir -p "$settings"
[ -e "$settings/keyfile" ] || printf '[org/gnome/calculator]\nrefresh-interval=0\n' >"$settings/keyfile"
GSETTINGS_BACKEND=keyfile exec gnome-calculator "$@"
