/* Pruning the log directory: which logs go (neither among the newest N
 * nor younger than D days), and what is never touched (other files, a
 * symlink or a directory with a log's name, someone else's file, the
 * current run's log, a directory reached through a symlink). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli/logprune.h"

#define DAY 86400
static const time_t NOW = 1796000000; /* a fixed "now": late 2026 */

static char dir[256];

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* A file named name, last written `age` seconds before NOW. */
static void make(const char *name, time_t age)
{
	char p[512];
	path_of(p, sizeof p, name);
	FILE *f = fopen(p, "w");
	fputs("log\n", f);
	fclose(f);
	struct timespec t[2] = {{NOW - age, 0}, {NOW - age, 0}};
	utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW);
}

static bool exists(const char *name)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof p, name);
	return lstat(p, &st) == 0;
}

/* vmie-20261201-000000-<i>.log */
static const char *log_name(int i)
{
	static char b[64];
	snprintf(b, sizeof b, "vmie-20261201-000000-%d.log", i);
	return b;
}

static int count_logs(int from, int to)
{
	int n = 0;
	for (int i = from; i < to; i++)
		n += exists(log_name(i));
	return n;
}

static void fresh_dir(void)
{
	char cmd[300];
	if (dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	snprintf(dir, sizeof dir, "/tmp/vmie-test-logprune-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static const char *current(void)
{
	static char p[512];
	path_of(p, sizeof p, "vmie-20261206-120000-99999.log");
	make("vmie-20261206-120000-99999.log", 0);
	return p;
}

static void test_names(void)
{
	CHECK(cli_log_is_log_name("vmie-20261206-183945-32096.log"));
	CHECK(cli_log_is_log_name("vmie-20261206-183945-1.log"));
	CHECK(cli_log_is_log_name("vmie-20261206-183945-4294967295.log"));
	CHECK(!cli_log_is_log_name("vmie-20261206-183945-.log"));
	CHECK(!cli_log_is_log_name("vmie-20261206-183945-12345678901.log"));
	CHECK(!cli_log_is_log_name("vmie-20261206-183945-32096.log.bak"));
	CHECK(!cli_log_is_log_name("vmie-2026120-183945-32096.log"));
	CHECK(!cli_log_is_log_name("vmie-20261206_183945-32096.log"));
	CHECK(!cli_log_is_log_name("xvmie-20261206-183945-32096.log"));
	CHECK(!cli_log_is_log_name("vmie-20261206-18394a-32096.log"));
	CHECK(!cli_log_is_log_name("my.log"));
	CHECK(!cli_log_is_log_name(""));
}

/* The newest 50 kept however old; anything of the last 30 days kept
 * however many. */
static void test_keeps_whichever_is_more(void)
{
	struct cli_log_keep k = {50, 30};

	fresh_dir();
	const char *cur = current();
	for (int i = 0; i < 70; i++) /* a busy month: all younger than 30 days */
		make(log_name(i), DAY + i * 3600);
	CHECK_INT(cli_log_prune(cur, &k, NOW), 0);
	CHECK_INT(count_logs(0, 70), 70);

	fresh_dir();
	cur = current();
	for (int i = 0; i < 70; i++) /* a quiet year: all older than 30 days */
		make(log_name(i), 40 * DAY + i * DAY);
	CHECK_INT(cli_log_prune(cur, &k, NOW), 21); /* 49 + the current one */
	CHECK_INT(count_logs(0, 49), 49);           /* the newest */
	CHECK_INT(count_logs(49, 70), 0);
	CHECK(exists("vmie-20261206-120000-99999.log"));

	fresh_dir();
	cur = current();
	for (int i = 0; i < 10; i++) /* 10 recent, then 60 old */
		make(log_name(i), i * DAY);
	for (int i = 10; i < 70; i++)
		make(log_name(i), 31 * DAY + i * 60);
	CHECK_INT(cli_log_prune(cur, &k, NOW), 21);
	CHECK_INT(count_logs(0, 49), 49);
	CHECK_INT(count_logs(49, 70), 0);

	/* Pruning again deletes nothing more. */
	CHECK_INT(cli_log_prune(cur, &k, NOW), 0);
}

static void test_settings(void)
{
	fresh_dir();
	const char *cur = current();
	for (int i = 0; i < 5; i++)
		make(log_name(i), 400 * DAY);

	struct cli_log_keep all_runs = {CLI_LOG_KEEP_ALL, 0};
	struct cli_log_keep all_days = {0, CLI_LOG_KEEP_ALL};
	CHECK_INT(cli_log_prune(cur, &all_runs, NOW), 0);
	CHECK_INT(cli_log_prune(cur, &all_days, NOW), 0);
	CHECK_INT(count_logs(0, 5), 5);

	struct cli_log_keep days_only = {0, 500}; /* the runs protect none */
	CHECK_INT(cli_log_prune(cur, &days_only, NOW), 0);
	struct cli_log_keep two = {3, 0}; /* the current log and two more */
	CHECK_INT(cli_log_prune(cur, &two, NOW), 3);
	CHECK_INT(count_logs(0, 5), 2);
	struct cli_log_keep none = {0, 0}; /* everything but the current log */
	CHECK_INT(cli_log_prune(cur, &none, NOW), 2);
	CHECK(exists("vmie-20261206-120000-99999.log"));
}

static void test_never_touched(void)
{
	struct cli_log_keep none = {0, 0};
	char p[512], target[512], link[512];

	fresh_dir();
	const char *cur = current();
	make("notes.txt", 400 * DAY);
	make("vmie-20200101-000000-1.log.bak", 400 * DAY);
	make("vmie-2020-01-01.log", 400 * DAY);
	/* A directory with a log's name. */
	path_of(p, sizeof p, "vmie-20200101-000000-2.log");
	CHECK(mkdir(p, 0700) == 0);
	/* A symlink with a log's name, to a file outside, and to a log inside. */
	snprintf(target, sizeof target, "%s.outside", dir);
	FILE *f = fopen(target, "w");
	fclose(f);
	path_of(link, sizeof link, "vmie-20200101-000000-3.log");
	CHECK(symlink(target, link) == 0);
	make("vmie-20200101-000000-4.log", 400 * DAY);
	path_of(link, sizeof link, "vmie-20200101-000000-5.log");
	CHECK(symlink("vmie-20200101-000000-4.log", link) == 0);

	CHECK_INT(cli_log_prune(cur, &none, NOW), 1); /* -4 only */
	CHECK(exists("notes.txt"));
	CHECK(exists("vmie-20200101-000000-1.log.bak"));
	CHECK(exists("vmie-2020-01-01.log"));
	CHECK(exists("vmie-20200101-000000-2.log"));
	CHECK(exists("vmie-20200101-000000-3.log"));
	CHECK(exists("vmie-20200101-000000-5.log"));
	CHECK(!exists("vmie-20200101-000000-4.log"));
	CHECK(access(target, F_OK) == 0);
	unlink(target);

	/* Someone else's file (root can make one). */
	if (geteuid() == 0) {
		make("vmie-20200101-000000-6.log", 400 * DAY);
		path_of(p, sizeof p, "vmie-20200101-000000-6.log");
		CHECK(chown(p, 12345, 12345) == 0);
		CHECK_INT(cli_log_prune(cur, &none, NOW), 0);
		CHECK(exists("vmie-20200101-000000-6.log"));
	} else {
		printf("logprune: not root, the foreign-owner case is not run\n");
	}

	/* The log directory reached through a symlink: not pruned at all. */
	char real[300], via[300], cur2[600];
	snprintf(real, sizeof real, "%s/real", dir);
	snprintf(via, sizeof via, "%s/via", dir);
	CHECK(mkdir(real, 0700) == 0);
	CHECK(symlink(real, via) == 0);
	snprintf(cur2, sizeof cur2, "%s/vmie-20200101-000000-7.log", real);
	f = fopen(cur2, "w");
	fclose(f);
	struct timespec t[2] = {{NOW - 400 * DAY, 0}, {NOW - 400 * DAY, 0}};
	utimensat(AT_FDCWD, cur2, t, 0);
	snprintf(cur2, sizeof cur2, "%s/vmie-20261206-120000-1.log", via);
	f = fopen(cur2, "w");
	fclose(f);
	CHECK_INT(cli_log_prune(cur2, &none, NOW), -1);
	snprintf(cur2, sizeof cur2, "%s/vmie-20200101-000000-7.log", real);
	CHECK(access(cur2, F_OK) == 0);
}

static void test_env(void)
{
	struct cli_log_keep k;
	char w[256];

	unsetenv("VMIE_LOG_KEEP_RUNS");
	unsetenv("VMIE_LOG_KEEP_DAYS");
	cli_log_keep_from_env(&k, w, sizeof w);
	CHECK_INT(k.runs, 50);
	CHECK_INT(k.days, 30);
	CHECK_STR(w, "");

	setenv("VMIE_LOG_KEEP_RUNS", "7", 1);
	setenv("VMIE_LOG_KEEP_DAYS", "ALL", 1);
	cli_log_keep_from_env(&k, w, sizeof w);
	CHECK_INT(k.runs, 7);
	CHECK_INT(k.days, CLI_LOG_KEEP_ALL);
	CHECK_STR(w, "");

	setenv("VMIE_LOG_KEEP_RUNS", "0", 1);
	setenv("VMIE_LOG_KEEP_DAYS", "", 1);
	cli_log_keep_from_env(&k, w, sizeof w);
	CHECK_INT(k.runs, 0);
	CHECK_INT(k.days, 30);

	const char *bad[] = {"ten", "-1", "10x", "99999999999999999999", " 5"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		setenv("VMIE_LOG_KEEP_RUNS", bad[i], 1);
		setenv("VMIE_LOG_KEEP_DAYS", "3", 1);
		cli_log_keep_from_env(&k, w, sizeof w);
		CHECK_INT(k.runs, 50);
		CHECK_INT(k.days, 3);
		CHECK_CONTAINS(w, "VMIE_LOG_KEEP_RUNS=");
		CHECK_CONTAINS(w, "using 50");
	}
	setenv("VMIE_LOG_KEEP_RUNS", "5", 1);
	setenv("VMIE_LOG_KEEP_DAYS", "week", 1);
	cli_log_keep_from_env(&k, w, sizeof w);
	CHECK_INT(k.runs, 5);
	CHECK_INT(k.days, 30);
	CHECK_CONTAINS(w, "VMIE_LOG_KEEP_DAYS='week'");
	unsetenv("VMIE_LOG_KEEP_RUNS");
	unsetenv("VMIE_LOG_KEEP_DAYS");
}

int main(void)
{
	test_names();
	test_keeps_whichever_is_more();
	test_settings();
	test_never_touched();
	test_env();
	if (dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	return check_done("logprune");
}
