/*
 * vmie.h - the public API of libvmie.
 *
 * libvmie does the work; the `vmie` command only parses argv, calls these
 * functions and renders what they report.  The library never prints: log
 * lines reach the application through the handler set with
 * vmie_set_log_handler(), and failures come back as a vmie_status plus a
 * filled vmie_error.
 */
#ifndef VMIE_H
#define VMIE_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vmie_image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMIE_VERSION "0.1.0"

/*
 * Status codes.  The numbers and names are those of the reference Python
 * tool (vmie/common/error_codes.py) so that scripts and runbooks written for
 * it keep working; codes marked "vmie" are this implementation's additions,
 * placed in unused slots of the same ranges.
 *   -20000..-20099 general, -20100..-20199 AWS,
 *   -20200..-20299 file/source, -20300..-20399 sanbootable.
 */
typedef enum vmie_status {
	VMIE_OK = 0,

	/* General */
	VMIE_ERR_GENERAL_OPERATION_FAILED = -20000,
	VMIE_ERR_IMPORT_OPERATION_FAILED = -20001,
	VMIE_ERR_EXPORT_OPERATION_FAILED = -20002,
	VMIE_ERR_CONVERT_OPERATION_FAILED = -20003,
	VMIE_ERR_INVALID_ARGUMENT = -20050,  /* vmie: bad option value */
	VMIE_ERR_NOT_IMPLEMENTED = -20051,   /* vmie: workflow not built yet */
	VMIE_ERR_INTERRUPTED = -20052,       /* vmie: SIGINT/SIGTERM */
	VMIE_ERR_BATCH_INCOMPLETE = -20053,  /* vmie: a batch row did not succeed */

	/* AWS */
	VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND = -20100,
	VMIE_ERR_AWS_CLIENT_INIT_FAILED = -20101,
	VMIE_ERR_AWS_AMI_NOT_FOUND = -20102,
	VMIE_ERR_AWS_AMI_FETCH_FAILED = -20103,
	VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED = -20104,
	VMIE_ERR_AWS_S3_UPLOAD_FAILED = -20105,
	VMIE_ERR_AWS_VMIMPORT_ROLE_SETUP_FAILED = -20106,
	VMIE_ERR_AWS_IMPORT_TASK_FAILED = -20107,
	VMIE_ERR_AWS_EXPORT_TASK_FAILED = -20108,
	VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED = -20109,
	VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED = -20110,
	VMIE_ERR_AWS_SSM_SCRIPT_NOT_FOUND = -20111,
	VMIE_ERR_AWS_SSM_SCRIPT_LOAD_FAILED = -20112,
	VMIE_ERR_AWS_SSM_COMMAND_FAILED = -20113,
	VMIE_ERR_AWS_INSTANCE_NOT_FOUND = -20114,
	VMIE_ERR_AWS_INSTANCE_NO_BLOCK_DEVICES = -20115,
	VMIE_ERR_AWS_AMI_CREATE_FAILED = -20116,
	VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED = -20117,
	VMIE_ERR_AWS_TASK_RESULT_FAILED = -20118,
	VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED = -20119,
	VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED = -20120,
	VMIE_ERR_AWS_AMI_STATUS_CHECK_FAILED = -20121,
	VMIE_ERR_AWS_SNAPSHOT_NOT_FOUND = -20122,
	VMIE_ERR_AWS_SNAPSHOT_FAILED = -20123,
	VMIE_ERR_AWS_SNAPSHOT_STATUS_CHECK_FAILED = -20124,
	VMIE_ERR_AWS_TASK_TIMEOUT = -20125,
	VMIE_ERR_AWS_INSTANCE_TIMEOUT = -20126,
	VMIE_ERR_AWS_SSM_TIMEOUT = -20127,
	VMIE_ERR_AWS_AMI_TIMEOUT = -20128,
	VMIE_ERR_AWS_SNAPSHOT_TIMEOUT = -20129,
	VMIE_ERR_AWS_AMI_PLATFORM_CHECK_FAILED = -20130,
	VMIE_ERR_AWS_REGION_NOT_FOUND = -20150,   /* vmie: no region anywhere */
	VMIE_ERR_AWS_CONFIG_INVALID = -20151,     /* vmie: bad config/env value */
	VMIE_ERR_AWS_REQUEST_FAILED = -20152,     /* vmie: AWS answered an error */
	VMIE_ERR_AWS_CONNECTION_FAILED = -20153,  /* vmie: could not reach AWS */
	VMIE_ERR_AWS_CREDENTIALS_INVALID = -20154, /* vmie: AWS refused the credentials */

	/* File / source */
	VMIE_ERR_FILE_DOWNLOAD_FAILED = -20200,
	VMIE_ERR_FILE_PROCESS_FAILED = -20201,
	VMIE_ERR_FILE_UNSUPPORTED_FORMAT = -20202,
	VMIE_ERR_FILE_UNSUPPORTED_COMPRESSION = -20203,
	VMIE_ERR_FILE_DECOMPRESS_FAILED = -20204,
	VMIE_ERR_FILE_DECOMPRESS_GZ_FAILED = -20205,
	VMIE_ERR_FILE_DECOMPRESS_BZ2_FAILED = -20206,
	VMIE_ERR_JSON_LOAD_FAILED = -20207,
	VMIE_ERR_INVALID_SOURCE = -20250, /* vmie: named in the reference README */

	/* Sanbootable */
	VMIE_ERR_SANBOOTABLE_INSTALL_FAILED = -20300,
	VMIE_ERR_SANBOOTABLE_SCRIPT_NOT_FOUND = -20301,
	VMIE_ERR_SANBOOTABLE_SCRIPT_INSTALL_FAILED = -20302,
	VMIE_ERR_SANBOOTABLE_AMI_CREATE_FAILED = -20303,
	VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED = -20304,
	VMIE_ERR_SANBOOTABLE_SSM_AGENT_FAILED = -20350, /* vmie: named in the reference README */
} vmie_status;

