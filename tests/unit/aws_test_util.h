/*
 * Helpers for unit tests of the typed AWS calls against the HTTP stub
 * (test_ec2.c, test_ssm.c, test_iam_profile.c): an isolated environment,
 * a client pointed at the stub, and the recorded requests decoded.
 */
#ifndef VMIE_TEST_AWS_TEST_UTIL_H
#define VMIE_TEST_AWS_TEST_UTIL_H

#include <jansson.h>

#include "aws/client.h"
#include "http_stub.h"

/* Unset the developer's AWS settings; point config files nowhere. */
void awst_isolate_env(void);
/* A client with static test credentials, region, endpoint = the stub,
 * one attempt per call (NULL on failure). */
vaws_client *awst_client(http_stub *stub, const char *region);
/* The decoded value of `key` in the form-encoded body of recorded
 * request i (malloc'd), or NULL when absent. */
char *awst_form(http_stub *stub, size_t i, const char *key);
/* Number of parameters in request i's form body. */
size_t awst_form_count(http_stub *stub, size_t i);
/* Request i's body as JSON (json_decref it), NULL when not JSON. */
json_t *awst_json(http_stub *stub, size_t i);
/* Request i's header `name` (malloc'd) or NULL. */
char *awst_header(http_stub *stub, size_t i, const char *name);

/* Request i's form parameter key equals want (NULL: absent); check.h's
 * CHECK_STR reports it. */
#define AWST_CHECK_FORM(stub, i, key, want)                                  \
	do {                                                                 \
		char *v_ = awst_form((stub), (i), (key));                    \
		CHECK_STR(v_, (want));                                       \
		free(v_);                                                    \
	} while (0)

/* The stub answers the next POST / (any number of times) with this. */
void awst_answer(http_stub *stub, int status, const char *headers,
		 const char *body);

/* An EC2 error document for code (a static buffer, valid until the next
 * call), the message reading "about <code>: the thing '<code>' does not
 * exist". */
const char *awst_ec2_error(const char *code);

#endif
