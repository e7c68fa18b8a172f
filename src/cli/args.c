/*
 * argv -> struct cli_args, with getopt_long.
 *
 * One option table covers every command, and options may come before or
 * after the command (as in the AWS CLI: `vmie --profile p import ...` and
 * `vmie import ... --profile p` are the same).  Knowing every option lets
 * us say "--ami-id is not an option of 'vmie import'" instead of the less
 * helpful "unknown option".  Parsing goes on after the first error so the
 * message can name the command even when it comes later in argv.
 *
 * The table is also what --help, the man pages and the bash and zsh
 * completions (src/cli/gen/, at build time) are made from: an option added
 * here, to enum cli_opt, to store() and to the allowed masks of its
 * commands appears in all of them.  option_hints.c says what its value
 * completes to when the placeholder cannot.
 */
#include "cli/cli.h"

#include "base/error.h"
#include "base/xalloc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const struct cli_option cli_options[OPT__COUNT] = {
	[OPT_REGION] = {"region", 'r', "REGION",
			"AWS region, e.g. us-west-2",
			"AWS_REGION, AWS_DEFAULT_REGION, then the profile's "
			"region"},
	[OPT_S3_BUCKET] = {"s3-bucket", 'b', "BUCKET",
			   "S3 bucket for images and exports (required)", NULL},
	[OPT_SOURCE] = {"source", 's', "SOURCE",
			"VM image: http(s):// URL, s3://BUCKET/KEY (same "
			"bucket as --s3-bucket), local file, or .json file of "
			"disk containers (required)", NULL},
	[OPT_AMI_ID] = {"ami-id", 'a', "AMI_ID",
			"AMI to export, e.g. ami-0123456789abcdef0 (required)",
			NULL},
	[OPT_INSTALL_SANBOOTABLE] = {"install-sanbootable", 0, NULL,
				     "install iPXE sanbootable (Linux AMIs "
				     "only)", "off"},
	[OPT_INSTANCE_PROFILE] = {"instance-profile", 0, "NAME",
				  "IAM instance profile for the sanbootable "
				  "instance", VMIE_DEFAULT_INSTANCE_PROFILE},
	[OPT_S3_EXPORT_PREFIX] = {"s3-export-prefix", 0, "PREFIX",
				  "S3 prefix for the exported image",
				  "exports/vmie-export-YYYYmmdd-HHMMSS/"},
	[OPT_LICENSE_TYPE] = {"license-type", 0, "AWS|BYOL",
			      "license type of the AMI; not with "
			      "--usage-operation", "chosen by AWS"},
	[OPT_USAGE_OPERATION] = {"usage-operation", 0, "OP",
				 "usage operation of the AMI, e.g. "
				 "RunInstances:0010; not with --license-type",
				 "chosen by AWS"},
	[OPT_FORCE] = {"force", 0, NULL,
		       "upload the image even when the preflight check finds "
		       "errors AWS would refuse it for", "off"},
	[OPT_S3_KEY] = {"s3-key", 0, "KEY",
			"S3 key for the uploaded image",
			"the image's file name, decompressed"},
	[OPT_STORAGE_CLASS] = {"storage-class", 0, "CLASS",
			       "S3 storage class of the uploaded image",
			       "STANDARD_IA"},
	[OPT_DESCRIPTION] = {"description", 0, "TEXT",
			     "description of the import task and the AMI, or "
			     "of the export task",
			     "\"Imported by vmie\""},
	[OPT_ARCHITECTURE] = {"architecture", 0, "i386|x86_64|arm64",
			      "architecture of the VM", "detected by AWS"},
	[OPT_PLATFORM] = {"platform", 0, "Linux|Windows",
			  "operating system of the VM", "detected by AWS"},
	[OPT_BOOT_MODE] = {"boot-mode", 0, "legacy-bios|uefi",
			   "boot mode of the AMI", "detected by AWS"},
	[OPT_ENCRYPTED] = {"encrypted", 0, NULL,
			   "encrypt the AMI's snapshots (the account's EBS key "
			   "unless --kms-key-id)", "off"},
	[OPT_KMS_KEY_ID] = {"kms-key-id", 0, "KEY",
			    "KMS key for the snapshots; implies --encrypted",
			    NULL},
	[OPT_TAG] = {"tag", 0, "KEY=VALUE",
		     "tag the import or export task (repeatable)", NULL},
	[OPT_ROLE_NAME] = {"role-name", 0, "NAME",
			   "VM Import service role to use (created when "
			   "missing)", "vmimport"},
	[OPT_UPLOAD_ONLY] = {"upload-only", 0, NULL,
			     "upload the image to S3 and stop (no import task)",
			     "off"},
	[OPT_JSON_EVENTS] = {"json-events", 0, NULL,
			     "print a JSON object per progress event on stdout",
			     "off"},
	[OPT_INSTANCE_TYPE] = {"instance-type", 0, "TYPE",
			       "instance type of the temporary sanbootable "
			       "instance", VMIE_DEFAULT_INSTANCE_TYPE},
	[OPT_SUBNET_ID] = {"subnet-id", 0, "SUBNET",
			   "subnet for the temporary sanbootable instance "
			   "(needs a route to SSM and the package mirrors)",
			   "a default subnet of the default VPC"},
	[OPT_EXPORT_FORMAT] = {"export-format", 0, "RAW|VMDK|VHD",
			       "disk format of the exported image", "RAW"},
	[OPT_DOWNLOAD] = {"download", 0, "PATH",
			  "after the export, download the image to PATH "
			  "(a file or a block device)", NULL},
	[OPT_SPARSE] = {"sparse", 0, NULL,
			"on a block device, do not write all-zero blocks (for "
			"arrays that read unwritten blocks as zeros)", "off"},
	[OPT_OVERWRITE] = {"overwrite", 0, NULL,
			   "replace an existing download file", "off"},
	[OPT_RESTART] = {"restart", 0, NULL,
			 "do not resume an earlier run of the same command: clean up "
			 "what it left and start over", "resume"},
	[OPT_DISCARD] = {"discard", 0, "RUN",
			 "drop run RUN: clean up what it left in AWS, forget it", NULL},
	[OPT_ALL] = {"all", 0, NULL, "list finished runs too", "off"},
	[OPT_MAX_BANDWIDTH] = {"max-bandwidth", 0, "RATE",
			       "cap the transfer rate to and from S3, e.g. "
			       "50MB/s or 400Mb/s",
			       "the profile's s3.max_bandwidth, else none"},
	[OPT_UPLOAD_FORMAT] = {"upload-format", 0, "vmdk|as-is",
			       "send a disk vmie can read (RAW, compressed or "
			       "not; local VHD, VHDX, VMDK) as a streamOptimized "
			       "VMDK made on the fly (only its data travels), "
			       "or every image as it is", "vmdk"},
	[OPT_DOWNLOAD_FORMAT] = {"download-format", 0, "raw|as-is",
				 "write a VMDK export (vmie download: a VMDK "
				 "object) as the RAW disk it holds, decoded "
				 "while it downloads, or the object as it is",
				 "raw for export and convert (convert --download "
				 "then exports as VMDK), as-is for vmie download"},
	[OPT_MAX_TASKS] = {"max-tasks", 0, "N",
			   "at most N VM Import/Export tasks at once, counted "
			   "with every vmie that uses the bucket's "
			   "--lease-prefix (AWS's default quota is 5)",
			   "5 for batch, no limit otherwise"},
	[OPT_MAX_INSTANCES] = {"max-instances", 0, "N",
			       "at most N temporary sanbootable instances at "
			       "once, counted as --max-tasks is",
			       "2 for batch, no limit otherwise"},
	[OPT_LEASE_PREFIX] = {"lease-prefix", 0, "PREFIX",
			      "where in --s3-bucket the slot leases of "
			      "--max-tasks and --max-instances live (every "
			      "sharer must use the same)", "vmie-leases/"},
	[OPT_SKIP_SETUP] = {"skip-setup", 0, NULL,
			    "the bucket and the VM Import role are in place: "
			    "skip their checks and setup (vmie batch passes it "
			    "to each VM's run)", "off"},
	[OPT_EXPORT] = {"export", 0, NULL,
			"export every row after its import, as vmie convert "
			"(a row's export column decides for that row)", "off"},
	[OPT_MAX_UPLOADS] = {"max-uploads", 0, "N",
			     "at most N VMs uploading at once from this host",
			     "2"},
	[OPT_SHARD] = {"shard", 0, "I/N",
		       "run only the rows of shard I (0 to N-1) of N, chosen "
		       "by a hash of each row's source and s3-key",
		       "JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX, else "
		       "every row"},
	[OPT_SHARD_COUNT] = {"shard-count", 0, "N",
			     "the number of shards N when I comes from "
			     "JOB_COMPLETION_INDEX", "VMIE_SHARDS"},
	[OPT_SKIP_INVALID] = {"skip-invalid", 0, NULL,
			      "run the valid rows even when others are invalid "
			      "(those are reported)", "off: nothing starts"},
	[OPT_RETRY_FAILED] = {"retry-failed", 0, NULL,
			      "run again the rows that failed in an earlier run "
			      "of the batch", "off: they stay failed"},
	[OPT_RESULTS] = {"results", 0, "DIR",
			 "where the results (results.csv, results.json), each "
			 "VM's log and the batch's state go",
			 "./MANIFEST-NAME.vmie-batch"},
	[OPT_PROFILE] = {"profile", 0, "NAME",
			 "AWS profile from ~/.aws/config and credentials",
			 "AWS_PROFILE, then \"default\""},
	[OPT_ENDPOINT_URL] = {"endpoint-url", 0, "URL",
			      "send AWS requests to URL instead",
			      "AWS_ENDPOINT_URL, then the region's endpoints"},
	[OPT_ALLOW_HTTP] = {"allow-http", 0, NULL,
			    "allow a plain http:// endpoint on another host "
			    "(requests and session tokens cross the network "
			    "in clear text)", "refused; loopback is allowed"},
	[OPT_DEBUG] = {"debug", 0, NULL, "show DEBUG lines on the console",
		       NULL},
	[OPT_VERBOSE] = {"verbose", 'v', NULL, "same as --debug", NULL},
	[OPT_QUIET] = {"quiet", 'q', NULL, "show only errors on the console",
		       NULL},
	[OPT_LOG_FILE] = {"log-file", 0, "PATH",
			  "append the DEBUG log to PATH",
			  "$XDG_STATE_HOME/vmie/logs/vmie-DATE-TIME-PID.log"},
	[OPT_JSON] = {"json", 0, NULL,
		      "print the result (or the error) as JSON on stdout",
		      NULL},
	[OPT_NO_PROGRESS] = {"no-progress", 0, NULL, "no progress bars", NULL},
	[OPT_OUTAGE_WINDOW] = {"outage-window", 0, "DURATION",
			       "how long to wait out AWS being unreachable, throttling "
			       "or failing (600, 90s, 10m, 1h; 0: not at all)",
			       "VMIE_OUTAGE_WINDOW, vmie_outage_window, then 10m"},
	[OPT_VERSION] = {"version", 0, NULL, "print the version and exit",
			 NULL},
	[OPT_HELP] = {"help", 'h', NULL, "print help and exit", NULL},
};

