#!/usr/bin/env bash
# make-base-images.sh: creates the base images container/Dockerfile starts from,
# debian:bookworm and debian:bookworm-slim, in the local Docker engine when they are missing.
# For engines with no registry (CI here, air-gapped sites): the Dockerfile stays the one a real
# user builds with Docker Hub, and this script stands in for `docker pull`.
#
#   .ci/make-base-images.sh            create whichever of the two is missing (quick no-op if none)
#   .ci/make-base-images.sh --force    rebuild both
#
# Environment: MIRROR (default: the Debian mirror this machine's apt uses, else deb.debian.org),
# SECURITY_MIRROR (likewise for bookworm-security), SUITE (bookworm).
# Needs root (debootstrap) and the debootstrap package (.ci/install-container-deps.sh).
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
force=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --force) force=1 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

suite=${SUITE:-bookworm}
full_tag="debian:${suite}"
slim_tag="debian:${suite}-slim"

have() { docker image inspect "$1" >/dev/null 2>&1; }
if [ "$force" -eq 0 ] && have "$full_tag" && have "$slim_tag"; then
  echo "make-base-images: $full_tag and $slim_tag exist"
  exit 0
fi

# The mirror apt already uses on this machine is the one known to be reachable (a site may
# point deb.debian.org elsewhere or use an internal mirror): take the first http(s) URI of a
# sources entry that is not the security archive, from either the one-line or the deb822 format.
apt_uris() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -e 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\(https\{0,1\}:[^[:space:]]*\).*/\2/p' \
           -e 's/^URIs:[[:space:]]*\(https\{0,1\}:[^[:space:]]*\).*/\1/p'
}
mirror=${MIRROR:-$(apt_uris | grep -E '/debian/?$' | grep -v security | head -n1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=${SECURITY_MIRROR:-$(apt_uris | grep -E 'debian-security/?$' | head -n1 || true)}
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}
mirror=${mirror%/}
security_mirror=${security_mirror%/}

command -v debootstrap >/dev/null || { echo "make-base-images: debootstrap is missing (bash .ci/install-container-deps.sh)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "make-base-images: debootstrap needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/mls-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "make-base-images: debootstrap --variant=minbase $suite from $mirror"
# minbase is what Docker Hub's debian images are made of (debuerreotype): essential + apt.
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# apt inside the image: the same mirror as the host, with updates and security, in deb822 form
# as in Docker Hub's images, so `apt-get update && apt-get install` in a Dockerfile just works.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Container conventions (what Docker Hub's images configure too, written here from their intent):
# no daemons started by package scripts during a build,
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# downloaded .deb files deleted after install, so layers do not keep them,
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
# no translated package descriptions, and no recommends/suggests pulled in by autoremove.
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Bring in bookworm-updates and bookworm-security now, as Docker Hub's images are rebuilt to do:
# debootstrap installs the release as first published, and a Dockerfile that then installs a
# library would otherwise drag in an upgraded libc6 and friends as a layer of its own.
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 upgrade >"$work/upgrade.log" 2>&1 ||
  { tail -n 30 "$work/upgrade.log" >&2; exit 1; }
chroot "$root" apt-get clean

# What the engine provides at run time need not be in the image: device nodes, proc, sys.
clean_rootfs() {
  rm -rf "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/* "${root:?}"/run/* "${root:?}"/tmp/* \
         "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/log/*.log \
         "${root:?}"/var/cache/ldconfig/aux-cache "${root:?}"/debootstrap
  : >"$root/etc/hostname"
  rm -f "$root/etc/resolv.conf" "$root/etc/machine-id"
}
import() {
  # CMD as in Docker Hub's images; the tar has numeric owners so uids survive.
  tar --numeric-owner -C "$root" -c . |
    docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$1" >/dev/null
  echo "make-base-images: created $1 ($(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'))"
}

clean_rootfs
import "$full_tag"

# slim = the same system without documentation, man pages and translations, now and for every
# package installed later (dpkg path exclusions), as Docker Hub's -slim variant does.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CONF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "${root:?}"/usr/share/man/* "${root:?}"/usr/share/info/* "${root:?}"/usr/share/locale/* \
       "${root:?}"/usr/share/lintian/* "${root:?}"/usr/share/linda/*
import "$slim_tag"
