/*
 * Instances an earlier run could not terminate (kill -9, a crash, a lost
 * connection): found by their tags in the region.  This machine's
 * journal decides: an entry whose process is gone is an orphan, and is
 * terminated; a live process owns its instance; no entry means another
 * machine's run (or a lost journal), so the user gets the command.
 * Nothing here fails the run.
 */
#include "workflow/sanboot.h"

#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/log.h"
#include "workflow/sanboot_journal.h"
#include "workflow/state_dir.h"
#include "workflow/sanboot_steps.h"

static void terminate_orphan(vwf_run *r, const vec2_instance *inst,
			     const vwf_instance_entry *e)
{
	const char *region = vaws_client_region(r->client);
	vmie_error err = {0};

	vlog_warn("terminating instance %s (%s), left by vmie run %s (pid %ld, "
		  "no longer running) while installing sanbootable on %s",
		  inst->instance_id, inst->state, e->run_id ? e->run_id : "?",
		  e->pid, e->source_ami ? e->source_ami : "?");
	if (vec2_terminate_instance(r->client, inst->instance_id, &err) != 0) {
		vlog_warn("could not terminate %s: %s; terminate it with: aws ec2 "
			  "terminate-instances --region %s --instance-ids %s",
			  inst->instance_id, err.message ? err.message : "?",
			  region, inst->instance_id);
		vmie_error_clear(&err);
		return;
	}
	vwf_instances_remove(inst->instance_id);
}

static void report_foreign(vwf_run *r, const vec2_instance *inst,
			   const vwf_instance_entry *e)
{
	const char *region = vaws_client_region(r->client);
	const char *run = vkv_get(&inst->tags, "vmie:run-id");
	const char *ami = vkv_get(&inst->tags, "vmie:source-ami");

	if (e)
		vlog_warn("instance %s (%s) was launched by vmie on %s (pid %ld); "
			  "if no vmie run there is using it, terminate it: aws ec2 "
			  "terminate-instances --region %s --instance-ids %s",
			  inst->instance_id, inst->state, e->hostname ? e->hostname : "?",
			  e->pid, region, inst->instance_id);
	else
		vlog_warn("instance %s (%s, launched %s%s%s%s%s) is a vmie sanbootable "
			  "instance this machine has no record of (another machine's "
			  "run, or a lost journal); if no vmie run is using it, "
			  "terminate it: aws ec2 terminate-instances --region %s "
			  "--instance-ids %s", inst->instance_id, inst->state,
			  inst->launch_time ? inst->launch_time : "?",
			  ami ? " from " : "", ami ? ami : "", run ? ", run " : "",
			  run ? run : "", region, inst->instance_id);
}

static void reap_one(vwf_run *r, const vec2_instance *inst, const char *host)
{
	vwf_instance_entry e;
	const char *run = vkv_get(&inst->tags, "vmie:run-id");
	/* This very run's, left by the run it resumes: it decides itself
	 * whether the instance goes on or goes. */
	if (run && strcmp(run, r->run_id) == 0)
		return;
	int jr = vwf_instances_read(inst->instance_id, &e);

	if (jr != 0) {
		report_foreign(r, inst, NULL);
	} else if (!e.hostname || strcmp(e.hostname, host) != 0) {
		report_foreign(r, inst, &e);
	} else if (vwf_instance_owner_alive(&e)) {
		vlog_info("instance %s belongs to a vmie run still going (pid %ld): "
			  "left alone", inst->instance_id, e.pid);
	} else {
		terminate_orphan(r, inst, &e);
	}
	vwf_instance_entry_free(&e);
}

static bool listed(const vec2_instance *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].instance_id, id) == 0)
			return true;
	return false;
}

/* Entries of this region, this machine and a dead process whose instance
 * is no longer live: their instance was terminated after all. */
static void forget_stale(vwf_run *r, const vec2_instance *live, size_t nlive,
			 const char *host)
{
	const char *region = vaws_client_region(r->client);
	size_t n = 0;
	char **ids = vwf_instances_list(&n);

	for (size_t i = 0; i < n; i++) {
		vwf_instance_entry e;
		if (vwf_instances_read(ids[i], &e) == 0 && !listed(live, nlive, ids[i]) &&
		    e.region && strcmp(e.region, region) == 0 && e.hostname &&
		    strcmp(e.hostname, host) == 0 && !vwf_instance_owner_alive(&e)) {
			vlog_debug("journal: %s is no longer live; entry removed", ids[i]);
			vwf_instances_remove(ids[i]);
		}
		vwf_instance_entry_free(&e);
		free(ids[i]);
	}
	free(ids);
}

static void reap(vwf_run *r)
{
	vkv tags = VKV_INIT;
	vec2_instance *list = NULL;
	size_t n = 0;
	vmie_error err = {0};
	char host[256];

	vwf_hostname(host, sizeof(host));
	vkv_add(&tags, "CreatedBy", VWF_SB_CREATED_BY);
	vkv_add(&tags, "Name", VWF_SB_NAME_TAG);
	if (vec2_find_instances(r->client, &tags, true, &list, &n, &err) != 0) {
		vlog_warn("could not look for sanbootable instances an earlier vmie "
			  "run left: %s", err.message ? err.message : "unknown error");
		vmie_error_clear(&err);
		vkv_free(&tags);
		return;
	}
	for (size_t i = 0; i < n; i++)
		reap_one(r, &list[i], host);
	forget_stale(r, list, n, host);
	for (size_t i = 0; i < n; i++)
		vec2_instance_free(&list[i]);
	free(list);
	vkv_free(&tags);
}

/* An entry of this region in the local journal. */
static bool journal_pending(const char *region)
{
	size_t n = 0;
	bool found = false;
	char **ids = vwf_instances_list(&n);

	for (size_t i = 0; i < n; i++) {
		vwf_instance_entry e;
		if (!found && vwf_instances_read(ids[i], &e) == 0 && e.region &&
		    strcmp(e.region, region) == 0)
			found = true;
		vwf_instance_entry_free(&e);
		free(ids[i]);
	}
	free(ids);
	return found;
}

void vwf_sanboot_reap_if_due(vwf_run *r)
{
	if (r->opts->install_sanbootable ||
	    journal_pending(vaws_client_region(r->client)))
		reap(r);
}
