/*
 * The `vmie` command: argv -> vmie_options, then one call into libvmie.
 * Everything here only sees vmie.h; the CLI never talks to AWS itself.
 *
 * Pieces (one idea per file):
 *   args.c        the option table and getopt_long parsing
 *   help.c        help texts, generated from the option table
 *   option_hints.c what shells complete for option values
 *   commands.c    the command list
 *   gen/          vmie-docgen: man pages and shell completions, at build
 *                 time, from the same tables as the help
 *   log_render.c  the log handler: console (colour) and log file
 *   logfile.c     where the log file lives and how it is opened
 *   exit_status.c vmie_status -> process exit status; signals
 *   json_out.c    --json output (inspect's image objects too)
 *   report.c      the final "vmie: error:" lines
 *   prompt.c      asking the terminal (MFA codes), echo off
 *   operation.c   the shared path of import / export / convert
 *   cmd_*.c       one file per command
 */
#ifndef VMIE_CLI_H
#define VMIE_CLI_H

#include <stdbool.h>
#include <signal.h>
#include <stdio.h>

#include "vmie.h"

/* Every option the command knows; a command accepts a subset. */
enum cli_opt {
	/* command options */
	OPT_REGION,
	OPT_S3_BUCKET,
	OPT_SOURCE,
	OPT_AMI_ID,
	OPT_INSTALL_SANBOOTABLE,
	OPT_INSTANCE_PROFILE,
	OPT_S3_EXPORT_PREFIX,
	OPT_LICENSE_TYPE,
	OPT_USAGE_OPERATION,
	OPT_FORCE,
	OPT_S3_KEY,
	OPT_STORAGE_CLASS,
	OPT_DESCRIPTION,
	OPT_ARCHITECTURE,
	OPT_PLATFORM,
	OPT_BOOT_MODE,
	OPT_ENCRYPTED,
	OPT_KMS_KEY_ID,
	OPT_TAG,
	OPT_ROLE_NAME,
	OPT_UPLOAD_ONLY,
	OPT_JSON_EVENTS,
	OPT_INSTANCE_TYPE,
	OPT_SUBNET_ID,
	OPT_EXPORT_FORMAT,
	OPT_DOWNLOAD,
	OPT_SPARSE,
	OPT_OVERWRITE,
	OPT_RESTART,
	OPT_DISCARD,
	OPT_ALL,
	OPT_MAX_BANDWIDTH,
	OPT_UPLOAD_FORMAT,
	OPT_DOWNLOAD_FORMAT,
	/* slots shared through S3 (import, export, convert, batch) */
	OPT_MAX_TASKS,
	OPT_MAX_INSTANCES,
	OPT_LEASE_PREFIX,
	OPT_SKIP_SETUP,
	/* vmie batch */
	OPT_EXPORT,
	OPT_MAX_UPLOADS,
	OPT_SHARD,
	OPT_SHARD_COUNT,
	OPT_SKIP_INVALID,
	OPT_RETRY_FAILED,
	OPT_RESULTS,
	/* global options (any command, before or after it) */
	OPT_PROFILE,
	OPT_ENDPOINT_URL,
	OPT_ALLOW_HTTP,
	OPT_DEBUG,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_LOG_FILE,
	OPT_JSON,
	OPT_NO_PROGRESS,
	OPT_OUTAGE_WINDOW,
	OPT_VERSION,
	OPT_HELP,
	OPT__COUNT
};

#define OPTBIT(o) (1ull << (o))
/* The masks below (allowed, required, seen) hold one bit per option. */
_Static_assert(OPT__COUNT <= 64, "widen the option masks of cli.h");
#define OPT_GLOBALS                                                          \
	(OPTBIT(OPT_PROFILE) | OPTBIT(OPT_ENDPOINT_URL) |                     \
	 OPTBIT(OPT_ALLOW_HTTP) | OPTBIT(OPT_DEBUG) |                          \
	 OPTBIT(OPT_VERBOSE) | OPTBIT(OPT_QUIET) | OPTBIT(OPT_LOG_FILE) |      \
	 OPTBIT(OPT_JSON) | OPTBIT(OPT_NO_PROGRESS) | OPTBIT(OPT_VERSION) |    \
	 OPTBIT(OPT_HELP) | OPTBIT(OPT_OUTAGE_WINDOW))

