#!/bin/sh
# The README's demo, on this machine only: start the local AWS emulator,
# make a small RAW disk image (an MBR and a Linux ext4 partition), compress
# it with xz, serve it over http on loopback, and `vmie import` it from
# that URL: streamed, decompressed, checked and uploaded in one pass, then
# imported as an AMI by the emulator.  Then the SAN-boot preparation:
# `vmie export --install-sanbootable --download` of that AMI, and the
# downloaded RAW compared with the original.  Everything this script
# starts is stopped and its files removed, whatever happens.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VMIE="$ROOT/$BUILD/vmie"
PY=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/vmie-demo.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for_file() { # file pid what
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "demo: $3 did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
}

echo "== starting the local AWS emulator (import tasks run 200x faster)"
(cd "$ROOT" && exec $PY -m emulator --port 0 --state-dir "$work/emu" --speed 200) \
	>"$work/emu.log" 2>&1 &
pids="$!"
wait_for_file "$work/emu/port" "$!" "the emulator"
endpoint="http://127.0.0.1:$(cat "$work/emu/port")"
echo "   $endpoint"

echo "== making a 64 MiB RAW disk: MBR, one bootable Linux partition (ext4)"
mkdir -p "$work/www" "$work/root/etc" "$work/root/boot"
echo "/dev/sda1 / ext4 defaults 0 1" >"$work/root/etc/fstab"
printf 'NAME="vmie demo"\nID=demo\n' >"$work/root/etc/os-release"
img="$work/www/demo-disk.raw"
$PY - "$img" <<'EOF'
import struct, sys
size = 64 << 20
with open(sys.argv[1], "wb") as f:
    f.truncate(size)
    start, count = 2048, size // 512 - 2048
    entry = struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x83, b"\0\0\0", start, count)
    f.seek(446)
    f.write(entry + bytes(48) + b"\x55\xaa")
EOF
/usr/sbin/mkfs.ext4 -q -F -E offset=1048576 -d "$work/root" "$img" 63M
xz -T2 -k "$img"
ls -l "$work/www" | sed -n '2,$p' | awk '{print "   " $5 "  " $9}'

echo "== serving it over http on loopback"
$PY - "$work/www" "$work/http.port" <<'EOF' >"$work/http.log" 2>&1 &
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(sys.argv[2], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
EOF
pids="$pids $!"
wait_for_file "$work/http.port" "$!" "the http server"
url="http://127.0.0.1:$(cat "$work/http.port")/demo-disk.raw.xz"
echo "   $url"

# The emulator's own test credentials; nothing here can reach real AWS.
export AWS_ACCESS_KEY_ID=AKIAVMIEEMULATOR0001
export AWS_SECRET_ACCESS_KEY=vmie/emulator/secret/key/not/for/aws/0001
export AWS_REGION=us-west-2
export AWS_ENDPOINT_URL="$endpoint"
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
export XDG_STATE_HOME="$work/state"

echo "== vmie inspect (the local copy)"
"$VMIE" inspect "$img.xz"
echo
echo "== vmie import --source $url --s3-bucket vmie-demo-bucket"
"$VMIE" import --source "$url" --s3-bucket vmie-demo-bucket --json >"$work/import.json"
ami=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["ami_id"])' "$work/import.json")
echo "   AMI $ami"
echo
echo "== vmie export --ami-id $ami --install-sanbootable --download back.raw"
# The emulator's clock runs fast; poll it as often.
VMIE_POLL_SCALE=0.05 "$VMIE" export --ami-id "$ami" --s3-bucket vmie-demo-bucket \
	--install-sanbootable --download "$work/back.raw"
echo
echo "== the downloaded RAW against the original image"
if cmp "$img" "$work/back.raw"; then
	echo "   identical: $(du -k --apparent-size "$work/back.raw" | cut -f1) KiB, of which" \
		"$(du -k "$work/back.raw" | cut -f1) KiB written (the rest are holes)"
else
	echo "demo: the downloaded image differs from the original" >&2
	exit 1
fi
echo
echo "== what the emulator holds now"
$PY - "$endpoint" <<'EOF'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/_vmie/state"))
print("   open multipart uploads:", len(state["s3"]["multipart_uploads_open"]))
print("   instances left running:", len(state["ec2"]["instances_not_terminated"]))
EOF
echo
echo "demo: done (emulator and http server stopped, temporary files removed)"
