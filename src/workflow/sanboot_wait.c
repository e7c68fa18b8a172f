/*
 * The clock of the sanbootable waits: delays that start short (an
 * instance is usually running within a minute) and grow to a cap, a
 * limit per wait, and the test knobs that shrink both (sanboot_steps.h).
 */
#include "workflow/sanboot_steps.h"
#include "workflow/import_plan.h"

#include <stdio.h>
#include <stdlib.h>

static double env_double(const char *name, double dflt)
{
	const char *v = name ? getenv(name) : NULL;
	char *end;
	if (!v || !*v)
		return dflt;
	double d = strtod(v, &end);
	return (*end == '\0' && d > 0) ? d : dflt;
}

long vwf_sb_delay_ms(unsigned attempt, long cap_ms)
{
	static const long steps[] = {2000, 3000, 5000, 8000, 10000, 15000, 20000};
	unsigned nsteps = sizeof(steps) / sizeof(steps[0]);
	long ms = attempt < nsteps ? steps[attempt] : steps[nsteps - 1];
	if (ms > cap_ms)
		ms = cap_ms;
	ms = (long)((double)ms * vwf_poll_scale());
	return ms < 1 ? 1 : ms;
}

void vwf_sb_wait_start(vwf_sb_wait *w, const char *env_knob, double default_s,
		       long cap_ms)
{
	w->t0 = vwf_now();
	w->limit_s = env_double(env_knob, default_s);
	w->cap_ms = cap_ms;
	w->attempt = 0;
}

int vwf_sb_wait_next(vwf_run *r, vwf_sb_wait *w, vmie_error *err)
{
	double left_ms = (w->limit_s - (vwf_now() - w->t0)) * 1000.0;
	if (left_ms <= 0)
		return VWF_SB_TIMED_OUT;
	long ms = vwf_sb_delay_ms(w->attempt++, w->cap_ms);
	if ((double)ms > left_ms)
		ms = (long)left_ms + 1;
	return vwf_sleep(r, ms, err);
}

void vwf_sb_fmt_limit(double seconds, char *buf, unsigned len)
{
	if (seconds >= 120 && (long)seconds % 60 == 0)
		snprintf(buf, len, "%ld min", (long)seconds / 60);
	else
		snprintf(buf, len, "%.0f s", seconds);
}

int vwf_sb_as_step(vmie_error *err, int rc, int status)
{
	if (rc == VMIE_ERR_INTERRUPTED)
		return rc;
	if (err)
		err->status = status;
	return status;
}
