#!/bin/sh
# Mender update module (API v3) for the peer bench: streams the artifact's one payload file into
# the file named by "target" in the artifact's meta-data, then syncs it. No reboot, no rollback.
set -e
state="$1"
files="$2"
case "$state" in
  SupportsRollback | NeedsArtifactReboot) echo No ;;
  Download)
    target=$(sed -n 's/.*"target" *: *"\([^"]*\)".*/\1/p' "$files/header/meta-data")
    while :; do
      name=$(cat "$files/stream-next")
      [ -z "$name" ] && break
      cat "$files/$name" > "$target"
    done
    sync "$target"
    ;;
esac
exit 0
