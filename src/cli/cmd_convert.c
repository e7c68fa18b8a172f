/* vmie convert: import, optionally sanbootable, then export, in one run. */
#include "cli/cli.h"

static int run_convert(const struct cli_args *a)
{
	return cli_run_operation(a, VMIE_OP_CONVERT);
}

const struct cli_command cli_cmd_convert = {
	.name = "convert",
	.usage_name = "vmie convert",
	.summary = "import a VM image, then export it as RAW (one run)",
	.description =
		"Import a VM disk image into EC2 as an AMI (as vmie import), "
		"optionally install iPXE's sanbootable, then export the AMI "
		"to a RAW disk image in --s3-bucket (as vmie export) and, with "
		"--download, write it to a file or a block device (the export "
		"is then a VMDK, written as RAW while it downloads, so only "
		"the disk's data travels; --export-format or --download-format "
		"as-is for the RAW object).  A local image is checked first "
		"and refused when AWS would refuse it; --force uploads it "
		"anyway.  Stopped, the same command goes on where it stopped "
		"('vmie runs'); --restart starts over.",
	.example =
		"  vmie convert --region us-west-2 --s3-bucket my-bucket "
		"--source https://example.com/image.ova --install-sanbootable",
	.allowed = OPTBIT(OPT_REGION) | OPTBIT(OPT_S3_BUCKET) |
		   OPTBIT(OPT_SOURCE) | CLI_SANBOOT_OPTIONS | CLI_EXPORT_OPTIONS |
		   OPTBIT(OPT_LICENSE_TYPE) | OPTBIT(OPT_USAGE_OPERATION) |
		   OPTBIT(OPT_FORCE) |
		   (CLI_IMPORT_OPTIONS & ~OPTBIT(OPT_UPLOAD_ONLY)) | CLI_SLOT_OPTIONS |
		   OPTBIT(OPT_RESTART),
	.required = OPTBIT(OPT_S3_BUCKET) | OPTBIT(OPT_SOURCE),
	.run = run_convert,
};
