#!/usr/bin/env bash
# Builds the local images the tests use. No registry is reachable here, so images are imported
# from a root filesystem. Each image is cached by tag: an existing tag is not rebuilt.
set -euo pipefail

BUSYBOX_TAG=dockhand-test/busybox:1
DEBIAN_TAG=dockhand-test/debian-bash:bookworm
# The Docker image test builds deploy/docker/Dockerfile on this one: the native dockhand needs OpenSSL 3 at run time and
# CA certificates for HTTPS, which a minbase Debian lacks and which no build can fetch without a registry.
RUNTIME_TAG=dockhand-test/debian-runtime:bookworm

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq "$@" >/dev/null
}

# The Debian mirror, taken only from this machine's own apt configuration (no mirror is written in this repository):
# the first http(s)/file URI of an enabled `deb` source for the suite bookworm with the component main, from deb822
# *.sources files first, then classic one-line sources.list entries. Prints nothing when there is none.
apt_mirror() {
  local sources=() lists=() file
  for file in /etc/apt/sources.list.d/*.sources; do [ -f "$file" ] && sources+=("$file"); done
  [ -f /etc/apt/sources.list ] && lists+=(/etc/apt/sources.list)
  for file in /etc/apt/sources.list.d/*.list; do [ -f "$file" ] && lists+=("$file"); done
  {
    if [ ${#sources[@]} -gt 0 ]; then
      # deb822: stanzas separated by blank lines; field names are case-insensitive; values may list several words.
      awk '
        function flush() {
          if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && comps ~ /(^| )main( |$)/ && enabled != "no")
            print uris
          types = uris = suites = comps = enabled = ""
        }
        FNR == 1 { flush() }
        /^[[:space:]]*#/ { next }
        /^[[:space:]]*$/ { flush(); next }
        {
          key = tolower($1); value = $0; sub(/^[^:]*:[[:space:]]*/, "", value)
          if (key == "types:") types = value
          else if (key == "uris:") uris = value
          else if (key == "suites:") suites = value
          else if (key == "components:") comps = value
          else if (key == "enabled:") enabled = tolower(value)
        }
        END { flush() }
      ' "${sources[@]}" | tr ' ' '\n'
    fi
    if [ ${#lists[@]} -gt 0 ]; then
      # One-line form: deb [options] URI suite component...
      awk '
        $1 != "deb" { next }
        {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          uri = $i; suite = $(i + 1)
          for (j = i + 2; j <= NF; j++) if (suite == "bookworm" && $j == "main") { print uri; break }
        }
      ' "${lists[@]}"
    fi
  } | grep -E '^(https?|file)://' | head -n 1 || true
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if have_image "$BUSYBOX_TAG"; then
  echo "images: $BUSYBOX_TAG cached"
else
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || apt_install busybox-static
  root="$work/busybox"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    # busybox lists itself; linking it would replace the binary with a link to itself.
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$BUSYBOX_TAG" >/dev/null
  echo "images: built $BUSYBOX_TAG"
fi

debian_mirror() {
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=$(apt_mirror)
  if [ -z "$mirror" ]; then
    echo "images: no apt source for Debian bookworm main found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{sources,list};" \
      "add the machine's Debian mirror there (debootstrap builds $1 from it)" >&2
    exit 2
  fi
  echo "$mirror"
}

# debootstrap_image TAG [--include=PACKAGES]: a minimal Debian bookworm from the machine's mirror, imported as TAG.
debootstrap_image() {
  local tag=$1 root="$work/debian-$RANDOM" mirror
  shift
  mirror=$(debian_mirror "$tag")
  echo "images: debootstrap bookworm for $tag from $mirror (about 30 s)"
  debootstrap --variant=minbase "$@" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 2; }
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
  rm -rf "$root"
  echo "images: built $tag"
}

if have_image "$DEBIAN_TAG"; then
  echo "images: $DEBIAN_TAG cached"
else
  debootstrap_image "$DEBIAN_TAG"
fi

if have_image "$RUNTIME_TAG"; then
  echo "images: $RUNTIME_TAG cached"
else
  debootstrap_image "$RUNTIME_TAG" --include=libssl3,ca-certificates
fi
