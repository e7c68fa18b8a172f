/* The S3 multipart upload engine end to end against the local AWS
 * emulator (python3 -m emulator): sizes from 0 bytes to several parts,
 * unknown sizes, the composite checksum, retried and persistent part
 * failures, cancellation, a refused head, a source that shrinks,
 * credentials refreshed per part; answers S3 could give but the emulator
 * does not (a wrong checksum, an error inside a 200) from an HTTP stub;
 * CRC32C vectors, part sizes, signing without sending.  Prints (never
 * asserts) the
 * engine's rate and CPU time; VMIE_UPLOAD_BENCH_MIB=1024 measures a 1 GiB
 * upload to an emulator in sink mode. */
#include "aws/client.h"
#include "aws/client_sign.h"
#include "aws/xml.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "check.h"
#include "http_stub.h"
#include "codec/crc32c.h"
#include "test_env.h"
#include "codec/crc32c.h"
#include "transfer/source.h"
#include "transfer/upload.h"
#include "transfer/upload_internal.h"
#include "vmie.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <zstd.h>

#define AKID "AKIAVMIEEMULATOR0001"
#define SECRET "vmie/emulator/secret/key/not/for/aws/0001"
#define BUCKET "vmie-upload-test"
#define MIB (1u << 20)

static const char *const python = "/usr/bin/python3";

typedef struct emulator {
	pid_t pid;
	char dir[PATH_MAX + 32];
	char url[64];
} emulator;

static emulator emu;
static vhttp *ctl; /* the control API's client */

static void set_env(const emulator *e);

/* ---- the emulator ---- */

static int emu_start(emulator *e, const char *root, bool sink)
{
	snprintf(e->dir, sizeof e->dir, "%s/emu-%s", test_home,
		 sink ? "sink" : "state");
	mkdir(e->dir, 0700);
	char log[PATH_MAX + 48];
	snprintf(log, sizeof log, "%s.log", e->dir);
	e->pid = fork();
	if (e->pid < 0)
		return -1;
	if (e->pid == 0) {
		/* A test that crashes leaves no emulator behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (chdir(root) != 0)
			_exit(126);
		execl(python, python, "-m", "emulator", "--port", "0",
		      "--state-dir", e->dir, sink ? "--s3-sink" : NULL,
		      (char *)NULL);
		_exit(127);
	}
	char portfile[PATH_MAX + 48];
	snprintf(portfile, sizeof portfile, "%s/port", e->dir);
	for (int i = 0; i < 300; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int port = 0;
			int n = fscanf(f, "%d", &port);
			fclose(f);
			if (n == 1 && port > 0) {
				snprintf(e->url, sizeof e->url,
					 "http://127.0.0.1:%d", port);
				return 0;
			}
		}
		if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
			e->pid = 0;
			return -1;
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void emu_stop(emulator *e)
{
	if (e->pid <= 0)
		return;
	kill(e->pid, SIGTERM);
	waitpid(e->pid, NULL, 0);
	e->pid = 0;
}

/* The emulator's CPU seconds so far (user + system, all its threads). */
static double emu_cpu(const emulator *e)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)e->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *p = strrchr(text, ')');
	unsigned long long ut = 0, st = 0;
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long control(const emulator *e, const char *method, const char *path,
		    const char *json, vbuf *out)
{
	char url[256];
	snprintf(url, sizeof url, "%s/_vmie/%s", e->url, path);
	vkv h = VKV_INIT;
	vkv_add(&h, "Content-Type", "application/json");
	vhttp_request rq = {method, url, &h, json, json ? strlen(json) : 0,
			    10000};
	vhttp_response rs = {0};
	vhttp_send(ctl, &rq, &rs);
	long status = rs.status;
	if (out)
		vbuf_add(out, rs.body.data, rs.body.len);
	vhttp_response_free(&rs);
	vkv_free(&h);
	return status;
}

static void fault(const char *json)
{
	CHECK_INT(control(&emu, "POST", "faults", json, NULL), 200);
}

static void clear_faults(void)
{
	control(&emu, "DELETE", "faults", NULL, NULL);
}

/* How many recent requests were of this operation. */
static int count_requests(const char *operation)
{
	vbuf b = VBUF_INIT;
	control(&emu, "GET", "requests", NULL, &b);
	json_error_t je;
	json_t *list = json_loadb(b.data ? b.data : "", b.len, 0, &je);
	int n = 0;
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it)
	{
		const char *op =
			json_string_value(json_object_get(it, "operation"));
		if (op && strcmp(op, operation) == 0)
			n++;
	}
	json_decref(list);
	vbuf_free(&b);
	return n;
}

/* A header of the latest request of this operation, copied. */
static char *last_request_header(const char *operation, const char *name)
{
	vbuf b = VBUF_INIT;
	control(&emu, "GET", "requests", NULL, &b);
	json_error_t je;
	json_t *list = json_loadb(b.data ? b.data : "", b.len, 0, &je);
	char *value = NULL;
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it)
	{
		const char *op =
			json_string_value(json_object_get(it, "operation"));
		if (!op || strcmp(op, operation) != 0)
			continue;
		json_t *h = json_object_get(it, "headers");
		const char *k;
		json_t *v;
		json_object_foreach(h, k, v)
		{
			if (strcasecmp(k, name) == 0) {
				free(value);
				value = xstrdup(json_string_value(v));
			}
		}
	}
	json_decref(list);
	vbuf_free(&b);
	return value;
}

/* ---- files and sources ---- */

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static char *write_file(const char *name, const unsigned char *data,
			size_t n)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", test_home, name);
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(data, 1, n, f) != n)) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return xstrdup(path);
}

/* A zstd frame that does not record its content size: decoded, its
 * size is unknown until the end. */
static char *write_zstd_unknown(const char *name, const unsigned char *data,
				size_t n)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n) + 1024;
	unsigned char *out = xmalloc(cap);
	ZSTD_outBuffer ob = {out, cap, 0};
	ZSTD_inBuffer ib = {data, n, 0};
	size_t left;
	do {
		left = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
	} while (left != 0 && !ZSTD_isError(left));
	ZSTD_freeCCtx(cc);
	char *path = write_file(name, out, ob.pos);
	free(out);
	return path;
}

/* ---- S3 through the client ---- */

static vaws_client *new_client(void)
{
	vaws_client *c = NULL;
	vmie_error err = {0};
	int rc = vaws_client_new(NULL, &c, &err);
	if (rc != 0)
		fprintf(stderr, "client: %s\n", err.message);
	CHECK_INT(rc, 0);
	vmie_error_clear(&err);
	return c;
}

