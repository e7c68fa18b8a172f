/* vmie whoami: which account, identity, region, endpoint and credentials
 * vmie would use; the first thing to run when something AWS-side fails. */
#include "cli/cli.h"

#include <jansson.h>
#include <time.h>

/* "2026-11-22T10:00:00Z"; false when there is no expiry. */
static bool expiry(const vmie_identity *id, char *buf, size_t n)
{
	time_t t = (time_t)id->credential_expiration;
	struct tm tm;
	return t && gmtime_r(&t, &tm) &&
	       strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

static void print_text(const vmie_identity *id)
{
	printf("%-12s %s\n", "Account", id->account ? id->account : "-");
	printf("%-12s %s\n", "Arn", id->arn ? id->arn : "-");
	printf("%-12s %s\n", "UserId", id->user_id ? id->user_id : "-");
	if (id->region_source)
		printf("%-12s %s (from %s)\n", "Region",
		       id->region ? id->region : "-", id->region_source);
	else
		printf("%-12s %s\n", "Region", id->region ? id->region : "-");
	printf("%-12s %s\n", "Endpoint", id->endpoint ? id->endpoint : "-");
	printf("%-12s %s\n", "Credentials",
	       id->credential_source ? id->credential_source : "-");
	if (id->credential_chain)
		printf("%-12s %s\n", "Chain", id->credential_chain);
	char when[32];
	if (id->credential_expiration && expiry(id, when, sizeof when)) {
		long long left = id->credential_expiration - (long long)time(NULL);
		if (left >= 3600)
			printf("%-12s %s (in %lld h %02lld min)\n", "Expires",
			       when, left / 3600, left % 3600 / 60);
		else
			printf("%-12s %s (in %lld min %02lld s)\n", "Expires",
			       when, left > 0 ? left / 60 : 0,
			       left > 0 ? left % 60 : 0);
	} else {
		printf("%-12s %s\n", "Expires", "- (no expiration given)");
	}
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void print_json(const vmie_identity *id)
{
	json_t *o = json_object();
	json_object_set_new(o, "Account", str_or_null(id->account));
	json_object_set_new(o, "Arn", str_or_null(id->arn));
	json_object_set_new(o, "UserId", str_or_null(id->user_id));
	json_object_set_new(o, "Region", str_or_null(id->region));
	json_object_set_new(o, "RegionSource", str_or_null(id->region_source));
	json_object_set_new(o, "Endpoint", str_or_null(id->endpoint));
	json_object_set_new(o, "Credentials",
			    str_or_null(id->credential_source));
	json_object_set_new(o, "Chain", str_or_null(id->credential_chain));
	char when[32];
	json_object_set_new(o, "Expiration",
			    expiry(id, when, sizeof when) ? json_string(when)
							  : json_null());
	cli_json_print(o);
}

static int run_whoami(const struct cli_args *a)
{
	vmie_identity id = {0};
	vmie_error err = {0};
	struct cli_log l;
	int exit_status;

	cli_log_init(&l, a);
	cli_log_install(&l);
	cli_log_open_file(&l, a);
	cli_log_command_line(&l, a);
	int rc = vmie_whoami(&a->opts.aws, &id, &err);
	if (rc == 0 && cli_interrupted())
		rc = VMIE_ERR_INTERRUPTED;
	if (rc != 0) {
		if (!err.message)
			err.status = rc;
		exit_status = cli_report_failure(a, &l, &err);
		goto out;
	}
	if (a->json)
		print_json(&id);
	else
		print_text(&id);
	exit_status = CLI_EXIT_OK;
out:
	vmie_identity_free(&id);
	vmie_error_clear(&err);
	cli_log_free(&l);
	return exit_status;
}

const struct cli_command cli_cmd_whoami = {
	.name = "whoami",
	.usage_name = "vmie whoami",
	.summary = "show the AWS account, identity, region and credentials "
		   "in use",
	.description =
		"Call STS GetCallerIdentity and show the account, ARN and user "
		"id vmie would act as, the region and endpoint it would use, "
		"where each came from, how the credentials were obtained (an "
		"assume-role chain, an IAM Identity Center session) and when "
		"they expire.",
	.example = "  vmie whoami --profile prod --region eu-west-1",
	.allowed = OPTBIT(OPT_REGION),
	.required = 0,
	.run = run_whoami,
};
