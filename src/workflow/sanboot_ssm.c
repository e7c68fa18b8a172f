/*
 * Reaching the instance through SSM: the wait for its agent to come
 * Online, then the install script as one AWS-RunShellScript command and
 * the wait for its verdict.  The script's output is shown as it is (its
 * stderr too when it fails): it is what tells the user why.
 */
#include "workflow/sanboot_steps.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ssm.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal_steps.h"
#include "workflow/sanboot_scripts.h"

/* The document's executionTimeout: the install downloads packages and
 * rebuilds the initramfs. */
#define INSTALL_EXEC_TIMEOUT_S 1800
/* vmie's own limit: AWS's verdict (TimedOut) should come first. */
#define COMMAND_WAIT_S (INSTALL_EXEC_TIMEOUT_S + 120)

static void agent_timeout(vwf_sanboot_job *job, const vwf_sb_wait *w,
			  const char *ping, vmie_error *err)
{
	const char *id = job->instance_id;
	char lim[32];

	vwf_sb_fmt_limit(w->limit_s, lim, sizeof(lim));
	verr_set(err, VMIE_ERR_SANBOOTABLE_SSM_AGENT_FAILED,
		 "the SSM agent on instance %s did not come online within %s "
		 "(SSM: %s)", id, lim, ping ? ping : "never registered");
	verr_hint(err, "check that the role of instance profile %s has the "
		  "AmazonSSMManagedInstanceCore policy; that the subnet reaches "
		  "the SSM endpoints (a public IP with an internet gateway, a "
		  "NAT gateway, or VPC endpoints for ssm, ssmmessages and "
		  "ec2messages); and that the AMI can run the SSM agent (vmie's "
		  "user data installs it when missing: see aws ec2 "
		  "get-console-output --instance-id %s)", job->profile, id);
}

int vwf_sb_wait_online(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	char *last = NULL;
	vwf_sb_wait w;
	int rc;

	if (job->installed)
		return 0; /* a resumed run's instance has what it needs */
	vwf_phase_begin(r, "ssm");
	vlog_info("waiting for the SSM agent on %s", job->instance_id);
	vwf_sb_wait_start(&w, "VMIE_SANBOOT_SSM_TIMEOUT_S", 600, 15000);
	for (;;) {
		char *ping = NULL;
		rc = vssm_ping_status(r->client, job->instance_id, &ping, err);
		if (rc != 0 && vwf_poll_goes_on(r, rc, err, "asking SSM about the instance")) {
			rc = vwf_sb_wait_next(r, &w, err);
			if (rc == 0)
				continue;
		}
		if (rc == VWF_SB_TIMED_OUT) {
			agent_timeout(job, &w, last, err);
			rc = VMIE_ERR_SANBOOTABLE_SSM_AGENT_FAILED;
			break;
		}
		if (rc != 0) {
			verr_prefix(err, "asking SSM about instance %s", job->instance_id);
			rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED);
			break;
		}
		const char *shown = ping ? ping : "not registered";
		if (!last || strcmp(last, shown) != 0) {
			vwf_task_status(r, -1, shown, NULL);
			free(last);
			last = xstrdup(shown);
		}
		bool online = ping && strcmp(ping, "Online") == 0;
		free(ping);
		if (online)
			break;
		rc = vwf_sb_wait_next(r, &w, err);
		if (rc == VWF_SB_TIMED_OUT) {
			agent_timeout(job, &w, strcmp(last, "not registered") ? last : NULL,
				      err);
			rc = VMIE_ERR_SANBOOTABLE_SSM_AGENT_FAILED;
		}
		if (rc != 0)
			break;
	}
	free(last);
	if (rc == 0) {
		vlog_success("SSM agent on %s is online", job->instance_id);
		vwf_phase_end(r, 0);
	}
	return rc;
}

/* Each line of text as its own log line (the renderer handles one
 * line at a time). */
