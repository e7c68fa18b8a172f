/*
 * The chunks in flight: up to `parallel` ranged GETs (download_get.c) on
 * one libcurl multi handle, each on its own reused connection.  A failed
 * chunk is fetched again from its start after a backoff when the retry
 * policy (aws/retry.h, one quota for the whole download) allows; a write
 * the target refuses, or an object that changed (412), is not retried.
 * Progress, cancellation and the periodic state save happen here.
 */
#include "transfer/download_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awserr.h"
#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#define POLL_MS 100
#define PROGRESS_MS 200

typedef struct sender {
	vdl_run *r;
	CURLM *multi;
	vdl_slot *slots;
	unsigned nslots;
	const char *ca_bundle;
	long long last_progress;
	size_t next;                 /* first chunk that may not be done */
} sender;

static vdl_chunk *next_chunk(sender *s, long long now, bool *all_done)
{
	vdl_plan *p = &s->r->plan;
	*all_done = true;
	while (s->next < p->n && p->chunks[s->next].done)
		s->next++;
	for (size_t i = s->next; i < p->n; i++) {
		vdl_chunk *c = &p->chunks[i];
		if (c->done)
			continue;
		*all_done = false;
		if (!c->active && c->not_before <= now)
			return c;
	}
	return NULL;
}

/* A transfer for each idle slot a chunk can fill.  1: all done. */
static int dispatch(sender *s, vmie_error *err)
{
	long long now = vdl_now_ms();
	bool all_done = false;
	for (unsigned i = 0; i < s->nslots; i++) {
		vdl_slot *sl = &s->slots[i];
		if (sl->chunk)
			continue;
		vdl_chunk *c = next_chunk(s, now, &all_done);
		if (!c)
			break;
		c->active = true;
		sl->chunk = c;
		int rc = vdl_get_start(s->r, sl, s->multi, s->ca_bundle, err);
		if (rc != 0) {
			c->active = false;
			sl->chunk = NULL;
			return rc;
		}
	}
	next_chunk(s, now, &all_done);
	return all_done ? 1 : 0;
}

static void chunk_done(sender *s, vdl_slot *sl, vdl_chunk *c)
{
	vdl_run *r = s->r;
	c->done = true;
	c->crc = sl->crc;
	c->has_md5 = false;
	if (sl->md5) {
		unsigned len = 0;
		c->has_md5 = EVP_DigestFinal_ex(sl->md5, c->md5, &len) && len == 16;
		EVP_MD_CTX_free(sl->md5);
		sl->md5 = NULL;
	}
	r->done_bytes += c->len;
	r->zero_skipped += sl->skipped;
	r->dirty = true;
	vretry_on_success(&r->retry, &c->retry);
}

static int range_words(const vdl_run *r, const vdl_chunk *c,
		       vmie_error *err)
{
	verr_prefix(err, "GetObject bytes %" PRIu64 "-%" PRIu64
			 " of s3://%s/%s",
		    c->off, c->off + c->len - 1, r->o->bucket, r->o->key);
	if (err)
		err->status = VMIE_ERR_FILE_DOWNLOAD_FAILED;
	return VMIE_ERR_FILE_DOWNLOAD_FAILED;
}

static int chunk_failed(vdl_run *r, vdl_chunk *c, const vhttp_response *rs,
			int attempts, const vawserr_info *info,
			vmie_error *err)
{
	if (rs->transport != VHTTP_OK) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "%s (after %d "
			 "attempt%s)",
			 rs->transport_error ? rs->transport_error
					     : "transport error",
			 attempts, attempts == 1 ? "" : "s");
		verr_hint(err, rs->transport == VHTTP_TLS
				       ? "the TLS connection could not be "
					 "verified: check the system CA "
					 "certificates and AWS_CA_BUNDLE"
				       : "check the network, then run the "
					 "download again: it continues where "
					 "it stopped");
		return range_words(r, c, err);
	}
	vawserr_fill(err, "s3", "GetObject", rs->status, info);
	if (rs->status == 412)
		verr_hint(err, "the object changed during the download: run "
			       "it again to fetch the new object");
	return range_words(r, c, err);
}

static bool expired_code(const char *code)
{
	return code && (strcmp(code, "ExpiredToken") == 0 ||
			strcmp(code, "RequestExpired") == 0 ||
			strcmp(code, "TokenRefreshRequired") == 0);
}