/* "ERR_AWS_CREDENTIALS_NOT_FOUND" for VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
 * "OK" for VMIE_OK, "ERR_UNKNOWN" for anything else. */
const char *vmie_status_name(int status);

/* Which range a status belongs to. */
typedef enum vmie_status_class {
	VMIE_CLASS_OK,
	VMIE_CLASS_GENERAL,
	VMIE_CLASS_AWS,
	VMIE_CLASS_SOURCE,
	VMIE_CLASS_SANBOOTABLE,
} vmie_status_class;
vmie_status_class vmie_status_classify(int status);

const char *vmie_version(void);

/*
 * What went wrong, for a human and for a script.  Every field is owned by
 * the struct (free with vmie_error_clear); any of them may be NULL.
 */
typedef struct vmie_error {
	int status;          /* a vmie_status */
	char *message;       /* one line: what failed and why */
	char *hint;          /* one line: what to do about it */
	char *service;       /* AWS failures: "ec2", "s3", "iam", "sts", "ssm" */
	char *operation;     /* AWS failures: "GetCallerIdentity", ... */
	char *aws_code;      /* AWS failures: "AccessDenied", ... */
	char *request_id;    /* AWS failures: the request id AWS returned */
	long http_status;    /* AWS failures: 403, ...; 0 when none */
} vmie_error;

void vmie_error_clear(vmie_error *err);

/* Logging: the library reports through one handler (NULL: silence). */
typedef enum vmie_log_level {
	VMIE_LOG_DEBUG,
	VMIE_LOG_INFO,
	VMIE_LOG_SUCCESS,
	VMIE_LOG_WARN,
	VMIE_LOG_ERROR,
} vmie_log_level;

typedef void (*vmie_log_fn)(void *ctx, vmie_log_level level, const char *msg);
void vmie_set_log_handler(vmie_log_fn fn, void *ctx);
const char *vmie_log_level_name(vmie_log_level level); /* "DEBUG", ... */

/* Asks the user a question whose answer must not be echoed (an MFA
 * device's one-time code, for an assume-role profile with mfa_serial).
 * Writes the answer, NUL-terminated, into answer (size bytes) and returns
 * 0; returns -1 with *why (a static string: "no terminal", ...) when
 * nobody can be asked, -2 (with *why) when the user gave up (Ctrl-C, end
 * of input). */
typedef int (*vmie_prompt_fn)(void *ctx, const char *question, char *answer,
			      size_t size, const char **why);

