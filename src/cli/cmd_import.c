/* vmie import: a VM disk image becomes an AMI. */
#include "cli/cli.h"

static int run_import(const struct cli_args *a)
{
	return cli_run_operation(a, VMIE_OP_IMPORT);
}

const struct cli_command cli_cmd_import = {
	.name = "import",
	.usage_name = "vmie import",
	.summary = "import a VM disk image into EC2 as an AMI",
	.description =
		"Import a VM disk image (OVA, VMDK, VHD, VHDX or RAW; from an "
		"http(s) URL, an S3 object in --s3-bucket, a local file, or a "
		"JSON file of disk containers already in --s3-bucket) into EC2 "
		"as an AMI, through EC2 VM Import.  A local image is checked "
		"first, as 'vmie inspect' does, and refused when AWS would "
		"refuse it; --force uploads it anyway.  Stopped (Ctrl-C, a crash, an "
		"outage longer than --outage-window), the same command goes on "
		"where it stopped ('vmie runs'); --restart starts over.",
	.example =
		"  vmie import --region us-west-2 --s3-bucket my-bucket "
		"--source ./disk.vmdk\n"
		"  vmie import -r us-west-2 -b my-bucket "
		"-s https://example.com/image.ova \\\n"
		"      --license-type BYOL",
	.allowed = OPTBIT(OPT_REGION) | OPTBIT(OPT_S3_BUCKET) |
		   OPTBIT(OPT_SOURCE) | CLI_SANBOOT_OPTIONS | OPTBIT(OPT_LICENSE_TYPE) |
		   OPTBIT(OPT_USAGE_OPERATION) | OPTBIT(OPT_FORCE) | CLI_IMPORT_OPTIONS |
		   CLI_SLOT_OPTIONS | OPTBIT(OPT_RESTART),
	.required = OPTBIT(OPT_S3_BUCKET) | OPTBIT(OPT_SOURCE),
	.run = run_import,
};
