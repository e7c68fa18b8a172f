/* The pure decisions of the import workflow: S3 key, ClientToken, poll
 * schedule, failure hints. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "workflow/import_plan.h"

static void test_upload_key(void)
{
	char *k = vwf_upload_key("disk.raw");
	CHECK_STR(k, "disk.raw");
	free(k);
	k = vwf_upload_key("my disk{1}\x01.vmdk");
	CHECK_STR(k, "my disk_1__.vmdk");
	free(k);
	k = vwf_upload_key("");
	CHECK_STR(k, "image");
	free(k);
	k = vwf_upload_key(NULL);
	CHECK_STR(k, "image");
	free(k);
}

/* A disk sent as a VMDK is named as one: disk.raw.xz was decoded to
 * disk.raw, and goes as disk.vmdk. */
static void test_vmdk_name(void)
{
	static const char *const cases[][2] = {
		{"disk.raw", "disk.vmdk"},   {"disk.IMG", "disk.vmdk"},
		{"old.vmdk", "old.vmdk"},    {"win.vhdx", "win.vmdk"},
		{"vm.vhd", "vm.vmdk"},       {"disk", "disk.vmdk"},
		{"v1.2.raw", "v1.2.vmdk"},   {"backup.tar", "backup.tar.vmdk"},
		{".raw", ".raw.vmdk"},       {"", "image.vmdk"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = vwf_vmdk_name(cases[i][0]);
		CHECK_STR(n, cases[i][1]);
		free(n);
	}
	char *n = vwf_vmdk_name(NULL);
	CHECK_STR(n, "image.vmdk");
	free(n);
}

static void test_client_token(void)
{
	const char *one[] = {"s3://b/disk.raw"};
	const char *two[] = {"s3://b/disk.raw", "s3://b/data.raw"};
	char *a = vwf_client_token("run1", one, 1);
	char *b = vwf_client_token("run1", one, 1);
	char *c = vwf_client_token("run2", one, 1);
	char *d = vwf_client_token("run1", two, 2);

	CHECK_STR(a, b); /* every attempt of a run: the same token */
	CHECK(strcmp(a, c) != 0); /* another run: another task */
	CHECK(strcmp(a, d) != 0);
	CHECK(strncmp(a, "vmie-", 5) == 0);
	CHECK_INT((long)strlen(a), 45L);
	CHECK(strlen(a) <= 64); /* EC2's limit for client tokens */
	CHECK(strspn(a + 5, "0123456789abcdef") == 40);
	free(a);
	free(b);
	free(c);
	free(d);

	char *r1 = vwf_new_run_id(), *r2 = vwf_new_run_id();
	CHECK_INT((long)strlen(r1), 32L);
	CHECK(strcmp(r1, r2) != 0);
	free(r1);
	free(r2);
}

static void test_poll_delay(void)
{
	long total = 0;
	CHECK(vwf_poll_delay_ms(0) <= 2000);
	for (unsigned i = 0; i < 200; i++) {
		long d = vwf_poll_delay_ms(i);
		CHECK(d >= 1000 && d <= 30000);
		if (i > 0)
			CHECK(d >= vwf_poll_delay_ms(i - 1));
		if (i < 6)
			total += d;
	}
	CHECK(total < 60000); /* a quick failure is seen within a minute */
	CHECK_INT(vwf_poll_delay_ms(1000), 30000L);
}

static void test_failure_hints(void)
{
	const char *h = vwf_import_failure_hint("ClientError: Unknown OS / Missing OS files.");
	CHECK(h && strstr(h, "vmie inspect"));
	h = vwf_import_failure_hint("ClientError: Disk validation failed [Unsupported VMDK File Format]");
	CHECK(h && strstr(h, "streamOptimized"));
	h = vwf_import_failure_hint("The service role vmimport provided does not exist or "
				    "does not have sufficient permissions");
	CHECK(h && strstr(h, "vmie.amazonaws.com"));
	h = vwf_import_failure_hint("ClientError: Disk validation failed [We do not have "
				    "access to the given resource. Reason 403 Forbidden]");
	CHECK(h && strstr(h, "s3:GetObject"));
	h = vwf_import_failure_hint("ClientError: Unsupported kernel version 5.8.0-59-generic");
	CHECK(h && strstr(h, "kernel"));
	CHECK(vwf_import_failure_hint("something new") == NULL);
	CHECK(vwf_import_failure_hint(NULL) == NULL);
}

int main(void)
{
	test_upload_key();
	test_vmdk_name();
	test_client_token();
	test_poll_delay();
	test_failure_hints();
	return check_done("import_plan");
}