static int s3(vaws_client *c, const char *op, const char *method,
	      const char *key, const vkv *query, const vkv *headers,
	      vhttp_response *rs)
{
	vaws_rest_request rq = {.operation = op, .method = method,
				.bucket = BUCKET, .key = key, .query = query,
				.headers = headers};
	vmie_error err = {0};
	int rc = vaws_rest(c, &rq, rs, &err);
	if (rc != 0 && rs->status != 404)
		fprintf(stderr, "%s: %s\n", op, err.message);
	vmie_error_clear(&err);
	return rc;
}

static int open_uploads(vaws_client *c)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "uploads", "");
	free(q.items[0].value);
	q.items[0].value = NULL;
	vhttp_response rs = {0};
	int n = -1;
	if (s3(c, "ListMultipartUploads", "GET", NULL, &q, NULL, &rs) == 0) {
		vxml *doc = vxml_parse(rs.body.data, rs.body.len);
		n = 0;
		for (vxml_node *u = doc ? vxml_child(vxml_root(doc), "Upload")
					: NULL;
		     u; u = vxml_next(u, "Upload"))
			n++;
		vxml_free(doc);
	}
	vhttp_response_free(&rs);
	vkv_free(&q);
	return n;
}

/* GetObject: the bytes and the composite checksum S3 keeps. */
static int get_object(vaws_client *c, const char *key, vbuf *body,
		      char **checksum)
{
	vkv h = VKV_INIT;
	vkv_add(&h, "x-amz-checksum-mode", "ENABLED");
	vhttp_response rs = {0};
	int rc = s3(c, "GetObject", "GET", key, NULL, &h, &rs);
	if (rc == 0) {
		vbuf_add(body, rs.body.data, rs.body.len);
		*checksum = xstrdup(vkv_get_ci(&rs.headers,
					       "x-amz-checksum-crc32c"));
	}
	vhttp_response_free(&rs);
	vkv_free(&h);
	return rc;
}

/* The composite checksum of data cut into parts of part_size, computed
 * with image/crc32c.c's table (not the engine's CRC). */
static char *expected_composite(const unsigned char *data, size_t n,
				size_t part_size)
{
	uint32_t comp = 0;
	unsigned parts = 0;
	size_t off = 0;
	do {
		size_t len = n - off < part_size ? n - off : part_size;
		unsigned char be[4];
		vcrc32c_be(vcrc32c_portable(0, data + off, len), be);
		comp = vcrc32c_portable(comp, be, 4);
		parts++;
		off += len;
	} while (off < n);
	char b64[9];
	vcrc32c_b64(comp, b64);
	vbuf out = VBUF_INIT;
	vbuf_addf(&out, "%s-%u", b64, parts);
	return vbuf_detach(&out);
}

/* ---- observers ---- */

/* The library's log lines, to read the engine's debug summary. */
static vbuf logged;

static void on_log(void *ctx, vmie_log_level level, const char *msg)
{
	(void)ctx;
	vbuf_addf(&logged, "%s %s\n", vmie_log_level_name(level), msg);
}

/* Connections the latest upload opened, from its summary line; -1 when
 * there is none. */
static int last_connects(void)
{
	const char *p = NULL;
	for (const char *q = vbuf_str(&logged); (q = strstr(q, " parts over "));
	     q++)
		p = q;
	unsigned n;
	return p && sscanf(p, " parts over %u connections", &n) == 1 ? (int)n
								      : -1;
}

typedef struct watch {
	uint64_t bytes;        /* seen by on_bytes */
	uint32_t crc;          /* of what on_bytes saw */
	uint64_t last_done;    /* latest progress */
	uint64_t last_total;
	int progress_calls;
	bool backwards;        /* progress went down */
	int head_calls;
	size_t head_len;
	int refuse;            /* check_head's answer */
	uint64_t cancel_after; /* set *cancel once progress passes it */
	volatile sig_atomic_t cancel;
} watch;

static void on_bytes(void *ctx, const void *data, size_t len)
{
	watch *w = ctx;
	w->bytes += len;
	w->crc = vcrc32c_portable(w->crc, data, len);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	watch *w = ctx;
	if (done < w->last_done)
		w->backwards = true;
	w->last_done = done;
	w->last_total = total;
	w->progress_calls++;
	if (w->cancel_after && done >= w->cancel_after)
		w->cancel = 1;
}

static int on_head(void *ctx, const void *head, size_t len, vmie_error *err)
{
	watch *w = ctx;
	(void)head;
	w->head_calls++;
	w->head_len = len;
	if (w->refuse) {
		verr_set(err, w->refuse, "test: the head is refused");
		return w->refuse;
	}
	return 0;
}

static void opts_init(vupload_opts *o, vaws_client *c, const char *key,
		      watch *w)
{
	memset(o, 0, sizeof(*o));
	memset(w, 0, sizeof(*w));
	o->client = c;
	o->bucket = BUCKET;
	o->key = key;
	o->on_bytes = on_bytes;
	o->bytes_ctx = w;
	o->progress = on_progress;
	o->progress_ctx = w;
	o->check_head = on_head;
	o->check_ctx = w;
	o->cancel = &w->cancel;
}

static int run_upload(const vupload_opts *o, const char *path, bool zstd,
		      vupload_result *res, vmie_error *err)
{
	vsource *raw = NULL, *src = NULL;
	int rc = vsource_open_file(path, &raw, err);
	if (rc == 0 && zstd)
		rc = vsource_open_decoded(raw, 1, &src, err);
	else
		src = raw;
	if (rc == 0)
		rc = vupload_run(o, src, res, err);
	vsource_free(src);
	return rc;
}

/* ---- the tests ---- */

