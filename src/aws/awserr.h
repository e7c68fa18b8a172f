/*
 * AWS error responses, whatever the protocol, turned into a vmie_error.
 *
 * Shapes understood (aws-facts §7, botocore parsers.py):
 *   EC2 query:     <Response><Errors><Error><Code/><Message/></Error>
 *                  </Errors><RequestID/></Response>
 *   IAM/STS query: <ErrorResponse><Error><Type/><Code/><Message/></Error>
 *                  <RequestId/></ErrorResponse>
 *   any query or REST-XML root with <Error> or <Errors><Error> under it
 *                  (what botocore's QueryParser and RestXMLParser lift)
 *   S3 REST:       <Error><Code/><Message/><RequestId/>...</Error>, or no
 *                  body at all (HEAD): the code comes from the status
 *   JSON 1.1:      {"__type":"ns#Code","message"|"Message":...}, the code
 *                  of a query-compatible service in x-amzn-query-error
 * plus request ids from x-amzn-RequestId / x-amz-request-id headers, and
 * anything else (a proxy's HTML page) as "HTTP <status>" with a clean
 * excerpt of the body.
 */
#ifndef VMIE_AWS_AWSERR_H
#define VMIE_AWS_AWSERR_H

#include <stdbool.h>

#include "aws/http.h"
#include "vmie.h"

typedef struct vawserr_info {
	char *code;           /* "AccessDenied"; NULL when none was found */
	char *message;        /* AWS's words, or a body excerpt */
	char *request_id;
	char *bucket_region;  /* S3: x-amz-bucket-region / <Region> */
	bool from_status;     /* code derived from the HTTP status only */
} vawserr_info;

/* Parse an error response (any status; the body may be empty or junk). */
void vawserr_parse(const vhttp_response *rs, vawserr_info *out);
void vawserr_info_free(vawserr_info *info);

/* Fill err (status VMIE_ERR_AWS_REQUEST_FAILED) with service, operation,
 * http_status, the parsed code, message and request id, a one-line
 * message "<service> <Operation> failed: <Code>: <message> (HTTP n)" and
 * a hint for the common codes.  Returns err's status. */
int vawserr_fill(vmie_error *err, const char *service, const char *operation,
		 long http_status, const vawserr_info *info);

/* Both in one go. */
int vawserr_from_response(vmie_error *err, const char *service,
			  const char *operation, const vhttp_response *rs);

/* The hint for an AWS error code (static string), NULL when none. */
const char *vawserr_hint(const char *code);

/* Clock skew: when the response carries a Date header more than five
 * minutes from `local_now`, replace err's hint with one that says so and
 * return the skew in seconds (server minus local); else 0. */
long vawserr_clock_skew(vmie_error *err, const vhttp_response *rs,
			long long local_now);

/* S3 answers a request for a bucket in another region with a 301 or a
 * 400 (often with no body on HEAD) that names the bucket's region in
 * x-amz-bucket-region: replace err's message and hint with ones that say
 * so and name the --region to use.  Returns true when it did. */
bool vawserr_wrong_region(vmie_error *err, const vhttp_response *rs,
			  const char *signed_region);

/* Parse an RFC 7231 HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT");
 * -1 when it is not one. */
long long vawserr_http_date(const char *s);

#endif
