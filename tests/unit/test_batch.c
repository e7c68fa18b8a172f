/* vmie batch's pure pieces: the manifest parser (CSV per RFC 4180, JSON
 * Lines), what rows mean (options, keys, shards, the VM's command line),
 * the stream of a VM's events and how a run ends, and the lease names. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "workflow/batch.h"
#include "workflow/batch_child.h"
#include "workflow/task_lease.h"

static const char *cell(const vbatch_row *r, const char *k)
{
	return vkv_get(&r->cells, k);
}

static int parse(const char *name, const char *text, vbatch_manifest *m, vmie_error *e)
{
	return vbatch_parse(name, text, strlen(text), m, e);
}

static void test_csv(void)
{
	vbatch_manifest m;
	vmie_error e = {0};
	/* BOM, loosely spelled columns, quotes with commas, doubled quotes and
	 * a line break, CRLF, blank lines and Excel's empty rows, tag cells. */
	const char *csv = "\xef\xbb\xbf" "Name, --Source ,description,tag,tag\r\n"
			  "web01,/img/a.raw,\"one, two\",env=prod;team=a,\r\n"
			  "\r\n"
			  ",,,,\r\n"
			  "web02,/img/b.raw,\"say \"\"hi\"\"\nsecond line\",,x=1\n"
			  "  web03 , /img/c.raw ,  ,,\n";
	CHECK_INT(parse("vms.csv", csv, &m, &e), 0);
	CHECK_INT((long)m.n, 3L);
	CHECK_INT(m.rows[0].line, 2);
	CHECK_STR(cell(&m.rows[0], "name"), "web01");
	CHECK_STR(cell(&m.rows[0], "source"), "/img/a.raw");
	CHECK_STR(cell(&m.rows[0], "description"), "one, two");
	CHECK_INT((long)m.rows[0].cells.n, 5L); /* name source description tag tag */
	CHECK_STR(m.rows[0].cells.items[3].value, "env=prod");
	CHECK_STR(m.rows[0].cells.items[4].value, "team=a");
	CHECK_INT(m.rows[1].line, 5);
	/* A line break is a control character no option takes. */
	CHECK_CONTAINS(m.rows[1].problem, "line 5: a value that is not UTF-8 text, or holds "
		       "a control character");
	CHECK_INT(m.rows[2].line, 7); /* the quoted line break counted */
	CHECK_STR(cell(&m.rows[2], "name"), "web03");
	CHECK_STR(cell(&m.rows[2], "description"), NULL); /* blank: the default */
	CHECK(!m.rows[0].problem && !m.rows[2].problem);
	vbatch_manifest_free(&m);

	/* Quoted values, no final line break, LF only. */
	CHECK_INT(parse("v.csv", "source,description\n\"/a.raw\",\"x\"", &m, &e), 0);
	CHECK_STR(cell(&m.rows[0], "source"), "/a.raw");
	CHECK_STR(cell(&m.rows[0], "description"), "x");
	vbatch_manifest_free(&m);
}

