/*
 * --upload-format (import_format.h): what an upload sends.  A local file
 * is inspected first (it was by the preflight too: a few reads); a URL or
 * a compressed file is judged by its decoded head, and must say its size
 * before its first byte, since the VMDK's header does.
 */
#include "workflow/import_format.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/decode.h"
#include "workflow/import_plan.h"

/* Enough decoded head to tell the formats apart (the ISO magic sits at
 * 32769, an OVA's first tar headers within a few KiB). */
#define PEEK (64u << 10)

static bool as_is(const vmie_options *o)
{
	return o->upload_format && strcmp(o->upload_format, "as-is") == 0;
}

static bool convertible(const vimg_info *info)
{
	const char *sub = info->subformat;
	switch (info->format) {
	case VIMG_VHD:
	case VIMG_VHDX:
		return strcmp(sub, "fixed") == 0 || strcmp(sub, "dynamic") == 0;
	case VIMG_VMDK:
		return strcmp(sub, "streamOptimized") != 0;
	default:
		return false;
	}
}

vimg_compression vwf_file_compression(const char *path)
{
	unsigned char head[8];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never wait on a FIFO */
	if (fd >= 0) {
		n = read(fd, head, sizeof(head));
		close(fd);
	}
	return n > 0 ? vdec_detect(head, (size_t)n) : VIMG_COMP_NONE;
}

bool vwf_converts_local(const vmie_options *o, const vimg_info *info)
{
	return !as_is(o) && convertible(info);
}

/* ca_bundle: an https image source trusts what AWS requests trust, so a
 * corporate TLS proxy's CA in AWS_CA_BUNDLE / ca_bundle works for both. */
static int open_stream(const vmie_options *o, vmie_source_kind kind,
		       const char *ca_bundle, vsource **out, vmie_error *err)
{
	vsource *raw = NULL;
	vsource_http_opts ho = {.ca_bundle = ca_bundle};
	int rc = kind == VMIE_SOURCE_HTTP
			 ? vsource_open_http(o->source, &ho, &raw, err)
			 : vsource_open_file(o->source, &raw, err);
	if (rc != 0)
		return rc;
	/* Two xz decoder threads: the machine's other core uploads. */
	return vsource_open_decoded(raw, 2, out, err);
}

static void send_as_is(vwf_upload_src *u, vsource *src)
{
	u->src = src;
	u->name = xstrdup(vsource_name(src));
}

/* src (a disk of known size) becomes a VMDK made on the fly. */
static int send_vmdk(vwf_upload_src *u, vsource *src, const char *what,
		     vmie_error *err)
{
	char *name = vwf_vmdk_name(vsource_name(src));
	uint64_t disk = vsource_size(src);
	vlog_info("sending %s as a streamOptimized VMDK made as it uploads "
		  "(a %llu-byte disk; only the grains that hold data travel)",
		  what, (unsigned long long)disk);
	if (vsource_open_vmdk(src, name, 2, &u->src, err) != 0) {
		free(name);
		return err->status ? err->status : VMIE_ERR_GENERAL_OPERATION_FAILED;
	}
	u->vmdk = true;
	u->name = name;
	u->disk_bytes = disk;
	return 0;
}

static int open_local(const vmie_options *o, vwf_upload_src *u,
		      vmie_error *err)
{
	vimg_info info = {0};
	vsource *src = NULL;
	int rc = vimg_inspect_file(o->source, &info, err);
	if (rc != 0)
		goto out;
	if (info.format == VIMG_RAW && info.image_size > 0) {
		rc = open_stream(o, VMIE_SOURCE_FILE, NULL, &src, err);
		if (rc == 0)
			rc = send_vmdk(u, src, o->source, err);
		goto out;
	}
	if (convertible(&info) && !vimg_broken(&info)) {
		vmie_error e = {0};
		if (vsource_open_image(o->source, info.format, &src, &e) == 0) {
			char what[64];
			snprintf(what, sizeof(what), "the disk inside this %s (%s)",
				 vimg_format_name(info.format), info.subformat);
			rc = send_vmdk(u, src, what, err);
			goto out;
		}
		vlog_warn("%s; sending the file as it is", e.message);
		vmie_error_clear(&e);
	} else if (info.format == VIMG_VMDK || info.format == VIMG_OVA) {
		vlog_info("%s is %s %s: sent as it is", o->source,
			  info.format == VIMG_OVA ? "an" : "a",
			  info.format == VIMG_OVA ? "OVA" : "streamOptimized VMDK");
	}
	rc = open_stream(o, VMIE_SOURCE_FILE, NULL, &src, err);
	if (rc == 0) {
		send_as_is(u, src);
		u->disk_bytes = info.virtual_size;
	}
out:
	vimg_info_free(&info);
	return rc;
}

static bool named_vhd(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcasecmp(name + n - 4, ".vhd") == 0;
}

/* A URL or a compressed file: its decoded head says what it is. */
static int open_streamed(const vmie_options *o, vmie_source_kind kind,
			 const char *ca_bundle,
			 vwf_upload_src *u, vmie_error *err)
{
	vsource *dec = NULL, *src = NULL;
	int rc = open_stream(o, kind, ca_bundle, &dec, err);
	if (rc != 0)
		return rc;
	rc = vsource_open_peek(dec, PEEK, &src, err);
	if (rc != 0)
		return rc;
	size_t len;
	const void *head = vsource_peeked(src, &len);
	vimg_reader r;
	vimg_reader_mem(&r, head, len);
	vimg_format f = vimg_detect(&r);
	const char *name = vsource_name(src);

	if (f != VIMG_RAW || len == 0) {
		send_as_is(u, src);
		return 0;
	}
	if (named_vhd(name)) {
		/* A fixed VHD is RAW up to its footer, at the very end. */
		vlog_info("%s is named .vhd and its head is a RAW disk's: sent as "
			  "it is (a fixed VHD is known only by its last bytes)",
			  name);
		send_as_is(u, src);
		return 0;
	}
	if (!vsource_size(src)) {
		vlog_info("sending %s as it is (RAW): a VMDK states the disk's "
			  "size in its first bytes, and this %s does not say it "
			  "before its end; %s", o->source,
			  vsource_compression(src) != VIMG_COMP_NONE
				  ? vimg_compression_name(vsource_compression(src))
				  : "download",
			  vsource_compression(src) != VIMG_COMP_NONE
				  ? "an xz file does (its index), or decompress it "
				    "first"
				  : "a server that sends Content-Length does");
		send_as_is(u, src);
		return 0;
	}
	return send_vmdk(u, src, o->source, err);
}

int vwf_open_upload_source(vwf_run *r, vmie_source_kind kind,
			   vwf_upload_src *u, vmie_error *err)
{
	const vmie_options *o = r->opts;
	const char *ca = vaws_config_setting(vaws_client_config(r->client),
					     "AWS_CA_BUNDLE", "ca_bundle");
	memset(u, 0, sizeof(*u));
	if (as_is(o)) {
		vsource *src = NULL;
		int rc = open_stream(o, kind, ca, &src, err);
		if (rc == 0)
			send_as_is(u, src);
		return rc;
	}
	if (kind == VMIE_SOURCE_FILE && vwf_file_compression(o->source) == VIMG_COMP_NONE)
		return open_local(o, u, err);
	return open_streamed(o, kind, ca, u, err);
}

void vwf_upload_src_free(vwf_upload_src *u)
{
	vsource_free(u->src);
	free(u->name);
	memset(u, 0, sizeof(*u));
}