/* Where to find AWS: the AWS CLI's global options.  NULL means "not given";
 * the library then falls back to the environment and the config files. */
typedef struct vmie_aws_opts {
	const char *profile;      /* --profile */
	const char *region;       /* --region */
	const char *endpoint_url; /* --endpoint-url */
	/* --outage-window: how long transient failures (no connection, 5xx,
	 * throttling) are waited out, "600", "90s", "10m", "1h"; "0" turns
	 * it off.  NULL: VMIE_OUTAGE_WINDOW / vmie_outage_window, else 10 min. */
	const char *outage_window;
	vmie_prompt_fn prompt;    /* NULL: never ask (MFA profiles then fail) */
	void *prompt_ctx;
	bool allow_http;          /* --allow-http: plain http:// endpoints on
				   * other hosts than this one (refused
				   * otherwise: credentials in clear text) */
} vmie_aws_opts;

/* The region the AWS CLI would use: --region, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's `region`.  *source_out (static string,
 * may be NULL) says which one answered. */
int vmie_resolve_region(const vmie_aws_opts *aws, char **region_out,
			const char **source_out, vmie_error *err);

/* vmie whoami: STS GetCallerIdentity and where everything came from. */
typedef struct vmie_identity {
	char *account;
	char *arn;
	char *user_id;
	char *region;
	char *region_source;
	char *endpoint;
	char *credential_source; /* "environment", "shared-credentials-file", ... */
	char *credential_chain;  /* how they were obtained ("profile base
				    (shared-credentials-file) → assumed ..."),
				    NULL when the source says it all */
	long long credential_expiration; /* epoch seconds; 0: never */
} vmie_identity;

int vmie_whoami(const vmie_aws_opts *aws, vmie_identity *out, vmie_error *err);
void vmie_identity_free(vmie_identity *id);

/*
 * Progress and milestones of a run, for a front-end to render (a bar on a
 * TTY, periodic lines, JSON events).  Called on the thread that called
 * vmie_run; the strings live for the call only.
 */
typedef enum vmie_event_kind {
	VMIE_EVENT_PHASE_BEGIN, /* a phase starts */
	VMIE_EVENT_PROGRESS,    /* bytes moved, or a task's percent */
	VMIE_EVENT_STATUS,      /* a task's status or message changed */
	VMIE_EVENT_PHASE_END,   /* the phase is done; seconds = its duration */
	VMIE_EVENT_RESULT,      /* an id or URL became known: key, value */
} vmie_event_kind;

typedef struct vmie_event {
	vmie_event_kind kind;
	const char *phase;   /* "preflight", "bucket", "role", "upload", "import" */
	uint64_t done;       /* transfers: bytes done ... */
	uint64_t total;      /* ... of total (0: unknown) */
	int percent;         /* tasks: 0..100; -1 when not a task */
	const char *status;  /* tasks: "active", "completed", ... */
	const char *message; /* tasks: AWS's status message, may be NULL */
	const char *key;     /* RESULT: "s3_url", "import_task_id", "ami_id", "snapshot_id" */
	const char *value;
	double seconds;      /* since the phase began */
} vmie_event;

typedef void (*vmie_event_fn)(void *ctx, const vmie_event *ev);

/* The operations and their options (the reference tool's, same names). */
typedef enum vmie_operation {
	VMIE_OP_IMPORT,
	VMIE_OP_EXPORT,
	VMIE_OP_CONVERT,
	VMIE_OP_DOWNLOAD, /* an S3 object (source) to download_path */
} vmie_operation;

const char *vmie_operation_name(vmie_operation op); /* "import", ... */

