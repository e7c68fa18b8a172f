/*
 * vmie inspect: what each local image file is and what AWS VM Import
 * would make of it, without touching AWS.  The same check runs as the
 * import preflight; this command shows all of it, per source, as text or
 * as one JSON object per line (--json).
 *
 * Exit status: 0 when every source would import (warnings allowed), 4
 * when any would not or could not be read.
 */
#include "cli/cli.h"

#include "base/error.h"
#include "base/xalloc.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C_RED "\033[31m"
#define C_YELLOW "\033[33m"
#define C_RESET "\033[0m"

#define LABEL_W 17 /* "Partition table: " */
#define MAX_COLS 7

struct text_out {
	FILE *f;
	bool color;
};

/* "67108864 bytes (64.0 MiB)": the exact number for scripts and
 * comparisons, the rounded one for people; then ", note" when there is one. */
static void print_size_note(FILE *f, uint64_t n, const char *note)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	int u = -1;
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u < 0)
		fprintf(f, "%" PRIu64 " bytes", n);
	else
		fprintf(f, "%" PRIu64 " bytes (%.*f %s)", n, u >= 2 ? 2 : 1, v,
			unit[u]);
	fprintf(f, "%s%s\n", note ? ", " : "", note ? note : "");
}

static void print_size(FILE *f, uint64_t n)
{
	print_size_note(f, n, NULL);
}

/* Text that came out of an image (a descriptor's createType, an OVF's
 * href, messages quoting them) reaches a terminal: control characters
 * would let a crafted image move the cursor or retitle the window. */
static void put_line(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	fputc('\n', f);
}

static void label(FILE *f, int indent, const char *name)
{
	fprintf(f, "%*s%s:%*s", indent, "", name,
		LABEL_W - (int)strlen(name) - 1, "");
}

/* A small table whose columns are as wide as their widest cell. */
static void print_partitions(FILE *f, int indent, const vimg_info *info)
{
	static const char *const head[MAX_COLS] = {"#", "START", "SIZE", "TYPE",
						   "BOOT", "FS", "OS"};
	size_t n = info->npartitions;
	char (*cell)[MAX_COLS][48] = xcalloc(n + 1, sizeof(*cell));
	int width[MAX_COLS] = {0};

	for (int c = 0; c < MAX_COLS; c++)
		snprintf(cell[0][c], sizeof cell[0][c], "%s", head[c]);
	for (size_t i = 0; i < n; i++) {
		const vimg_partition *p = &info->partitions[i];
		char (*row)[48] = cell[i + 1];
		snprintf(row[0], 48, "%d", p->index);
		snprintf(row[1], 48, "%" PRIu64, p->start);
		snprintf(row[2], 48, "%" PRIu64, p->size);
		snprintf(row[3], 48, "%s", p->type);
		snprintf(row[4], 48, "%s", p->bootable ? "yes" : "no");
		snprintf(row[5], 48, "%s", p->fs[0] ? p->fs : "-");
		snprintf(row[6], 48, "%s", vimg_os_name(p->os));
	}
	for (size_t r = 0; r <= n; r++)
		for (int c = 0; c < MAX_COLS; c++)
			if ((int)strlen(cell[r][c]) > width[c])
				width[c] = (int)strlen(cell[r][c]);
	for (size_t r = 0; r <= n; r++) {
		fprintf(f, "%*s", indent, "");
		for (int c = 0; c < MAX_COLS; c++) {
			/* Numbers right-aligned, words left. */
			if (c < 3)
				fprintf(f, "%*s", width[c], cell[r][c]);
			else
				fprintf(f, "%-*s", c == MAX_COLS - 1 ? 0 : width[c],
					cell[r][c]);
			fputs(c == MAX_COLS - 1 ? "\n" : "  ", f);
		}
	}
	free(cell);
}

