/*
 * ISO-8601 UTC timestamps as AWS writes them: credential expirations
 * ("2020-11-05T02:02:26Z"), STS and IMDS documents, journal entries.
 * Parsing accepts what AWS and credential_process helpers actually emit:
 * optional fractional seconds and a "Z", "+00:00" or other numeric
 * offset, or "UTC" (the AWS CLI's credential cache writes that); nothing
 * else (no local time, no week dates).
 */
#ifndef VMIE_BASE_ISOTIME_H
#define VMIE_BASE_ISOTIME_H

#include <time.h>

/* "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define VISOTIME_LEN 21

/* 0 and *out set on success, -1 when s is not such a timestamp. */
int visotime_parse(const char *s, time_t *out);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (VISOTIME_LEN bytes). */
void visotime_format(time_t t, char buf[VISOTIME_LEN]);

#endif