/* getopt_long returns LONG_BASE + id for every option, so long and short
 * spellings land in one switch and optopt names the option on errors. */
#define LONG_BASE 1000

void cli_args_free(struct cli_args *a)
{
	free(a->operands);
	a->operands = NULL;
	a->noperands = 0;
	free(a->tags);
	a->tags = NULL;
	a->opts.tags = NULL;
	a->opts.ntags = 0;
}

const char *cli_usage_name(const struct cli_args *a)
{
	return a->cmd ? a->cmd->usage_name : "vmie";
}

static int opt_from_short(int c)
{
	for (int i = 0; i < OPT__COUNT; i++)
		if (cli_options[i].short_name && cli_options[i].short_name == c)
			return i;
	return -1;
}

static void build_tables(struct option *longs, char *shorts)
{
	/* '-': non-options come back in order as 1 (command, help topic);
	 * ':': a missing value is ':' rather than '?'. */
	size_t n = 0;
	shorts[n++] = '-';
	shorts[n++] = ':';
	for (int i = 0; i < OPT__COUNT; i++) {
		const struct cli_option *o = &cli_options[i];
		longs[i] = (struct option){o->name,
					   o->arg ? required_argument
						  : no_argument,
					   NULL, LONG_BASE + i};
		if (o->short_name) {
			shorts[n++] = o->short_name;
			if (o->arg)
				shorts[n++] = ':';
		}
	}
	longs[OPT__COUNT] = (struct option){NULL, 0, NULL, 0};
	shorts[n] = '\0';
}