typedef struct vmie_options {
	vmie_aws_opts aws;
	const char *s3_bucket;        /* -b/--s3-bucket */
	const char *source;           /* -s/--source (import, convert) */
	const char *ami_id;           /* -a/--ami-id (export) */
	/* vmie download: the s3:// URL is `source`, the target download_path */
	bool install_sanbootable;     /* --install-sanbootable */
	const char *instance_profile; /* --instance-profile (NULL: default) */
	const char *s3_export_prefix; /* --s3-export-prefix (export, convert) */
	const char *license_type;     /* --license-type AWS|BYOL */
	const char *usage_operation;  /* --usage-operation */
	bool force;                   /* --force: import despite preflight errors */
	/* import */
	const char *s3_key;           /* --s3-key (NULL: the image's file name) */
	const char *storage_class;    /* --storage-class (NULL: STANDARD_IA) */
	const char *description;      /* --description */
	const char *architecture;     /* --architecture i386|x86_64|arm64 */
	const char *platform;         /* --platform Linux|Windows */
	const char *boot_mode;        /* --boot-mode legacy-bios|uefi|uefi-preferred */
	bool encrypted;               /* --encrypted */
	const char *kms_key_id;       /* --kms-key-id (implies --encrypted) */
	const char *const *tags;      /* --tag KEY=VALUE, repeatable */
	size_t ntags;
	const char *role_name;        /* --role-name (NULL: vmimport) */
	bool upload_only;             /* --upload-only: stop after the upload */
	/* --upload-format vmdk|as-is (NULL: vmdk): a disk vmie can read goes
	 * as a streamOptimized VMDK made on the fly, or every source as it is */
	const char *upload_format;
	/* sanbootable */
	const char *instance_type;    /* --instance-type (NULL: t3.micro) */
	const char *subnet_id;        /* --subnet-id (NULL: the default VPC's) */
	/* export, convert, download */
	const char *export_format;    /* --export-format RAW|VMDK|VHD (NULL: RAW) */
	const char *download_path;    /* --download PATH: a file or block device */
	bool sparse;                  /* --sparse: skip zero blocks on a device too */
	bool overwrite;               /* --overwrite: replace an existing file */
	/* --restart: an earlier run of the same command is not resumed: what
	 * it left (an upload, a task, an instance) is cleaned up first. */
	bool restart;
	/* --download-format raw|as-is: a VMDK export (or, for vmie download,
	 * a VMDK object) written as the RAW disk it holds, or the object as
	 * it is.  NULL: raw for export and convert (convert then exports as
	 * VMDK unless --export-format), as-is for vmie download. */
	const char *download_format;
	/* transfers (import's upload, the download) */
	const char *max_bandwidth;    /* --max-bandwidth RATE ("50MB/s");
				       * NULL: the profile's s3.max_bandwidth */
	/* Quotas shared with other vmie runs through lease objects in the
	 * bucket (vmie batch sets them for each VM; 0: no slot taken) */
	unsigned max_tasks;           /* --max-tasks: import/export tasks at once */
	unsigned max_instances;       /* --max-instances: sanbootable instances */
	const char *lease_prefix;     /* --lease-prefix (NULL: "vmie-leases/") */
	bool skip_setup;              /* --skip-setup: bucket and role are in place */
	/* how the run reports and stops */
	vmie_event_fn on_event;       /* NULL: no progress events */
	void *event_ctx;
	/* Set (by a signal handler) to stop the run: it cleans up what it
	 * started and returns VMIE_ERR_INTERRUPTED. */
	volatile sig_atomic_t *cancel;
} vmie_options;

/* What a run produced, for the summary (every field may be NULL/0). */
typedef struct vmie_phase_time {
	const char *phase; /* static: "preflight", "upload", "import", ... */
	double seconds;
} vmie_phase_time;

typedef struct vmie_result {
	char *source;
	char *s3_url;              /* the uploaded (or given) image */
	char *format;              /* the DiskContainer Format sent */
	uint64_t uploaded_bytes;
	uint64_t disk_bytes;       /* the disks those bytes carry; 0: unknown */
	char *import_task_id;
	char *ami_id;
	char **snapshot_ids;
	size_t nsnapshot_ids;
	char *status_message;      /* a failed task's message */
	/* sanbootable */
	char *source_ami_id;       /* the AMI sanbootable started from */
	char *sanbootable_ami_id;  /* the AMI with sanbootable installed */
	char *instance_id;         /* the temporary instance (terminated) */
	char *command_id;          /* the SSM command that installed it */
	/* export */
	char *export_task_id;
	char *export_url;          /* s3://bucket/prefix/export-ami-....raw */
	uint64_t export_size;      /* bytes, from HeadObject */
	/* download */
	char *download_path;
	uint64_t downloaded_bytes; /* fetched by this run */
	uint64_t zero_skipped;     /* bytes left as holes / not written */
	bool download_verified;
	char *verified_with;       /* "crc32c", "etag-md5", ...; NULL: unverified */
	bool download_decoded;     /* the VMDK was written as its RAW disk */
	uint64_t download_size;    /* bytes of the target: the disk, or the object */
	vmie_phase_time phases[24];
	size_t nphases;
	double seconds;            /* the whole run */
} vmie_result;