static void print_findings(const struct text_out *o, int indent,
			   const vimg_info *info)
{
	for (size_t i = 0; i < info->nfindings; i++) {
		const vimg_finding *fd = &info->findings[i];
		bool err = fd->severity == VIMG_ERROR;
		const char *c = !o->color ? "" : err ? C_RED : C_YELLOW;
		fprintf(o->f, "%*s%s%-7s%s  %s: ", indent, "", c,
			err ? "ERROR" : "WARNING", o->color ? C_RESET : "",
			fd->code);
		put_line(o->f, fd->message);
		if (fd->aws) {
			fprintf(o->f, "%*sAWS: ", indent + 9, "");
			put_line(o->f, fd->aws);
		}
	}
}

static void print_verdict(const struct text_out *o, int indent,
			  const vimg_info *info)
{
	label(o->f, indent, "Importable");
	if (vimg_has_errors(info))
		fprintf(o->f, "%sno%s: AWS would refuse it (see the errors "
			"above)\n", o->color ? C_RED : "", o->color ? C_RESET : "");
	else
		fputs("yes\n", o->f);
}

static void print_info(const struct text_out *o, int indent,
		       const vimg_info *info, bool top);

/* An empty table means "none" only when vimg looked: it reads the guest's
 * disk only through an image without errors, and not through every
 * format (its warning says so). */
static bool partitions_checked(const vimg_info *info)
{
	if (info->format == VIMG_RAW)
		return true;
	if (vimg_has_errors(info))
		return false;
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, "partitions-not-checked") == 0)
			return false;
	return true;
}

static void print_disks(const struct text_out *o, int indent,
			const vimg_info *info)
{
	for (size_t i = 0; i < info->ndisks; i++) {
		const vimg_disk *d = &info->disks[i];
		fprintf(o->f, "%*s", indent, "");
		put_line(o->f, d->href ? d->href : "?");
		label(o->f, indent + 2, "Capacity");
		print_size(o->f, d->capacity);
		if (!d->info) {
			label(o->f, indent + 2, "Member");
			fputs("missing from the OVA\n", o->f);
			continue;
		}
		label(o->f, indent + 2, "Member");
		fprintf(o->f, "%" PRIu64 " bytes at offset %" PRIu64 "\n",
			d->size, d->offset);
		print_info(o, indent + 2, d->info, false);
	}
}

static void print_info(const struct text_out *o, int indent,
		       const vimg_info *info, bool top)
{
	FILE *f = o->f;

	label(f, indent, "Format");
	fprintf(f, "%s\n", vimg_format_name(info->format));
	label(f, indent, "Subformat");
	put_line(f, info->subformat[0] ? info->subformat : "-");
	if (top) {
		label(f, indent, "Compression");
		fprintf(f, "%s\n", vimg_compression_name(info->compression));
	}
	label(f, indent, "Virtual size");
	/* 0 is a size only for RAW (an empty file); for a refused or
	 * unreadable format, or an OVA (its disks have sizes), it is unknown.
	 * An OVA's is its boot disk's: say so, and what all its disks hold. */
	if (info->format == VIMG_OVA && info->ndisks) {
		char disks[32];
		snprintf(disks, sizeof disks, "%zu disk%s", info->ndisks,
			 info->ndisks == 1 ? "" : "s");
		print_size_note(f, info->virtual_size, "boot disk");
		label(f, indent, "Total size");
		print_size_note(f, vimg_total_virtual_size(info), disks);
	} else if (info->virtual_size || info->format == VIMG_RAW) {
		print_size(f, info->virtual_size);
	} else {
		fputs("-\n", f);
	}
	if (top) {
		label(f, indent, "File size");
		print_size(f, info->file_size);
		if (info->compression != VIMG_COMP_NONE) {
			label(f, indent, "Image size");
			if (info->image_size)
				print_size(f, info->image_size);
			else
				fputs("unknown\n", f);
		}
	}
	/* An OVA's partitions are its disks' (below). */
	if (info->format != VIMG_OVA) {
		label(f, indent, "Partition table");
		fprintf(f, "%s\n", info->partition_table[0]
				? info->partition_table
				: partitions_checked(info) ? "none" : "not checked");
	}
	if (info->npartitions) {
		fprintf(f, "%*sPartitions:\n", indent, "");
		print_partitions(f, indent + 2, info);
	}
	if (info->ndisks) {
		fprintf(f, "%*sDisks:\n", indent, "");
		print_disks(o, indent + 2, info);
	}
	if (info->nfindings) {
		fprintf(f, "%*sFindings:\n", indent, "");
		print_findings(o, indent + 2, info);
	}
	print_verdict(o, indent, info);
}

