#!/bin/sh
# The README's demo: start the local AWS emulator, show vmie's help and ask
# the emulator who we are, then stop everything this script started.
# (The end-to-end import/export demo arrives with those workflows.)
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VMIE="$ROOT/$BUILD/vmie"
PY=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/vmie-demo.XXXXXX")
emu_pid=""
cleanup() {
	if [ -n "$emu_pid" ]; then
		kill "$emu_pid" 2>/dev/null || true
		wait "$emu_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== starting the local AWS emulator"
(cd "$ROOT" && exec $PY -m emulator --port 0 --state-dir "$work/emu") >"$work/emu.log" 2>&1 &
emu_pid=$!
i=0
while [ ! -s "$work/emu/port" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$emu_pid" 2>/dev/null; then
		echo "demo: the emulator did not start:" >&2
		cat "$work/emu.log" >&2
		exit 1
	fi
	sleep 0.1
done
endpoint="http://127.0.0.1:$(cat "$work/emu/port")"
echo "   $endpoint"

# The emulator's own test credentials; nothing here can reach real AWS.
export AWS_ACCESS_KEY_ID=AKIAVMIEEMULATOR0001
export AWS_SECRET_ACCESS_KEY=vmie/emulator/secret/key/not/for/aws/0001
export AWS_REGION=us-west-2
export AWS_ENDPOINT_URL="$endpoint"
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
export XDG_STATE_HOME="$work/state"

echo
echo "== vmie --help"
"$VMIE" --help
echo
echo "== vmie whoami"
"$VMIE" whoami
echo
echo "demo: done (emulator stopped, temporary files removed)"
