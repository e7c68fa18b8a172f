/*
 * The steps a run journal records (journal.h), each written by the step
 * that does the work, before its side effect (the intent: a ClientToken,
 * a name) and after (the outcome: an id):
 *
 *   "upload"   bucket, key, size (announced; 0 unknown), part_size (the
 *              first part's: the rerun cuts the same parts), compression,
 *              source {"validator", "length"} (an http source), started_at;
 *              upload_id once CreateMultipartUpload answers; parts
 *              [[number, size, "CRC32C base64"] or null, ...] (index
 *              number - 1) as S3 takes them (written every quarter second,
 *              and all before CompleteMultipartUpload);
 *              unrecorded when an earlier run died before it knew its
 *              upload's id (the key's uploads since are aborted);
 *              done: format, object_size, etag, checksum (parts dropped).
 *   "import"   token (ImportImage's ClientToken) before the call; task_id
 *              after; done: ami_id, snapshot_ids; failed: message.
 *   "sanboot"  source_ami; launch (the attempt, in the token; kept while
 *              a launch's answer never came), token, subnet before
 *              RunInstances; instance_id after; command_id once SendCommand
 *              answers, installed once it succeeded; image_name before
 *              CreateImage (kept while its answer never came), image_id
 *              after; terminated once the instance is gone; done: ami_id.
 *   "export"   ami_id, prefix (the default one is made of the time: kept),
 *              format, token before ExportImage; task_id after; done: key,
 *              url, size; attempt (> 1: a failed export tried again, with
 *              another token).
 *   "download" path; done once verified (the downloader's own state file
 *              resumes the bytes).
 * Every step has "state": "started", "done" or "failed", and "options"
 * (vwf_journal_step_options).
 */
#ifndef VMIE_WORKFLOW_JOURNAL_STEPS_H
#define VMIE_WORKFLOW_JOURNAL_STEPS_H

#include "aws/client.h"
#include "workflow/journal.h"

#define VWF_STEP_UPLOAD "upload"
#define VWF_STEP_IMPORT "import"
#define VWF_STEP_SANBOOT "sanboot"
#define VWF_STEP_EXPORT "export"
#define VWF_STEP_DOWNLOAD "download"

/* A step's state: "started" (the intent is written), "done", "failed". */
void vwf_step_state(json_t *step, const char *state);
/* A journal document's step (NULL when missing), and whether its state
 * is `state`. */
const json_t *vwf_doc_step(const json_t *doc, const char *name);
bool vwf_step_is(const json_t *step, const char *state);

/* Where a run stopped, in words: "upload: 41 of 64 parts (63 %) in S3",
 * "import task import-ami-... (active when last seen)", ... */
char *vwf_journal_where(const json_t *doc);

/* What an unfinished run keeps in AWS, for the message of a run that
 * stops: "the multipart upload of s3://b/k (41 parts)", "import task
 * import-ami-..., which goes on in AWS"; NULL when nothing. */
char *vwf_journal_kept(const json_t *doc);

/* Cleans up what a run's unfinished steps left in AWS: the multipart
 * upload aborted, an active import or export task cancelled, its
 * temporary instances terminated, an unfinished sanbootable AMI
 * deregistered.  What it made and finished (the object, the AMIs, the
 * export, the download) stays, and is said.  Never fails: what cannot be
 * cleaned is reported with the command that does it. */
void vwf_journal_discard(vaws_client *c, json_t *doc);

#endif
