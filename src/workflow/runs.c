/*
 * `vmie runs`: the runs this machine journaled, and dropping one
 * (vmie.h).  The journals themselves are journal*.c's.
 */
#include "vmie.h"

#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal.h"
#include "workflow/journal_steps.h"

static void info_free(vmie_run_info *r)
{
	free(r->id);
	free(r->run_id);
	free(r->operation);
	free(r->state);
	free(r->command);
	free(r->region);
	free(r->source);
	free(r->where);
	free(r->error);
	vmie_result_free(&r->result);
}

void vmie_run_infos_free(vmie_run_info *runs, size_t n)
{
	for (size_t i = 0; runs && i < n; i++)
		info_free(&runs[i]);
	free(runs);
}

static int latest_first(const void *a, const void *b)
{
	const vmie_run_info *x = a, *y = b;
	return x->updated < y->updated ? 1 : x->updated > y->updated ? -1 : 0;
}

int vmie_runs_list(bool all, vmie_run_info **out, size_t *n, vmie_error *err)
{
	(void)err;
	size_t nids = 0, cap = 0;
	char **ids = vwf_journal_ids(&nids);
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < nids; i++) {
		vmie_run_info rec;
		if (vwf_journal_peek(ids[i], &rec) == 0 &&
		    (all || !rec.state || strcmp(rec.state, "done") != 0)) {
			xgrow((void **)out, &cap, *n + 1, sizeof(**out));
			(*out)[(*n)++] = rec;
		} else {
			info_free(&rec);
		}
		free(ids[i]);
	}
	free(ids);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), latest_first);
	return 0;
}

int vmie_runs_discard(const vmie_aws_opts *aws, const char *id, vmie_error *err)
{
	vwf_journal *j = vwf_journal_take(id, err);
	vaws_client *c = NULL;
	if (!j)
		return err && err->status ? err->status : VMIE_ERR_INVALID_ARGUMENT;
	json_t *doc = vwf_journal_doc(j);
	json_t *idn = json_object_get(doc, "identity");
	vmie_aws_opts o = aws ? *aws : (vmie_aws_opts){0};
	o.region = vwf_js(idn, "region");
	if (!o.profile)
		o.profile = vwf_js(idn, "profile") && strcmp(vwf_js(idn, "profile"), "default")
				    ? vwf_js(idn, "profile") : NULL;
	int rc = vaws_client_new(&o, &c, err);
	if (rc == 0) {
		vlog_info("discarding the %s of %s (run %s)", vwf_js(doc, "operation"),
			  vwf_js(idn, "source") ? vwf_js(idn, "source") : vwf_js(idn, "ami_id"),
			  id);
		vwf_journal_discard(c, doc);
		vwf_journal_remove_file(id);
	}
	vaws_client_free(c);
	vwf_journal_release(j);
	return rc;
}
