/*
 * Every row checked before anything is created: the checks vmie import
 * (or convert) makes of its options (vmie_validate: no AWS), then the
 * preflight of a local source, which reads the image and refuses what AWS
 * would refuse an hour later.  A batch of forty VMs should not stop at
 * the thirty-seventh for a typo in its row.
 */
#include "workflow/batch.h"

#include <stdlib.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

static void invalid(vbatch_row *r, const vmie_error *e)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "line %u: %s", r->line, e->message ? e->message : "invalid");
	free(r->problem);
	free(r->hint);
	r->problem = vbuf_detach(&b);
	r->hint = xstrdup(e->hint);
}

size_t vbatch_check_rows(vbatch_manifest *m, const char *manifest)
{
	size_t bad = 0;
	for (size_t i = 0; i < m->n; i++) {
		vbatch_row *r = &m->rows[i];
		vmie_error e = {0};
		vmie_source_kind kind = VMIE_SOURCE_NONE;
		if (!r->mine)
			continue;
		if (!r->problem && r->out.status == VBATCH_PENDING) {
			vmie_operation op = vbatch_row_op(r);
			if (vmie_validate(op, &r->opts, &kind, &e) != 0 ||
			    (kind == VMIE_SOURCE_FILE && vmie_preflight(&r->opts, kind, &e) != 0))
				invalid(r, &e);
			vmie_error_clear(&e);
		}
		if (!r->problem)
			continue;
		r->out.status = VBATCH_INVALID;
		free(r->out.error);
		free(r->out.hint);
		r->out.error = xstrdup(r->problem);
		r->out.hint = xstrdup(r->hint);
		vlog_error("%s: %s", manifest, r->problem);
		if (r->hint && *r->hint)
			vlog_info("  hint: %s", r->hint);
		bad++;
	}
	return bad;
}
