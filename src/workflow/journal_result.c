/*
 * A run's result as its journal keeps it (journal_internal.h): what a
 * rerun of a finished run reports again, what `vmie runs` and a batch
 * scheduler show of an unfinished one.
 */
#include "workflow/journal_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* The string fields, by the names --json uses. */
#define STRING_FIELDS(X)                                                       \
	X(source) X(s3_url) X(format) X(import_task_id) X(ami_id)              \
	X(status_message) X(source_ami_id) X(sanbootable_ami_id) X(instance_id) \
	X(command_id) X(export_task_id) X(export_url) X(download_path)        \
	X(verified_with)
#define NUMBER_FIELDS(X)                                                       \
	X(uploaded_bytes) X(export_size) X(downloaded_bytes) X(zero_skipped)

json_t *vwf_result_json(const vmie_result *res)
{
	json_t *o = json_object();
#define PUT_STR(f)                                                             \
	if (res->f)                                                            \
		json_object_set_new(o, #f, json_string(res->f));
#define PUT_NUM(f)                                                             \
	if (res->f)                                                            \
		json_object_set_new(o, #f, json_integer((json_int_t)res->f));
	STRING_FIELDS(PUT_STR)
	NUMBER_FIELDS(PUT_NUM)
#undef PUT_STR
#undef PUT_NUM
	if (res->download_verified)
		json_object_set_new(o, "download_verified", json_true());
	if (res->nsnapshot_ids) {
		json_t *a = json_array();
		for (size_t i = 0; i < res->nsnapshot_ids; i++)
			json_array_append_new(a, json_string(res->snapshot_ids[i]));
		json_object_set_new(o, "snapshot_ids", a);
	}
	return o;
}

void vwf_result_from_json(const json_t *o, vmie_result *res)
{
	if (!json_is_object(o))
		return;
#define GET_STR(f)                                                             \
	if (!res->f && vwf_js(o, #f))                                          \
		res->f = xstrdup(vwf_js(o, #f));
#define GET_NUM(f)                                                             \
	if (!res->f)                                                           \
		res->f = (uint64_t)vwf_ji(o, #f, 0);
	STRING_FIELDS(GET_STR)
	NUMBER_FIELDS(GET_NUM)
#undef GET_STR
#undef GET_NUM
	if (vwf_jb(o, "download_verified"))
		res->download_verified = true;
	json_t *a = json_object_get(o, "snapshot_ids");
	if (!res->nsnapshot_ids && json_array_size(a)) {
		res->snapshot_ids = xcalloc(json_array_size(a), sizeof(char *));
		for (size_t i = 0; i < json_array_size(a); i++) {
			const char *id = json_string_value(json_array_get(a, i));
			if (id)
				res->snapshot_ids[res->nsnapshot_ids++] = xstrdup(id);
		}
	}
}

void vwf_journal_result_into(vwf_journal *j, vmie_result *res)
{
	if (j && res)
		vwf_result_from_json(json_object_get(vwf_journal_doc(j), "result"), res);
}
