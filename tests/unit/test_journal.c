/* The run journal: identity, the file (atomic, 0600, locked), steps and
 * their options, the result kept, what `vmie runs` reads of it. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "test_env.h"
#include "vmie.h"
#include "base/error.h"
#include "workflow/journal.h"
#include "workflow/journal_internal.h"
#include "workflow/journal_steps.h"

static char image[PATH_MAX + 256];

static vaws_client *client(void)
{
	vaws_client *c = NULL;
	vmie_error err = {0};
	test_env_clear();
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/state", test_home);
	setenv("XDG_STATE_HOME", p, 1);
	setenv("AWS_REGION", "us-west-2", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	snprintf(p, sizeof p, "%s/none", test_home);
	setenv("AWS_CONFIG_FILE", p, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err), 0);
	vmie_error_clear(&err);
	return c;
}

static vmie_options import_opts(void)
{
	vmie_options o = {0};
	o.s3_bucket = "bkt";
	o.source = image;
	return o;
}

static void test_identity(vaws_client *c)
{
	vmie_options o = import_opts();
	char *a = NULL, *b = NULL, *cmd = NULL;
	json_t *id = NULL;
	vmie_error err = {0};
	CHECK_INT(vwf_journal_identity(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, &a, &id, &cmd,
				       &err), 0);
	CHECK(a && strlen(a) == 16);
	CHECK_STR(vwf_js(id, "source"), image);
	CHECK_STR(vwf_js(id, "region"), "us-west-2");
	CHECK_STR(vwf_js(id, "endpoint"), "http://127.0.0.1:9");
	CHECK_CONTAINS(cmd, "vmie import --region us-west-2 --s3-bucket bkt --source ");
	/* The same options: the same id.  What shapes the run: another. */
	CHECK_INT(vwf_journal_identity(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, &b, NULL, NULL,
				       &err), 0);
	CHECK_STR(a, b);
	free(b);
	o.s3_key = "other.raw";
	CHECK_INT(vwf_journal_identity(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, &b, NULL, NULL,
				       &err), 0);
	CHECK(strcmp(a, b) != 0);
	free(b);
	/* A description is not identity: a step's option (checked below). */
	o = import_opts();
	o.description = "x";
	CHECK_INT(vwf_journal_identity(VMIE_OP_CONVERT, &o, VMIE_SOURCE_FILE, c, &b, NULL, NULL,
				       &err), 0);
	CHECK(strcmp(a, b) != 0); /* convert is another operation */
	free(b);
	/* Values the shell would split are quoted in the command. */
	o = import_opts();
	const char *tags[] = {"Name=it's mine"};
	o.tags = tags;
	o.ntags = 1;
	free(cmd);
	CHECK_INT(vwf_journal_identity(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, NULL, NULL, &cmd,
				       &err), 0);
	CHECK_CONTAINS(cmd, "--tag 'Name=it'\\''s mine'");
	free(cmd);
	free(a);
	json_decref(id);
}