void vmie_result_free(vmie_result *res);

#define VMIE_DEFAULT_INSTANCE_PROFILE "VMIEInstanceProfile"
#define VMIE_DEFAULT_INSTANCE_TYPE "t3.micro"

/* What kind of thing --source names. */
typedef enum vmie_source_kind {
	VMIE_SOURCE_NONE,
	VMIE_SOURCE_HTTP,  /* http:// or https:// */
	VMIE_SOURCE_S3,    /* s3://bucket/key */
	VMIE_SOURCE_FILE,  /* a local image file */
	VMIE_SOURCE_JSON,  /* a local .json file of disk containers */
} vmie_source_kind;

/* Check every option of an operation without touching AWS (region
 * included).  On failure err->message names the option and err->hint the
 * fix; the status is VMIE_ERR_INVALID_ARGUMENT, VMIE_ERR_INVALID_SOURCE,
 * VMIE_ERR_JSON_LOAD_FAILED or VMIE_ERR_AWS_REGION_NOT_FOUND. */
int vmie_validate(vmie_operation op, const vmie_options *opts,
		  vmie_source_kind *kind_out, vmie_error *err);

/* vmie inspect: what a local image file is and what AWS would make of it
 * (vmie_image.h).  0 with info filled (its findings say what is wrong;
 * vimg_has_errors() when the image would not import), or a status with
 * err set when the file cannot be read.  Free info with vimg_info_free. */
int vmie_inspect(const char *path, vimg_info *info, vmie_error *err);

/* The import preflight: vmie_inspect on a local source, each finding
 * logged; an image with errors is refused with VMIE_ERR_FILE_UNSUPPORTED_FORMAT
 * unless opts->force.  URL and S3 sources and compressed local files
 * pass here: their checks run on the stream as it is uploaded (or on the
 * S3 object's two ends). */
int vmie_preflight(const vmie_options *opts, vmie_source_kind kind,
		   vmie_error *err);

/*
 * Runs that survive.  Every import, export and convert keeps a journal on
 * this machine ($XDG_STATE_HOME/vmie/runs/, 0600): the same command run
 * again goes on where the last run of it stopped.  These list the
 * journals, and drop one (cleaning up what its run left in AWS).
 */
typedef struct vmie_run_info {
	char *id;            /* the journal's id: 16 hex digits */
	char *run_id;        /* in every ClientToken and vmie:run-id tag */
	char *operation;     /* "import", "export", "convert" */
	char *state;         /* "running", "interrupted", "failed", "done" */
	bool running;        /* a vmie process on this machine works on it */
	long pid;            /* the process that last worked on it */
	char *command;       /* the command that resumes it */
	char *region;
	char *source;        /* --source, or --ami-id for an export */
	char *where;         /* where it stopped, in words */
	char *error;         /* its last failure, NULL: none */
	long long created;   /* epoch seconds */
	long long updated;
	vmie_result result;  /* what it made so far */
} vmie_run_info;

/* The unfinished runs journaled on this machine (the finished ones too
 * with `all`), the latest first.  Free with vmie_run_infos_free. */
int vmie_runs_list(bool all, vmie_run_info **out, size_t *n, vmie_error *err);
void vmie_run_infos_free(vmie_run_info *runs, size_t n);

/* Drops run `id`: what it left unfinished in AWS is cleaned up (its
 * multipart upload aborted, an active task cancelled, its instances
 * terminated), then its journal removed.  What it finished stays.  aws:
 * credentials and endpoint as for any command; the region is the run's.
 * A run a live process works on is refused. */
int vmie_runs_discard(const vmie_aws_opts *aws, const char *id, vmie_error *err);

/* Run an operation: validates, runs the preflight, then does the work,
 * filling res (may be NULL; free it with vmie_result_free, also after a
 * failure: it says what was done). */
