#!/bin/sh
# Install every Debian package vmie needs to build, test and run its demo.
# Idempotent: packages already present are not touched and apt is not even
# asked.  As root it installs; otherwise it prints the exact command.
set -eu

PACKAGES="
build-essential
pkg-config
meson
ninja-build
clang
libclang-rt-dev
libcurl4-openssl-dev
libssl-dev
libxml2-dev
libjansson-dev
zlib1g-dev
liblzma-dev
libbz2-dev
libzstd-dev
python3
python3-pytest
python3-pytest-xdist
ca-certificates
awscli
libisal2
libisal-dev
qemu-utils
xz-utils
bzip2
zstd
e2fsprogs
shellcheck
man-db
groff-base
bash-completion
zsh
"

# `bootstrap.sh --bench`: also what bench/ compares vmie with (the AWS
# SDK for Python as the reference tool uses it, the AWS CRT, Python zstd,
# curl), and nginx, the TLS terminator of the HTTPS runs (openssl makes
# their throwaway certificate).
if [ "${1:-}" = "--bench" ]; then
	PACKAGES="$PACKAGES
python3-boto3
python3-awscrt
python3-zstandard
gzip
nginx
openssl
curl
"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "bootstrap: all packages present"
	exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap: missing packages:$missing" >&2
	echo "bootstrap: run as root:  apt-get update && $cmd" >&2
	exit 1
fi

echo "bootstrap: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
