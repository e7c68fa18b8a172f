/*
 * Shared by the journal's files (journal*.c) only.
 */
#ifndef VMIE_WORKFLOW_JOURNAL_INTERNAL_H
#define VMIE_WORKFLOW_JOURNAL_INTERNAL_H

#include "workflow/journal.h"

#define VWF_JOURNAL_ID_LEN 16

/* runs/<id><suffix> (".json", ".lock"); NULL without a home. */
char *vwf_journal_path(const char *id, const char *suffix);
bool vwf_journal_safe_id(const char *id);
/* A journal file of this version, or NULL. */
json_t *vwf_journal_load(const char *path);

/* A local source's {"size", "mtime_ns", "inode", "dev"}; NULL for other
 * kinds (or a file that cannot be found). */
json_t *vwf_source_stat(const vmie_options *o, vmie_source_kind kind);

/* journal_result.c: a vmie_result as the journal keeps it, and back. */
json_t *vwf_result_json(const vmie_result *res);
void vwf_result_from_json(const json_t *o, vmie_result *res);

#endif