/* "--s3" matches two options: say which, since getopt_long does not. */
static void unknown_long(const char *text, vmie_error *err)
{
	size_t len = strcspn(text + 2, "=");
	int matches = 0;
	vmie_error tmp = {0};
	for (int i = 0; i < OPT__COUNT; i++)
		if (len && strncmp(cli_options[i].name, text + 2, len) == 0)
			matches++;
	if (matches > 1)
		verr_set(&tmp, VMIE_ERR_INVALID_ARGUMENT,
			 "ambiguous option '%.*s'", (int)len + 2, text);
	else
		verr_set(&tmp, VMIE_ERR_INVALID_ARGUMENT,
			 "unknown option '%.*s'", (int)len + 2, text);
	verr_move(err, &tmp);
}

static void store(struct cli_args *a, int id, const char *val)
{
	a->seen |= OPTBIT(id);
	a->given[id] = val ? val : "";
	switch ((enum cli_opt)id) {
	case OPT_REGION: a->opts.aws.region = val; break;
	case OPT_S3_BUCKET: a->opts.s3_bucket = val; break;
	case OPT_SOURCE: a->opts.source = val; break;
	case OPT_AMI_ID: a->opts.ami_id = val; break;
	case OPT_INSTALL_SANBOOTABLE: a->opts.install_sanbootable = true; break;
	case OPT_INSTANCE_PROFILE: a->opts.instance_profile = val; break;
	case OPT_S3_EXPORT_PREFIX: a->opts.s3_export_prefix = val; break;
	case OPT_LICENSE_TYPE: a->opts.license_type = val; break;
	case OPT_USAGE_OPERATION: a->opts.usage_operation = val; break;
	case OPT_FORCE: a->opts.force = true; break;
	case OPT_S3_KEY: a->opts.s3_key = val; break;
	case OPT_STORAGE_CLASS: a->opts.storage_class = val; break;
	case OPT_DESCRIPTION: a->opts.description = val; break;
	case OPT_ARCHITECTURE: a->opts.architecture = val; break;
	case OPT_PLATFORM: a->opts.platform = val; break;
	case OPT_BOOT_MODE: a->opts.boot_mode = val; break;
	case OPT_ENCRYPTED: a->opts.encrypted = true; break;
	case OPT_KMS_KEY_ID: a->opts.kms_key_id = val; break;
	case OPT_TAG:
		a->tags = xrealloc(a->tags, (a->opts.ntags + 1) * sizeof(*a->tags));
		a->tags[a->opts.ntags++] = val;
		a->opts.tags = a->tags;
		break;
	case OPT_ROLE_NAME: a->opts.role_name = val; break;
	case OPT_UPLOAD_ONLY: a->opts.upload_only = true; break;
	case OPT_JSON_EVENTS: a->json_events = true; break;
	case OPT_INSTANCE_TYPE: a->opts.instance_type = val; break;
	case OPT_SUBNET_ID: a->opts.subnet_id = val; break;
	case OPT_EXPORT_FORMAT: a->opts.export_format = val; break;
	case OPT_DOWNLOAD: a->opts.download_path = val; break;
	case OPT_SPARSE: a->opts.sparse = true; break;
	case OPT_OVERWRITE: a->opts.overwrite = true; break;
	case OPT_RESTART: a->opts.restart = true; break;
	case OPT_DISCARD: a->discard = val; break;
	case OPT_ALL: a->all = true; break;
	case OPT_OUTAGE_WINDOW: a->opts.aws.outage_window = val; break;
	case OPT_MAX_BANDWIDTH: a->opts.max_bandwidth = val; break;
	case OPT_UPLOAD_FORMAT: a->opts.upload_format = val; break;
	case OPT_DOWNLOAD_FORMAT: a->opts.download_format = val; break;
	case OPT_LEASE_PREFIX: a->opts.lease_prefix = val; break;
	case OPT_SKIP_SETUP: a->opts.skip_setup = true; break;
	case OPT_MAX_TASKS: /* numbers: cli_parse_slot_counts */
	case OPT_MAX_INSTANCES:
	case OPT_EXPORT: /* vmie batch's own: cmd_batch.c reads a->given */
	case OPT_MAX_UPLOADS:
	case OPT_SHARD:
	case OPT_SHARD_COUNT:
	case OPT_SKIP_INVALID:
	case OPT_RETRY_FAILED:
	case OPT_RESULTS: break;
	case OPT_PROFILE: a->opts.aws.profile = val; break;
	case OPT_ENDPOINT_URL: a->opts.aws.endpoint_url = val; break;
	case OPT_ALLOW_HTTP: a->opts.aws.allow_http = true; break;
	case OPT_DEBUG:
	case OPT_VERBOSE: a->verbosity = 1; break;
	case OPT_QUIET: a->verbosity = -1; break;
	case OPT_LOG_FILE: a->log_file = val; break;
	case OPT_JSON: a->json = true; break;
	case OPT_NO_PROGRESS: a->no_progress = true; break;
	case OPT_VERSION: a->version = true; break;
	case OPT_HELP: a->help = true; break;
	case OPT__COUNT: break;
	}
}

