/*
 * VMDK to RAW mode (download_vmdk.h): the checks.  Before a resumed run
 * trusts an earlier one, each finished chunk's disk bytes are read back
 * (a file's holes are not read: they are zeros) and must give the CRC32C
 * it wrote.  After the object's checksum passed, the digests of the
 * bytes the decoder took from other requests must match what the hashing
 * chunks saw there, and every grain must have decoded.
 */
#include "transfer/download_vmdk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

/* Where [a, ...) stops being a hole or data: a file's next data at or
 * after a (b when none), or a itself where the filesystem cannot say. */
static uint64_t next_data(const vdl_run *r, uint64_t a, uint64_t b)
{
	if (r->t.device)
		return a;
	off_t d = lseek(r->t.fd, (off_t)a, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? b : a;
	return (uint64_t)d < b ? (uint64_t)d : b;
}

static uint64_t data_end(const vdl_run *r, uint64_t a, uint64_t b)
{
	if (r->t.device)
		return b;
	off_t h = lseek(r->t.fd, (off_t)a, SEEK_HOLE);
	return h > (off_t)a && (uint64_t)h < b ? (uint64_t)h : b;
}

/* CRC32C of target bytes [a, b). */
static int span_crc(const vdl_run *r, uint64_t a, uint64_t b,
		    unsigned char *buf, uint32_t *out, vmie_error *err)
{
	uint32_t crc = 0;
	while (a < b) {
		uint64_t d = next_data(r, a, b);
		if (d > a) {
			crc = vdl_crc32c_zeros(crc, d - a);
			a = d;
			continue;
		}
		uint64_t e = data_end(r, a, b);
		while (a < e) {
			size_t want = e - a < VDL_BLOCK ? (size_t)(e - a) : VDL_BLOCK;
			ssize_t n = pread(r->t.fd, buf, want, (off_t)a);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int x = n < 0 ? errno : EIO;
				verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
					 "cannot read %s back to check it: %s",
					 r->o->path, strerror(x));
				return verr_hint(err, "check the target, then run "
						      "the download again");
			}
			crc = vcrc32c(crc, buf, (size_t)n);
			a += (uint64_t)n;
		}
	}
	*out = crc;
	return 0;
}

int vdl_vmdk_recheck(vdl_run *r, uint64_t *stale_bytes, vmie_error *err)
{
	unsigned char *buf = xmalloc(VDL_BLOCK);
	int rc = 0;
	*stale_bytes = 0;
	for (size_t i = 0; i < r->plan.n && rc == 0; i++) {
		vdl_chunk *c = &r->plan.chunks[i];
		const vdl_vchunk *vx = &r->plan.vx[i];
		uint32_t crc = 0;
		if (!c->done || vx->ge <= vx->gs)
			continue;
		rc = span_crc(r, vx->gs, vx->ge, buf, &crc, err);
		if (rc == 0 && crc != vx->wcrc) {
			c->done = false;
			*stale_bytes += vx->ge - vx->gs;
		}
	}
	free(buf);
	return rc;
}

int vdl_vmdk_check(vdl_run *r, bool verified, vmie_error *err)
{
	vdl_vmdk *v = r->vmdk;
	uint64_t seen = 0, used = v->meta_want;
	for (size_t i = 0; i < r->plan.n; i++) {
		seen += r->plan.vx[i].seen;
		used += r->plan.vx[i].used;
	}
	if (seen != used) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "%s: the VMDK's tables, or grains read across chunks, "
			 "were not the bytes of s3://%s/%s that its checksum "
			 "covers (they differ between two GETs)",
			 r->o->path, r->o->bucket, r->o->key);
		return verr_hint(err, "the copy may be damaged: run the "
				      "download again (it starts over)");
	}
	if (v->decode_failed) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "%s: s3://%s/%s is a damaged VMDK (%s)", r->o->path,
			 r->o->bucket, r->o->key,
			 v->decode_err.message ? v->decode_err.message : "?");
		return verr_hint(err, verified
				 ? "its checksum matches, so S3 holds it so: "
				   "export the image again, or download it as it "
				   "is (--download-format as-is) and check it "
				   "with qemu-img check"
				 : "run the download again (it starts over); if "
				   "this persists, download it as it is "
				   "(--download-format as-is) and check it with "
				   "qemu-img check");
	}
	return 0;
}
