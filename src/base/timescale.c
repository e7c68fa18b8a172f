/*
 * The test clock knob (timescale.h).  Read each time: it is set once per
 * process by the environment, and reading it keeps no state.
 */
#include "base/timescale.h"

#include <stdlib.h>

double vtime_scale(void)
{
	const char *v = getenv("VMIE_POLL_SCALE");
	char *end;
	if (!v || !*v)
		return 1.0;
	double d = strtod(v, &end);
	return *end == '\0' && d > 0 && d <= 1.0 ? d : 1.0;
}

long vtime_scaled_ms(double ms)
{
	if (ms <= 0)
		return 0;
	double s = ms * vtime_scale();
	return s < 1 ? 1 : (long)s;
}
