#!/bin/sh
# credential_process helper for tests/unit/test_creds.c: prints what $1
# asks for ($2, when given, becomes the secret: it checks quoting).
case "$1" in
ok)
	printf '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "%s", "SessionToken": "tok", "Expiration": "2099-01-01T00:00:00Z", "AccountId": "111122223333"}\n' "$2" ;;
static)
	printf '{"Version":1,"AccessKeyId":"AKIDSTATIC","SecretAccessKey":"s"}' ;;
fail)
	echo "token expired; run aws sso login" >&2
	exit 3 ;;
version)
	echo '{"Version": 2, "AccessKeyId": "a", "SecretAccessKey": "b"}' ;;
garbage)
	echo 'not json' ;;
partial)
	echo '{"Version": 1, "AccessKeyId": "a"}' ;;
big)
	head -c 100000 /dev/zero | tr '\0' 'x' ;;
*)
	echo "unknown mode $1" >&2
	exit 2 ;;
esac
