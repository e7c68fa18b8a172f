/*
 * The resume file: which chunks of which object are already on the
 * target, with their digests (the verification needs them, and re-reading
 * terabytes would cost more than the state).  JSON, 0600, replaced
 * atomically (write a temp file, fsync, rename), so a crash leaves the old
 * state or the new one, never half of either.  A state that names another
 * object (bucket, key, size, ETag), another chunking or another target is
 * not used: the download starts over.  A VMDK to RAW download's state
 * (version 2, "mode": "vmdk-to-raw") also keeps each chunk's CRC-64/NVME
 * and what it wrote to the disk (download_vmdk.h): entries
 * [index, crc32c, md5|null, crc64, gs, ge, disk crc32c, seen, used], the
 * 64-bit values in hex (JSON integers are signed).
 */
#include "transfer/download_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "transfer/download_vmdk.h"

#define STATE_VERSION 1
#define STATE_VERSION_VMDK 2

static char *md5_hex(const unsigned char md5[16])
{
	vbuf b = VBUF_INIT;
	vbuf_addhex(&b, md5, 16);
	return vbuf_detach(&b);
}

static bool hex_md5(const char *s, unsigned char out[16])
{
	if (!s || strlen(s) != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char)v;
	}
	return true;
}

static const char *mismatch(json_t *root, const vdl_state_id *id)
{
	json_int_t version = json_integer_value(json_object_get(root, "version"));
	const char *bucket = json_string_value(json_object_get(root, "bucket"));
	const char *key = json_string_value(json_object_get(root, "key"));
	const char *etag = json_string_value(json_object_get(root, "etag"));
	json_int_t size = json_integer_value(json_object_get(root, "size"));
	json_int_t cs = json_integer_value(json_object_get(root, "chunk_size"));
	json_int_t n = json_integer_value(json_object_get(root, "chunks"));
	json_int_t dev = json_integer_value(json_object_get(root, "target_dev"));
	json_int_t ino = json_integer_value(json_object_get(root, "target_ino"));
	const char *mode = json_string_value(json_object_get(root, "mode"));
	if (version == STATE_VERSION && id->mode)
		return "it was a download of the object as it is";
	if (version == STATE_VERSION_VMDK && !id->mode)
		return "it was a download that wrote the VMDK's disk as RAW";
	if (version != (id->mode ? STATE_VERSION_VMDK : STATE_VERSION) ||
	    (id->mode && (!mode || strcmp(mode, id->mode) != 0)))
		return "it is from another version of vmie";
	if (!bucket || !key || strcmp(bucket, id->bucket) != 0 ||
	    strcmp(key, id->key) != 0)
		return "it is for another object";
	if (!etag || strcmp(etag, id->etag) != 0 || (uint64_t)size != id->size)
		return "the object has changed since (another ETag or size)";
	if ((size_t)cs != id->chunk_size || (size_t)n != id->nchunks)
		return "it was cut into other chunks";
	if ((unsigned long long)dev != id->dev ||
	    (unsigned long long)ino != id->ino)
		return "the target is another file or device";
	return NULL;
}

static bool hex64(const json_t *j, uint64_t *out)
{
	const char *s = json_string_value(j);
	char *end = NULL;
	if (!s || !*s || strlen(s) > 16)
		return false;
	*out = strtoull(s, &end, 16);
	return *end == '\0';
}

static bool u64_value(const json_t *j, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*out = (uint64_t)json_integer_value(j);
	return true;
}

/* The VMDK to RAW fields of entry e (from index 3), into *x when not
 * NULL; false when one is missing or malformed. */
static bool vmdk_fields(json_t *e, vdl_vchunk *x, uint64_t *crc64)
{
	vdl_vchunk v = {0};
	uint64_t c64, wcrc;
	if (json_array_size(e) != 9 || !hex64(json_array_get(e, 3), &c64) ||
	    !u64_value(json_array_get(e, 4), &v.gs) ||
	    !u64_value(json_array_get(e, 5), &v.ge) || v.ge < v.gs ||
	    !u64_value(json_array_get(e, 6), &wcrc) || wcrc > UINT32_MAX ||
	    !hex64(json_array_get(e, 7), &v.seen) ||
	    !hex64(json_array_get(e, 8), &v.used))
		return false;
	v.wcrc = (uint32_t)wcrc;
	if (x) {
		*x = v;
		*crc64 = c64;
	}
	return true;
}