/* What import (and convert) accept beyond the reference tool's options. */
#define CLI_IMPORT_OPTIONS                                                    \
	(OPTBIT(OPT_S3_KEY) | OPTBIT(OPT_STORAGE_CLASS) |                     \
	 OPTBIT(OPT_DESCRIPTION) | OPTBIT(OPT_ARCHITECTURE) |                 \
	 OPTBIT(OPT_PLATFORM) | OPTBIT(OPT_BOOT_MODE) | OPTBIT(OPT_ENCRYPTED) | \
	 OPTBIT(OPT_KMS_KEY_ID) | OPTBIT(OPT_TAG) | OPTBIT(OPT_ROLE_NAME) |   \
	 OPTBIT(OPT_UPLOAD_ONLY) | OPTBIT(OPT_JSON_EVENTS) |                  \
	 OPTBIT(OPT_MAX_BANDWIDTH) | OPTBIT(OPT_UPLOAD_FORMAT))
/* The temporary instance of --install-sanbootable. */
#define CLI_SANBOOT_OPTIONS                                                   \
	(OPTBIT(OPT_INSTALL_SANBOOTABLE) | OPTBIT(OPT_INSTANCE_PROFILE) |     \
	 OPTBIT(OPT_INSTANCE_TYPE) | OPTBIT(OPT_SUBNET_ID))
/* Slots shared with other vmie runs through lease objects in the bucket. */
#define CLI_SLOT_OPTIONS                                                      \
	(OPTBIT(OPT_MAX_TASKS) | OPTBIT(OPT_MAX_INSTANCES) |                  \
	 OPTBIT(OPT_LEASE_PREFIX) | OPTBIT(OPT_SKIP_SETUP))
/* Where an export goes, and its download. */
#define CLI_EXPORT_OPTIONS                                                    \
	(OPTBIT(OPT_S3_EXPORT_PREFIX) | OPTBIT(OPT_EXPORT_FORMAT) |           \
	 OPTBIT(OPT_DOWNLOAD) | OPTBIT(OPT_SPARSE) | OPTBIT(OPT_OVERWRITE) |  \
	 OPTBIT(OPT_JSON_EVENTS) | OPTBIT(OPT_MAX_BANDWIDTH) |                \
	 OPTBIT(OPT_DOWNLOAD_FORMAT))

struct cli_option {
	const char *name;    /* long name without "--" */
	char short_name;     /* 0: none */
	const char *arg;     /* value placeholder; NULL: a flag */
	const char *help;    /* one line */
	const char *dflt;    /* shown as "(default: ...)"; NULL: none */
};

extern const struct cli_option cli_options[OPT__COUNT];

/*
 * What a shell completes for an option's value (option_hints.c; read by the
 * generated completions).  Most options need no entry: an option whose
 * placeholder lists its values ("RAW|VMDK|VHD") completes those words, one
 * whose placeholder is PATH, FILE or SOURCE (or ends in _PATH, _FILE)
 * completes file names, any other completes nothing.
 */
enum cli_complete {
	CLI_COMPLETE_AUTO = 0, /* from the placeholder, as above */
	CLI_COMPLETE_NONE,     /* free text */
	CLI_COMPLETE_WORDS,    /* one of the words in `values` */
	CLI_COMPLETE_FILE,     /* a file name */
	CLI_COMPLETE_PROFILE,  /* a profile of the AWS config / credentials files */
};

struct cli_option_hint {
	enum cli_complete complete;
	const char *values; /* "A|B|C" when the placeholder does not list them */
	bool repeatable;    /* may be given more than once (--tag) */
};

extern const struct cli_option_hint cli_option_hints[OPT__COUNT];

/* The completion of option id (never CLI_COMPLETE_AUTO); *values gets the
 * "A|B|C" words for CLI_COMPLETE_WORDS, else NULL. */
