/*
 * Are the bytes the object?  From the per-chunk digests taken as the bytes
 * arrived (download_get.c):
 *  - a FULL_OBJECT CRC32C: the chunks' CRCs combined in order;
 *  - a COMPOSITE CRC32C: each part's CRC (its chunks combined), then the
 *    CRC32C of their big-endian bytes, "-N";
 *  - a CRC-64/NVME (always of the whole object): the chunks' combined;
 *  - a plain ETag: the object's MD5; a multipart ETag: the MD5 of the
 *    parts' MD5s, "-N".  A part fetched in one chunk has its MD5 already;
 *    one split into chunks (or resumed from an older state) is read back
 *    from the target, as is a whole object fetched in several chunks.
 * When the part layout was assumed (parts 1 and N alike) and the check
 * fails, every part's size is asked for and the check runs again on the
 * real layout before anything is called corrupt.
 */
#include "transfer/download_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "codec/crc64nvme.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void vdl_md5_of_md5s(const unsigned char *digests, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(digests, n * 16, md, &len, EVP_md5(), NULL);
	hex(md, 16, out);
	snprintf(out + 32, 16, "-%zu", n);
}

/* The MD5, CRC32C and CRC-64/NVME (each when its pointer is non-NULL) of
 * target bytes [off, off+len), read back. */
static int read_back(vdl_run *r, uint64_t off, uint64_t len,
		     unsigned char *md5, uint32_t *crc, uint64_t *crc64,
		     vmie_error *err)
{
	if (r->vmdk) {
		/* The plan never needs it (download_vmdk.h): a guard. */
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "%s holds the disk decoded from the VMDK, not the "
			 "object: its bytes %" PRIu64 "-%" PRIu64 " cannot be "
			 "read back to check them", r->o->path, off,
			 off + len - 1);
		return verr_hint(err, "run the download again (it starts "
				      "over)");
	}
	EVP_MD_CTX *ctx = md5 ? EVP_MD_CTX_new() : NULL;
	unsigned char *buf = xmalloc(VDL_BLOCK);
	int e = !md5 || (ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
			? 0
			: ENOMEM;
	if (crc)
		*crc = 0;
	if (crc64)
		*crc64 = 0;
	while (!e && len > 0) {
		size_t want = len < VDL_BLOCK ? (size_t)len : VDL_BLOCK;
		ssize_t n = pread(r->t.fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			break;
		}
		if (md5)
			EVP_DigestUpdate(ctx, buf, (size_t)n);
		if (crc)
			*crc = vcrc32c(*crc, buf, (size_t)n);
		if (crc64)
			*crc64 = vcrc64nvme(*crc64, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	unsigned mdlen = 0;
	if (!e && md5 && !EVP_DigestFinal_ex(ctx, md5, &mdlen))
		e = EIO;
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (e) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot read %s back to check it: %s", r->o->path,
			 strerror(e));
		return verr_hint(err, "check the target, then run the "
				      "download again");
	}
	return 0;
}

/* Part n's MD5 (1-based) under the layout in r->obj. */
static int part_md5(vdl_run *r, unsigned n, unsigned char out[16],
		    vmie_error *err)
{
	uint64_t a = r->obj.part_off ? r->obj.part_off[n - 1] : 0;
	uint64_t b = r->obj.part_off ? r->obj.part_off[n] : r->obj.size;
	for (size_t i = 0; i < r->plan.n; i++) {
		const vdl_chunk *c = &r->plan.chunks[i];
		if (c->off == a && c->len == b - a && c->has_md5) {
			memcpy(out, c->md5, 16);
			return 0;
		}
		if (c->off > a)
			break;
	}
	return read_back(r, a, b - a, out, NULL, NULL, err);
}

/* The CRC32C of target bytes [a, b): the chunks inside it combined, or
 * read back when a chunk straddles a boundary (a layout learnt late). */
static int crc_of(vdl_run *r, uint64_t a, uint64_t b, uint32_t *out,
		  vmie_error *err)
{
	uint32_t crc = 0;
	for (size_t i = 0; i < r->plan.n; i++) {
		const vdl_chunk *c = &r->plan.chunks[i];
		uint64_t end = c->off + c->len;
		if (end <= a || c->off >= b)
			continue;
		if (c->off < a || end > b)
			return read_back(r, a, b - a, NULL, out, NULL, err);
		crc = vcrc32c_combine(crc, c->crc, c->len);
	}
	*out = crc;
	return 0;
}

/* The CRC-64/NVME of the whole object: every chunk's, combined. */
static uint64_t crc64_of(const vdl_run *r)
{
	uint64_t crc = 0;
	for (size_t i = 0; i < r->plan.n; i++)
		crc = vcrc64nvme_combine(crc, r->plan.chunks[i].crc64,
					 r->plan.chunks[i].len);
	return crc;
}

