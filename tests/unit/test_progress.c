/* The CLI's progress rendering: sizes, durations, bar lines, and what
 * each mode prints for a sequence of events. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/progress.h"

static void test_formats(void)
{
	char b[64];
	cli_fmt_bytes(b, sizeof(b), 512);
	CHECK_STR(b, "512 B");
	cli_fmt_bytes(b, sizeof(b), 1536);
	CHECK_STR(b, "1.5 KiB");
	cli_fmt_bytes(b, sizeof(b), 8.0 * (1 << 30));
	CHECK_STR(b, "8.0 GiB");
	cli_fmt_duration(b, sizeof(b), 65);
	CHECK_STR(b, "1:05");
	cli_fmt_duration(b, sizeof(b), 3723);
	CHECK_STR(b, "1:02:03");
	cli_fmt_duration(b, sizeof(b), -1);
	CHECK_STR(b, "0:00");
}

static void test_lines(void)
{
	char line[512];
	vmie_event ev = {.kind = VMIE_EVENT_PROGRESS, .phase = "upload",
			 .done = 1ull << 30, .total = 4ull << 30, .percent = -1};
	cli_progress_line(line, sizeof(line), &ev, 100.0 * (1 << 20), 100);
	CHECK(strstr(line, "upload") == line);
	CHECK(strstr(line, "1.0 GiB/4.0 GiB"));
	CHECK(strstr(line, " 25%"));
	CHECK(strstr(line, "100.0 MiB/s"));
	CHECK(strstr(line, "ETA 0:31")); /* 3 GiB at 100 MiB/s: 30.72 s */
	CHECK(strstr(line, "[=========>"));
	CHECK(strlen(line) <= 100);

	ev.total = 0; /* unknown length: no bar, no ETA */
	cli_progress_line(line, sizeof(line), &ev, 0, 100);
	CHECK(strstr(line, "1.0 GiB") && !strstr(line, "[") && !strstr(line, "ETA"));

	vmie_event task = {.kind = VMIE_EVENT_STATUS, .phase = "import", .percent = 40,
			   .status = "active", .message = "converting", .seconds = 133};
	cli_progress_line(line, sizeof(line), &task, 0, 100);
	CHECK(strstr(line, " 40%  active: converting  2:13"));
}

static char *render(cli_progress_mode mode, const vmie_event *evs, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_progress *p = cli_progress_new(f, mode, 1000);
	for (size_t i = 0; i < n; i++)
		cli_progress_event(p, &evs[i]);
	cli_progress_free(p);
	fclose(f);
	return buf;
}

static void test_modes(void)
{
	vmie_event evs[] = {
		{.kind = VMIE_EVENT_PHASE_BEGIN, .phase = "upload", .percent = -1},
		{.kind = VMIE_EVENT_PROGRESS, .phase = "upload", .done = 10, .total = 100, .percent = -1},
		{.kind = VMIE_EVENT_PROGRESS, .phase = "upload", .done = 100, .total = 100, .percent = -1},
		{.kind = VMIE_EVENT_PHASE_END, .phase = "upload", .done = 100, .percent = -1, .seconds = 2},
		{.kind = VMIE_EVENT_RESULT, .phase = "import", .percent = -1, .key = "ami_id", .value = "ami-0123"},
	};
	size_t n = sizeof(evs) / sizeof(evs[0]);

	char *none = render(CLI_PROGRESS_NONE, evs, n);
	CHECK_STR(none, "");
	free(none);

	char *lines = render(CLI_PROGRESS_LINES, evs, n);
	CHECK(strstr(lines, "upload   started\n"));
	CHECK(strstr(lines, "upload   done: 100 B in 0:02 (50 B/s)\n"));
	CHECK(!strstr(lines, "\r")); /* never a carriage return off a terminal */
	free(lines);

	char *bar = render(CLI_PROGRESS_BAR, evs, n);
	CHECK(strstr(bar, "\r\033[K"));
	CHECK(strstr(bar, "upload   done: 100 B in 0:02"));
	free(bar);

	char *events = render(CLI_PROGRESS_EVENTS, evs, n);
	CHECK(strstr(events, "\"event\":\"phase_begin\""));
	CHECK(strstr(events, "\"done\":100"));
	CHECK(strstr(events, "\"ami_id\":\"ami-0123\""));
	CHECK(strstr(events, "\"seconds\":2"));
	/* One JSON object per line. */
	int nl = 0;
	for (const char *c = events; *c; c++)
		nl += *c == '\n';
	CHECK(nl >= 4 && nl <= 5);
	free(events);
}

int main(void)
{
	test_formats();
	test_lines();
	test_modes();
	return check_done("progress");
}