static void test_crc32c(void)
{
	CHECK_INT(vcrc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(vcrc32c(0, "", 0), 0);
	CHECK_INT(vcrc32c(vcrc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	/* iSCSI's test vector: 32 bytes of zeros. */
	unsigned char z[32] = {0};
	CHECK_INT(vcrc32c(0, z, 32), 0x8A9136AAu);
	size_t n = 3 * MIB + 13;
	unsigned char *big = xmalloc(n);
	fill_pattern(big, n, 7);
	bool same = true;
	for (size_t off = 0; off < 9; off++)
		same &= vcrc32c(0, big + off, n - off) ==
			vcrc32c_portable(0, big + off, n - off);
	CHECK(same);
	free(big);
	char b64[9];
	vcrc32c_b64(0xE3069283u, b64);
	CHECK_STR(b64, "4waSgw==");
	vcrc32c_b64(0, b64);
	CHECK_STR(b64, "AAAAAA==");
	printf("crc32c implementation: %s\n", vcrc32c_impl());
}

static void test_part_size(void)
{
	CHECK_INT(vupload_part_size(1, 1), VUPLOAD_MIN_PART);
	CHECK_INT(vupload_part_size(80ull << 30, 1), 9 * MIB);
	CHECK_INT(vupload_part_size(80ull << 30, 9999), 9 * MIB);
	/* 10,000 parts hold every known size up to S3's 5 TiB, in whole
	 * MiB, never below the minimum. */
	static const uint64_t sizes[] = {
		1, 5 * MIB, 80000ull * MIB, 80000ull * MIB + 1, 1ull << 40,
		(2ull << 40) + 12345, 5ull << 40,
	};
	bool ok = true;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t p = vupload_part_size(sizes[i], 1);
		ok &= (uint64_t)p * VUPLOAD_MAX_PARTS >= sizes[i];
		ok &= p % MIB == 0 && p >= VUPLOAD_MIN_PART;
		ok &= p <= (5ull << 30);
	}
	CHECK(ok);
	CHECK_INT(vupload_part_size(80000ull * MIB, 1), VUPLOAD_MIN_PART);
	CHECK_INT(vupload_part_size(80000ull * MIB + 1, 1), 9 * MIB);
	/* Unknown: doubles every 1000 parts; 10,000 parts pass 5 TiB. */
	CHECK_INT(vupload_part_size(0, 1), VUPLOAD_MIN_PART);
	CHECK_INT(vupload_part_size(0, 1000), VUPLOAD_MIN_PART);
	CHECK_INT(vupload_part_size(0, 1001), 2 * VUPLOAD_MIN_PART);
	CHECK_INT(vupload_part_size(0, 10000), (size_t)VUPLOAD_MIN_PART << 9);
	uint64_t total = 0;
	for (unsigned n = 1; n <= VUPLOAD_MAX_PARTS; n++)
		total += vupload_part_size(0, n);
	CHECK(total >= (5ull << 40));
	/* With a part size given: known sizes still fit 10,000 parts. */
	vupload_opts o = {.part_size = 5 * MIB};
	CHECK_INT(vup_part_size(&o, 40 * MIB, 1), 5 * MIB);
	CHECK_INT(vup_part_size(&o, 1ull << 40, 1), 105 * MIB);
	CHECK_INT(vup_part_size(&o, 0, 2001), 20 * MIB);
}

static void test_sign(vaws_client *c)
{
	vkv q = VKV_INIT, h = VKV_INIT;
	vkv_add(&q, "partNumber", "7");
	vkv_add(&q, "uploadId", "abc/def");
	vkv_add(&h, "x-amz-checksum-crc32c", "4waSgw==");
	vaws_rest_request rq = {.operation = "UploadPart", .method = "PUT",
				.bucket = BUCKET, .key = "dir/a b.raw",
				.query = &q, .headers = &h,
				.payload_hash = "UNSIGNED-PAYLOAD"};
	vaws_signed_request sr = {0};
	vmie_error err = {0};
	CHECK_INT(vaws_client_sign_rest(c, &rq, &sr, &err), 0);
	vbuf want = VBUF_INIT;
	vbuf_addf(&want, "%s/" BUCKET "/dir/a%%20b.raw?partNumber=7&uploadId="
			 "abc%%2Fdef", emu.url);
	CHECK_STR(sr.url, vbuf_str(&want));
	CHECK_STR(vkv_get_ci(&sr.headers, "Host"), emu.url + 7);
	CHECK_STR(vkv_get_ci(&sr.headers, "x-amz-content-sha256"),
		  "UNSIGNED-PAYLOAD");
	CHECK_STR(vkv_get_ci(&sr.headers, "x-amz-checksum-crc32c"), "4waSgw==");
	CHECK_CONTAINS(vkv_get_ci(&sr.headers, "Authorization"),
		       "AWS4-HMAC-SHA256 Credential=" AKID "/");
	CHECK_CONTAINS(vkv_get_ci(&sr.headers, "Authorization"),
		       "/us-west-2/s3/aws4_request");
	CHECK(vkv_get_ci(&sr.headers, "X-Amz-Date") != NULL);
	/* Signing twice replaces, never stacks, the old signature. */
	CHECK_INT(vaws_client_sign_rest(c, &rq, &sr, &err), 0);
	int auths = 0;
	for (size_t i = 0; i < sr.headers.n; i++)
		auths += strcasecmp(sr.headers.items[i].key,
				    "Authorization") == 0;
	CHECK_INT(auths, 1);
	vaws_signed_request_free(&sr);
	CHECK(sr.url == NULL && sr.headers.n == 0);
	vbuf_free(&want);
	vkv_free(&q);
	vkv_free(&h);
	vmie_error_clear(&err);
}

static bool create_bucket(vaws_client *c)
{
	const char *body = "<CreateBucketConfiguration><LocationConstraint>"
			   "us-west-2</LocationConstraint>"
			   "</CreateBucketConfiguration>";
	vaws_rest_request rq = {.operation = "CreateBucket", .method = "PUT",
				.bucket = BUCKET, .body = body,
				.body_len = strlen(body)};
	vhttp_response rs = {0};
	vmie_error err = {0};
	int rc = vaws_rest(c, &rq, &rs, &err);
	if (rc != 0)
		fprintf(stderr, "CreateBucket: %s\n", err.message);
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
	return rc == 0;
}

/* Uploads n pattern bytes under key and checks everything about it. */
static void upload_case(vaws_client *c, const char *key, size_t n,
			size_t part_size, unsigned parallel, bool unknown,
			unsigned want_parts)
{
	unsigned char *data = xmalloc(n ? n : 1);
	fill_pattern(data, n, n + 1);
	char name[64];
	snprintf(name, sizeof name, "%s.bin", key);
	char *path = unknown ? write_zstd_unknown(name, data, n)
			     : write_file(name, data, n);
	vupload_opts o;
	watch w;
	opts_init(&o, c, key, &w);
	o.part_size = part_size;
	o.parallel = parallel;
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = run_upload(&o, path, unknown, &res, &err);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", key, err.message);
	CHECK_INT(rc, 0);
	CHECK_INT(res.size, n);
	CHECK_INT(res.parts, want_parts);
	CHECK(res.upload_id && *res.upload_id);
	CHECK(res.etag && strstr(res.etag, "-") != NULL);
	char *want = expected_composite(data, n, part_size ? part_size
							  : VUPLOAD_MIN_PART);
	CHECK_STR(res.checksum_crc32c, want);
	/* Every byte was seen once, in order. */
	CHECK_INT(w.bytes, n);
	CHECK_INT(w.crc, vcrc32c_portable(0, data, n));
	CHECK_INT(w.head_calls, 1);
	size_t first = part_size ? part_size : VUPLOAD_MIN_PART;
	CHECK_INT(w.head_len, n < first ? n : first);
	CHECK(!w.backwards);
	CHECK_INT(w.last_done, n);
	CHECK_INT(w.last_total, unknown ? 0 : n);

	vbuf body = VBUF_INIT;
	char *sum = NULL;
	CHECK_INT(get_object(c, key, &body, &sum), 0);
	CHECK_INT(body.len, n);
	CHECK(body.len == n && (n == 0 || memcmp(body.data, data, n) == 0));
	CHECK_STR(sum, want);
	CHECK_INT(open_uploads(c), 0);

	vbuf_free(&body);
	free(sum);
	free(want);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
	free(data);
}

static void test_uploads(vaws_client *c)
{
	upload_case(c, "empty.raw", 0, 0, 0, false, 1);
	upload_case(c, "one.raw", 1, 0, 0, false, 1);
	upload_case(c, "exact.raw", 10 * MIB, 5 * MIB, 2, false, 2);
	upload_case(c, "forty.raw", 40 * MIB, 5 * MIB, 3, false, 8);
	/* Eight parts, three at a time, over three kept connections. */
	int conns = last_connects();
	CHECK(conns >= 1 && conns <= 3);
	printf("40 MiB in 8 parts, parallel 3: %d connections\n", conns);
	upload_case(c, "unknown.raw", 12 * MIB + 3, 5 * MIB, 2, true, 3);
	upload_case(c, "unknown-exact.raw", 10 * MIB, 5 * MIB, 2, true, 2);
	upload_case(c, "unknown-empty.raw", 0, 0, 0, true, 1);

	/* What went on the wire for a part. */
	char *v = last_request_header("UploadPart", "x-amz-content-sha256");
	CHECK_STR(v, "UNSIGNED-PAYLOAD");
	free(v);
	v = last_request_header("UploadPart", "x-amz-checksum-crc32c");
	CHECK(v && strlen(v) == 8);
	free(v);
	v = last_request_header("UploadPart", "Expect");
	CHECK(v == NULL);
	free(v);
	v = last_request_header("CreateMultipartUpload",
				"x-amz-checksum-algorithm");
	CHECK_STR(v, "CRC32C");
	free(v);
}

static void test_metadata(vaws_client *c)
{
	unsigned char data[100];
	fill_pattern(data, sizeof data, 3);
	char *path = write_file("meta.bin", data, sizeof data);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "meta.raw", &w);
	vkv meta = VKV_INIT;
	vkv_add(&meta, "uploaded-by", "vmie/test");
	o.metadata = &meta;
	o.storage_class = "STANDARD_IA";
	vupload_result res = {0};
	vmie_error err = {0};
	CHECK_INT(run_upload(&o, path, false, &res, &err), 0);
	vhttp_response rs = {0};
	CHECK_INT(s3(c, "HeadObject", "HEAD", "meta.raw", NULL, NULL, &rs), 0);
	CHECK_STR(vkv_get_ci(&rs.headers, "x-amz-meta-uploaded-by"),
		  "vmie/test");
	CHECK_STR(vkv_get_ci(&rs.headers, "x-amz-storage-class"),
		  "STANDARD_IA");
	vhttp_response_free(&rs);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	vkv_free(&meta);
	unlink(path);
	free(path);
}

static char *pattern_file(const char *name, size_t n)
{
	unsigned char *data = xmalloc(n);
	fill_pattern(data, n, 11);
	char *path = write_file(name, data, n);
	free(data);
	return path;
}

static void test_retried_faults(vaws_client *c)
{
	char *path = pattern_file("retry.bin", 20 * MIB);
	vupload_opts o;
	watch w;

	/* Two 500s and a connection reset mid-body: absorbed. */
	opts_init(&o, c, "retry.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 2;
	fault("{\"operation\": \"UploadPart\", \"count\": 2, \"status\": 500,"
	      " \"code\": \"InternalError\"}");
	fault("{\"operation\": \"UploadPart\", \"count\": 1, "
	      "\"reset_after_bytes\": 100000}");
	int before = count_requests("UploadPart");
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = run_upload(&o, path, false, &res, &err);
	if (rc != 0)
		fprintf(stderr, "retry: %s\n", err.message);
	CHECK_INT(rc, 0);
	CHECK_INT(res.parts, 4);
	CHECK_INT(count_requests("UploadPart") - before, 4 + 3);
	CHECK_INT(open_uploads(c), 0);
	vupload_result_free(&res);
	vmie_error_clear(&err);

	/* Expired credentials: the part is signed again and resent. */
	opts_init(&o, c, "retry3.raw", &w);
	o.part_size = 5 * MIB;
	fault("{\"operation\": \"UploadPart\", \"count\": 1, \"status\": 400,"
	      " \"code\": \"ExpiredToken\"}");
	rc = run_upload(&o, path, false, &res, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(res.parts, 4);
	vupload_result_free(&res);
	vmie_error_clear(&err);

	/* A throttled Complete is retried by the request core. */
	opts_init(&o, c, "retry2.raw", &w);
	o.part_size = 5 * MIB;
	fault("{\"operation\": \"CompleteMultipartUpload\", \"count\": 1, "
	      "\"status\": 503, \"code\": \"SlowDown\"}");
	rc = run_upload(&o, path, false, &res, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(res.parts, 4);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	clear_faults();
	unlink(path);
	free(path);
}

static void test_persistent_fault(vaws_client *c)
{
	char *path = pattern_file("fail.bin", 12 * MIB);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "fail.raw", &w);
	o.part_size = 5 * MIB;
	fault("{\"operation\": \"UploadPart\", \"count\": 1000, "
	      "\"status\": 500, \"code\": \"InternalError\"}");
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	CHECK_INT(rc, VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_INT(err.status, VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_STR(err.aws_code, "InternalError");
	CHECK_STR(err.operation, "UploadPart");
	CHECK_CONTAINS(err.message, "attempts");
	CHECK(res.upload_id == NULL);
	CHECK_INT(open_uploads(c), 0);
	vhttp_response rs = {0};
	s3(c, "HeadObject", "HEAD", "fail.raw", NULL, NULL, &rs);
	CHECK_INT(rs.status, 404);
	vhttp_response_free(&rs);
	vupload_result_free(&res);
	vmie_error_clear(&err);

	/* A failing Create: nothing to abort, the error says why. */
	opts_init(&o, c, "fail2.raw", &w);
	fault("{\"operation\": \"CreateMultipartUpload\", \"count\": 1, "
	      "\"status\": 403, \"code\": \"AccessDenied\"}");
	rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	CHECK_INT(rc, VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_STR(err.aws_code, "AccessDenied");
	CHECK_INT(w.bytes, 0);
	vmie_error_clear(&err);

	/* A failing Complete: every part is in S3, so the upload is kept
	 * for the rerun that completes it, never aborted. */
	opts_init(&o, c, "fail3.raw", &w);
	o.part_size = 5 * MIB;
	fault("{\"operation\": \"CompleteMultipartUpload\", \"count\": 1, "
	      "\"status\": 400, \"code\": \"InvalidPart\"}");
	rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	CHECK_INT(rc, VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_STR(err.aws_code, "InvalidPart");
	CHECK(res.kept && res.upload_id);
	CHECK_INT(open_uploads(c), 1);
	CHECK(res.upload_id && vupload_abort(c, BUCKET, "fail3.raw", res.upload_id));
	CHECK_INT(open_uploads(c), 0);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

static void test_cancel(vaws_client *c)
{
	char *path = pattern_file("cancel.bin", 40 * MIB);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "cancel.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 2;
	w.cancel_after = 1;
	/* Slow parts, so the cancel lands mid-upload. */
	fault("{\"operation\": \"UploadPart\", \"count\": 100, "
	      "\"latency_ms\": 200}");
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	CHECK_INT(rc, VMIE_ERR_INTERRUPTED);
	CHECK_INT(err.status, VMIE_ERR_INTERRUPTED);
	CHECK(w.last_done < 40 * MIB);
	CHECK_INT(open_uploads(c), 0);
	vhttp_response rs = {0};
	s3(c, "HeadObject", "HEAD", "cancel.raw", NULL, NULL, &rs);
	CHECK_INT(rs.status, 404);
	vhttp_response_free(&rs);
	vmie_error_clear(&err);

	/* Set before the start: nothing is created. */
	int creates = count_requests("CreateMultipartUpload");
	opts_init(&o, c, "cancel2.raw", &w);
	w.cancel = 1;
	CHECK_INT(run_upload(&o, path, false, &res, &err),
		  VMIE_ERR_INTERRUPTED);
	CHECK_INT(count_requests("CreateMultipartUpload"), creates);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

/* The journal's callbacks, counted. */
typedef struct journaled {
	char upload_id[256];
	unsigned parts;
	uint64_t bytes;
} journaled;

static void on_upload_id(void *ctx, const char *id)
{
	snprintf(((journaled *)ctx)->upload_id, 256, "%s", id);
}

static void on_part_done(void *ctx, unsigned part, uint64_t size, uint32_t crc)
{
	(void)part;
	(void)crc;
	((journaled *)ctx)->parts++;
	((journaled *)ctx)->bytes += size;
}

/* An upload kept after Ctrl-C, then gone on with: from the source's start
 * (the parts S3 holds compared, not sent), from the first missing part
 * (the source seeked), and with a source that changed (refused). */
static void test_resume(vaws_client *c)
{
	char *path = pattern_file("resume.bin", 40 * MIB);
	vupload_opts o;
	watch w;
	journaled j = {{0}, 0, 0};
	vupload_result res = {0};
	vmie_error err = {0};
	opts_init(&o, c, "resume.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 2;
	o.keep_on_failure = true;
	o.on_upload_id = on_upload_id;
	o.on_part = on_part_done;
	o.journal_ctx = &j;
	w.cancel_after = 15 * MIB;
	fault("{\"operation\": \"UploadPart\", \"count\": 100, \"latency_ms\": 150}");
	int rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	CHECK_INT(rc, VMIE_ERR_INTERRUPTED);
	CHECK(res.kept && res.upload_id && strcmp(res.upload_id, j.upload_id) == 0);
	CHECK_INT(open_uploads(c), 1);
	vmie_error_clear(&err);

	vupload_part_info *parts = NULL;
	size_t n = 0;
	CHECK_INT(vupload_list_parts(c, BUCKET, "resume.raw", j.upload_id, &parts, &n, &err), 0);
	CHECK(n >= 2 && n < 8);
	CHECK(n >= j.parts); /* a part in flight at the cancel may land after */
	uint64_t held = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(parts[i].has_crc && parts[i].etag);
		held += parts[i].size;
	}
	vupload_part_infos_free(parts, n);
	CHECK_INT(vupload_list_parts(c, BUCKET, "resume.raw", "no-such-upload", &parts, &n, &err),
		  VUPLOAD_NO_SUCH_UPLOAD);
	/* Listed again: a part in flight at the cancel may have landed since. */
	CHECK_INT(vupload_list_parts(c, BUCKET, "resume.raw", j.upload_id, &parts, &n, &err), 0);
	held = 0;
	for (size_t i = 0; i < n; i++)
		held += parts[i].size;

	/* From the start: every byte read, only what S3 lacks sent. */
	vupload_resume rs = {.upload_id = j.upload_id, .parts = parts, .nparts = n,
			     .first_part = 1, .offset = 0};
	vupload_opts o2;
	watch w2;
	opts_init(&o2, c, "resume.raw", &w2);
	o2.part_size = 5 * MIB;
	o2.resume = &rs;
	vupload_result res2 = {0};
	CHECK_INT(run_upload(&o2, path, false, &res2, &err), 0);
	CHECK_INT(res2.size, 40 * MIB);
	CHECK_INT(res2.sent, 40 * MIB - held);
	CHECK_INT(w2.bytes, 40 * MIB);
	CHECK_INT(w2.head_calls, 1);
	CHECK_INT(open_uploads(c), 0);
	vhttp_response rs_head = {0};
	s3(c, "HeadObject", "HEAD", "resume.raw", NULL, NULL, &rs_head);
	CHECK_INT(rs_head.status, 200);
	vhttp_response_free(&rs_head);
	vupload_part_infos_free(parts, n);
	vupload_result_free(&res);
	vupload_result_free(&res2);

	/* Again, stopped after a part or two: gone on with from the first
	 * missing part, the file seeked there, the head not checked again
	 * (the caller did). */
	opts_init(&o, c, "seek.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 1;
	o.keep_on_failure = true;
	memset(&j, 0, sizeof j);
	o.on_upload_id = on_upload_id;
	o.on_part = on_part_done;
	o.journal_ctx = &j;
	w.cancel_after = 10 * MIB;
	fault("{\"operation\": \"UploadPart\", \"count\": 100, \"latency_ms\": 150}");
	rc = run_upload(&o, path, false, &res, &err);
	clear_faults();
	vmie_error_clear(&err);
	CHECK_INT(vupload_list_parts(c, BUCKET, "seek.raw", j.upload_id, &parts, &n, &err), 0);
	unsigned first = 1;
	while (first <= n && parts[first - 1].number == first)
		first++;
	CHECK(first >= 2);
	rs = (vupload_resume){.upload_id = j.upload_id, .parts = parts, .nparts = n,
			      .first_part = first, .offset = (uint64_t)(first - 1) * 5 * MIB};
	opts_init(&o2, c, "seek.raw", &w2);
	o2.part_size = 5 * MIB;
	o2.resume = &rs;
	vsource *src = NULL;
	CHECK_INT(vsource_open_file(path, &src, &err), 0);
	CHECK(vsource_seekable(src));
	CHECK_INT(vsource_seek(src, rs.offset, &err), 0);
	CHECK_INT(vupload_run(&o2, src, &res2, &err), 0);
	vsource_free(src);
	CHECK_INT(res2.size, 40 * MIB);
	CHECK_INT(w2.bytes, 40 * MIB - rs.offset);
	CHECK_INT(w2.head_calls, 0);
	CHECK_INT(res2.sent, 40 * MIB - 5 * MIB * n);
	/* S3's checksum of the whole is the same as a straight upload's. */
	CHECK(res2.checksum_crc32c && strstr(res2.checksum_crc32c, "-8"));
	vupload_part_infos_free(parts, n);
	vupload_result_free(&res);
	vupload_result_free(&res2);

	/* A source that changed under a kept upload: refused, kept. */
	opts_init(&o, c, "changed.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 1;
	o.keep_on_failure = true;
	memset(&j, 0, sizeof j);
	o.on_upload_id = on_upload_id;
	o.journal_ctx = &j;
	w.cancel_after = 10 * MIB;
	fault("{\"operation\": \"UploadPart\", \"count\": 100, \"latency_ms\": 150}");
	run_upload(&o, path, false, &res, &err);
	clear_faults();
	vmie_error_clear(&err);
	vupload_result_free(&res);
	CHECK_INT(vupload_list_parts(c, BUCKET, "changed.raw", j.upload_id, &parts, &n, &err), 0);
	char *other = pattern_file("changed.bin", 40 * MIB);
	FILE *f = fopen(other, "r+b");
	CHECK(f != NULL);
	if (f) {
		fputc('!', f); /* part 1 differs */
		fclose(f);
	}
	rs = (vupload_resume){.upload_id = j.upload_id, .parts = parts, .nparts = n,
			      .first_part = 1, .offset = 0};
	opts_init(&o2, c, "changed.raw", &w2);
	o2.part_size = 5 * MIB;
	o2.resume = &rs;
	o2.keep_on_failure = true;
	CHECK_INT(run_upload(&o2, other, false, &res2, &err), VMIE_ERR_FILE_PROCESS_FAILED);
	CHECK_CONTAINS(err.message, "the source changed since the upload began");
	CHECK_CONTAINS(err.hint, "--restart");
	CHECK(res2.kept);
	CHECK_INT(open_uploads(c), 1);
	CHECK(vupload_abort(c, BUCKET, "changed.raw", j.upload_id));
	CHECK_INT(open_uploads(c), 0);
	vmie_error_clear(&err);
	vupload_part_infos_free(parts, n);
	vupload_result_free(&res2);
	unlink(other);
	free(other);
	unlink(path);
	free(path);
}

static void test_crc32c_b64(void)
{
	uint32_t crc = 0;
	char b64[9];
	vcrc32c_b64(0xE3069283u, b64);
	CHECK(vcrc32c_from_b64(b64, &crc));
	CHECK_INT(crc, 0xE3069283u);
	for (uint32_t v = 1; v; v <<= 1) {
		vcrc32c_b64(v ^ 0x5a5a5a5au, b64);
		CHECK(vcrc32c_from_b64(b64, &crc) && crc == (v ^ 0x5a5a5a5au));
	}
	CHECK(!vcrc32c_from_b64("AAAA", &crc));
	CHECK(!vcrc32c_from_b64("AAAAA!==", &crc));
	CHECK(!vcrc32c_from_b64("AAAAAB==", &crc)); /* padding bits set */
	CHECK(!vcrc32c_from_b64(NULL, &crc));
}

static void test_head_refused(vaws_client *c)
{
	char *path = pattern_file("refused.bin", 30 * MIB);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "refused.raw", &w);
	o.part_size = 5 * MIB;
	o.parallel = 2;
	w.refuse = VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
	int parts = count_requests("UploadPart");
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = run_upload(&o, path, false, &res, &err);
	CHECK_INT(rc, VMIE_ERR_FILE_UNSUPPORTED_FORMAT);
	CHECK_STR(err.message, "test: the head is refused");
	CHECK_INT(w.head_calls, 1);
	CHECK_INT(w.head_len, 5 * MIB);
	/* Nothing sent, nothing read past the head, nothing left open. */
	CHECK_INT(count_requests("UploadPart"), parts);
	CHECK_INT(w.bytes, 5 * MIB);
	CHECK_INT(open_uploads(c), 0);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

/* Credentials that are always about to expire (credential_process, 2
 * seconds left: renewed at every use) are fetched again for every part,
 * as each part is signed when it starts. */
static void test_refresh(void)
{
	time_t now = time(NULL) + 600;
	char exp[64], body[512];
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%S+00:00", gmtime(&now));
	snprintf(body, sizeof body,
		 "{\"AccessKeyId\": \"ASIAVMIEUPLOADTEST01\", "
		 "\"SecretAccessKey\": \"upload-test-secret\", "
		 "\"SessionToken\": \"upload-test-token\", "
		 "\"Expiration\": \"%s\"}",
		 exp);
	CHECK_INT(control(&emu, "POST", "credentials", body, NULL), 200);
	char counter[PATH_MAX + 32];
	snprintf(counter, sizeof counter, "%s/creds-calls", test_home);
	vbuf script = VBUF_INIT;
	vbuf_addf(&script,
		  "echo x >> '%s'\n"
		  "printf '{\"Version\": 1, \"AccessKeyId\": "
		  "\"ASIAVMIEUPLOADTEST01\", \"SecretAccessKey\": "
		  "\"upload-test-secret\", \"SessionToken\": "
		  "\"upload-test-token\", \"Expiration\": \"%%s\"}' "
		  "\"$(date -u -d '+2 sec' +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
		  counter);
	char *sh = xstrdup(test_write("creds.sh", vbuf_str(&script)));
	vbuf cfg = VBUF_INIT;
	vbuf_addf(&cfg, "[default]\ncredential_process = /bin/sh %s\n", sh);
	char *cfg_path = xstrdup(test_write("creds-config", vbuf_str(&cfg)));
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_CONFIG_FILE", cfg_path, 1);

	vaws_client *c = new_client();
	char *path = pattern_file("refresh.bin", 12 * MIB);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "refresh.raw", &w);
	o.part_size = 5 * MIB;
	vupload_result res = {0};
	vmie_error err = {0};
	int rc = c ? run_upload(&o, path, false, &res, &err) : -1;
	if (rc != 0)
		fprintf(stderr, "refresh: %s\n", err.message);
	CHECK_INT(rc, 0);
	CHECK_INT(res.parts, 3);
	CHECK_STR(vaws_client_creds_source(c), "credential-process");
	/* Create, three parts, Complete: each fetched its own. */
	int calls = 0;
	FILE *f = fopen(counter, "r");
	for (int ch; f && (ch = fgetc(f)) != EOF;)
		calls += ch == '\n';
	if (f)
		fclose(f);
	CHECK(calls >= 5);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	vaws_client_free(c);
	unlink(path);
	free(path);
	free(sh);
	free(cfg_path);
	vbuf_free(&script);
	vbuf_free(&cfg);
	set_env(&emu);
}

/* The file shrinks after the source announced its size: the upload
 * fails and is aborted. */
static void test_short_source(vaws_client *c)
{
	char *path = pattern_file("short.bin", 12 * MIB);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "short.raw", &w);
	o.part_size = 5 * MIB;
	vsource *src = NULL;
	vupload_result res = {0};
	vmie_error err = {0};
	CHECK_INT(vsource_open_file(path, &src, &err), 0);
	CHECK_INT(truncate(path, 7 * MIB), 0);
	int rc = src ? vupload_run(&o, src, &res, &err) : -1;
	CHECK(rc != 0);
	CHECK_INT(err.status, rc);
	CHECK(err.message != NULL);
	printf("short source: %s\n", err.message ? err.message : "-");
	CHECK_INT(open_uploads(c), 0);
	vhttp_response rs = {0};
	s3(c, "HeadObject", "HEAD", "short.raw", NULL, NULL, &rs);
	CHECK_INT(rs.status, 404);
	vhttp_response_free(&rs);
	vsource_free(src);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

static void test_bad_opts(vaws_client *c)
{
	char *path = pattern_file("opts.bin", 10);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "opts.raw", &w);
	o.part_size = 1 * MIB;
	vupload_result res = {0};
	vmie_error err = {0};
	CHECK_INT(run_upload(&o, path, false, &res, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	vmie_error_clear(&err);
	opts_init(&o, c, "", &w);
	CHECK_INT(run_upload(&o, path, false, &res, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

/* This process's user and system CPU seconds. */
static void cpu_seconds(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A file of mib MiB, made without holding it in memory. */
static char *big_file(const char *name, size_t mib)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", test_home, name);
	FILE *f = fopen(path, "wb");
	unsigned char *block = xmalloc(MIB);
	for (size_t i = 0; f && i < mib; i++) {
		fill_pattern(block, MIB, i);
		fwrite(block, 1, MIB, f);
	}
	if (f)
		fclose(f);
	free(block);
	return xstrdup(path);
}

/* Prints, never asserts: rates depend on the machine. */
static void measure(const emulator *e, vaws_client *c, size_t mib,
		    unsigned parallel, const char *label)
{
	char *path = big_file("measure.bin", mib);
	vupload_opts o;
	watch w;
	opts_init(&o, c, "measure.raw", &w);
	o.on_bytes = NULL;
	o.check_head = NULL;
	o.parallel = parallel;
	vupload_result res = {0};
	vmie_error err = {0};
	double u0, s0, u1, s1, wall0 = wall_seconds();
	cpu_seconds(&u0, &s0);
	double emu0 = emu_cpu(e);
	int rc = run_upload(&o, path, false, &res, &err);
	double wall = wall_seconds() - wall0;
	cpu_seconds(&u1, &s1);
	double user = u1 - u0, sys = s1 - s0, cpu = user + sys;
	double emu_used = emu_cpu(e) - emu0;
	if (rc != 0)
		fprintf(stderr, "measure: %s\n", err.message);
	CHECK_INT(rc, 0);
	double gib = (double)mib / 1024.0;
	printf("measure (%s): %zu MiB in %u parts, parallel %u: %.2f s, "
	       "%.0f MiB/s; vmie CPU %.2f s (user %.2f, sys %.2f; %.2f "
	       "s/GiB); emulator CPU %.2f s (%.2f s/GiB)\n",
	       label, mib, res.parts, parallel, wall,
	       wall > 0 ? (double)mib / wall : 0.0, cpu, user, sys, cpu / gib,
	       emu_used, emu_used / gib);
	vupload_result_free(&res);
	vmie_error_clear(&err);
	unlink(path);
	free(path);
}

/* ---- answers no emulator gives: a scripted HTTP stub ---- */

#define STUB_PATH "/stub-bucket/k.raw"
#define STUB_CREATE                                                          \
	"<InitiateMultipartUploadResult><Bucket>stub-bucket</Bucket><Key>"  \
	"k.raw</Key><UploadId>UP1</UploadId></InitiateMultipartUploadResult>"

/* One byte, "A": its part CRC and composite as S3 would give them. */
static void stub_sums(char part[9], char **composite)
{
	vcrc32c_b64(vcrc32c(0, "A", 1), part);
	*composite = expected_composite((const unsigned char *)"A", 1, MIB);
}

static int stub_upload(http_stub *stub, vmie_error *err, vupload_result *res)
{
	char *path = write_file("stub.bin", (const unsigned char *)"A", 1);
	setenv("AWS_ENDPOINT_URL", http_stub_url(stub), 1);
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	vaws_client *c = new_client();
	vupload_opts o;
	watch w;
	opts_init(&o, c, "k.raw", &w);
	o.bucket = "stub-bucket";
	int rc = c ? run_upload(&o, path, false, res, err) : -1;
	vaws_client_free(c);
	unlink(path);
	free(path);
	return rc;
}

static void stub_case(http_stub *stub, const char *part_headers,
		      const char *complete1, const char *complete2)
{
	http_stub_reset(stub);
	http_stub_add(stub, "POST", STUB_PATH, 200, NULL, STUB_CREATE);
	http_stub_add(stub, "PUT", STUB_PATH, 200, part_headers, NULL);
	if (complete1)
		http_stub_add(stub, "POST", STUB_PATH, 200, NULL, complete1);
	if (complete2)
		http_stub_add(stub, "POST", STUB_PATH, 200, NULL, complete2);
	http_stub_add(stub, "DELETE", STUB_PATH, 204, NULL, NULL);
}

static void test_stub(void)
{
	http_stub *stub = http_stub_start();
	CHECK(stub != NULL);
	if (!stub)
		return;
	set_env(NULL);
	char part[9], *comp = NULL;
	stub_sums(part, &comp);
	vbuf ok_hdrs = VBUF_INIT, bad_hdrs = VBUF_INIT, done = VBUF_INIT,
	     wrong = VBUF_INIT;
	vbuf_addf(&ok_hdrs, "ETag: \"e1\"\r\nx-amz-checksum-crc32c: %s\r\n",
		  part);
	vbuf_adds(&bad_hdrs, "ETag: \"e1\"\r\nx-amz-checksum-crc32c: "
			     "AAAAAA==\r\n");
	vbuf_addf(&done, "<CompleteMultipartUploadResult><ETag>\"m-1\"</ETag>"
			 "<ChecksumCRC32C>%s</ChecksumCRC32C>"
			 "</CompleteMultipartUploadResult>",
		  comp);
	vbuf_adds(&wrong, "<CompleteMultipartUploadResult><ETag>\"m-1\"</ETag>"
			  "<ChecksumCRC32C>AAAAAA==-1</ChecksumCRC32C>"
			  "</CompleteMultipartUploadResult>");
	vupload_result res = {0};
	vmie_error err = {0};

	/* S3's checksum differs from ours: an error, and the object goes
	 * (the upload is complete: nothing to abort). */
	stub_case(stub, vbuf_str(&ok_hdrs), vbuf_str(&wrong), NULL);
	CHECK_INT(stub_upload(stub, &err, &res), VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_CONTAINS(err.message, "does not match");
	CHECK_INT(http_stub_count(stub, "DELETE", STUB_PATH), 1);
	vmie_error_clear(&err);

	/* The Complete body it sent: the part's ETag and CRC32C. */
	http_stub_request r;
	bool got = false;
	for (size_t i = 0; http_stub_request_get(stub, i, &r); i++) {
		if (!got && strcmp(r.method, "POST") == 0 &&
		    strstr(r.target, "uploadId=UP1")) {
			got = true;
			CHECK_CONTAINS(r.body, "<Part><ChecksumCRC32C>");
			CHECK_CONTAINS(r.body, part);
			CHECK_CONTAINS(r.body, "<ETag>\"e1\"</ETag><PartNumber>1"
					       "</PartNumber></Part>");
		}
		http_stub_request_free(&r);
	}
	CHECK(got);

	/* A 200 whose body is an error: Complete is tried again. */
	stub_case(stub, vbuf_str(&ok_hdrs),
		  "<Error><Code>InternalError</Code><Message>try again"
		  "</Message></Error>",
		  vbuf_str(&done));
	int rc = stub_upload(stub, &err, &res);
	if (rc != 0)
		fprintf(stderr, "stub: %s\n", err.message);
	CHECK_INT(rc, 0);
	CHECK_STR(res.checksum_crc32c, comp);
	CHECK_STR(res.etag, "\"m-1\"");
	CHECK_INT(http_stub_count(stub, "POST", STUB_PATH), 3);
	CHECK_INT(http_stub_count(stub, "DELETE", STUB_PATH), 0);
	vupload_result_free(&res);

	/* The part's answer names another CRC32C: fails, aborted. */
	stub_case(stub, vbuf_str(&bad_hdrs), vbuf_str(&done), NULL);
	CHECK_INT(stub_upload(stub, &err, &res), VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_CONTAINS(err.message, "arrived with CRC32C AAAAAA==");
	CHECK_INT(http_stub_count(stub, "DELETE", STUB_PATH), 1);
	vmie_error_clear(&err);

	/* No ETag for the part: fails, aborted. */
	stub_case(stub, NULL, vbuf_str(&done), NULL);
	CHECK_INT(stub_upload(stub, &err, &res), VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_CONTAINS(err.message, "no ETag");
	CHECK_INT(http_stub_count(stub, "DELETE", STUB_PATH), 1);
	vmie_error_clear(&err);

	/* No checksum from Complete: accepted (the parts' were checked),
	 * ours reported. */
	stub_case(stub, vbuf_str(&ok_hdrs),
		  "<CompleteMultipartUploadResult><ETag>\"m-1\"</ETag>"
		  "</CompleteMultipartUploadResult>",
		  NULL);
	CHECK_INT(stub_upload(stub, &err, &res), 0);
	CHECK_STR(res.checksum_crc32c, comp);
	vupload_result_free(&res);
	vmie_error_clear(&err);

	/* An unreadable Create: no upload id, nothing to abort. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", STUB_PATH, 200, NULL, "<nope");
	CHECK_INT(stub_upload(stub, &err, &res), VMIE_ERR_AWS_S3_UPLOAD_FAILED);
	CHECK_INT(http_stub_count(stub, "PUT", STUB_PATH), 0);
	CHECK_INT(http_stub_count(stub, "DELETE", STUB_PATH), 0);
	vmie_error_clear(&err);

	http_stub_stop(stub);
	vbuf_free(&ok_hdrs);
	vbuf_free(&bad_hdrs);
	vbuf_free(&done);
	vbuf_free(&wrong);
	free(comp);
}

static void set_env(const emulator *e)
{
	test_env_clear();
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_REGION", "us-west-2", 1);
	if (e)
		setenv("AWS_ENDPOINT_URL", e->url, 1);
	/* Short backoffs for the persistent-failure test. */
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/none-config", test_home);
	setenv("AWS_CONFIG_FILE", p, 1);
	snprintf(p, sizeof p, "%s/none-credentials", test_home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
}

int main(void)
{
	(void)test_unlink;
	test_env_init();
	test_crc32c();
	test_crc32c_b64();
	test_part_size();
	test_stub();

	const char *root = getenv("VMIE_ROOT");
	const char *bench = getenv("VMIE_UPLOAD_BENCH_MIB");
	size_t bench_mib = bench && atoi(bench) > 0 ? (size_t)atoi(bench) : 0;
	if (access(python, X_OK) != 0 || !root) {
		printf("SKIP: %s\n", !root ? "VMIE_ROOT is not set (the "
					     "emulator's source tree)"
					   : "/usr/bin/python3 is missing: "
					     "the emulator cannot run");
		test_env_cleanup();
		return check_done("upload");
	}
	if (emu_start(&emu, root, false) != 0) {
		fprintf(stderr, "the emulator did not start (see %s.log)\n",
			emu.dir);
		CHECK(0);
		emu_stop(&emu);
		return check_done("upload");
	}
	ctl = vhttp_new(NULL);
	vmie_set_log_handler(on_log, NULL);
	set_env(&emu);
	vaws_client *c = new_client();
	if (c && create_bucket(c)) {
		test_sign(c);
		test_uploads(c);
		test_metadata(c);
		test_retried_faults(c);
		test_persistent_fault(c);
		test_cancel(c);
		test_resume(c);
		test_head_refused(c);
		test_short_source(c);
		test_refresh();
		test_bad_opts(c);
		measure(&emu, c, bench_mib ? bench_mib : 256, 4,
			"emulator storing");
	} else {
		CHECK(0);
	}
	vaws_client_free(c);
	emu_stop(&emu);

	if (bench_mib) {
		emulator sink = {0};
		if (emu_start(&sink, root, true) == 0) {
			set_env(&sink);
			c = new_client();
			if (c && create_bucket(c)) {
				measure(&sink, c, bench_mib, 4,
					"emulator in sink mode");
				measure(&sink, c, bench_mib, 8,
					"emulator in sink mode");
			}
			vaws_client_free(c);
		}
		emu_stop(&sink);
	}
	vhttp_free(ctl);
	vmie_set_log_handler(NULL, NULL);
	vbuf_free(&logged);
	test_env_cleanup();
	return check_done("upload");
}
