/*
 * The local journal of temporary instances (sanboot_journal.h).
 */
#include "workflow/sanboot_journal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "workflow/state_dir.h"

void vwf_instance_entry_free(vwf_instance_entry *e)
{
	if (!e)
		return;
	free(e->instance_id);
	free(e->hostname);
	free(e->run_id);
	free(e->region);
	free(e->source_ami);
	memset(e, 0, sizeof(*e));
}

/* An instance id names a file: nothing but i-[0-9a-f]. */
static bool safe_id(const char *id)
{
	if (!id || strncmp(id, "i-", 2) != 0 || strlen(id) > 40)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return id[2] != '\0';
}

static char *entry_path(const char *dir, const char *id)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s.json", dir, id);
	return vbuf_detach(&b);
}

void vwf_instance_entry_for_me(vwf_instance_entry *e, const char *instance_id,
			       const char *run_id, const char *region,
			       const char *source_ami)
{
	vwf_owner me;
	vwf_owner_me(&me);
	memset(e, 0, sizeof(*e));
	e->instance_id = xstrdup(instance_id);
	e->hostname = xstrdup(me.host);
	e->run_id = xstrdup(run_id);
	e->region = xstrdup(region);
	e->source_ami = xstrdup(source_ami);
	e->pid = me.pid;
	e->proc_start = me.proc_start;
	e->started = (long long)time(NULL);
}

int vwf_instances_add(const vwf_instance_entry *e, const char **why)
{
	char *dir = vwf_state_dir("instances"), *path = NULL, *text = NULL;
	json_t *o = NULL;
	int rc = -1;

	*why = "no home directory";
	if (!dir || !safe_id(e->instance_id))
		goto out;
	*why = "cannot create the journal directory";
	if (vwf_make_dirs(dir) != 0)
		goto out;
	path = entry_path(dir, e->instance_id);
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s?, s:I}",
		      "instance_id", e->instance_id, "pid", (json_int_t)e->pid,
		      "proc_start", (json_int_t)e->proc_start,
		      "hostname", e->hostname, "run_id", e->run_id,
		      "region", e->region, "source_ami", e->source_ami,
		      "started", (json_int_t)e->started);
	text = o ? json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	*why = "cannot write the journal file";
	if (!text || vwf_write_atomic(path, text, strlen(text)) != 0)
		goto out;
	rc = 0;
	*why = NULL;
out:
	free(text);
	json_decref(o);
	free(path);
	free(dir);
	return rc;
}

void vwf_instances_remove(const char *instance_id)
{
	char *dir = vwf_state_dir("instances");
	if (dir && safe_id(instance_id)) {
		char *path = entry_path(dir, instance_id);
		unlink(path);
		free(path);
	}
	free(dir);
}

static char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

int vwf_instances_read(const char *instance_id, vwf_instance_entry *out)
{
	char *dir = vwf_state_dir("instances"), *path = NULL;
	json_t *o = NULL;
	int rc = 1;

	memset(out, 0, sizeof(*out));
	if (!dir || !safe_id(instance_id))
		goto out;
	path = entry_path(dir, instance_id);
	if (access(path, F_OK) != 0)
		goto out;
	rc = -1;
	o = json_load_file(path, 0, NULL);
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "pid")))
		goto out;
	out->instance_id = xstrdup(instance_id);
	out->hostname = str_of(o, "hostname");
	out->run_id = str_of(o, "run_id");
	out->region = str_of(o, "region");
	out->source_ami = str_of(o, "source_ami");
	out->pid = (long)json_integer_value(json_object_get(o, "pid"));
	json_t *ps = json_object_get(o, "proc_start");
	out->proc_start = json_is_integer(ps) ? json_integer_value(ps) : -1;
	out->started = json_integer_value(json_object_get(o, "started"));
	rc = 0;
out:
	json_decref(o);
	free(path);
	free(dir);
	return rc;
}

char **vwf_instances_list(size_t *n)
{
	return vwf_state_names("instances", ".json", safe_id, n);
}

bool vwf_instance_owner_alive(const vwf_instance_entry *e)
{
	vwf_owner o = {.pid = e->pid, .proc_start = e->proc_start};
	return vwf_owner_alive(&o);
}
