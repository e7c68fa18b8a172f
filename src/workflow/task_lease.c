/*
 * Slots shared through S3 lease objects (task_lease.h).  Only this file
 * talks to the lease prefix; the workflows call take before a task or an
 * instance, release after it, and the waits tick.
 */
#include "workflow/task_lease.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/s3.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/import_plan.h"

#define MADE_MAX 8        /* epochs whose object one holder remembers */
#define CEILING_EPOCHS 2  /* how long a lowered ceiling lasts */
#define WAIT_STEP_MAX 4   /* lease waits poll at most every 13 s (scaled) */

struct lease {
	const char *name;  /* "task", "instance": for messages */
	char *base;        /* "<prefix>tasks/" */
	unsigned max;
	int slot;          /* the slot held; -1: none */
	long long made[MADE_MAX]; /* epochs whose object this run created */
	size_t nmade;
	bool lost;
	unsigned quota_waits;
};

struct vwf_leases {
	struct lease l[2];
	long long ttl;
};

/* VMIE_LEASE_TTL_S: a test knob (2..86400 s); 300 s otherwise. */
static long long lease_ttl(void)
{
	const char *s = getenv("VMIE_LEASE_TTL_S");
	char *end = NULL;
	long long v = s && *s ? strtoll(s, &end, 10) : 0;
	return end && !*end && v >= 2 && v <= 86400 ? v : 300;
}

static long long now_s(void)
{
	return (long long)time(NULL);
}

static struct lease *lease_of(vwf_run *r, vwf_lease_kind kind)
{
	const vmie_options *o = r->opts;
	unsigned max = kind == VWF_LEASE_TASK ? o->max_tasks : o->max_instances;
	if (!max)
		return NULL;
	if (!r->leases) {
		const char *prefix = o->lease_prefix && *o->lease_prefix
					     ? o->lease_prefix : VWF_LEASE_DEFAULT_PREFIX;
		bool slash = prefix[strlen(prefix) - 1] == '/';
		r->leases = xcalloc(1, sizeof(*r->leases));
		r->leases->ttl = lease_ttl();
		for (int i = 0; i < 2; i++) {
			struct lease *l = &r->leases->l[i];
			vbuf b = VBUF_INIT;
			vbuf_addf(&b, "%s%s%s/", prefix, slash ? "" : "/",
				  i == VWF_LEASE_TASK ? "tasks" : "instances");
			l->base = vbuf_detach(&b);
			l->name = i == VWF_LEASE_TASK ? "task" : "instance";
			l->slot = -1;
		}
	}
	struct lease *l = &r->leases->l[kind];
	l->max = max > VWF_LEASE_MAX_SLOTS ? VWF_LEASE_MAX_SLOTS : max;
	return l;
}

/* What a person listing the bucket wants to know about a lease. */
static char *body_for(vwf_run *r, const struct lease *l, long long epoch)
{
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '_';
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:i, s:I}", "owner", r->run_id,
			      "host", host, "pid", (json_int_t)getpid(), "kind", l->name,
			      "slot", l->slot, "expires",
			      (json_int_t)((epoch + 1) * r->leases->ttl));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s ? s : xstrdup("{}");
}

/* A 412 on a key this run may have written itself: a PUT the request
 * core retried after its answer was lost. */
static bool ours(vwf_run *r, const char *key)
{
	vbuf body = VBUF_INIT;
	vmie_error e = {0};
	bool yes = vs3_get_range(r->client, r->opts->s3_bucket, key, 0, 4096, &body,
				 &e) == 0 && strstr(vbuf_str(&body), r->run_id);
	vmie_error_clear(&e);
	vbuf_free(&body);
	return yes;
}

static bool made(const struct lease *l, long long epoch)
{
	for (size_t i = 0; i < l->nmade; i++)
		if (l->made[i] == epoch)
			return true;
	return false;
}

static void delete_epoch(vwf_run *r, const struct lease *l, long long epoch)
{
	vmie_error e = {0};
	char *key = vwf_lease_slot_key(l->base, (unsigned)l->slot, epoch);
	if (vs3_delete_object(r->client, r->opts->s3_bucket, key, &e) != 0)
		vlog_debug("could not delete %s (it expires by itself): %s", key,
			   e.message ? e.message : "?");
	vmie_error_clear(&e);
	free(key);
}

/* The object of l->slot for epoch: 0 created (or found to be ours),
 * VS3_EXISTS another holder's, else a status with err set. */
