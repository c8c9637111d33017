#!/usr/bin/env bash
# Builds the local images the tests use. No registry is reachable here, so images are imported
# from a root filesystem. Each image is cached by tag: an existing tag is not rebuilt.
set -euo pipefail

BUSYBOX_TAG=dockhand-test/busybox:1
DEBIAN_TAG=dockhand-test/debian-bash:bookworm

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq "$@" >/dev/null
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

if have_image "$DEBIAN_TAG"; then
  echo "images: $DEBIAN_TAG cached"
else
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "images: debootstrap bookworm from $mirror (about 30 s)"
  debootstrap --variant=minbase bookworm "$work/debian" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 2; }
  tar -C "$work/debian" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' - "$DEBIAN_TAG" >/dev/null
  echo "images: built $DEBIAN_TAG"
fi