/* The command name, a help topic, or an operand of a command that takes
 * them (inspect's files); anything else is unexpected. */
static void positional(struct cli_args *a, const char *arg, int *npos,
		       vmie_error *err)
{
	int n = (*npos)++;
	if (n == 0 && strcmp(arg, "help") == 0) {
		a->help_cmd = true;
		return;
	}
	if (n == 0) {
		/* Even after an earlier error: its hint names the command. */
		a->cmd = cli_command_find(arg);
		if (!a->cmd && !err->message) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "unknown command '%s'", arg);
			verr_hint(err, "Run 'vmie --help' to see the commands");
		}
		return;
	}
	if (n == 1 && a->help_cmd) {
		a->help_topic = arg;
		return;
	}
	if (a->cmd && a->cmd->operands) {
		/* argc bounds the operands: one allocation, no growth. */
		if (!a->operands)
			a->operands = xcalloc((size_t)a->argc, sizeof(char *));
		a->operands[a->noperands++] = arg;
		return;
	}
	if (!err->message)
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "unexpected argument '%s'", arg);
}

static void option_error(int c, char **argv, vmie_error *err)
{
	if (c == ':') {
		if (optopt >= LONG_BASE)
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "option '--%s' needs a value",
				 cli_options[optopt - LONG_BASE].name);
		else
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "option '-%c' needs a value", optopt);
		return;
	}
	/* '?': an unknown short option, a flag given "=value", or an
	 * unknown or ambiguous long option (optopt 0). */
	if (optopt >= LONG_BASE)
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "option '--%s' takes no value",
			 cli_options[optopt - LONG_BASE].name);
	else if (optopt)
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "unknown option '-%c'", optopt);
	else
		unknown_long(argv[optind - 1], err);
}