static int create(vwf_run *r, struct lease *l, long long epoch, vmie_error *err)
{
	char *key = vwf_lease_slot_key(l->base, (unsigned)l->slot, epoch);
	char *body = body_for(r, l, epoch);
	int rc = vs3_put_if_absent(r->client, r->opts->s3_bucket, key, body, err);
	if (rc == VS3_EXISTS && ours(r, key))
		rc = 0;
	if (rc == 0) {
		if (l->nmade == MADE_MAX) { /* forget the oldest: it has expired */
			memmove(l->made, l->made + 1, (MADE_MAX - 1) * sizeof(l->made[0]));
			l->nmade--;
		}
		l->made[l->nmade++] = epoch;
	}
	free(body);
	free(key);
	return rc;
}

/* Objects of epochs before `epoch` hold nothing any more: tidy up. */
static void drop_old(vwf_run *r, struct lease *l, long long epoch)
{
	size_t keep = 0;
	for (size_t i = 0; i < l->nmade; i++) {
		if (l->made[i] < epoch)
			delete_epoch(r, l, l->made[i]);
		else
			l->made[keep++] = l->made[i];
	}
	l->nmade = keep;
}

static void give_back(vwf_run *r, struct lease *l)
{
	if (l->slot < 0)
		return;
	for (size_t i = 0; i < l->nmade; i++)
		delete_epoch(r, l, l->made[i]);
	vlog_debug("gave back %s slot %d", l->name, l->slot);
	l->nmade = 0;
	l->slot = -1;
	l->lost = false;
}

/* Slot i at epoch c: its object for c, then for c + 1 (a holder always
 * has the next epoch's too, so it cannot lapse between two ticks). */
static int try_slot(vwf_run *r, struct lease *l, unsigned i, long long c,
		    vmie_error *err)
{
	l->slot = (int)i;
	int rc = create(r, l, c, err);
	if (rc == 0)
		rc = create(r, l, c + 1, err);
	if (rc != 0)
		give_back(r, l);
	return rc;
}

static int look(vwf_run *r, const struct lease *l, long long c, long long now,
		vwf_lease_view *v, vmie_error *err)
{
	vkv keys = VKV_INIT;
	int rc = vs3_list_keys(r->client, r->opts->s3_bucket, l->base, &keys, err);
	if (rc == 0)
		vwf_lease_view_of(&keys, l->base, c, now, v);
	else
		verr_prefix(err, "listing the %s slots in s3://%s/%s", l->name,
			    r->opts->s3_bucket, l->base);
	vkv_free(&keys);
	return rc;
}

static unsigned cap_of(const struct lease *l, const vwf_lease_view *v)
{
	return v->ceiling && v->ceiling < l->max ? v->ceiling : l->max;
}

static void queued(vwf_run *r, const struct lease *l, const vwf_lease_view *v)
{
	unsigned cap = cap_of(l, v), busy = 0;
	char msg[160];
	for (unsigned i = 0; i < cap; i++)
		busy += v->taken[i];
	if (cap < l->max)
		snprintf(msg, sizeof(msg), "waiting for a %s slot: %u of %u in use "
			 "(lowered from %u after AWS refused a task)", l->name, busy,
			 cap, l->max);
	else
		snprintf(msg, sizeof(msg), "waiting for a %s slot: %u of %u in use",
			 l->name, busy, cap);
	vwf_task_status(r, -1, "queued", msg);
}

int vwf_lease_take(vwf_run *r, vwf_lease_kind kind, vmie_error *err)
{
	struct lease *l = lease_of(r, kind);
	unsigned shown = (unsigned)-1;
	if (!l || l->slot >= 0)
		return 0;
	for (unsigned attempt = 0;; attempt++) {
		long long now = now_s(), c = now / r->leases->ttl;
		vwf_lease_view v;
		int rc = look(r, l, c, now, &v, err);
		if (rc != 0)
			return rc;
		for (unsigned i = 0; i < cap_of(l, &v); i++) {
			if (v.taken[i])
				continue;
			rc = try_slot(r, l, i, c, err);
			if (rc == 0) {
				vlog_debug("holding %s slot %u of %u (s3://%s/%s)", l->name,
					   i, cap_of(l, &v), r->opts->s3_bucket, l->base);
				return 0;
			}
			if (rc != VS3_EXISTS) {
				verr_prefix(err, "taking a %s slot in s3://%s/%s", l->name,
					    r->opts->s3_bucket, l->base);
				return rc;
			}
			v.taken[i] = true; /* someone was quicker */
			v.ntaken++;
		}
		if (v.ntaken != shown) {
			queued(r, l, &v);
			shown = v.ntaken;
		}
		rc = vwf_sleep(r, vwf_poll_delay_ms(attempt < WAIT_STEP_MAX ? attempt
									 : WAIT_STEP_MAX), err);
		if (rc != 0)
			return rc;
	}
}

