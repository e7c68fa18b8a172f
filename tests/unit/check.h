/*
 * A minimal unit-test harness: CHECK* macros record failures without
 * stopping, check_done() prints "N passed, N failed" and gives main()'s
 * exit status.  Each test program is one meson test.
 */
#ifndef VMIE_TEST_CHECK_H
#define VMIE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (cond) {                                                  \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,        \
				__LINE__, #cond);                            \
		}                                                            \
	} while (0)

#define CHECK_STR(got, want)                                                 \
	do {                                                                 \
		const char *g_ = (got), *w_ = (want);                        \
		if ((g_ == NULL && w_ == NULL) ||                            \
		    (g_ && w_ && strcmp(g_, w_) == 0)) {                     \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr,                                      \
				"FAIL %s:%d: %s\n  got:  %s\n  want: %s\n",  \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)", \
				w_ ? w_ : "(null)");                         \
		}                                                            \
	} while (0)

#define CHECK_INT(got, want)                                                 \
	do {                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);     \
		if (g_ == w_) {                                              \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s = %lld, want %lld\n", \
				__FILE__, __LINE__, #got, g_, w_);           \
		}                                                            \
	} while (0)

/* Substring test. */
#define CHECK_CONTAINS(hay, needle)                                          \
	do {                                                                 \
		const char *h_ = (hay), *n_ = (needle);                      \
		if (h_ && strstr(h_, n_)) {                                  \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr,                                      \
				"FAIL %s:%d: %s does not contain \"%s\"\n"   \
				"  got: %s\n",                               \
				__FILE__, __LINE__, #hay, n_, h_ ? h_ : "(null)"); \
		}                                                            \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
