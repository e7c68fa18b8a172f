/*
 * What to do about an AWS error: a hint for each common code, and the
 * clock-skew check that replaces it when the server's clock disagrees
 * with ours (the cause behind several of those codes).
 */
#include "aws/awserr.h"
#include "base/buf.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct hint {
	const char *code;
	const char *hint;
} hints[] = {
	{"InvalidClientTokenId",
	 "AWS does not know this access key ID: check the credentials in use "
	 "(vmie whoami shows where they come from) and that they belong to "
	 "this partition (aws, aws-cn, aws-us-gov)"},
	{"UnrecognizedClientException",
	 "AWS does not know this access key ID or session token: check the "
	 "credentials in use (vmie whoami shows where they come from)"},
	{"InvalidAccessKeyId",
	 "AWS does not know this access key ID: check the credentials in use "
	 "(vmie whoami shows where they come from)"},
	{"SignatureDoesNotMatch",
	 "the secret access key does not match the access key ID: check "
	 "AWS_SECRET_ACCESS_KEY or the credentials file (and that the system "
	 "clock is right)"},
	{"InvalidSignatureException",
	 "the secret access key does not match the access key ID: check "
	 "AWS_SECRET_ACCESS_KEY or the credentials file (and that the system "
	 "clock is right)"},
	{"IncompleteSignature",
	 "the request signature was incomplete: check that the credentials "
	 "have no stray spaces or quotes"},
	{"ExpiredToken",
	 "the session credentials have expired: get new ones (aws sso login, "
	 "a new STS session, or refresh AWS_SESSION_TOKEN)"},
	{"ExpiredTokenException",
	 "the session credentials have expired: get new ones (aws sso login, "
	 "a new STS session, or refresh AWS_SESSION_TOKEN)"},
	{"InvalidToken",
	 "the session token is not valid: check AWS_SESSION_TOKEN or "
	 "aws_session_token, or unset it when using long-term keys"},
	{"RequestExpired",
	 "the request was signed too long ago: check that the system clock is "
	 "right (enable NTP)"},
	{"RequestTimeTooSkewed",
	 "the system clock is too far from AWS's time: check the clock and "
	 "synchronise it (enable NTP)"},
	{"AuthFailure",
	 "AWS could not validate the credentials: check the access key, the "
	 "secret key and the system clock"},
	{"AccessDenied",
	 "the identity in use is not allowed to do this: check its IAM "
	 "policies (vmie whoami shows which identity it is)"},
	{"AccessDeniedException",
	 "the identity in use is not allowed to do this: check its IAM "
	 "policies (vmie whoami shows which identity it is)"},
	{"UnauthorizedOperation",
	 "the identity in use is not allowed to do this: check its IAM "
	 "policies; an encoded message can be read with aws sts "
	 "decode-authorization-message"},
	{"OptInRequired",
	 "the account is not subscribed to this service, or the region is not "
	 "enabled for the account"},
	{"Throttling",
	 "AWS is throttling requests: wait and try again, or run fewer vmie "
	 "commands at once (AWS_MAX_ATTEMPTS allows more retries)"},
	{"ThrottlingException",
	 "AWS is throttling requests: wait and try again, or run fewer vmie "
	 "commands at once (AWS_MAX_ATTEMPTS allows more retries)"},
	{"RequestLimitExceeded",
	 "EC2 is throttling requests: wait and try again, or run fewer vmie "
	 "commands at once (AWS_MAX_ATTEMPTS allows more retries)"},
	{"TooManyRequestsException",
	 "AWS is throttling requests: wait and try again"},
	{"SlowDown",
	 "S3 is throttling requests: wait and try again, or lower the upload "
	 "concurrency"},
	{"NoSuchBucket",
	 "check the bucket name (and that it exists in this account)"},
	{"AuthorizationHeaderMalformed",
	 "the bucket is in another region: pass --region with the bucket's "
	 "region"},
	{"InternalError",
	 "AWS had an internal error; this is usually temporary: try again"},
	{"InternalFailure",
	 "AWS had an internal error; this is usually temporary: try again"},
	{"ServiceUnavailable",
	 "the service is temporarily unavailable: try again in a few minutes"},
	{"Unavailable",
	 "the service is temporarily unavailable: try again in a few minutes"},
	{"InvalidAction",
	 "the endpoint does not offer this action: check --endpoint-url / "
	 "AWS_ENDPOINT_URL"},
};

const char *vawserr_hint(const char *code)
{
	if (!code)
		return NULL;
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(hints[i].code, code) == 0)
			return hints[i].hint;
	return NULL;
}

long long vawserr_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (!s)
		return -1;
	const char *comma = strchr(s, ',');
	if (!comma)
		return -1;
	int d, y, hh, mm, ss, used = 0;
	char mon[4];
	if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y,
		   &hh, &mm, &ss, &used) != 6 ||
	    used == 0)
		return -1;
	const char *mp = strstr(months, mon);
	if (strlen(mon) != 3 || !mp || (mp - months) % 3 != 0)
		return -1;
	if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970)
		return -1;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)((mp - months) / 3);
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return (long long)timegm(&tm);
}

bool vawserr_wrong_region(vmie_error *err, const vhttp_response *rs,
			  const char *signed_region)
{
	const char *where = vkv_get_ci(&rs->headers, "x-amz-bucket-region");
	if (!err || !where || !*where || !signed_region ||
	    strcmp(where, signed_region) == 0 ||
	    (rs->status != 301 && rs->status != 400))
		return false;
	vbuf m = VBUF_INIT;
	vbuf_addf(&m, "S3 %s: the bucket is in %s, not in %s where this run "
		  "works (HTTP %ld)", err->operation ? err->operation : "request",
		  where, signed_region, rs->status);
	free(err->message);
	err->message = vbuf_detach(&m);
	verr_hint(err, "run with --region %s, or use a bucket in %s", where,
		  signed_region);
	return true;
}

long vawserr_clock_skew(vmie_error *err, const vhttp_response *rs,
			long long local_now)
{
	long long server = vawserr_http_date(vkv_get_ci(&rs->headers, "Date"));
	if (server < 0)
		return 0;
	long long skew = server - local_now;
	long long mag = skew < 0 ? -skew : skew;
	if (mag <= 300)
		return 0;
	verr_hint(err,
		  "the system clock is %lld minutes %s AWS's time (server "
		  "Date: %s): synchronise it (e.g. enable NTP); AWS rejects "
		  "requests signed more than 5-15 minutes off",
		  (mag + 30) / 60, skew > 0 ? "behind" : "ahead of",
		  vkv_get_ci(&rs->headers, "Date"));
	return (long)skew;
}