void vwf_lease_release(vwf_run *r, vwf_lease_kind kind)
{
	if (r->leases)
		give_back(r, &r->leases->l[kind]);
}

void vwf_lease_tick(vwf_run *r)
{
	if (!r->leases)
		return;
	long long c = now_s() / r->leases->ttl;
	for (int i = 0; i < 2; i++) {
		struct lease *l = &r->leases->l[i];
		if (l->slot < 0 || l->lost)
			continue;
		for (long long e = c; e <= c + 1 && !l->lost; e++) {
			vmie_error err = {0};
			int rc = made(l, e) ? 0 : create(r, l, e, &err);
			if (rc == VS3_EXISTS) {
				l->lost = true;
				vlog_warn("lost %s slot %d: its lease lapsed while this run "
					  "could not renew it, and another vmie took it; "
					  "AWS refuses a task beyond its quota and that run "
					  "then waits", l->name, l->slot);
			} else if (rc != 0) {
				vlog_debug("renewing %s slot %d failed (trying again at "
					   "the next wait): %s", l->name, l->slot,
					   err.message ? err.message : "?");
			}
			vmie_error_clear(&err);
		}
		drop_old(r, l, c);
	}
}

/* Lower the ceiling every sharer reads to what the others hold now: AWS
 * ran out of places with them running. */
static void lower_ceiling(vwf_run *r, struct lease *l, const vwf_lease_view *v,
			  unsigned k, long long now)
{
	if (v->ceiling && v->ceiling <= k)
		return;
	vmie_error e = {0};
	char *key = vwf_lease_ceiling_key(l->base, now + CEILING_EPOCHS * r->leases->ttl, k);
	int rc = vs3_put_if_absent(r->client, r->opts->s3_bucket, key, "{}", &e);
	if (rc != 0 && rc != VS3_EXISTS)
		vlog_debug("could not lower the %s ceiling: %s", l->name,
			   e.message ? e.message : "?");
	vmie_error_clear(&e);
	free(key);
}

bool vwf_lease_quota_wait(vwf_run *r, const vmie_error *e, int *rc,
			  vmie_error *err)
{
	struct lease *l = r->leases ? &r->leases->l[VWF_LEASE_TASK] : NULL;
	*rc = 0;
	if (!e->aws_code || strcmp(e->aws_code, "ResourceLimitExceeded") != 0 || !l ||
	    l->slot < 0)
		return false;
	long long now = now_s(), c = now / r->leases->ttl;
	vwf_lease_view v;
	if ((*rc = look(r, l, c, now, &v, err)) != 0)
		return true;
	unsigned others = v.ntaken - (v.taken[l->slot] ? 1 : 0);
	unsigned k = others ? others : 1;
	lower_ceiling(r, l, &v, k, now);
	if (v.ceiling && v.ceiling < k)
		k = v.ceiling;
	if (!l->quota_waits++)
		vlog_warn("AWS refused to start the %s task: the region's quota of "
			  "concurrent import and export tasks is full "
			  "(ResourceLimitExceeded); waiting for a place, and at most %u "
			  "at once for a while", l->name, k);
	vwf_task_status(r, -1, "queued", "the region's task quota is full "
			"(ResourceLimitExceeded): waiting for a place");
	unsigned step = l->quota_waits < WAIT_STEP_MAX ? l->quota_waits : WAIT_STEP_MAX;
	if ((*rc = vwf_sleep(r, vwf_poll_delay_ms(step), err)) != 0)
		return true;
	if ((unsigned)l->slot >= k) { /* above the new ceiling: queue below it */
		give_back(r, l);
		*rc = vwf_lease_take(r, VWF_LEASE_TASK, err);
	}
	return true;
}

void vwf_leases_free(vwf_run *r)
{
	if (!r->leases)
		return;
	for (int i = 0; i < 2; i++) {
		give_back(r, &r->leases->l[i]);
		free(r->leases->l[i].base);
	}
	free(r->leases);
	r->leases = NULL;
}