/* One source: rendered, and whether it would import. */
static bool inspect_one(const struct cli_args *a, struct cli_log *l,
			const struct text_out *o, const char *source, bool first)
{
	vimg_info info;
	vmie_error err = {0};
	bool ok = false;

	cli_log(l, VMIE_LOG_DEBUG, "inspecting %s", source);
	if (vmie_inspect(source, &info, &err) != 0) {
		cli_report_lines(l, &err);
		if (a->json)
			cli_json_print_line(cli_json_inspect(source, NULL, &err));
		goto out;
	}
	ok = !vimg_has_errors(&info);
	cli_log(l, VMIE_LOG_DEBUG, "%s: %s, %zu finding(s), %s", source,
		vimg_format_name(info.format), info.nfindings,
		ok ? "importable" : "not importable");
	if (a->json) {
		cli_json_print_line(cli_json_inspect(source, &info, NULL));
	} else {
		if (!first)
			fputc('\n', o->f);
		put_line(o->f, source);
		print_info(o, 2, &info, true);
		fflush(o->f);
	}
	vimg_info_free(&info);
out:
	vmie_error_clear(&err);
	return ok;
}

static bool stdout_color(void)
{
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
	       !(term && strcmp(term, "dumb") == 0);
}

static int run_inspect(const struct cli_args *a)
{
	struct text_out o = {stdout, stdout_color()};
	vmie_error err = {0};
	struct cli_log l;
	int exit_status = CLI_EXIT_OK;
	bool printed = false;

	if (!a->noperands) {
		verr_set(&err, VMIE_ERR_INVALID_ARGUMENT,
			 "missing SOURCE: name one or more image files");
		verr_hint(&err, "Run 'vmie inspect --help' to see its usage");
		exit_status = cli_usage_error(a, &err);
		vmie_error_clear(&err);
		return exit_status;
	}
	cli_log_start(&l, a);
	/* inspect changes nothing and holds nothing to clean up: SIGINT and
	 * SIGTERM end it at once (exit 130 / 143 as the shell reports them),
	 * rather than after a decoder has read through a long stream. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	for (size_t i = 0; i < a->noperands; i++) {
		if (cli_interrupted()) {
			exit_status = cli_exit_status(VMIE_ERR_INTERRUPTED);
			break;
		}
		if (!inspect_one(a, &l, &o, a->operands[i], !printed))
			exit_status = CLI_EXIT_SOURCE;
		printed = true;
	}
	cli_log_free(&l);
	return exit_status;
}

const struct cli_command cli_cmd_inspect = {
	.name = "inspect",
	.usage_name = "vmie inspect",
	.summary = "check local image files: what they are, what AWS would "
		   "refuse",
	.description =
		"Read each SOURCE (a local image file, plain or compressed with "
		"gzip, xz, bzip2 or zstd) and show what it is: its format as "
		"AWS names it (RAW, VMDK, VHD, VHDX, OVA), subformat, virtual "
		"size, partitions and the OS found on them, the disks of an "
		"OVA, and every finding, each with what AWS VM Import would do "
		"about it.  These are the checks 'vmie import' runs before it "
		"uploads a local file.  Nothing is sent to AWS.  With --json, "
		"one JSON object per SOURCE, one per line.  Exit status 0 when "
		"every SOURCE would import, 4 when any would not.",
	.example = "  vmie inspect ./disk.vmdk\n"
		   "  vmie inspect --json images/*.ova images/*.vhd.gz",
	.operands = "SOURCE...",
	.allowed = 0,
	.required = 0,
	.run = run_inspect,
};
