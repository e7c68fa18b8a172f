/* vmie download: an S3 object (an export) onto a file or a block device. */
#include "cli/cli.h"

#include "base/error.h"

static int run_download(const struct cli_args *a)
{
	struct cli_args b = *a;
	vmie_error err = {0};

	if (a->noperands != 2) {
		verr_set(&err, VMIE_ERR_INVALID_ARGUMENT,
			 "vmie download takes an s3:// URL and a target path "
			 "(%zu given)", a->noperands);
		verr_hint(&err, "Run 'vmie download --help' to see its usage");
		int status = cli_usage_error(a, &err);
		vmie_error_clear(&err);
		return status;
	}
	b.opts.source = a->operands[0];
	b.opts.download_path = a->operands[1];
	return cli_run_operation(&b, VMIE_OP_DOWNLOAD);
}

const struct cli_command cli_cmd_download = {
	.name = "download",
	.usage_name = "vmie download",
	.summary = "download an S3 object (an exported image) to a file or "
		   "block device",
	.description =
		"Fetch S3_URL with parallel ranged GETs straight to their "
		"offsets in PATH: a regular file (all-zero blocks become holes) "
		"or a block device (written in full unless --sparse).  The "
		"bytes are checked against the object's CRC32C or CRC-64/NVME "
		"checksum or its ETag.  With --download-format raw, a "
		"streamOptimized VMDK (a VMDK export) is written as the RAW "
		"disk it holds while it downloads: only the disk's data "
		"travels.  An interrupted download continues where it "
		"stopped when run again with the same arguments.  This "
		"replaces 'aws s3 cp' followed by 'dd' (or 'qemu-img "
		"convert').",
	.example = "  vmie download s3://my-bucket/exports/export-ami-0123.raw "
		   "./disk.raw\n"
		   "  vmie download --sparse s3://my-bucket/exports/"
		   "export-ami-0123.raw /dev/sdX\n"
		   "  vmie download --download-format raw s3://my-bucket/"
		   "exports/export-ami-0123.vmdk ./disk.raw",
	.operands = "S3_URL PATH",
	.allowed = OPTBIT(OPT_REGION) | OPTBIT(OPT_SPARSE) |
		   OPTBIT(OPT_OVERWRITE) | OPTBIT(OPT_JSON_EVENTS) |
		   OPTBIT(OPT_MAX_BANDWIDTH) | OPTBIT(OPT_DOWNLOAD_FORMAT),
	.required = 0,
	.run = run_download,
};
