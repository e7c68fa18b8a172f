#!/bin/bash
# Installs iPXE's sanbootable package (https://github.com/ipxe/sanbootable)
# so that this Linux system can boot from an iSCSI / NVMe-TCP SAN volume
# (iPXE publishes an iBFT; the package's initramfs hooks then mount the
# root over iSCSI, and boot from the local disk as before without one).
#
# vmie sends this script to its temporary instance with SSM Run Command
# (AWS-RunShellScript, as root), before imaging the instance.  It prints
# what it does on stdout and, when it fails, why on stderr, and exits
# non-zero; vmie shows both.  Both packages are architecture-independent.

# The SSM agent may hand the script to sh: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi

set -Eeuo pipefail

RELEASES="https://github.com/ipxe/sanbootable/releases/latest/download"

say() { printf 'vmie-sanbootable: %s\n' "$*"; }
die() { printf 'vmie-sanbootable: error: %s\n' "$*" >&2; exit 1; }
# Any other failing command: say which, on stderr, before set -e exits.
on_error() {
	printf 'vmie-sanbootable: error: "%s" failed (exit %d, line %d)\n' "$2" "$1" "$3" >&2
}
trap 'on_error "$?" "$BASH_COMMAND" "$LINENO"' ERR

echo "vmie: installing iPXE sanbootable"

workdir=$(mktemp -d /tmp/vmie-sanbootable.XXXXXX)
trap 'rm -rf "$workdir"' EXIT

# Fetch the release asset named $1 into $workdir.
fetch() {
	local url="$RELEASES/$1" out="$workdir/$1"
	say "downloading $url"
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 5 --retry-delay 3 --connect-timeout 20 -o "$out" "$url" ||
			die "could not download $url (does the subnet reach the internet?)"
	elif command -v wget >/dev/null 2>&1; then
		wget -q --tries=5 --timeout=20 -O "$out" "$url" ||
			die "could not download $url (does the subnet reach the internet?)"
	else
		return 1
	fi
	say "downloaded $(wc -c <"$out") bytes"
}

# cloud-init (first boot) may still be installing packages: wait for it,
# so that the package manager's lock is free.
if command -v cloud-init >/dev/null 2>&1; then
	say "waiting for cloud-init to finish"
	timeout 900 cloud-init status --wait >/dev/null 2>&1 || true
fi

if command -v apt-get >/dev/null 2>&1; then
	manager=apt-get
elif command -v dnf >/dev/null 2>&1; then
	manager=dnf
elif command -v yum >/dev/null 2>&1; then
	manager=yum
else
	die "no apt-get, dnf or yum on this system: sanbootable is packaged for Debian/Ubuntu (.deb) and RHEL/Fedora/Amazon Linux (.rpm) only"
fi
say "package manager: $manager"

if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	say "system: ${PRETTY_NAME:-${ID:-unknown}}"
fi

case $manager in
apt-get)
	export DEBIAN_FRONTEND=noninteractive
	apt_opts=(-q -y -o DPkg::Lock::Timeout=600)
	if dpkg -s sanbootable >/dev/null 2>&1; then
		say "sanbootable $(dpkg-query -W -f='${Version}' sanbootable) is installed; installing the latest release over it"
	fi
	fetch sanbootable.deb || die "neither curl nor wget is installed: cannot download sanbootable.deb"
	say "updating the package lists (the package needs open-iscsi and initramfs-tools)"
	apt-get "${apt_opts[@]}" update
	say "installing sanbootable.deb with apt-get"
	apt-get "${apt_opts[@]}" install "$workdir/sanbootable.deb"
	dpkg -s sanbootable 2>/dev/null | grep -q '^Status: install ok installed' ||
		die "apt-get finished but dpkg does not list sanbootable as installed"
	version=$(dpkg-query -W -f='${Version}' sanbootable)
	;;
dnf | yum)
	if rpm -q sanbootable >/dev/null 2>&1; then
		say "$(rpm -q sanbootable) is installed; installing the latest release over it"
	fi
	if fetch sanbootable.rpm; then
		pkg="$workdir/sanbootable.rpm"
	else
		pkg="$RELEASES/sanbootable.rpm" # dnf and yum download it themselves
	fi
	say "installing sanbootable.rpm with $manager (it brings dracut-network and iscsi-initiator-utils)"
	"$manager" -y install "$pkg"
	rpm -q sanbootable >/dev/null 2>&1 ||
		die "$manager finished but rpm does not list sanbootable as installed"
	version=$(rpm -q --qf '%{VERSION}-%{RELEASE}' sanbootable)
	;;
esac

say "installed sanbootable $version with $manager"
say "the package's hooks rebuilt the initramfs with iSCSI (iBFT) support"
sync
say "done: the image boots from a SAN volume when iPXE publishes an iBFT, and from its local disk otherwise"
