/*
 * Requests in flight: the one curl-multi sender both transfer engines
 * drive, the upload's UploadPart requests and the download's ranged
 * GetObjects.  It owns the multi handle and a slot per request in flight
 * (a reused easy handle, so each slot keeps its connection and TLS
 * session), the loop that starts, runs and reaps transfers, and what
 * happens when one fails: signed again once for expired credentials, then
 * the client's retry policy (aws/retry.h, one quota for the whole
 * transfer) with the job waiting out its backoff in the engine's queue.
 *
 * An engine keeps its jobs (part buffers, chunks) and says, through
 * vxfer_ops, which job goes next, how its request looks on the wire, what
 * its answer means, and what to do every turn (progress, saving state).
 * A bandwidth cap (rate_limit.h) holds every transfer while the bytes
 * moved run ahead of it.  Everything runs on the thread that calls
 * vxfer_run, except vxfer_wake, which any thread may call.
 */
#ifndef VMIE_TRANSFER_INFLIGHT_H
#define VMIE_TRANSFER_INFLIGHT_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/awserr.h"
#include "aws/client.h"
#include "aws/retry.h"

/* What the core keeps of each job: embed it in the engine's job. */
typedef struct vxfer_job {
	vretry_state retry;
	bool resigned;        /* retried once with fresh credentials */
	long long not_before; /* monotonic ms: a retry waits for this */
} vxfer_job;

#define VXFER_JOB_INIT {VRETRY_STATE_INIT, false, 0}

typedef struct vxfer_slot {
	CURL *easy;
	vxfer_job *job;              /* NULL: idle */
	struct curl_slist *hdrs;     /* non-NULL while a transfer runs */
	vhttp_response rs;           /* the answer: headers, an error's body */
	char errbuf[CURL_ERROR_SIZE];
	void *data;                  /* the engine's own per-slot state */
	uint64_t sent, received;     /* body bytes of this attempt so far */
	bool paused;                 /* held by the bandwidth cap */
	struct vxfer *owner;
} vxfer_slot;

/* How a failed transfer looks to the retry policy; `ended` may adjust it
 * (a part damaged on the way is a 500 to retry, a 412 is final). */
typedef struct vxfer_outcome {
	vretry_outcome o;            /* aws_code points into info */
	vawserr_info info;           /* parsed from an error answer */
	bool final;                  /* never retried */
} vxfer_outcome;

/* Returned by vxfer_ops.next. */
#define VXFER_NONE 0     /* no job can start now */
#define VXFER_JOB 1      /* *job is the next one */
#define VXFER_ALL_DONE 2 /* every job is done, none will come */

/* Returned by vxfer_ops.ended. */
#define VXFER_DONE 0     /* the job is done (the engine recorded it) */
#define VXFER_FAILED 1   /* the retry policy decides (see vxfer_outcome) */

typedef struct vxfer vxfer;

typedef struct vxfer_ops {
	/* The next job that may start at `now` (its not_before passed):
	 * VXFER_JOB with *job set, VXFER_NONE, VXFER_ALL_DONE, or a status
	 * (< 0, err set) that ends the transfer. */
	int (*next)(void *ctx, long long now, vxfer_job **job, vmie_error *err);
	/* Start sl->job: build its request and hand it to vxfer_prepare,
	 * set the engine's own options on sl->easy (body, sink), then
	 * vxfer_add.  Called at every attempt: signed then, so credentials
	 * that refreshed are used. */
	int (*start)(void *ctx, vxfer *x, vxfer_slot *sl, vmie_error *err);
	/* sl's transfer ended: sl->rs holds the status or the transport
	 * failure, *out what the retry policy would see.  VXFER_DONE,
	 * VXFER_FAILED, or a status (err set) that ends the transfer. */
	int (*ended)(void *ctx, vxfer_slot *sl, vxfer_outcome *out,
		     vmie_error *err);
	/* The job is not in flight any more and not done: it waits for a
	 * retry (its not_before is set), or the transfer is ending. */
	void (*requeue)(void *ctx, vxfer_job *job);
	/* No retry is left: words for err (attempts made).  Returns the
	 * status the transfer ends with; the job is then requeued. */
	int (*give_up)(void *ctx, vxfer_slot *sl, int attempts,
		       const vxfer_outcome *out, vmie_error *err);
	/* Every turn of the loop, after finished transfers were handled;
	 * final on the last turn of a transfer that succeeded.  moving: body
	 * bytes of the transfers under way.  0 or a status that ends it. */
	int (*tick)(void *ctx, uint64_t moving, bool final, vmie_error *err);
} vxfer_ops;

typedef struct vxfer_opts {
	vaws_client *client;
	unsigned parallel;           /* slots */
	vretry_policy *retry;        /* the engine's, shared by its jobs */
	volatile sig_atomic_t *cancel;
	const vxfer_ops *ops;
	void *ctx;
	const char *operation;       /* "UploadPart": for the logs */
	int fail_status;             /* libcurl itself failed */
	const char *interrupted;     /* the words and hint of a cancel */
	const char *interrupted_hint;
	uint64_t max_bps;            /* bytes per second, all transfers
				      * together; 0: no cap */
} vxfer_opts;

/* A sender with o->parallel idle slots; NULL with err set when libcurl
 * cannot be set up. */
vxfer *vxfer_new(const vxfer_opts *o, vmie_error *err);
/* Ends every transfer still running (their jobs are abandoned). */
void vxfer_free(vxfer *x);

/* Runs until the engine says every job is done (0), a job fails for good
 * or an engine callback returns a status, or *cancel is set
 * (VMIE_ERR_INTERRUPTED).  Every transfer has ended when it returns. */
int vxfer_run(vxfer *x, vmie_error *err);

/* Wakes the loop from its poll (a job became ready); any thread. */
void vxfer_wake(vxfer *x);

/* For vxfer_ops.start: signs rq, resets sl->easy with the options every
 * transfer shares (TLS verified with the configured CA bundle, HTTP/1.1,
 * timeouts, keep-alive, the signed headers plus `blank` ones curl would
 * add unsigned, the answer's headers into sl->rs).  Then the engine sets
 * its own options and calls vxfer_add. */
int vxfer_prepare(vxfer *x, vxfer_slot *sl, const vaws_rest_request *rq,
		  const char *const *blank, vmie_error *err);
int vxfer_add(vxfer *x, vxfer_slot *sl, const char *what, vmie_error *err);

/* For an engine's own body sink (CURLOPT_WRITEFUNCTION): false when the
 * bandwidth cap holds the transfer now, and the sink must return
 * CURL_WRITEFUNC_PAUSE without taking the bytes (curl hands them again
 * when the cap lets the transfer go on); true when it may take them (they
 * are counted).  curl reads a whole burst in one call; this is where it
 * can be stopped. */
bool vxfer_receive(vxfer_slot *sl, size_t n);

/* Connections opened so far (0 when every transfer reused one). */
unsigned vxfer_connects(const vxfer *x);

/* One slot's state, for an engine that keeps per-slot data: the slots
 * are fixed for the sender's life. */
unsigned vxfer_nslots(const vxfer *x);
vxfer_slot *vxfer_slot_at(vxfer *x, unsigned i);

/* For vxfer_ops.give_up, a transfer that got no answer: err says curl's
 * words and the attempts made, with the TLS hint when the certificate
 * failed and `hint` otherwise.  Returns status. */
int vxfer_no_answer(vmie_error *err, int status, const vhttp_response *rs,
		    int attempts, const char *hint);

/* ExpiredToken and its kin: sign again with fresh credentials. */
bool vxfer_expired_code(const char *code);

long long vxfer_now_ms(void);

#endif
