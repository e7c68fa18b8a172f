#!/bin/bash
# User data of vmie's temporary sanbootable instance (run once by
# cloud-init, as root, at first boot): make sure the AWS SSM agent runs,
# because vmie reaches the instance only through SSM Run Command.  An
# agent already there (Amazon Linux, Ubuntu cloud images, most AWS AMIs)
# is only enabled and started; otherwise it is installed: the snap on
# Ubuntu, else the .deb or .rpm from the region's SSM bucket.
# Best effort throughout: when the agent does not come online, vmie stops
# waiting and says what to check.

set -uo pipefail

say() {
	printf 'vmie-userdata: %s\n' "$*"
	logger -t vmie-userdata -- "$*" 2>/dev/null || true
}

running() {
	systemctl is-active --quiet amazon-ssm-agent 2>/dev/null ||
		systemctl is-active --quiet snap.amazon-ssm-agent.amazon-ssm-agent 2>/dev/null
}

start_agent() {
	local unit
	for unit in amazon-ssm-agent snap.amazon-ssm-agent.amazon-ssm-agent; do
		if systemctl list-unit-files "$unit.service" 2>/dev/null | grep -q "^$unit"; then
			systemctl enable "$unit" >/dev/null 2>&1 || true
			systemctl restart "$unit" && say "started $unit" && return 0
		fi
	done
	return 1
}

if running; then
	say "amazon-ssm-agent is already running"
	exit 0
fi
if start_agent; then
	exit 0
fi

# IMDSv2 only: the instance is launched with HttpTokens=required.
imds() {
	local token
	token=$(curl -fsS -m 5 -X PUT http://169.254.169.254/latest/api/token \
		-H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
	curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" \
		"http://169.254.169.254/latest/$1"
}

region=$(imds meta-data/placement/region) || region=
if [ -z "$region" ]; then
	say "cannot read the region from the instance metadata: agent not installed"
	exit 1
fi
case $region in
cn-*) domain=amazonaws.com.cn ;;
*) domain=amazonaws.com ;;
esac
case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	say "no SSM agent package for $(uname -m)"
	exit 1
	;;
esac
base="https://s3.$region.$domain/amazon-ssm-$region/latest"

os_id=
if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	os_id=$(. /etc/os-release && echo "${ID:-}")
fi

if [ "$os_id" = ubuntu ] && command -v snap >/dev/null 2>&1; then
	say "installing amazon-ssm-agent from the snap store"
	snap install amazon-ssm-agent --classic
elif command -v dpkg >/dev/null 2>&1; then
	say "installing $base/debian_$arch/amazon-ssm-agent.deb"
	tmp=$(mktemp -d)
	curl -fsSL --retry 5 -o "$tmp/amazon-ssm-agent.deb" "$base/debian_$arch/amazon-ssm-agent.deb" &&
		dpkg -i "$tmp/amazon-ssm-agent.deb"
	rm -rf "$tmp"
elif command -v dnf >/dev/null 2>&1; then
	say "installing $base/linux_$arch/amazon-ssm-agent.rpm"
	dnf install -y "$base/linux_$arch/amazon-ssm-agent.rpm"
elif command -v yum >/dev/null 2>&1; then
	say "installing $base/linux_$arch/amazon-ssm-agent.rpm"
	yum install -y "$base/linux_$arch/amazon-ssm-agent.rpm"
elif command -v rpm >/dev/null 2>&1; then
	say "installing $base/linux_$arch/amazon-ssm-agent.rpm"
	rpm -U "$base/linux_$arch/amazon-ssm-agent.rpm"
else
	say "no snap, dpkg, dnf, yum or rpm: cannot install amazon-ssm-agent"
	exit 1
fi

if start_agent; then
	exit 0
fi
say "amazon-ssm-agent was not started"
exit 1
