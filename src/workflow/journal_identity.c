/*
 * What makes two runs the same run (journal.h): the identity a journal
 * is found by, the command that runs it again, the local source as it
 * was, and the options each step started with.
 */
#include "workflow/journal_internal.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

/* A path as it will still mean the same from another directory. */
static char *absolute(const char *path, bool must_exist)
{
	char buf[PATH_MAX];
	if (must_exist && realpath(path, buf))
		return xstrdup(buf);
	if (path[0] == '/' || !getcwd(buf, sizeof buf))
		return xstrdup(path);
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s", buf, path);
	return vbuf_detach(&b);
}

static bool local_kind(vmie_source_kind kind)
{
	return kind == VMIE_SOURCE_FILE || kind == VMIE_SOURCE_JSON;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static json_t *identity(vmie_operation op, const vmie_options *o,
			vmie_source_kind kind, const char *region,
			const char *endpoint, const char *profile)
{
	json_t *id = json_object();
	char *source = o->source && local_kind(kind) ? absolute(o->source, true) : NULL;
	char *download = o->download_path ? absolute(o->download_path, false) : NULL;
	set_str(id, "operation", vmie_operation_name(op));
	set_str(id, "region", region);
	set_str(id, "endpoint", endpoint);
	set_str(id, "profile", profile);
	set_str(id, "bucket", o->s3_bucket);
	set_str(id, "source", source ? source : o->source);
	set_str(id, "s3_key", o->s3_key);
	set_str(id, "ami_id", o->ami_id);
	json_object_set_new(id, "upload_only", json_boolean(o->upload_only));
	json_object_set_new(id, "install_sanbootable", json_boolean(o->install_sanbootable));
	if (op != VMIE_OP_IMPORT) {
		set_str(id, "export_format", o->export_format ? o->export_format : "RAW");
		set_str(id, "s3_export_prefix", o->s3_export_prefix);
		set_str(id, "download", download);
	}
	free(source);
	free(download);
	return id;
}

static char *hash_of(const json_t *id)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *text = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS);
	char *out = xmalloc(VWF_JOURNAL_ID_LEN + 1);
	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < VWF_JOURNAL_ID_LEN / 2; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[VWF_JOURNAL_ID_LEN] = '\0';
	free(text);
	return out;
}

/* ' --name VALUE', the value quoted for a POSIX shell when it needs it. */
static void arg(vbuf *b, const char *name, const char *value)
{
	if (!value)
		return;
	vbuf_addf(b, " --%s ", name);
	if (*value && !value[strcspn(value, " \t\n'\"\\$`!*?[]{}()<>|&;#~")]) {
		vbuf_adds(b, value);
		return;
	}
	vbuf_addch(b, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			vbuf_adds(b, "'\\''");
		else
			vbuf_addch(b, *p);
	}
	vbuf_addch(b, '\'');
}

static void flag(vbuf *b, const char *name, bool on)
{
	if (on)
		vbuf_addf(b, " --%s", name);
}

static const char *num(unsigned v, char *buf)
{
	snprintf(buf, 16, "%u", v);
	return buf;
}

static char *command(vmie_operation op, const vmie_options *o, const json_t *id)
{
	vbuf b = VBUF_INIT;
	char n1[16], n2[16];
	vbuf_addf(&b, "vmie %s", vmie_operation_name(op));
	arg(&b, "region", vwf_js(id, "region"));
	arg(&b, "s3-bucket", o->s3_bucket);
	arg(&b, "source", vwf_js(id, "source"));
	arg(&b, "ami-id", o->ami_id);
	arg(&b, "s3-key", o->s3_key);
	flag(&b, "upload-only", o->upload_only);
	flag(&b, "install-sanbootable", o->install_sanbootable);
	arg(&b, "instance-profile", o->instance_profile);
	arg(&b, "instance-type", o->instance_type);
	arg(&b, "subnet-id", o->subnet_id);
	arg(&b, "storage-class", o->storage_class);
	arg(&b, "description", o->description);
	arg(&b, "license-type", o->license_type);
	arg(&b, "usage-operation", o->usage_operation);
	arg(&b, "architecture", o->architecture);
	arg(&b, "platform", o->platform);
	arg(&b, "boot-mode", o->boot_mode);
	flag(&b, "encrypted", o->encrypted);
	arg(&b, "kms-key-id", o->kms_key_id);
	for (size_t i = 0; i < o->ntags; i++)
		arg(&b, "tag", o->tags[i]);
	arg(&b, "role-name", o->role_name);
	flag(&b, "force", o->force);
	arg(&b, "upload-format", o->upload_format);
	arg(&b, "max-bandwidth", o->max_bandwidth);
	if (o->max_tasks)
		arg(&b, "max-tasks", num(o->max_tasks, n1));
	if (o->max_instances)
		arg(&b, "max-instances", num(o->max_instances, n2));
	arg(&b, "lease-prefix", o->lease_prefix);
	flag(&b, "skip-setup", o->skip_setup);
	arg(&b, "s3-export-prefix", o->s3_export_prefix);
	arg(&b, "export-format", o->export_format);
	arg(&b, "download", vwf_js(id, "download"));
	arg(&b, "download-format", o->download_format);
	flag(&b, "sparse", o->sparse);
	flag(&b, "overwrite", o->overwrite);
	arg(&b, "profile", o->aws.profile);
	arg(&b, "endpoint-url", o->aws.endpoint_url);
	flag(&b, "allow-http", o->aws.allow_http);
	arg(&b, "outage-window", o->aws.outage_window);
	return vbuf_detach(&b);
}

