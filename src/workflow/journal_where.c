/*
 * A run journal in words (journal_steps.h): where the run stopped, and
 * what it keeps in AWS while it waits for the same command again.
 */
#include "workflow/journal_steps.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

void vwf_step_state(json_t *step, const char *state)
{
	vwf_jset(step, "state", state);
}

const json_t *vwf_doc_step(const json_t *doc, const char *name)
{
	return json_object_get(json_object_get(doc, "steps"), name);
}

bool vwf_step_is(const json_t *step, const char *state)
{
	const char *s = vwf_js(step, "state");
	return s && strcmp(s, state) == 0;
}

/* "41 of 64 parts (63 %)" or "41 parts (328 MiB)" for an upload. */
static void upload_words(vbuf *b, const json_t *up)
{
	const json_t *parts = json_object_get(up, "parts");
	uint64_t size = (uint64_t)vwf_ji(up, "size", 0);
	uint64_t psize = (uint64_t)vwf_ji(up, "part_size", 0);
	uint64_t done = 0;
	size_t i, n = 0;
	json_t *p;
	json_array_foreach(parts, i, p) {
		if (!json_is_array(p))
			continue;
		done += (uint64_t)json_integer_value(json_array_get(p, 1));
		n++;
	}
	if (size && psize)
		vbuf_addf(b, "%zu of %" PRIu64 " parts (%d %%)", n, (size + psize - 1) / psize,
			  (int)(done * 100 / size));
	else
		vbuf_addf(b, "%zu part%s (%" PRIu64 " MiB)", n, n == 1 ? "" : "s",
			  done >> 20);
}

char *vwf_journal_where(const json_t *doc)
{
	vbuf b = VBUF_INIT;
	const json_t *up = vwf_doc_step(doc, "upload"), *im = vwf_doc_step(doc, "import");
	const json_t *sb = vwf_doc_step(doc, "sanboot"), *ex = vwf_doc_step(doc, "export");
	const json_t *dl = vwf_doc_step(doc, "download");
	if (dl) {
		vbuf_addf(&b, "download to %s %s", vwf_js(dl, "path"),
			  vwf_step_is(dl, "done") ? "done" : "under way");
	} else if (ex) {
		if (vwf_step_is(ex, "done"))
			vbuf_addf(&b, "exported to %s", vwf_js(ex, "url"));
		else if (vwf_js(ex, "task_id"))
			vbuf_addf(&b, "export task %s %s", vwf_js(ex, "task_id"),
				  vwf_step_is(ex, "failed") ? "failed" : "under way");
		else
			vbuf_addf(&b, "starting the export of %s", vwf_js(ex, "ami_id"));
	} else if (sb) {
		if (vwf_step_is(sb, "done"))
			vbuf_addf(&b, "sanbootable AMI %s made", vwf_js(sb, "ami_id"));
		else if (vwf_js(sb, "image_id"))
			vbuf_addf(&b, "sanbootable AMI %s being made", vwf_js(sb, "image_id"));
		else if (vwf_jb(sb, "installed"))
			vbuf_addf(&b, "sanbootable installed on %s", vwf_js(sb, "instance_id"));
		else
			vbuf_addf(&b, "installing sanbootable on a copy of %s",
				  vwf_js(sb, "source_ami"));
	} else if (im) {
		if (vwf_step_is(im, "done"))
			vbuf_addf(&b, "imported as %s", vwf_js(im, "ami_id"));
		else if (vwf_js(im, "task_id"))
			vbuf_addf(&b, "import task %s %s", vwf_js(im, "task_id"),
				  vwf_step_is(im, "failed") ? "failed" : "under way");
		else
			vbuf_adds(&b, "starting the import task");
	} else if (up) {
		if (vwf_step_is(up, "done")) {
			vbuf_addf(&b, "uploaded to s3://%s/%s", vwf_js(up, "bucket"),
				  vwf_js(up, "key"));
		} else {
			vbuf_adds(&b, "upload: ");
			upload_words(&b, up);
			vbuf_adds(&b, " in S3");
		}
	} else {
		vbuf_adds(&b, "nothing made yet");
	}
	return vbuf_detach(&b);
}

char *vwf_journal_kept(const json_t *doc)
{
	vbuf b = VBUF_INIT;
	const json_t *up = vwf_doc_step(doc, "upload"), *im = vwf_doc_step(doc, "import");
	const json_t *ex = vwf_doc_step(doc, "export");
	if (up && !vwf_step_is(up, "done") && vwf_js(up, "upload_id")) {
		vbuf_addf(&b, "the multipart upload of s3://%s/%s (", vwf_js(up, "bucket"),
			  vwf_js(up, "key"));
		upload_words(&b, up);
		vbuf_adds(&b, " in S3)");
	}
	if (im && !vwf_step_is(im, "done") && !vwf_step_is(im, "failed") && vwf_js(im, "task_id"))
		vbuf_addf(&b, "%simport task %s, which goes on in AWS", b.len ? "; " : "",
			  vwf_js(im, "task_id"));
	if (ex && !vwf_step_is(ex, "done") && !vwf_step_is(ex, "failed") && vwf_js(ex, "task_id"))
		vbuf_addf(&b, "%sexport task %s, which goes on in AWS", b.len ? "; " : "",
			  vwf_js(ex, "task_id"));
	if (!b.len) {
		vbuf_free(&b);
		return NULL;
	}
	return vbuf_detach(&b);
}