static void log_lines(vmie_log_level level, const char *what, const char *text)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && p[n - 1] == '\r')
			n--;
		vlog(level, "%s| %.*s", what, (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* The last non-empty line of text (for the one-line error message). */
static char *last_line(const char *text)
{
	const char *end = text ? text + strlen(text) : NULL;
	while (end && end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	if (!end || end == text)
		return NULL;
	const char *start = end;
	while (start > text && start[-1] != '\n')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

static int command_failed(vwf_sanboot_job *job, const vssm_invocation *inv,
			  vmie_error *err)
{
	char *why = last_line(inv->stderr_text);
	if (!why)
		why = last_line(inv->stdout_text);
	log_lines(VMIE_LOG_ERROR, "install stderr ", inv->stderr_text);
	verr_set(err, VMIE_ERR_SANBOOTABLE_INSTALL_FAILED,
		 "installing sanbootable on %s failed: %s (%s, exit %d)%s%s",
		 job->instance_id, inv->status,
		 inv->status_details ? inv->status_details : "-", inv->response_code,
		 why ? ": " : "", why ? why : "");
	verr_hint(err, "the script's output is above (also: aws ssm "
		  "get-command-invocation --command-id %s --instance-id %s); the "
		  "instance needs to reach github.com and its distribution's "
		  "package mirrors, and the AMI needs apt, dnf or yum",
		  job->command_id, job->instance_id);
	free(why);
	return VMIE_ERR_SANBOOTABLE_INSTALL_FAILED;
}

static int wait_command(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	char *last = NULL;
	vwf_sb_wait w;
	int rc;

	vwf_sb_wait_start(&w, "VMIE_SANBOOT_COMMAND_TIMEOUT_S", COMMAND_WAIT_S, 10000);
	for (;;) {
		vssm_invocation inv = {0};
		rc = vssm_get_invocation(r->client, job->command_id, job->instance_id,
					 &inv, err);
		if (rc < 0 && vwf_poll_goes_on(r, rc, err, "following the install command")) {
			vssm_invocation_free(&inv);
			if ((rc = vwf_sb_wait_next(r, &w, err)) == 0)
				continue;
			if (rc == VWF_SB_TIMED_OUT)
				rc = verr_set(err, VMIE_ERR_AWS_SSM_TIMEOUT, "the sanbootable "
					      "install (SSM command %s) did not finish in time",
					      job->command_id);
			break;
		}
		if (rc < 0) {
			vssm_invocation_free(&inv);
			verr_prefix(err, "following SSM command %s", job->command_id);
			rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED);
			break;
		}
		/* InvocationDoesNotExist for a while after SendCommand. */
		const char *status = rc == VSSM_NOT_YET ? "Pending" : inv.status;
		if (!last || strcmp(last, status) != 0) {
			const char *details = inv.status_details;
			if (details && strcmp(details, status) == 0)
				details = NULL; /* "Success: Success" says it twice */
			vwf_task_status(r, -1, status, details);
			free(last);
			last = xstrdup(status);
		}
		if (rc == 0 && vssm_status_final(inv.status)) {
			log_lines(VMIE_LOG_INFO, "install ", inv.stdout_text);
			rc = strcmp(inv.status, "Success") == 0 ? 0
			     : command_failed(job, &inv, err);
			vssm_invocation_free(&inv);
			break;
		}
		vssm_invocation_free(&inv);
		rc = vwf_sb_wait_next(r, &w, err);
		if (rc == VWF_SB_TIMED_OUT) {
			char lim[32];
			vwf_sb_fmt_limit(w.limit_s, lim, sizeof(lim));
			rc = verr_set(err, VMIE_ERR_AWS_SSM_TIMEOUT,
				      "the sanbootable install (SSM command %s) did "
				      "not finish within %s (still %s)",
				      job->command_id, lim, last);
			verr_hint(err, "see where it stands with: aws ssm "
				  "get-command-invocation --command-id %s "
				  "--instance-id %s", job->command_id, job->instance_id);
		}
		if (rc != 0)
			break;
	}
	free(last);
	return rc;
}

int vwf_sb_install(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	int rc;

	if (job->installed)
		return 0;
	vwf_phase_begin(r, "install");
	rc = vssm_send_shell(r->client, job->instance_id, vdata_install_sanbootable_sh,
			     INSTALL_EXEC_TIMEOUT_S, "vmie: install iPXE sanbootable",
			     &job->command_id, err);
	if (rc != 0) {
		verr_prefix(err, "sending the sanbootable install to %s", job->instance_id);
		return vwf_sb_as_step(err, rc, VMIE_ERR_AWS_SSM_COMMAND_FAILED);
	}
	vwf_jset(job->jstep, "command_id", job->command_id);
	vwf_journal_save(r->journal);
	free(r->res->command_id);
	r->res->command_id = xstrdup(job->command_id);
	vwf_report_result(r, "command_id", job->command_id);
	vlog_info("installing sanbootable on %s (SSM command %s)", job->instance_id,
		  job->command_id);
	rc = wait_command(job, err);
	if (rc == 0) {
		job->installed = true;
		vwf_jsetb(job->jstep, "installed", true);
		vwf_journal_save(r->journal);
		vlog_success("sanbootable installed on %s", job->instance_id);
		vwf_phase_end(r, 0);
	}
	return rc;
}