static void check_allowed(struct cli_args *a, vmie_error *err)
{
	unsigned long long extra = a->seen & ~(a->cmd->allowed | OPT_GLOBALS);
	for (int i = 0; i < OPT__COUNT; i++) {
		if (extra & OPTBIT(i)) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "--%s is not an option of '%s'",
				 cli_options[i].name, cli_usage_name(a));
			return;
		}
	}
}

int cli_parse(int argc, char **argv, struct cli_args *a, vmie_error *err)
{
	struct option longs[OPT__COUNT + 1];
	char shorts[3 + 2 * OPT__COUNT];
	int npos = 0, c;

	memset(a, 0, sizeof(*a));
	a->argc = argc;
	a->argv = argv;
	build_tables(longs, shorts);
	opterr = 0;
	optind = 0; /* glibc: full reinitialisation (tests parse twice) */
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == 1) {
			positional(a, optarg, &npos, err);
			continue;
		}
		if (c == '?' || c == ':') {
			if (!err->message)
				option_error(c, argv, err);
			continue;
		}
		int id = c >= LONG_BASE ? c - LONG_BASE : opt_from_short(c);
		if (id < 0 || id >= OPT__COUNT)
			continue;
		if (cli_options[id].arg && !*optarg && !err->message)
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "option '--%s' needs a value, not an empty "
				 "string", cli_options[id].name);
		store(a, id, optarg);
	}
	/* After "--": still positionals. */
	for (; optind < argc; optind++)
		positional(a, argv[optind], &npos, err);

	if (!err->message && a->cmd)
		check_allowed(a, err);
	if (!err->message)
		cli_parse_slot_counts(a, err);
	if (!err->message)
		return 0;
	if (!err->hint)
		verr_hint(err, "Run '%s --help' to see %s", cli_usage_name(a),
			  a->cmd ? "its options" : "the commands and options");
	err->status = VMIE_ERR_INVALID_ARGUMENT;
	return VMIE_ERR_INVALID_ARGUMENT;
}