enum cli_complete cli_option_complete(int id, const char **values);
/* The completion of an operand named as in cli_command.operands ("PATH",
 * "SOURCE...", "S3_URL"); by the same placeholder rules. */
enum cli_complete cli_operand_complete(const char *name, size_t len);

struct cli_args;

struct cli_command {
	const char *name;
	const char *usage_name;  /* "vmie import": for messages */
	const char *summary;     /* one line for `vmie --help` */
	const char *description; /* a paragraph for `vmie CMD --help` */
	const char *example;     /* one or more example lines */
	const char *operands;    /* "SOURCE...": takes file operands; NULL: none */
	unsigned long long allowed;  /* OPTBITs besides OPT_GLOBALS */
	unsigned long long required; /* OPTBITs that must be given */
	int (*run)(const struct cli_args *a); /* returns the exit status */
};

extern const struct cli_command cli_cmd_import;
extern const struct cli_command cli_cmd_export;
extern const struct cli_command cli_cmd_convert;
extern const struct cli_command cli_cmd_whoami;
extern const struct cli_command cli_cmd_inspect;
extern const struct cli_command cli_cmd_download;
extern const struct cli_command cli_cmd_runs;
extern const struct cli_command cli_cmd_batch;

/* NULL-terminated, in the order `vmie --help` lists them. */
extern const struct cli_command *const cli_commands[];
const struct cli_command *cli_command_find(const char *name);

/* What argv said.  Strings point into argv. */
struct cli_args {
	int argc;
	char **argv;
	const struct cli_command *cmd; /* NULL: none given (or `help`) */
	bool help_cmd;                 /* `vmie help [TOPIC]` */
	const char *help_topic;
	vmie_options opts;
	const char *log_file;
	int verbosity;   /* -1 quiet, 0 normal, 1 verbose / debug */
	bool json;
	bool json_events;
	bool no_progress;
	bool help;
	bool version;
	unsigned long long seen; /* OPTBITs given */
	const char **operands; /* a command's operands (cmd->operands) */
	size_t noperands;
	const char **tags;     /* --tag values, in order (opts.tags) */
	const char *discard;   /* vmie runs --discard RUN */
	bool all;              /* vmie runs --all */
	const char *given[OPT__COUNT]; /* each option's (last) value as given */
};

/* Parse argv.  On a usage error returns VMIE_ERR_INVALID_ARGUMENT with
 * err->message naming the culprit and err->hint the help to run; *a is
 * still filled as far as parsing got (a->json, a->cmd). */
int cli_parse(int argc, char **argv, struct cli_args *a, vmie_error *err);
/* args_values.c: the numeric options --max-tasks and --max-instances
 * into a->opts (a count from 1 to max), for cli_parse; cmd_batch.c reads
 * its own with cli_parse_count. */
int cli_parse_count(const char *name, const char *val, unsigned max,
		    unsigned *out, vmie_error *err);
int cli_parse_slot_counts(struct cli_args *a, vmie_error *err);
/* Release what cli_parse allocated (the operand list). */
void cli_args_free(struct cli_args *a);
/* "vmie import" or "vmie": for "Run '... --help'". */
const char *cli_usage_name(const struct cli_args *a);

void cli_help_main(FILE *out);
void cli_help_command(FILE *out, const struct cli_command *cmd);

/* The help's other tables, shared with the man pages: a name (an exit
 * status, an environment variable) and what it means. NULL-terminated. */
struct cli_note {
	const char *name;
	const char *text;
};
extern const struct cli_note cli_exit_statuses[];
/* What vmie is, one sentence; what `vmie help` does. */
extern const char cli_about[];
extern const char cli_help_summary[];
extern const struct cli_note cli_environment[];

/* Logging: console and, once a run reaches the library, a log file. */
struct cli_progress;

struct cli_log {
	vmie_log_level console_min; /* lowest level shown on stderr */
	struct cli_progress *progress; /* a bar to erase before a line */
	void (*clear)(void *ctx);      /* or another display to erase */
	void *clear_ctx;
	bool color;
	FILE *file;      /* NULL: no log file */
	char *file_path; /* what to print after "vmie: full log:" */
};