/* The done chunks, all checked before any is marked. */
static const char *apply(json_t *done, vdl_plan *plan)
{
	size_t i;
	json_t *e;
	if (!json_is_array(done))
		return "it is corrupt (no list of chunks)";
	json_array_foreach(done, i, e) {
		json_int_t idx = json_integer_value(json_array_get(e, 0));
		json_t *crc = json_array_get(e, 1);
		json_t *md5 = json_array_get(e, 2);
		unsigned char d[16];
		if (!json_is_array(e) || !json_is_integer(json_array_get(e, 0)) ||
		    idx < 0 || (size_t)idx >= plan->n || !json_is_integer(crc) ||
		    json_integer_value(crc) < 0 ||
		    json_integer_value(crc) > (json_int_t)UINT32_MAX ||
		    (!json_is_null(md5) && !hex_md5(json_string_value(md5), d)) ||
		    (plan->vx && !vmdk_fields(e, NULL, NULL)))
			return "it is corrupt (a bad chunk entry)";
	}
	json_array_foreach(done, i, e) {
		size_t idx = (size_t)json_integer_value(json_array_get(e, 0));
		vdl_chunk *c = &plan->chunks[idx];
		c->done = true;
		c->crc = (uint32_t)json_integer_value(json_array_get(e, 1));
		c->has_md5 = hex_md5(json_string_value(json_array_get(e, 2)), c->md5);
		if (plan->vx)
			vmdk_fields(e, &plan->vx[idx], &c->crc64);
	}
	return NULL;
}

bool vdl_state_load(const char *path, const vdl_state_id *id, vdl_plan *plan,
		    char **why)
{
	*why = NULL;
	if (access(path, F_OK) != 0)
		return false;
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	const char *w = !json_is_object(root) ? "it is corrupt (not JSON)"
					      : mismatch(root, id);
	if (!w)
		w = apply(json_object_get(root, "done"), plan);
	json_decref(root);
	if (w)
		*why = xstrdup(w);
	return w == NULL;
}

static json_t *entry(const vdl_plan *plan, size_t i)
{
	const vdl_chunk *c = &plan->chunks[i];
	char *hex = c->has_md5 ? md5_hex(c->md5) : NULL;
	json_t *e;
	if (plan->vx) {
		const vdl_vchunk *x = &plan->vx[i];
		char c64[17], seen[17], used[17];
		snprintf(c64, sizeof c64, "%016llx", (unsigned long long)c->crc64);
		snprintf(seen, sizeof seen, "%016llx", (unsigned long long)x->seen);
		snprintf(used, sizeof used, "%016llx", (unsigned long long)x->used);
		e = json_pack("[I, I, s?, s, I, I, I, s, s]", (json_int_t)i,
			      (json_int_t)c->crc, hex, c64, (json_int_t)x->gs,
			      (json_int_t)x->ge, (json_int_t)x->wcrc, seen, used);
	} else {
		e = json_pack("[I, I, s?]", (json_int_t)i, (json_int_t)c->crc,
			      hex);
	}
	free(hex);
	return e;
}

static json_t *build(const vdl_state_id *id, const vdl_plan *plan)
{
	json_t *done = json_array();
	for (size_t i = 0; i < plan->n; i++)
		if (plan->chunks[i].done)
			json_array_append_new(done, entry(plan, i));
	json_t *root = json_pack(
		"{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
		"version", id->mode ? STATE_VERSION_VMDK : STATE_VERSION,
		"bucket", id->bucket, "key", id->key, "etag", id->etag,
		"size", (json_int_t)id->size,
		"chunk_size", (json_int_t)id->chunk_size,
		"chunks", (json_int_t)id->nchunks,
		"target_dev", (json_int_t)id->dev,
		"target_ino", (json_int_t)id->ino, "done", done);
	if (root && id->mode)
		json_object_set_new(root, "mode", json_string(id->mode));
	return root;
}

static int mkdirs_for(const char *path)
{
	char *dup = xstrdup(path);
	char *dir = dirname(dup);
	int rc = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(dup);
	return rc;
}

int vdl_state_save(const char *path, const vdl_state_id *id,
		   const vdl_plan *plan, vmie_error *err)
{
	vbuf tmp = VBUF_INIT;
	json_t *root = build(id, plan);
	char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	int fd = -1, rc = 0, e = 0;
	vbuf_addf(&tmp, "%s.tmp", path);
	mkdirs_for(path);
	/* O_NOFOLLOW: a link planted at the temporary name is refused,
	 * never written through. */
	fd = open(vbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		  O_NOFOLLOW, 0600);
	if (fd < 0 || !text) {
		e = fd < 0 ? errno : ENOMEM;
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		e = errno;
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(vbuf_str(&tmp), path) != 0)
		e = errno;
out:
	if (fd >= 0)
		close(fd);
	if (e) {
		unlink(vbuf_str(&tmp));
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot save the download's state to %s: %s", path,
			 strerror(e));
		rc = verr_hint(err, "check the free space and permissions "
				    "there");
	}
	free(text);
	json_decref(root);
	vbuf_free(&tmp);
	return rc;
}
