/*
 * vmie's clock for tests: VMIE_POLL_SCALE=F (0 < F <= 1) shrinks every
 * wait vmie makes on its own -- poll intervals, retry backoff, the outage
 * window -- by F, for an emulator whose clock runs 1/F times faster.  The
 * tests shorten the emulated clock, not the coverage: vmie takes the same
 * decisions, only sooner.  Unset (or invalid), F is 1.  It can only make
 * waits shorter, never longer.
 */
#ifndef VMIE_BASE_TIMESCALE_H
#define VMIE_BASE_TIMESCALE_H

double vtime_scale(void);

/* ms times the scale, at least 1 when ms > 0. */
long vtime_scaled_ms(double ms);

#endif