static char *ours_for(vdl_run *r, vmie_error *err)
{
	const vdl_object *ob = &r->obj;
	char out[64];
	if (ob->verify == VDL_VERIFY_CRC64) {
		vcrc64nvme_b64(crc64_of(r), out);
		return xstrdup(out);
	}
	if (ob->verify == VDL_VERIFY_CRC_FULL) {
		uint32_t crc;
		if (crc_of(r, 0, ob->size, &crc, err) != 0)
			return NULL;
		vcrc32c_b64(crc, out);
		return xstrdup(out);
	}
	if (ob->verify == VDL_VERIFY_CRC_COMPOSITE) {
		uint32_t crc = 0;
		for (unsigned n = 1; n <= ob->parts; n++) {
			uint32_t p;
			if (crc_of(r, ob->part_off[n - 1], ob->part_off[n],
				   &p, err) != 0)
				return NULL;
			unsigned char be[4] = {(unsigned char)(p >> 24),
					       (unsigned char)(p >> 16),
					       (unsigned char)(p >> 8),
					       (unsigned char)p};
			crc = vcrc32c(crc, be, 4);
		}
		vcrc32c_b64(crc, out);
		snprintf(out + 8, sizeof out - 8, "-%u", ob->parts);
		return xstrdup(out);
	}
	if (ob->verify == VDL_VERIFY_MD5) {
		unsigned char md[16];
		if (part_md5(r, 1, md, err) != 0)
			return NULL;
		hex(md, 16, out);
		return xstrdup(out);
	}
	unsigned char *mds = xcalloc(ob->parts, 16);
	for (unsigned n = 1; n <= ob->parts; n++) {
		if (part_md5(r, n, mds + 16 * (n - 1), err) != 0) {
			free(mds);
			return NULL;
		}
	}
	vdl_md5_of_md5s(mds, ob->parts, out);
	free(mds);
	return xstrdup(out);
}

/* S3's value without the ETag's quotes. */
static char *theirs_for(const vdl_object *ob)
{
	bool crc = ob->verify == VDL_VERIFY_CRC_FULL ||
		   ob->verify == VDL_VERIFY_CRC_COMPOSITE ||
		   ob->verify == VDL_VERIFY_CRC64;
	const char *s = ob->verify == VDL_VERIFY_CRC64 ? ob->crc64nvme
		      : crc			       ? ob->crc32c
						       : ob->etag;
	size_t n = strlen(s);
	if (!crc && n >= 2 && s[0] == '"' && s[n - 1] == '"')
		return xstrndup(s + 1, n - 2);
	return xstrdup(s);
}

static const char *name_of(vdl_verify_kind k)
{
	switch (k) {
	case VDL_VERIFY_CRC_FULL:
	case VDL_VERIFY_CRC_COMPOSITE: return "crc32c";
	case VDL_VERIFY_CRC64: return "crc64nvme";
	case VDL_VERIFY_MD5: return "etag-md5";
	case VDL_VERIFY_MD5_MULTIPART: return "etag-multipart-md5";
	default: return NULL;
	}
}

int vdl_recheck(vdl_run *r, uint64_t *stale_bytes, vmie_error *err)
{
	bool want64 = r->obj.verify == VDL_VERIFY_CRC64;
	*stale_bytes = 0;
	for (size_t i = 0; i < r->plan.n; i++) {
		vdl_chunk *c = &r->plan.chunks[i];
		uint32_t crc;
		if (!c->done)
			continue;
		int rc = read_back(r, c->off, c->len, NULL, &crc,
				   want64 ? &c->crc64 : NULL, err);
		if (rc != 0)
			return rc;
		if (crc != c->crc) {
			c->done = false;
			*stale_bytes += c->len;
		}
	}
	return 0;
}

int vdl_verify(vdl_run *r, const char **with, vmie_error *err)
{
	*with = NULL;
	if (r->obj.verify == VDL_VERIFY_NONE)
		return 0;
	char *theirs = theirs_for(&r->obj);
	char *ours = ours_for(r, err);
	int rc = 0;
	if (ours && strcasecmp(ours, theirs) != 0 && r->obj.layout_assumed) {
		vlog_debug("the assumed part layout fails the check; asking "
			   "S3 for every part's size");
		free(ours);
		ours = NULL;
		if (vdl_object_exact_layout(r->o->client, r->o->bucket,
					    r->o->key, &r->obj, err) == 0)
			ours = ours_for(r, err);
	}
	if (!ours) {
		rc = err ? err->status : VMIE_ERR_FILE_DOWNLOAD_FAILED;
	} else if (strcasecmp(ours, theirs) != 0) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "%s: the bytes downloaded from s3://%s/%s do not "
			 "match its %s (S3 says %s, the bytes give %s)",
			 r->o->path, r->o->bucket, r->o->key,
			 name_of(r->obj.verify), theirs, ours);
		rc = verr_hint(err, "the copy is damaged: run the download "
				    "again (it starts over)");
	} else {
		*with = name_of(r->obj.verify);
	}
	free(theirs);
	free(ours);
	return rc;
}
