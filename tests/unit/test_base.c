#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "check.h"
#include "vmie.h"

#include <stdlib.h>

static void test_buf(void)
{
	vbuf b = VBUF_INIT;
	CHECK_STR(vbuf_str(&b), "");
	vbuf_adds(&b, "abc");
	vbuf_addch(&b, '-');
	vbuf_addf(&b, "%d/%s", 42, "x");
	CHECK_STR(vbuf_str(&b), "abc-42/x");
	CHECK_INT(b.len, 8);
	const unsigned char raw[] = {0x00, 0xab, 0xff};
	vbuf_reset(&b);
	vbuf_addhex(&b, raw, sizeof raw);
	CHECK_STR(vbuf_str(&b), "00abff");
	vbuf_adds(&b, "  \n");
	vbuf_rtrim(&b);
	CHECK_STR(vbuf_str(&b), "00abff");
	char *s = vbuf_detach(&b);
	CHECK_STR(s, "00abff");
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	vbuf_free(&b);
}

static void test_kv(void)
{
	vkv kv = VKV_INIT;
	vkv_add(&kv, "Host", "a");
	vkv_add(&kv, "X-Amz-Date", "b");
	vkv_set(&kv, "Host", "c");
	CHECK_STR(vkv_get(&kv, "Host"), "c");
	CHECK_STR(vkv_get(&kv, "host"), NULL);
	CHECK_STR(vkv_get_ci(&kv, "x-amz-date"), "b");
	vkv_remove_ci(&kv, "x-amz-DATE");
	CHECK_INT(kv.n, 1);
	vkv_free(&kv);
}

static void test_status(void)
{
	CHECK_STR(vmie_status_name(VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND),
		  "ERR_AWS_CREDENTIALS_NOT_FOUND");
	CHECK_INT(VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND, -20100);
	CHECK_INT(VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED, -20304);
	CHECK_STR(vmie_status_name(-1), "ERR_UNKNOWN");
	CHECK_INT(vmie_status_classify(VMIE_ERR_JSON_LOAD_FAILED),
		  VMIE_CLASS_SOURCE);
	CHECK_INT(vmie_status_classify(VMIE_ERR_AWS_SSM_TIMEOUT), VMIE_CLASS_AWS);
	/* every name in the ranges is distinct from ERR_UNKNOWN */
	int named = 0;
	for (int s = -20400; s <= -20000; s++)
		if (strcmp(vmie_status_name(s), "ERR_UNKNOWN") != 0)
			named++;
	CHECK_INT(named, 59); /* 57 + ERR_BATCH_INCOMPLETE, ERR_AWS_CREDENTIALS_INVALID */
}

static void test_error(void)
{
	vmie_error e = {0};
	int st = verr_set(&e, VMIE_ERR_INVALID_ARGUMENT, "bad %s", "thing");
	CHECK_INT(st, VMIE_ERR_INVALID_ARGUMENT);
	verr_hint(&e, "use %d", 3);
	verr_prefix(&e, "--opt");
	CHECK_STR(e.message, "--opt: bad thing");
	CHECK_STR(e.hint, "use 3");
	vmie_error f = {0};
	verr_move(&f, &e);
	CHECK(e.message == NULL);
	CHECK_STR(f.message, "--opt: bad thing");
	vmie_error_clear(&f);
	CHECK_INT(verr_set(NULL, -5, "x"), -5);
}

int main(void)
{
	test_buf();
	test_kv();
	test_status();
	test_error();
	return check_done("base");
}