int vmie_run(vmie_operation op, const vmie_options *opts, vmie_result *res,
	     vmie_error *err);

/*
 * vmie batch: many VMs from a manifest (CSV with a header row, or JSON
 * Lines), each row an import or a convert whose options are the row's
 * cells over the defaults.  Every row is checked first; then each VM runs
 * as its own vmie process (opts.exe), at most max_uploads uploading and
 * max_tasks tasks at once (shared through S3 with every other shard), and
 * the results files say what each row made.  Running it again goes on:
 * rows done earlier are skipped while their AMI exists.
 */
typedef enum vmie_batch_event_kind {
	VMIE_BATCH_SETUP,     /* the batch's own phases (bucket, role): ev */
	VMIE_BATCH_ROW_START, /* a VM's run starts: row */
	VMIE_BATCH_ROW_EVENT, /* an event of a VM's run: row, ev */
	VMIE_BATCH_ROW_END,   /* a row is settled (done, failed, skipped): row */
	VMIE_BATCH_TICK,      /* a few times a second: totals, active rows */
} vmie_batch_event_kind;

typedef struct vmie_batch_row {
	unsigned line;        /* where the row starts in the manifest */
	const char *name;     /* its name column, else its source's file name */
	const char *key;      /* stable key: 16 hex digits */
	const char *source;
	const char *status;   /* pending, running, succeeded, failed, invalid,
			       * interrupted */
	const char *phase;    /* running: "upload", "import", ... */
	const char *state;    /* running: the task's status and message */
	int percent;          /* the task's percent, -1 */
	uint64_t done, total; /* the transfer under way (total 0: unknown) */
	double rate;          /* its bytes per second */
	const char *ami_id;
	const char *error;    /* failed, invalid: why */
	bool earlier;         /* ROW_END: done by an earlier run */
} vmie_batch_row;

typedef struct vmie_batch_totals {
	unsigned rows;        /* of this shard */
	unsigned succeeded, failed, invalid, interrupted, running, left;
	uint64_t uploaded;    /* bytes this run uploaded */
	double elapsed;       /* seconds */
	double eta;           /* seconds; < 0: unknown yet */
} vmie_batch_totals;

typedef struct vmie_batch_event {
	vmie_batch_event_kind kind;
	const vmie_batch_row *row;
	const vmie_event *ev;
	const vmie_batch_totals *totals;
	const vmie_batch_row *const *active; /* TICK: the rows running */
	size_t nactive;
} vmie_batch_event;

typedef void (*vmie_batch_event_fn)(void *ctx, const vmie_batch_event *ev);

typedef struct vmie_batch_options {
	const char *manifest;
	vmie_options defaults;  /* every row's defaults; s3_bucket required */
	bool export_all;        /* --export: every row is a convert */
	unsigned max_tasks;     /* 0: 5 */
	unsigned max_uploads;   /* 0: 2 */
	unsigned max_instances; /* 0: 2 */
	const char *shard;      /* "I/N"; NULL: from the environment, or all */
	unsigned shard_count;   /* N for JOB_COMPLETION_INDEX; 0: VMIE_SHARDS */
	bool skip_invalid;
	bool retry_failed;
	const char *results_dir; /* NULL: ./<manifest name>.vmie-batch */
	const char *exe;        /* the vmie binary each VM runs in */
	vmie_batch_event_fn on_event;
	void *event_ctx;
	volatile sig_atomic_t *cancel; /* holds the signal number */
} vmie_batch_options;

typedef struct vmie_batch_result {
	unsigned rows, succeeded, failed, invalid, interrupted;
	unsigned earlier;       /* of succeeded: done by an earlier run */
	char *results_csv;
	char *results_json;
	char *shard;            /* "I/N", NULL: not sharded */
} vmie_batch_result;

void vmie_batch_result_free(vmie_batch_result *res);

/* 0 when every row of the shard succeeded; VMIE_ERR_BATCH_INCOMPLETE when
 * some did not (res says how many; the results files say which and why);
 * VMIE_ERR_INVALID_ARGUMENT when rows are invalid and nothing started;
 * another status (err set) when the batch itself could not run. */
int vmie_batch(const vmie_batch_options *o, vmie_batch_result *res,
	       vmie_error *err);

#ifdef __cplusplus
}
#endif
#endif