void cli_log_init(struct cli_log *l, const struct cli_args *a);
/* Install l as libvmie's log handler. */
void cli_log_install(struct cli_log *l);
/* Open the log file (default location or --log-file); on failure warn
 * once on the console and carry on without one. */
void cli_log_open_file(struct cli_log *l, const struct cli_args *a);
void cli_log_free(struct cli_log *l);
/* A line from the CLI itself, through the same handler. */
void cli_log(struct cli_log *l, vmie_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What a command that does work starts with: cli_log_init, the handler
 * installed, the log file opened, the command line logged. */
void cli_log_start(struct cli_log *l, const struct cli_args *a);

/* Only into the log file (the caller prints its own console line). */
void cli_log_file_only(struct cli_log *l, vmie_log_level level,
		       const char *msg);

/* logfile.c: the default path and the opening rules. */
char *cli_logfile_default_path(vmie_error *err);
FILE *cli_logfile_open(const char *path, bool exclusive, vmie_error *err);

/* exit_status.c */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_AWS 3
#define CLI_EXIT_SOURCE 4
#define CLI_EXIT_SANBOOTABLE 5
#define CLI_EXIT_NOT_IMPLEMENTED 6
int cli_exit_status(int status);
void cli_signals_install(void);
int cli_interrupted(void); /* the signal number caught, 0: none */
/* The flag the signal handler sets, for vmie_options.cancel. */
volatile sig_atomic_t *cli_cancel_flag(void);

/* json_out.c: one object on stdout. */
void cli_json_error(const vmie_error *err, int exit_status);
/* The same, with "result": what the run made before it failed (a json_t
 * from cli_summary_json, released here; NULL: no key). */
void cli_json_error_result(const vmie_error *err, int exit_status, void *result);
void cli_json_ok(const char *operation);
/* Print and release obj. */
void cli_json_print(void *obj);
/* Print obj on one line (a stream of objects, one per line), release it. */
void cli_json_print_line(void *obj);
/* inspect's object for one source: info (may be NULL) or err (may be
 * NULL).  Every key is always present, null when unknown. */
void *cli_json_inspect(const char *source, const vimg_info *info,
		       const vmie_error *err);

/* report.c: "vmie: error: ...", "vmie: hint: ...", "vmie: full log: ...",
 * or the --json error object; returns the exit status. */
/* A failed operation: as cli_report_failure, and with --json the error
 * object carries "result" when the run made anything (an upload, a task,
 * an AMI, an export), so a script knows what to go on from. */
int cli_report_failure_result(const struct cli_args *a, struct cli_log *l,
			      const vmie_error *err, vmie_operation op,
			      const vmie_result *res);
int cli_report_failure(const struct cli_args *a, struct cli_log *l,
		       const vmie_error *err);
/* A usage error: before any run, no log file. */
int cli_usage_error(const struct cli_args *a, const vmie_error *err);
/* The "vmie: error:" and "vmie: hint:" lines of one failure among several
 * (inspect's sources): console and log file, no --json object. */
void cli_report_lines(struct cli_log *l, const vmie_error *err);

/* summary.c: a run's result, as text (stdout) or as one JSON object
 * (returned for cli_json_print). */
void cli_summary_print(FILE *f, vmie_operation op, const vmie_result *r);
void *cli_summary_json(vmie_operation op, const vmie_result *r);

/* prompt.c: vmie_prompt_fn over /dev/tty (ctx: the cli_args). */
int cli_prompt(void *ctx, const char *question, char *answer, size_t size,
	       const char **why);

/* operation.c */
int cli_run_operation(const struct cli_args *a, vmie_operation op);
/* Required options of a command, checked before anything runs. */
int cli_check_required(const struct cli_args *a, vmie_error *err);
/* Log the version and the command line at DEBUG. */
void cli_log_command_line(struct cli_log *l, const struct cli_args *a);

#endif