int vwf_journal_identity(vmie_operation op, const vmie_options *o,
			 vmie_source_kind kind, vaws_client *c, char **id_out,
			 json_t **identity_out, char **command_out,
			 vmie_error *err)
{
	const vaws_endpoint *ep = NULL;
	int rc = vaws_client_endpoint(c, "ec2", &ep, err);
	if (rc != 0)
		return rc;
	json_t *id = identity(op, o, kind, vaws_client_region(c), ep->url,
			      vaws_client_config(c)->profile);
	if (id_out)
		*id_out = hash_of(id);
	if (command_out)
		*command_out = command(op, o, id);
	if (identity_out)
		*identity_out = id;
	else
		json_decref(id);
	return 0;
}

json_t *vwf_source_stat(const vmie_options *o, vmie_source_kind kind)
{
	struct stat st;
	if (!o->source || !local_kind(kind) || stat(o->source, &st) != 0)
		return NULL;
	long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	return json_pack("{s:I, s:I, s:I, s:I}", "size", (json_int_t)st.st_size, "mtime_ns",
			 (json_int_t)mtime, "inode", (json_int_t)st.st_ino, "dev",
			 (json_int_t)st.st_dev);
}

/* The options a step sends to AWS, by their command-line names. */
static json_t *step_options(const vmie_options *o, const char *step)
{
	json_t *opts = json_object();
	vbuf tags = VBUF_INIT;
	for (size_t i = 0; i < o->ntags; i++)
		vbuf_addf(&tags, "%s%s", i ? "\n" : "", o->tags[i]);
	const struct {
		const char *step, *name, *value;
	} table[] = {
		{"upload", "storage-class", o->storage_class},
		/* What is sent: the parts of a VMDK made on the fly are not
		 * those of the disk as it is. */
		{"upload", "upload-format", o->upload_format ? o->upload_format : "vmdk"},
		{"import", "description", o->description},
		{"import", "license-type", o->license_type},
		{"import", "usage-operation", o->usage_operation},
		{"import", "architecture", o->architecture},
		{"import", "platform", o->platform},
		{"import", "boot-mode", o->boot_mode},
		{"import", "encrypted", o->encrypted || o->kms_key_id ? "true" : NULL},
		{"import", "kms-key-id", o->kms_key_id},
		{"import", "tag", o->ntags ? vbuf_str(&tags) : NULL},
		{"import", "role-name", o->role_name},
		{"sanboot", "instance-profile", o->instance_profile},
		{"sanboot", "instance-type", o->instance_type},
		{"sanboot", "subnet-id", o->subnet_id},
		{"export", "description", o->description},
		{"export", "tag", o->ntags ? vbuf_str(&tags) : NULL},
		{"export", "role-name", o->role_name},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i].step, step) == 0 && table[i].value)
			json_object_set_new(opts, table[i].name, json_string(table[i].value));
	vbuf_free(&tags);
	return opts;
}

static const char *or_default(const char *v)
{
	return v ? v : "(the default)";
}

int vwf_journal_step_options(vwf_journal *j, const char *step,
			     const vmie_options *o, vmie_error *err)
{
	json_t *st = vwf_journal_step(j, step);
	if (!st)
		return 0;
	json_t *now = step_options(o, step);
	json_t *then = json_object_get(st, "options");
	const char *state = vwf_js(st, "state");
	if (!then || !state) {
		json_object_set_new(st, "options", now);
		return 0;
	}
	if (strcmp(state, "done") == 0 || json_equal(then, now)) {
		json_decref(now);
		return 0;
	}
	/* The first option that differs, either way. */
	const char *key;
	json_t *v;
	const char *name = NULL;
	json_object_foreach(then, key, v) if (!name && !json_equal(v, json_object_get(now, key)))
		name = key;
	json_object_foreach(now, key, v) if (!name && !json_object_get(then, key))
		name = key;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "the %s step of this run was started with --%s %s, not %s", step,
		 name ? name : "?", or_default(vwf_js(then, name)),
		 or_default(vwf_js(now, name)));
	verr_hint(err, "run the command with the options it was started with to go on "
		       "(vmie runs shows it), or add --restart to start over");
	json_decref(now);
	return VMIE_ERR_INVALID_ARGUMENT;
}
