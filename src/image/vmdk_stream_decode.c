/*
 * vmdk_so_decode: the download-side parser driven over a reader, window
 * by window of grain tables, as a downloader drives it over ranged GETs
 * (vmdk_stream.h says how).  The unit tests, the fuzz target and local
 * conversions use it.
 */
#include "image/vmdk_stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define WINDOW 64u              /* grain tables per window: 2 GiB of disk */
#define MAX_RANGE (8u << 20)    /* bytes per fetch */

static int read_exact(const vimg_reader *r, uint64_t off, void *buf,
		      size_t len, const char *what, vmie_error *err)
{
	if (vimg_read_exact(r, off, buf, len))
		return 0;
	return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
			"reading the VMDK's %s (%zu bytes at %llu) failed", what,
			len, (unsigned long long)off);
}

/* Fetches the ranges of one window and hands each grain to write. */
static int decode_window(const vimg_reader *obj, const vmdk_so *so,
			 vmdk_grains *list, unsigned char *grain,
			 unsigned char **buf, size_t *cap,
			 vmdk_so_write_fn write, void *ctx, vmie_error *err)
{
	vmdk_range *ranges = NULL;
	size_t nr = vmdk_so_plan(list, MAX_RANGE, &ranges);
	int rc = 0;

	for (size_t i = 0; i < nr && rc == 0; i++) {
		const vmdk_range *rg = &ranges[i];
		xgrow((void **)buf, cap, (size_t)rg->length, 1);
		rc = read_exact(obj, rg->offset, *buf, (size_t)rg->length,
				"grains", err);
		for (size_t k = 0; k < rg->count && rc == 0; k++) {
			const vmdk_grain *g = &list->v[rg->first + k];
			size_t at = (size_t)(g->offset - rg->offset);
			long long n = vmdk_so_inflate(so, g, *buf + at,
						      (size_t)g->length, grain,
						      err);
			if (n < 0)
				rc = -1;
			else if (write(ctx, g->guest, grain, (size_t)n, err) != 0)
				rc = -1;
		}
	}
	free(ranges);
	return rc;
}

int vmdk_so_decode(const vimg_reader *obj, vmdk_so_write_fn write, void *ctx,
		   uint64_t *capacity, vmie_error *err)
{
	unsigned char head[VMDK_SO_HEAD], tail[VMDK_SO_TAIL];
	size_t tail_len = obj->size < VMDK_SO_TAIL ? (size_t)obj->size
						   : VMDK_SO_TAIL;
	size_t head_len = obj->size < VMDK_SO_HEAD ? 0 : VMDK_SO_HEAD;
	vmdk_so so;
	vmdk_grains list = {0};
	unsigned char *gd = NULL, *gt = NULL, *grain = NULL, *buf = NULL;
	size_t cap = 0;
	int rc;

	memset(&so, 0, sizeof(so));
	if ((rc = read_exact(obj, 0, head, head_len, "header", err)) != 0 ||
	    (rc = read_exact(obj, obj->size - tail_len, tail, tail_len,
			     "footer", err)) != 0)
		goto out;
	rc = vmdk_so_open(&so, head_len ? head : NULL, head_len, tail,
			  tail_len, obj->size, err);
	if (rc != 0)
		goto out;
	if (capacity)
		*capacity = so.capacity;
	uint64_t gd_off;
	size_t gd_len;
	vmdk_so_gd_range(&so, &gd_off, &gd_len);
	gd = xmalloc(gd_len ? gd_len : 1);
	if ((rc = read_exact(obj, gd_off, gd, gd_len, "grain directory",
			     err)) != 0 ||
	    (rc = vmdk_so_set_gd(&so, gd, gd_len, err)) != 0)
		goto out;
	gt = xmalloc((size_t)so.gtes * 4);
	grain = xmalloc(so.grain);
	for (uint64_t w = 0; w < so.ngd && rc == 0; w += WINDOW) {
		vmdk_grains_reset(&list);
		for (uint64_t i = w; i < so.ngd && i < w + WINDOW && rc == 0; i++) {
			uint64_t off;
			size_t len;
			if (!vmdk_so_gt_range(&so, i, &off, &len))
				continue;
			rc = read_exact(obj, off, gt, len, "grain table", err);
			if (rc == 0)
				rc = vmdk_so_add_gt(&so, i, gt, len, &list, err);
		}
		if (rc == 0)
			rc = vmdk_so_grains_done(&so, &list, err);
		if (rc == 0)
			rc = decode_window(obj, &so, &list, grain, &buf, &cap,
					   write, ctx, err);
	}
out:
	free(buf);
	free(grain);
	free(gt);
	free(gd);
	vmdk_grains_free(&list);
	vmdk_so_free(&so);
	return rc ? -1 : 0;
}
