/*
 * The names of the lease objects (task_lease.h) and what a listing of
 * them means.  Pure functions: no AWS, unit-tested.  A bucket is shared
 * ground (a person may drop anything under the prefix), so a key is
 * trusted only when it parses exactly.
 */
#include "workflow/task_lease.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

char *vwf_lease_slot_key(const char *base, unsigned slot, long long epoch)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%sslot-%02u/%012lld", base, slot, epoch);
	return vbuf_detach(&b);
}

char *vwf_lease_ceiling_key(const char *base, long long until, unsigned k)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%sceiling/%lld-%u", base, until, k);
	return vbuf_detach(&b);
}

/* A decimal number of 1..18 digits ending at *end (not past it). */
static bool number(const char *s, const char *end, long long *out)
{
	long long v = 0;
	if (s >= end || end - s > 18)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* "slot-NN/EPOCH" */
static bool parse_slot(const char *s, unsigned *slot, long long *epoch)
{
	long long n;
	if (strncmp(s, "slot-", 5) != 0)
		return false;
	s += 5;
	const char *slash = strchr(s, '/');
	if (!slash || !number(s, slash, &n) || n >= VWF_LEASE_MAX_SLOTS)
		return false;
	*slot = (unsigned)n;
	return number(slash + 1, slash + 1 + strlen(slash + 1), epoch);
}

/* "ceiling/UNTIL-K" */
static bool parse_ceiling(const char *s, long long *until, unsigned *k)
{
	long long n;
	if (strncmp(s, "ceiling/", 8) != 0)
		return false;
	s += 8;
	const char *dash = strchr(s, '-');
	if (!dash || !number(s, dash, until) ||
	    !number(dash + 1, dash + 1 + strlen(dash + 1), &n) || n < 1 ||
	    n > VWF_LEASE_MAX_SLOTS)
		return false;
	*k = (unsigned)n;
	return true;
}

void vwf_lease_view_of(const vkv *keys, const char *base, long long epoch,
		       long long now, vwf_lease_view *v)
{
	size_t blen = strlen(base);
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < keys->n; i++) {
		const char *key = keys->items[i].key;
		unsigned slot, k;
		long long e, until;
		if (strncmp(key, base, blen) != 0)
			continue;
		key += blen;
		if (parse_slot(key, &slot, &e)) {
			/* An object of an earlier epoch is what a holder has not
			 * cleaned up yet, or a dead holder's: not a hold. */
			if (e >= epoch && !v->taken[slot]) {
				v->taken[slot] = true;
				v->ntaken++;
			}
		} else if (parse_ceiling(key, &until, &k) && until > now &&
			   (!v->ceiling || k < v->ceiling)) {
			v->ceiling = k;
		}
	}
}
