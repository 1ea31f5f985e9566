#!/usr/bin/env bash
# The programs that run on hosts (and the verifier) link no libostree and no GLib: OSTree is the
# builder's alone (issue 19). Checks each program's DT_NEEDED entries and, since the linker's
# --as-needed would hide a library named but unused, the link command CMake wrote for it.
# Arguments: pairs of PROGRAM LINK_TXT (link.txt of the Makefile generator; "-" when absent).
set -euo pipefail
status=0
forbidden='(ostree|glib|gio|gobject)-[0-9]'
while (($# >= 2)); do
  program=$1 link=$2
  shift 2
  name=$(basename "$program")
  needed=$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [[ -n $needed ]] || { echo "FAIL: no DT_NEEDED entries read from $program" >&2; status=1; }
  if bad=$(grep -E "$forbidden" <<<"$needed"); then
    echo "FAIL: $name needs $(tr '\n' ' ' <<<"$bad")" >&2
    status=1
  fi
  if [[ -f $link ]]; then
    if bad=$(grep -oE "[^ /]*$forbidden[^ ]*" "$link"); then
      echo "FAIL: $name is linked with $(sort -u <<<"$bad" | tr '\n' ' ')" >&2
      status=1
    fi
  else
    echo "note: no link command to read for $name ($link)"
  fi
  ((status)) || echo "ok: $name links neither libostree nor GLib"
done
exit $status
