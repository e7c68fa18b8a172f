/*
 * SSM (JSON 1.1): whether an instance's agent is online, and Run Command
 * with AWS-RunShellScript, as much as the sanbootable install needs.
 */
#ifndef VMIE_AWS_SSM_H
#define VMIE_AWS_SSM_H

#include "aws/client.h"
#include "vmie.h"

#define VSSM_NOT_YET 1

/* DescribeInstanceInformation filtered to one instance: *ping_status is
 * "Online", "ConnectionLost", ... or NULL when the instance has not
 * registered (yet). */
int vssm_ping_status(vaws_client *c, const char *instance_id,
		     char **ping_status, vmie_error *err);

/* SendCommand AWS-RunShellScript to one instance, the script as one
 * command (the agent writes it to a file and runs it with sh; the script
 * starts with its own #!/bin/bash re-exec when it needs bash).
 * execution_timeout_s: the document's executionTimeout; the delivery
 * TimeoutSeconds is 600.  Not retried (no client token): a lost answer
 * would run the script twice; the caller decides. */
int vssm_send_shell(vaws_client *c, const char *instance_id,
		    const char *script, unsigned execution_timeout_s,
		    const char *comment, char **command_id, vmie_error *err);

typedef struct vssm_invocation {
	char *status;          /* Pending, InProgress, Delayed, Success,
				* Cancelled, TimedOut, Failed, Cancelling */
	char *status_details;
	int response_code;     /* -1: not run yet */
	char *stdout_text;     /* StandardOutputContent (first 24,000 chars) */
	char *stderr_text;     /* StandardErrorContent (first 8,000 chars) */
} vssm_invocation;
void vssm_invocation_free(vssm_invocation *inv);

/* GetCommandInvocation: VSSM_NOT_YET (err cleared) for
 * InvocationDoesNotExist, which SSM answers for a while after SendCommand. */
int vssm_get_invocation(vaws_client *c, const char *command_id,
			const char *instance_id, vssm_invocation *out,
			vmie_error *err);

/* A final status (Success, Cancelled, TimedOut, Failed). */
bool vssm_status_final(const char *status);

#endif