static void test_csv_errors(void)
{
	vbatch_manifest m;
	vmie_error e = {0};
	CHECK(parse("v.csv", "source,bogus\n/a,1\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "line 1, column 2: unknown column 'bogus'");
	CHECK_CONTAINS(e.hint, "s3-key");
	vmie_error_clear(&e);
	CHECK(parse("v.csv", "source,s3-bucket\n/a,b\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "'s3-bucket' cannot vary by row");
	CHECK_CONTAINS(e.hint, "--s3-bucket");
	vmie_error_clear(&e);
	CHECK(parse("v.csv", "source,name,name\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "column 'name' appears twice");
	vmie_error_clear(&e);
	CHECK(parse("v.csv", "name\nx\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "no 'source' column");
	vmie_error_clear(&e);
	CHECK(parse("v.csv", "source\n\"/a\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "line 2: a quoted value never closes");
	vmie_error_clear(&e);
	CHECK(parse("v.csv", "source\n\n", &m, &e) != 0);
	CHECK_CONTAINS(e.message, "no rows");
	vmie_error_clear(&e);
	CHECK(vbatch_parse("v.csv", "source\n/a\0b\n", 12, &m, &e) != 0);
	CHECK_CONTAINS(e.message, "NUL");
	vmie_error_clear(&e);
	/* Row problems: the row is marked, the others parse. */
	CHECK_INT(parse("v.csv", "source,name\n\"/a\"x,n1\n/b,n2,extra\n/c,\xff\n/d,ok\n", &m,
			&e), 0);
	CHECK_INT((long)m.n, 4L);
	CHECK_CONTAINS(m.rows[0].problem, "line 2: text after the closing quote");
	CHECK_CONTAINS(m.rows[1].problem, "line 3: a value in column 3");
	CHECK_CONTAINS(m.rows[2].problem, "line 4: a value that is not UTF-8");
	CHECK(!m.rows[3].problem);
	vbatch_manifest_free(&m);
	/* Bounds: a value too long is refused, not truncated. */
	char *big = malloc(VBATCH_MAX_CELL + 32);
	memcpy(big, "source\n", 7);
	memset(big + 7, 'a', VBATCH_MAX_CELL + 1);
	big[7 + VBATCH_MAX_CELL + 1] = '\0';
	CHECK(parse("v.csv", big, &m, &e) != 0);
	CHECK_CONTAINS(e.message, "longer than");
	vmie_error_clear(&e);
	free(big);
}

static void test_jsonl(void)
{
	vbatch_manifest m;
	vmie_error e = {0};
	const char *jl = "{\"source\": \"/a.raw\", \"name\": \"a\", \"export\": true, "
			 "\"tag\": {\"env\": \"prod\", \"n\": 3}}\n"
			 "\n"
			 "  {\"source\": \"/b.raw\", \"tag\": [\"k=v\", \"x=1;y=2\"]}\r\n"
			 "[1, 2]\n"
			 "{\"source\": \"/c.raw\", \"bogus\": 1}\n"
			 "{\"source\": \"/d.raw\", \"source\": \"/e.raw\"}\n"
			 "{\"source\": \"/f.raw\", \"description\": {\"x\": 1}}\n"
			 "{\"source\": \"/g.raw\", \"region\": \"us-east-1\"}\n";
	CHECK_INT(parse("vms.jsonl", jl, &m, &e), 0);
	CHECK_INT((long)m.n, 7L);
	CHECK_STR(cell(&m.rows[0], "export"), "true");
	CHECK_INT((long)m.rows[0].cells.n, 5L);
	CHECK_STR(m.rows[0].cells.items[3].value, "env=prod");
	CHECK_STR(m.rows[0].cells.items[4].value, "n=3");
	CHECK_INT(m.rows[1].line, 3);
	CHECK_INT((long)m.rows[1].cells.n, 4L); /* source + 3 tags */
	CHECK_CONTAINS(m.rows[2].problem, "line 4: not a JSON object");
	CHECK_CONTAINS(m.rows[3].problem, "line 5: unknown column 'bogus'");
	CHECK_CONTAINS(m.rows[4].problem, "line 6: not a JSON object"); /* duplicate key */
	CHECK_CONTAINS(m.rows[5].problem, "line 7: the value of \"description\"");
	CHECK_CONTAINS(m.rows[6].problem, "'region' cannot vary by row");
	vbatch_manifest_free(&m);
	/* The format follows the content when the name says nothing. */
	CHECK_INT(parse("vms.txt", "\n {\"source\": \"/a\"}\n", &m, &e), 0);
	CHECK_STR(cell(&m.rows[0], "source"), "/a");
	vbatch_manifest_free(&m);
}

static vmie_options defaults(void)
{
	static const char *tags[] = {"team=core", "env=test"};
	vmie_options d = {0};
	d.s3_bucket = "bkt";
	d.aws.region = "us-west-2";
	d.tags = tags;
	d.ntags = 2;
	d.description = "from the command line";
	return d;
}

static void test_rows(void)
{
	vbatch_manifest m;
	vmie_error e = {0};
	vmie_options d = defaults();
	vbatch_plan p = {&d, false, 0, 0};
	const char *csv = "name,source,s3-key,description,force,export,export-format,tag\n"
			  "a,/img/a.raw.gz,,,yes,,,env=prod\n"
			  ",https://h/x/b.vmdk?sig=1,,row b,no,true,VMDK,\n"
			  "c,/img/c.raw,,,maybe,,,\n"
			  "d,/img/d.raw,,,,,RAW,\n"
			  "e,/other/a.raw,,,,,,\n"
			  "f,/img/a.raw.gz,,,,,,\n"
			  "g,/img/a.raw.gz,g.raw,,,,,\n"
			  "h,,,,,,,\n";
	CHECK_INT(parse("v.csv", csv, &m, &e), 0);
	vbatch_rows_prepare(&m, &p);
	vbatch_row *a = &m.rows[0], *b = &m.rows[1];
	CHECK(!a->problem && a->opts.force && !a->is_export);
	CHECK_STR(a->opts.description, "from the command line");
	CHECK_INT((long)a->opts.ntags, 2L); /* env=prod replaces env=test */
	CHECK_STR(a->opts.tags[0], "env=prod");
	CHECK_STR(a->opts.tags[1], "team=core");
	CHECK_INT((long)strlen(a->key), 16L);
	CHECK_STR(b->name, "b.vmdk"); /* the URL's file name, no query */
	CHECK(!b->problem && b->is_export && !b->opts.force);
	CHECK_STR(b->opts.export_format, "VMDK");
	CHECK_STR(b->opts.description, "row b");
	CHECK_INT(vbatch_row_op(b), VMIE_OP_CONVERT);
	CHECK_CONTAINS(m.rows[2].problem, "line 4: force is 'maybe'");
	CHECK_CONTAINS(m.rows[3].problem, "line 5: export-format without export");
	CHECK_CONTAINS(m.rows[4].problem, "uploads to the same s3://bkt/a.raw as line 2");
	CHECK_CONTAINS(m.rows[5].problem, "line 7: the same source and s3-key as line 2");
	CHECK(!m.rows[6].problem); /* its own s3-key */
	CHECK_CONTAINS(m.rows[7].problem, "line 9: no source");

	/* The key: SHA-256 of source, newline, s3-key; hex of 8 bytes. */
	unsigned char md[32];
	unsigned int n;
	char want[17];
	EVP_Digest("/img/a.raw.gz\n", 14, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	CHECK_STR(a->key, want);

	/* The VM's command line: the row over the defaults, then extra. */
	const char *extra[] = {"--json"};
	char **argv = vbatch_row_argv(b, "/bin/vmie", extra, 1);
	vbuf line = VBUF_INIT;
	for (size_t i = 0; argv[i]; i++)
		vbuf_addf(&line, "%s%s", i ? " " : "", argv[i]);
	CHECK_STR(vbuf_str(&line), "/bin/vmie convert --s3-bucket bkt --region us-west-2 "
		  "--source https://h/x/b.vmdk?sig=1 --description row b "
		  "--export-format VMDK --tag team=core --tag env=test --json");
	vbuf_free(&line);
	vbatch_argv_free(argv);
	argv = vbatch_row_argv(a, "/bin/vmie", NULL, 0);
	CHECK_STR(argv[1], "import");
	bool force = false;
	for (size_t i = 0; argv[i]; i++)
		force |= strcmp(argv[i], "--force") == 0;
	CHECK(force);
	vbatch_argv_free(argv);
	vbatch_manifest_free(&m);
}

static void test_shards(void)
{
	vbatch_manifest m;
	vmie_error e = {0};
	vmie_options d = defaults();
	vbuf csv = VBUF_INIT;
	unsigned counts[3] = {0}, shard, shards;

	vbuf_adds(&csv, "source\n");
	for (int i = 0; i < 60; i++)
		vbuf_addf(&csv, "/img/vm%d.raw\n", i);
	for (unsigned s = 0; s < 3; s++) {
		vbatch_plan p = {&d, false, s, 3};
		CHECK_INT(parse("v.csv", vbuf_str(&csv), &m, &e), 0);
		vbatch_rows_prepare(&m, &p);
		for (size_t i = 0; i < m.n; i++)
			counts[s] += m.rows[i].mine;
		vbatch_manifest_free(&m);
	}
	CHECK_INT(counts[0] + counts[1] + counts[2], 60); /* each row in one shard */
	CHECK(counts[0] && counts[1] && counts[2]);
	vbuf_free(&csv);

	unsetenv("JOB_COMPLETION_INDEX");
	unsetenv("AWS_BATCH_JOB_ARRAY_INDEX");
	unsetenv("AWS_BATCH_JOB_ARRAY_SIZE");
	unsetenv("VMIE_SHARDS");
	CHECK_INT(vbatch_shard(NULL, 0, &shard, &shards, &e), 0);
	CHECK_INT(shards, 0);
	CHECK_INT(vbatch_shard("2/5", 0, &shard, &shards, &e), 0);
	CHECK(shard == 2 && shards == 5);
	static const char *const bad[] = {"5/5", "1", "a/3", "1/0", "-1/3", "1/3x", "/3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(vbatch_shard(bad[i], 0, &shard, &shards, &e) != 0);
		vmie_error_clear(&e);
	}
	CHECK(vbatch_shard(NULL, 4, &shard, &shards, &e) != 0);
	CHECK_CONTAINS(e.message, "--shard-count without a shard index");
	vmie_error_clear(&e);
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	CHECK(vbatch_shard(NULL, 0, &shard, &shards, &e) != 0);
	CHECK_CONTAINS(e.hint, "VMIE_SHARDS");
	vmie_error_clear(&e);
	CHECK_INT(vbatch_shard(NULL, 4, &shard, &shards, &e), 0);
	CHECK(shard == 3 && shards == 4);
	setenv("VMIE_SHARDS", "3", 1);
	CHECK(vbatch_shard(NULL, 0, &shard, &shards, &e) != 0); /* 3 of 3 */
	vmie_error_clear(&e);
	unsetenv("JOB_COMPLETION_INDEX");
	unsetenv("VMIE_SHARDS");
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "1", 1);
	setenv("AWS_BATCH_JOB_ARRAY_SIZE", "2", 1);
	CHECK_INT(vbatch_shard(NULL, 0, &shard, &shards, &e), 0);
	CHECK(shard == 1 && shards == 2);
	unsetenv("AWS_BATCH_JOB_ARRAY_INDEX");
	unsetenv("AWS_BATCH_JOB_ARRAY_SIZE");
}

static void test_stream(void)
{
	const char *text = "{\"event\":\"phase_begin\",\"phase\":\"upload\"}\n"
			   "not json at all\n"
			   "{\"event\":\"result\",\"phase\":\"import\",\"ami_id\":\"ami-1\"}\n"
			   "{\n  \"status\": -20052,\n  \"error\": {\"code\": \"ERR_INTERRUPTED\"},\n"
			   "  \"exit_status\": 143,\n  \"result\": {\"ami_id\": \"ami-1\"}\n}\n"
			   "{\"event\":\"progr";
	size_t len = strlen(text), off = 0;
	int objects = 0, skipped = 0;
	for (;;) {
		json_t *v;
		size_t n = vbatch_stream_next(text + off, len - off, false, &v);
		if (!n)
			break;
		off += n;
		objects += v != NULL;
		skipped += v == NULL;
		json_decref(v);
	}
	CHECK_INT(objects, 3);
	CHECK_INT(skipped, 1);
	CHECK_STR(text + off, "\n{\"event\":\"progr"); /* still being written */
	json_t *final = vbatch_events_final(text, len);
	CHECK_INT(json_integer_value(json_object_get(final, "exit_status")), 143);

	/* An import that got its AMI and was then interrupted is done. */
	vbatch_row row;
	memset(&row, 0, sizeof(row));
	vbatch_outcome_settle(&row, final, -1);
	CHECK_INT(row.out.status, VBATCH_SUCCEEDED);
	CHECK_STR(row.out.ami_id, "ami-1");
	vbatch_outcome_free(&row.out);
	/* A convert is not done without its export: interrupted. */
	row.is_export = true;
	vbatch_outcome_settle(&row, final, -1);
	CHECK_INT(row.out.status, VBATCH_INTERRUPTED);
	CHECK_STR(row.out.error_code, "ERR_INTERRUPTED");
	vbatch_outcome_free(&row.out);
	json_decref(final);
	/* No result at all, and a crash. */
	vbatch_outcome_settle(&row, NULL, 134);
	CHECK_INT(row.out.status, VBATCH_FAILED);
	CHECK_CONTAINS(row.out.error, "ended with status 134 and no result");
	vbatch_outcome_free(&row.out);
}

static void test_lease_keys(void)
{
	const char *base = "vmie-leases/tasks/";
	char *k = vwf_lease_slot_key(base, 3, 5712345);
	CHECK_STR(k, "vmie-leases/tasks/slot-03/000005712345");
	char *c = vwf_lease_ceiling_key(base, 1000, 2);
	CHECK_STR(c, "vmie-leases/tasks/ceiling/1000-2");
	vkv keys = VKV_INIT;
	vkv_add(&keys, k, "");
	vkv_add(&keys, "vmie-leases/tasks/slot-01/000005712344", ""); /* expired */
	vkv_add(&keys, "vmie-leases/tasks/slot-04/000005712346", ""); /* next epoch */
	vkv_add(&keys, c, "");
	vkv_add(&keys, "vmie-leases/tasks/ceiling/900-1", "");  /* expired */
	vkv_add(&keys, "vmie-leases/tasks/slot-99x/1", "");     /* not ours */
	vkv_add(&keys, "vmie-leases/tasks/slot-100/000005712345", "");
	vkv_add(&keys, "vmie-leases/tasks/slot-05/", "");
	vkv_add(&keys, "vmie-leases/instances/slot-02/000005712345", "");
	vwf_lease_view v;
	vwf_lease_view_of(&keys, base, 5712345, 999, &v);
	CHECK(v.taken[3] && v.taken[4] && !v.taken[1] && !v.taken[2] && !v.taken[5]);
	CHECK_INT(v.ntaken, 2);
	CHECK_INT(v.ceiling, 2);
	vwf_lease_view_of(&keys, base, 5712345, 1000, &v);
	CHECK_INT(v.ceiling, 0); /* expired at 1000 */
	vkv_free(&keys);
	free(k);
	free(c);
}

int main(void)
{
	test_csv();
	test_csv_errors();
	test_jsonl();
	test_rows();
	test_shards();
	test_stream();
	test_lease_keys();
	return check_done("batch");
}
