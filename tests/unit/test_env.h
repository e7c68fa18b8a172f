/*
 * Helpers shared by test_config.c and test_creds.c: a scratch HOME made
 * with mkdtemp, files written 0600 inside it, and an environment cleared
 * of every AWS variable the config and credential code reads.
 */
#ifndef VMIE_TEST_ENV_H
#define VMIE_TEST_ENV_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const test_aws_vars[] = {
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_EC2_METADATA_V1_DISABLED", "AWS_METADATA_SERVICE_TIMEOUT",
	"AWS_MAX_ATTEMPTS",
};

static char test_home[PATH_MAX];

static inline void test_env_clear(void)
{
	for (size_t i = 0; i < sizeof test_aws_vars / sizeof *test_aws_vars;
	     i++)
		unsetenv(test_aws_vars[i]);
	setenv("HOME", test_home, 1);
	/* Never wait on a real 169.254.169.254 from a test. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static inline void test_env_init(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(test_home, sizeof test_home, "%s/vmie-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(test_home)) {
		perror("mkdtemp");
		exit(2);
	}
	char aws[PATH_MAX + 8];
	snprintf(aws, sizeof aws, "%s/.aws", test_home);
	mkdir(aws, 0700);
	test_env_clear();
}

/* Write a file below the scratch HOME, mode 0600; returns its path
 * (static buffer: copy it to keep it). */
static inline const char *test_write(const char *rel, const char *text)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", test_home, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n)
		exit(2);
	close(fd);
	return path;
}

static inline void test_unlink(const char *rel)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", test_home, rel);
	unlink(path);
}

static inline int test_rm(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -r of the scratch HOME. */
static inline void test_env_cleanup(void)
{
	if (nftw(test_home, test_rm, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "cleanup of %s failed\n", test_home);
}

#endif
