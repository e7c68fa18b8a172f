/*
 * A run and its journal (run_ctx.h): the same command again goes on
 * where the last run of it stopped; --restart throws that away first; a
 * run that finished is reported, not done twice.
 */
#include "workflow/run_ctx.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal.h"
#include "workflow/journal_steps.h"

static const char *source_name(const vwf_run *r)
{
	const char *s = r->opts->source ? r->opts->source : r->opts->ami_id;
	const char *slash = s ? strrchr(s, '/') : NULL;
	return slash && slash[1] ? slash + 1 : s ? s : "?";
}

static void when(long long epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* --restart: what the earlier run left goes, its journal starts over. */
static void restart(vwf_run *r)
{
	json_t *doc = vwf_journal_doc(r->journal);
	vlog_info("--restart: discarding the earlier %s of %s (run %s)",
		  vwf_js(doc, "operation"), source_name(r), vwf_js(doc, "run_id"));
	vwf_journal_discard(r->client, doc);
	vwf_journal_reset(r->journal, r->run_id);
}

static int source_changed(vwf_run *r, vmie_error *err)
{
	const char *id = vwf_journal_id(r->journal);
	verr_set(err, VMIE_ERR_INVALID_SOURCE,
		 "%s changed since the interrupted %s of it began (size, time or "
		 "inode): it cannot go on with another image", r->opts->source,
		 vwf_js(vwf_journal_doc(r->journal), "operation"));
	verr_hint(err, "add --restart to start over with the file as it is now "
		  "(what the earlier run left is cleaned up), or drop that run with: "
		  "vmie runs --discard %s", id);
	/* Not this run's failure: the journal stays as it was. */
	vwf_journal_release(r->journal);
	r->journal = NULL;
	return VMIE_ERR_INVALID_SOURCE;
}

int vwf_run_journal(vwf_run *r, vmie_operation op, vmie_source_kind kind,
		    vmie_error *err)
{
	bool found = false;
	vwf_journal *j = NULL;
	int rc = vwf_journal_open(op, r->opts, kind, r->client, r->run_id, &j, &found, err);
	if (rc != 0 || !j)
		return rc;
	r->journal = j;
	if (!found)
		return 0;
	json_t *doc = vwf_journal_doc(j);
	const char *state = vwf_journal_state(j);
	char at[32];
	when(vwf_ji(doc, "updated", 0), at, sizeof at);
	if (r->opts->restart) {
		restart(r);
		return 0;
	}
	if (strcmp(state, "done") == 0) {
		if (vwf_journal_source_changed(j)) {
			vlog_info("%s changed since it was last %sed (%s): this is a new run",
				  r->opts->source, vmie_operation_name(op), at);
			vwf_journal_reset(j, r->run_id);
			return 0;
		}
		vwf_journal_result_into(j, r->res);
		vlog_success("this %s of %s finished on %s: nothing to do (add --restart "
			     "to do it again)", vmie_operation_name(op), source_name(r), at);
		return VWF_RUN_DONE_BEFORE;
	}
	if (vwf_journal_source_changed(j))
		return source_changed(r, err);
	free(r->run_id);
	r->run_id = xstrdup(vwf_journal_run_id(j));
	char *where = vwf_journal_where(doc);
	vlog_info("resuming the %s of %s that stopped on %s (%s; run %s)",
		  vmie_operation_name(op), source_name(r), at, where, r->run_id);
	free(where);
	vwf_journal_mark_running(j);
	vwf_journal_result_into(j, r->res);
	return 0;
}

/* A stopped run: what it keeps, and the two ways on. */
static void how_to_go_on(vwf_run *r, int rc, vmie_error *err)
{
	json_t *doc = vwf_journal_doc(r->journal);
	char *kept = vwf_journal_kept(doc);
	const char *id = vwf_journal_id(r->journal);
	if (rc == VMIE_ERR_INTERRUPTED && err) {
		free(err->hint);
		err->hint = NULL;
		verr_hint(err, "%s%s%srun the same command again to go on from where it "
			  "stopped, or drop %s with: vmie runs --discard %s",
			  kept ? "kept: " : "", kept ? kept : "", kept ? "; " : "",
			  kept ? "it" : "the run", id);
	} else if (kept) {
		vlog_warn("kept for the same command, which goes on from here: %s "
			  "(vmie runs --discard %s drops it)", kept, id);
	}
	free(kept);
}

void vwf_run_journal_end(vwf_run *r, int rc, vmie_error *err)
{
	if (!r->journal)
		return;
	if (rc != 0)
		how_to_go_on(r, rc, err);
	vwf_journal_close(r->journal, rc == VWF_RUN_DONE_BEFORE ? 0 : rc, err, r->res);
	r->journal = NULL;
}

bool vwf_poll_goes_on(vwf_run *r, int rc, vmie_error *err, const char *what)
{
	if (rc == 0 || rc == VMIE_ERR_INTERRUPTED || !vaws_client_failed_transient(r->client))
		return false;
	vlog_warn("%s: %s; still waiting (the task goes on in AWS)", what,
		  err && err->message ? err->message : "no answer");
	vmie_error_clear(err);
	return true;
}
