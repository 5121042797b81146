#!/bin/sh
# Makes native/apps/clip.mkv, the player preset's clip: 10 s of FFmpeg's test pattern (colour bars, a moving
# gradient and the frame number drawn in the picture), 480x360 at 25 frames/s, MPEG-4 Part 2 (in every
# libavcodec), no sound. Made at install rather than shipped; bit-exact, so that every install makes the same
# bytes: a checkpoint of the player has the clip open, and criu restores a file only at the size it had.
set -eu
out=${1:-$(dirname "$0")/clip.mkv}
[ -s "$out" ] && exit 0
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc=size=480x360:rate=25:duration=10 \
  -c:v mpeg4 -q:v 4 -g 25 -fflags +bitexact -flags:v +bitexact -map_metadata -1 "$out.tmp.mkv"
mv "$out.tmp.mkv" "$out"