static int finish(sender *s, vdl_slot *sl, CURLcode cc, vmie_error *err)
{
	vdl_run *r = s->r;
	vdl_chunk *c = sl->chunk;
	const vhttp_response *rs = &sl->rs;
	r->connects += (unsigned)vdl_get_end(sl, cc);
	sl->chunk = NULL;
	c->active = false;
	if (sl->write_errno) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot write to %s at offset %" PRIu64 ": %s",
			 r->o->path, c->off, strerror(sl->write_errno));
		return verr_hint(err, "check the free space and the device, "
				      "then run the download again");
	}
	if (rs->transport == VHTTP_OK && (rs->status == 200 ||
					  rs->status == 206) &&
	    sl->got == c->len) {
		chunk_done(s, sl, c);
		return 0;
	}
	vawserr_info info = {0};
	vretry_outcome o = {rs->transport, rs->status, NULL};
	if (rs->transport == VHTTP_OK && rs->status >= 300) {
		vawserr_parse(rs, &info);
		o.aws_code = info.code;
	} else if (rs->transport == VHTTP_OK) {
		/* A 2xx cut short: the connection dropped mid-body. */
		o.transport = VHTTP_IO;
		o.http_status = 0;
	}
	int attempt = c->retry.attempt;
	long delay = 0;
	bool again;
	if (expired_code(o.aws_code) && !c->resigned) {
		c->resigned = true;
		again = true;
	} else {
		again = rs->status != 412 &&
			vretry_should_retry(&r->retry, &c->retry, &o, true,
					    &delay);
	}
	int rc = 0;
	if (again) {
		vlog_debug("s3 GetObject: bytes %" PRIu64 "-%" PRIu64
			   " attempt %d: %s; retrying in %ld ms",
			   c->off, c->off + c->len - 1, attempt,
			   o.aws_code		  ? o.aws_code
			   : rs->transport_error ? rs->transport_error
			   : o.transport	  ? "connection dropped"
						  : "server error",
			   delay);
		c->not_before = vdl_now_ms() + delay;
	} else {
		rc = chunk_failed(r, c, rs, attempt, &info, err);
	}
	vawserr_info_free(&info);
	return rc;
}

static int reap(sender *s, vmie_error *err)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode cc = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(s->multi, e);
		int rc = finish(s, (vdl_slot *)priv, cc, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void progress(sender *s, bool force)
{
	vdl_run *r = s->r;
	if (!r->o->progress)
		return;
	long long now = vdl_now_ms();
	if (!force && now - s->last_progress < PROGRESS_MS)
		return;
	uint64_t done = r->done_bytes;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->slots[i].chunk)
			done += s->slots[i].got;
	if (done < r->progress_sent)
		done = r->progress_sent;
	if (done == r->progress_sent && (!force || r->progress_sent))
		return;
	s->last_progress = now;
	r->progress_sent = done;
	r->o->progress(r->o->progress_ctx, done, r->obj.size);
}

static int sender_init(sender *s, vdl_run *r, vmie_error *err)
{
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->ca_bundle = vaws_config_setting(vaws_client_config(r->o->client),
					   "AWS_CA_BUNDLE", "ca_bundle");
	s->multi = curl_multi_init();
	s->nslots = r->parallel;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	for (unsigned i = 0; s->multi && i < s->nslots; i++) {
		s->slots[i].easy = curl_easy_init();
		if (!s->slots[i].easy)
			break;
		if (i + 1 == s->nslots)
			return 0;
	}
	return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
			"cannot initialise the HTTP client (libcurl)");
}

static void sender_free(sender *s)
{
	for (unsigned i = 0; s->slots && i < s->nslots; i++) {
		if (s->slots[i].chunk)
			s->slots[i].chunk->active = false;
		vdl_slot_free(&s->slots[i], s->multi);
	}
	free(s->slots);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	memset(s, 0, sizeof(*s));
}

static int interrupted(vmie_error *err)
{
	verr_set(err, VMIE_ERR_INTERRUPTED, "the download was interrupted");
	return verr_hint(err, "run it again: it continues where it stopped");
}

int vdl_send_all(vdl_run *r, vmie_error *err)
{
	sender s;
	int rc = sender_init(&s, r, err);
	while (rc == 0) {
		if (r->o->cancel && *r->o->cancel) {
			rc = interrupted(err);
			break;
		}
		rc = dispatch(&s, err);
		if (rc != 0)
			break;
		int running = 0;
		if (curl_multi_perform(s.multi, &running) != CURLM_OK) {
			rc = verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				      "the HTTP client (libcurl) failed");
			break;
		}
		rc = reap(&s, err);
		if (rc == 0)
			rc = vdl_run_save(r, false, err);
		if (rc != 0)
			break;
		progress(&s, false);
		curl_multi_poll(s.multi, NULL, 0, POLL_MS, NULL);
	}
	if (rc == 1) {
		rc = 0;
		progress(&s, true);
	}
	sender_free(&s);
	return rc;
}
