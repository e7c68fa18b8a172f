/*
 * vaws_rest's layout and signing, stopped before the send: the same code
 * (client_proto.c's layout, client.c's signer) so a part sent through
 * libcurl multi is signed exactly like any other S3 call.
 */
#include "aws/client_sign.h"
#include "aws/client_internal.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

int vaws_client_sign_rest(vaws_client *c, const vaws_rest_request *rq,
			  vaws_signed_request *out, vmie_error *err)
{
	vaws_signed_request_free(out);
	vaws_rest_layout l;
	int rc = vaws_rest_layout_init(c, rq, &l, err);
	if (rc == 0)
		rc = vaws_call_sign(c, &l.call, &out->headers, err);
	if (rc == 0)
		out->url = xstrdup(l.call.url);
	vaws_rest_layout_free(&l);
	return rc;
}

void vaws_signed_request_free(vaws_signed_request *s)
{
	vkv_free_secret(&s->headers);
	free(s->url);
	memset(s, 0, sizeof(*s));
}
