/* vmie export: an AMI becomes a RAW disk image in S3. */
#include "cli/cli.h"

static int run_export(const struct cli_args *a)
{
	return cli_run_operation(a, VMIE_OP_EXPORT);
}

const struct cli_command cli_cmd_export = {
	.name = "export",
	.usage_name = "vmie export",
	.summary = "export an AMI to a RAW disk image in S3",
	.description =
		"Export an AMI to a disk image in --s3-bucket (RAW unless "
		"--export-format), through EC2 ExportImage, after checking that "
		"AWS will export it.  With --install-sanbootable, first install "
		"iPXE's sanbootable on a copy of the AMI (Linux only) and export "
		"that copy.  With --download, then write the image to a file or "
		"a block device (see 'vmie download'); a VMDK export is written "
		"as the RAW disk it holds, decoded while it downloads.  Stopped, "
		"the same command goes on where it stopped ('vmie runs'); "
		"--restart starts over.",
	.example =
		"  vmie export --region us-west-2 --s3-bucket my-bucket "
		"--ami-id ami-0123456789abcdef0\n"
		"  vmie export -r us-west-2 -b my-bucket "
		"-a ami-0123456789abcdef0 \\\n"
		"      --install-sanbootable --download /dev/sdX --sparse",
	.allowed = OPTBIT(OPT_REGION) | OPTBIT(OPT_S3_BUCKET) |
		   OPTBIT(OPT_AMI_ID) | OPTBIT(OPT_ROLE_NAME) |
		   OPTBIT(OPT_DESCRIPTION) | OPTBIT(OPT_TAG) |
		   CLI_SANBOOT_OPTIONS | CLI_EXPORT_OPTIONS | CLI_SLOT_OPTIONS |
		   OPTBIT(OPT_RESTART),
	.required = OPTBIT(OPT_S3_BUCKET) | OPTBIT(OPT_AMI_ID),
	.run = run_export,
};