static char *journal_path(const char *id)
{
	static char p[PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/state/vmie/runs/%s.json", test_home, id);
	return p;
}

static void test_file_and_steps(vaws_client *c)
{
	vmie_options o = import_opts();
	vwf_journal *j = NULL;
	bool found = true;
	vmie_error err = {0};
	CHECK_INT(vwf_journal_open(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, "run-one", &j, &found,
				   &err), 0);
	CHECK(j && !found);
	if (!j)
		return;
	char id[32];
	snprintf(id, sizeof id, "%s", vwf_journal_id(j));
	CHECK_STR(vwf_journal_run_id(j), "run-one");
	CHECK_STR(vwf_journal_state(j), "running");

	/* A second process on the same run is refused (the lock). */
	vwf_journal *k = NULL;
	CHECK_INT(vwf_journal_open(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, "run-two", &k, &found,
				   &err), VMIE_ERR_GENERAL_OPERATION_FAILED);
	CHECK_CONTAINS(err.message, "already running in another vmie process");
	vmie_error_clear(&err);

	json_t *up = vwf_journal_step(j, VWF_STEP_UPLOAD);
	vwf_step_state(up, "started");
	vwf_jset(up, "bucket", "bkt");
	vwf_jset(up, "key", "disk.raw");
	vwf_jseti(up, "size", 64 << 20);
	vwf_jseti(up, "part_size", 8 << 20);
	json_object_set_new(up, "parts", json_pack("[[i, i, s], n, [i, i, s]]", 1, 8 << 20,
						   "AAAAAA==", 3, 8 << 20, "AAAAAA=="));
	vwf_jset(up, "upload_id", "U1");
	vwf_journal_save(j);
	struct stat st;
	CHECK_INT(stat(journal_path(id), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	char *where = vwf_journal_where(vwf_journal_doc(j));
	CHECK_STR(where, "upload: 2 of 8 parts (25 %) in S3");
	free(where);
	char *kept = vwf_journal_kept(vwf_journal_doc(j));
	CHECK_STR(kept, "the multipart upload of s3://bkt/disk.raw (2 of 8 parts (25 %) in S3)");
	free(kept);

	/* The options a started step used cannot change under it. */
	o.description = "first";
	CHECK_INT(vwf_journal_step_options(j, VWF_STEP_IMPORT, &o, &err), 0);
	vwf_step_state(vwf_journal_step(j, VWF_STEP_IMPORT), "started");
	CHECK_INT(vwf_journal_step_options(j, VWF_STEP_IMPORT, &o, &err), 0);
	o.description = "second";
	CHECK_INT(vwf_journal_step_options(j, VWF_STEP_IMPORT, &o, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "started with --description first, not second");
	vmie_error_clear(&err);
	o.description = NULL;
	CHECK_INT(vwf_journal_step_options(j, VWF_STEP_IMPORT, &o, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "not (the default)");
	vmie_error_clear(&err);

	/* Closed interrupted: what `vmie runs` reads. */
	vmie_result res = {0};
	res.s3_url = strdup("s3://bkt/disk.raw");
	res.uploaded_bytes = 5;
	verr_set(&err, VMIE_ERR_INTERRUPTED, "the upload was interrupted");
	vwf_journal_close(j, VMIE_ERR_INTERRUPTED, &err, &res);
	vmie_error_clear(&err);
	vmie_result_free(&res);
	vmie_run_info *rec = calloc(1, sizeof(*rec));
	CHECK_INT(vwf_journal_peek(id, rec), 0);
	CHECK_STR(rec->state, "interrupted");
	CHECK_STR(rec->operation, "import");
	CHECK_STR(rec->run_id, "run-one");
	CHECK_STR(rec->error, "the upload was interrupted");
	CHECK_STR(rec->result.s3_url, "s3://bkt/disk.raw");
	CHECK_STR(rec->where, "starting the import task"); /* the latest step */
	CHECK(!rec->running);
	vmie_run_infos_free(rec, 1);
	vmie_run_info *runs = NULL;
	size_t n = 0;
	CHECK_INT(vmie_runs_list(false, &runs, &n, &err), 0);
	CHECK_INT(n, 1);
	vmie_run_infos_free(runs, n);

	/* Opened again: found, with the run id (hence the tokens) it had. */
	CHECK_INT(vwf_journal_open(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, "run-three", &j,
				   &found, &err), 0);
	CHECK(found);
	CHECK_STR(vwf_journal_run_id(j), "run-one");
	CHECK(!vwf_journal_source_changed(j));
	vmie_result back = {0};
	vwf_journal_result_into(j, &back);
	CHECK_STR(back.s3_url, "s3://bkt/disk.raw");
	CHECK_INT(back.uploaded_bytes, 5);
	vmie_result_free(&back);
	vwf_journal_release(j);

	/* The image changed: the journal says so. */
	int fd = open(image, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	CHECK_INT(vwf_journal_open(VMIE_OP_IMPORT, &o, VMIE_SOURCE_FILE, c, "run-four", &j,
				   &found, &err), 0);
	CHECK(found && vwf_journal_source_changed(j));
	/* Reset: a new run over the same identity. */
	vwf_journal_reset(j, "run-four");
	CHECK(!vwf_journal_source_changed(j));
	CHECK(!vwf_journal_step_if(j, VWF_STEP_UPLOAD));
	/* A run that failed before any step leaves no journal. */
	vwf_journal_close(j, VMIE_ERR_AWS_REQUEST_FAILED, NULL, NULL);
	CHECK(access(journal_path(id), F_OK) != 0);
	vmie_run_info none;
	CHECK_INT(vwf_journal_peek(id, &none), 1);
}

/* What the journal keeps of a result comes back the same. */
static void test_result_json(void)
{
	vmie_result r = {0}, back = {0};
	r.ami_id = strdup("ami-1");
	r.export_size = 42;
	r.download_verified = true;
	r.snapshot_ids = calloc(2, sizeof(char *));
	r.snapshot_ids[0] = strdup("snap-1");
	r.snapshot_ids[1] = strdup("snap-2");
	r.nsnapshot_ids = 2;
	json_t *o = vwf_result_json(&r);
	vwf_result_from_json(o, &back);
	CHECK_STR(back.ami_id, "ami-1");
	CHECK_INT(back.export_size, 42);
	CHECK(back.download_verified);
	CHECK_INT(back.nsnapshot_ids, 2);
	CHECK_STR(back.nsnapshot_ids == 2 ? back.snapshot_ids[1] : NULL, "snap-2");
	CHECK(back.s3_url == NULL);
	json_decref(o);
	vmie_result_free(&r);
	vmie_result_free(&back);
}

int main(void)
{
	(void)test_unlink; /* a shared helper this file does not need */
	test_env_init();
	snprintf(image, sizeof image, "%s", test_write("disk.raw", "not really an image"));
	vaws_client *c = client();
	if (c) {
		test_identity(c);
		test_file_and_steps(c);
	}
	test_result_json();
	vaws_client_free(c);
	test_env_cleanup();
	return check_done("journal");
}
