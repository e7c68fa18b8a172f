/* Import sources: files (empty, one byte, a few MiB, a block device),
 * the decoding wrapper over gzip/xz/bzip2/zstd (and truncated input), and
 * http(s) against two local stubs: http_stub for canned answers (status,
 * redirects, names, refusals) and http_stub_stream for raw bytes (no
 * Content-Length, bodies cut mid-way and resumed with Range, servers that
 * ignore Range).  Read rates are printed, not asserted. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "check.h"
#include "http_stub.h"
#include "http_stub_stream.h"
#include "transfer/source.h"

static char dir[] = "/tmp/vmie-source-XXXXXX";

static char *path_of(const char *name)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s", dir, name);
	return vbuf_detach(&b);
}

/* Half zeros, half bytes that compress only a little: disk-like. */
static unsigned char *sample(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(i % 8192 < 4096 ? 0 : (x >> 24) & 0x3f);
	}
	return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Everything the source gives; the last read's return is kept in *last
 * (0 at a clean end, -1 on error). */
static void read_all(vsource *s, vbuf *out, size_t chunk, long long *last,
		     vmie_error *err)
{
	unsigned char *buf = malloc(chunk);
	long long n;
	while ((n = vsource_read(s, buf, chunk, err)) > 0)
		vbuf_add(out, buf, (size_t)n);
	*last = n;
	free(buf);
}

static void test_file_sizes(void)
{
	size_t sizes[] = {0, 1, (3u << 20) + 17};
	for (size_t i = 0; i < 3; i++) {
		size_t n = sizes[i];
		unsigned char *plain = sample(n);
		char *p = path_of("sub.disk.img");
		write_file(p, plain, n);
		vsource *s = NULL;
		vbuf out = VBUF_INIT;
		long long last = 1;
		CHECK(vsource_open_file(p, &s, NULL) == 0);
		if (s) {
			CHECK(vsource_size(s) == n);
			CHECK(vsource_raw_size(s) == n);
			CHECK_STR(vsource_name(s), "sub.disk.img");
			CHECK(vsource_compression(s) == VIMG_COMP_NONE);
			read_all(s, &out, 1u << 20, &last, NULL);
			CHECK(last == 0);
			CHECK(out.len == n && (n == 0 || memcmp(out.data, plain, n) == 0));
			CHECK(vsource_raw_offset(s) == n);
			vsource_free(s);
		}
		/* The same through the decoding wrapper: bytes unchanged. */
		vbuf_reset(&out);
		vsource *d = NULL;
		CHECK(vsource_open_file(p, &s, NULL) == 0);
		CHECK(s && vsource_open_decoded(s, 2, &d, NULL) == 0);
		if (d) {
			CHECK(vsource_compression(d) == VIMG_COMP_NONE);
			CHECK(vsource_size(d) == n);
			CHECK_STR(vsource_name(d), "sub.disk.img");
			read_all(d, &out, 100000, &last, NULL);
			CHECK(last == 0);
			CHECK(out.len == n && (n == 0 || memcmp(out.data, plain, n) == 0));
			CHECK(vsource_raw_offset(d) == n);
		}
		vsource_free(d);
		vbuf_free(&out);
		unlink(p);
		free(p);
		free(plain);
	}

	/* Not a file: a directory, a missing path. */
	vmie_error err = {0};
	vsource *s = NULL;
	CHECK(vsource_open_file(dir, &s, &err) == VMIE_ERR_INVALID_SOURCE);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "not a regular file");
	vmie_error_clear(&err);
	CHECK(vsource_open_file("/nonexistent/x.img", &s, &err) == VMIE_ERR_INVALID_SOURCE);
	CHECK_CONTAINS(err.message, "/nonexistent/x.img");
	vmie_error_clear(&err);
}

static void test_file_rate(void)
{
	size_t n = 64u << 20;
	unsigned char *plain = sample(n);
	char *p = path_of("rate.img");
	write_file(p, plain, n);
	free(plain);
	vsource *s = NULL;
	CHECK(vsource_open_file(p, &s, NULL) == 0);
	if (s) {
		unsigned char *buf = malloc(4u << 20);
		uint64_t total = 0;
		long long got;
		double t0 = now();
		while ((got = vsource_read(s, buf, 4u << 20, NULL)) > 0)
			total += (uint64_t)got;
		double dt = now() - t0;
		CHECK(got == 0 && total == n);
		printf("file source: %zu MiB in %.3f s: %.0f MiB/s (page cache)\n",
		       n >> 20, dt, (double)(n >> 20) / (dt > 0 ? dt : 1e-9));
		free(buf);
		vsource_free(s);
	}
	unlink(p);
	free(p);
}

static void test_block_device(void)
{
	static const char *const cand[] = {"/dev/loop0", "/dev/ram0", "/dev/vda",
					   "/dev/sda", "/dev/nvme0n1", "/dev/xvda"};
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		struct stat st;
		if (stat(cand[i], &st) != 0 || !S_ISBLK(st.st_mode))
			continue;
		vsource *s = NULL;
		vmie_error err = {0};
		if (vsource_open_file(cand[i], &s, &err) != 0) {
			vmie_error_clear(&err); /* no permission: try another */
			continue;
		}
		if (vsource_size(s) == 0) { /* a loop device with nothing attached */
			vsource_free(s);
			continue;
		}
		unsigned char buf[65536];
		long long got = vsource_read(s, buf, sizeof(buf), NULL);
		CHECK(got > 0);
		CHECK(vsource_raw_offset(s) == (uint64_t)got);
		const char *base = strrchr(cand[i], '/') + 1;
		CHECK_STR(vsource_name(s), base);
		printf("block device %s: %llu bytes\n", cand[i],
		       (unsigned long long)vsource_size(s));
		vsource_free(s);
		return;
	}
	printf("SKIP block device source: no readable block device with a size\n");
}

typedef struct codec {
	const char *tool;   /* compresses the file named next to stdout */
	const char *suffix;
	vimg_compression kind;
} codec;

static void test_decoded(void)
{
	static const codec codecs[] = {
		{"gzip -1 -c", ".gz", VIMG_COMP_GZIP},
		{"xz -1 -T1 -c", ".xz", VIMG_COMP_XZ},
		/* blocks that the 2-thread decoder can share out */
		{"xz -1 -T2 --block-size=4MiB -c", ".xz", VIMG_COMP_XZ},
		{"bzip2 -1 -c", ".bz2", VIMG_COMP_BZIP2},
		{"zstd -1 -q -c", ".zst", VIMG_COMP_ZSTD},
		{"zstd -3 -q -c", ".zstd", VIMG_COMP_ZSTD},
	};
	size_t n = 24u << 20;
	unsigned char *plain = sample(n);
	char *raw = path_of("disk.raw");
	write_file(raw, plain, n);

	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		const codec *c = &codecs[i];
		vbuf name = VBUF_INIT, cmd = VBUF_INIT, out = VBUF_INIT;
		vbuf_addf(&name, "%s/disk.raw%s", dir, c->suffix);
		vbuf_addf(&cmd, "%s '%s' > '%s'", c->tool, raw, vbuf_str(&name));
		if (system(vbuf_str(&cmd)) != 0) {
			printf("SKIP %s source: `%s` failed (tool missing?)\n",
			       c->suffix, c->tool);
			goto next;
		}
		struct stat st;
		stat(vbuf_str(&name), &st);

		vsource *s = NULL, *d = NULL;
		long long last = 1;
		CHECK(vsource_open_file(vbuf_str(&name), &s, NULL) == 0);
		CHECK(s && vsource_open_decoded(s, 2, &d, NULL) == 0);
		if (!d)
			goto next;
		CHECK(vsource_compression(d) == c->kind);
		CHECK_STR(vsource_name(d), "disk.raw"); /* stored decompressed */
		CHECK(vsource_raw_size(d) == (uint64_t)st.st_size);
		/* A local xz file's index says the decoded size. */
		CHECK(vsource_size(d) == (c->kind == VIMG_COMP_XZ ? n : 0));
		double t0 = now();
		read_all(d, &out, 1u << 20, &last, NULL);
		double dt = now() - t0;
		CHECK(last == 0);
		CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
		CHECK(vsource_raw_offset(d) == (uint64_t)st.st_size);
		printf("decoded %s source: %zu MiB from %lld KiB in %.3f s: %.0f MiB/s\n",
		       c->suffix, n >> 20, (long long)st.st_size >> 10, dt,
		       (double)(n >> 20) / (dt > 0 ? dt : 1e-9));
		vsource_free(d);

		/* Cut short: an error, never a short image. */
		if (truncate(vbuf_str(&name), st.st_size / 2) == 0) {
			vmie_error err = {0};
			vbuf_reset(&out);
			CHECK(vsource_open_file(vbuf_str(&name), &s, NULL) == 0);
			CHECK(s && vsource_open_decoded(s, 1, &d, NULL) == 0);
			if (d) {
				read_all(d, &out, 1u << 20, &last, &err);
				CHECK(last == -1);
				CHECK(out.len < n);
				CHECK(err.status == VMIE_ERR_FILE_DECOMPRESS_FAILED ||
				      err.status == VMIE_ERR_FILE_DECOMPRESS_GZ_FAILED ||
				      err.status == VMIE_ERR_FILE_DECOMPRESS_BZ2_FAILED);
				CHECK(err.message != NULL);
				vmie_error_clear(&err);
				vsource_free(d);
			}
		}
	next:
		unlink(vbuf_str(&name));
		vbuf_free(&name);
		vbuf_free(&cmd);
		vbuf_free(&out);
	}
	unlink(raw);
	free(raw);
	free(plain);
}

static void test_http_canned(void)
{
	http_stub *st = http_stub_start();
	if (!st) {
		printf("SKIP http source tests: cannot start the local stub\n");
		return;
	}
	char body[5000];
	for (size_t i = 0; i < sizeof(body) - 1; i++)
		body[i] = (char)('a' + i % 26);
	body[sizeof(body) - 1] = '\0';
	http_stub_add(st, "GET", "/dir/my%20disk%2Fx.raw", 200, NULL, body);
	http_stub_add(st, "GET", "/moved", 302, "Location: /dir/my%20disk%2Fx.raw\r\n", NULL);
	http_stub_add(st, "GET", "/perm", 301, "Location: /moved\r\n", NULL);
	http_stub_add(st, "GET", "/temp", 307, "Location: /perm\r\n", NULL);
	http_stub_add(st, "GET", "/loop", 302, "Location: /loop\r\n", NULL);
	http_stub_add(st, "GET", "/to-file", 302, "Location: file:///etc/passwd\r\n", NULL);
	http_stub_add(st, "GET", "/to-ftp", 301, "Location: ftp://127.0.0.1/x\r\n", NULL);
	http_stub_add(st, "GET", "/secret", 403, NULL, "no");
	http_stub_add(st, "GET", "/", 200, NULL, "x");
	http_stub_add(st, "GET", "/enc.raw", 200, "Content-Encoding: gzip\r\n", "abc");

	vbuf url = VBUF_INIT, out = VBUF_INIT;
	vsource *s = NULL;
	vmie_error err = {0};
	long long last = 1;

	/* The query (a presigned URL's signature) is not part of the name;
	 * %2F decodes to a '/', which a name cannot hold. */
	vbuf_addf(&url, "%s/dir/my%%20disk%%2Fx.raw?X-Amz-Signature=deadbeef", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == strlen(body));
	CHECK_STR(s ? vsource_name(s) : NULL, "my disk_x.raw");
	if (s)
		read_all(s, &out, 1000, &last, NULL);
	CHECK(last == 0);
	CHECK(out.len == strlen(body) && memcmp(out.data, body, out.len) == 0);
	CHECK(s && vsource_raw_offset(s) == strlen(body));
	vsource_free(s);

	/* 307 -> 301 -> 302 -> the file: followed; the name is the final URL's. */
	const char *starts[] = {"/moved", "/temp"};
	for (int i = 0; i < 2; i++) {
		vbuf_reset(&url);
		vbuf_reset(&out);
		vbuf_addf(&url, "%s%s", http_stub_url(st), starts[i]);
		s = NULL;
		CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
		CHECK_STR(s ? vsource_name(s) : NULL, "my disk_x.raw");
		if (s)
			read_all(s, &out, 4096, &last, NULL);
		CHECK(out.len == strlen(body));
		vsource_free(s);
	}
	CHECK_INT(http_stub_count(st, "GET", "/perm"), 1);

	/* No path: "image". */
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/", http_stub_url(st));
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK_STR(s ? vsource_name(s) : NULL, "image");
	vsource_free(s);

	/* Content-Encoding: the length is the encoding's, the size unknown. */
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/enc.raw", http_stub_url(st));
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == 0 && vsource_raw_size(s) == 3);
	vsource_free(s);

	/* Only http and https, redirects included; at most 10 redirects. */
	const char *refused[] = {"/to-file", "/to-ftp", "/loop"};
	for (int i = 0; i < 3; i++) {
		vbuf_reset(&url);
		vbuf_addf(&url, "%s%s", http_stub_url(st), refused[i]);
		s = NULL;
		CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) ==
		      VMIE_ERR_FILE_DOWNLOAD_FAILED);
		CHECK(s == NULL);
		CHECK_CONTAINS(err.message, "only http and https");
		vmie_error_clear(&err);
	}
	CHECK(http_stub_count(st, "GET", "/loop") <= 11);
	CHECK(vsource_open_http("file:///etc/passwd", NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	vmie_error_clear(&err);

	/* 4xx at open, with the status and a hint; neither the signature in
	 * the query nor the userinfo reaches the message. */
	vbuf_reset(&url);
	vbuf_addf(&url, "http://user:pa55@%s/secret?X-Amz-Signature=deadbeef",
		  http_stub_url(st) + 7);
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK_CONTAINS(err.message, "HTTP 403");
	CHECK_CONTAINS(err.message, "/secret");
	CHECK(err.message && !strstr(err.message, "deadbeef"));
	CHECK(err.message && !strstr(err.message, "pa55"));
	CHECK_CONTAINS(err.hint, "presigned");
	vmie_error_clear(&err);

	vbuf_reset(&url);
	vbuf_addf(&url, "%s/missing.raw", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK_CONTAINS(err.message, "HTTP 404");
	CHECK_CONTAINS(err.message, "/missing.raw");
	vmie_error_clear(&err);

	/* Nothing listening. */
	CHECK(vsource_open_http("http://127.0.0.1:1/x", NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK(err.message != NULL);
	vmie_error_clear(&err);

	vbuf_free(&url);
	vbuf_free(&out);
	http_stub_stop(st);
}

/* Appends an answer: head lines (without the blank line), then body[from, to). */
static void push(http_stream_stub *st, const char *head, const unsigned char *body,
		 size_t from, size_t to)
{
	vbuf b = VBUF_INIT;
	vbuf_adds(&b, head);
	vbuf_adds(&b, "\r\n");
	vbuf_add(&b, body + from, to - from);
	http_stream_stub_push(st, b.data, b.len);
	vbuf_free(&b);
}

/* vsource_seek, for an upload that resumes: a file seeks; an http source
 * asks again with Range and If-Range (its first answer's validator) and
 * refuses another entity; a server without ranges cannot; a compressed
 * stream cannot. */
static void test_seek(void)
{
	size_t n = 3000;
	unsigned char *body = sample(n);
	vmie_error err = {0};
	vbuf out = VBUF_INIT;
	long long last = 1;
	vsource *s = NULL;
	char *path = path_of("seek.raw");
	write_file(path, "0123456789abcdef", 16);
	CHECK_INT(vsource_open_file(path, &s, &err), 0);
	CHECK(s && vsource_seekable(s));
	CHECK(!s || vsource_validator(s) == NULL);
	char buf[8] = {0};
	if (s) {
		CHECK_INT(vsource_seek(s, 10, &err), 0);
		CHECK_INT(vsource_read(s, buf, 6, &err), 6);
		CHECK(memcmp(buf, "abcdef", 6) == 0);
		CHECK_INT(vsource_raw_offset(s), 16);
	}
	vsource_free(s);
	unlink(path);
	free(path);

	http_stream_stub *st = http_stream_stub_start();
	if (!st) {
		printf("SKIP http seek tests: cannot start the local stub\n");
		free(body);
		return;
	}
	vbuf url = VBUF_INIT;
	vbuf_addf(&url, "%s/disk.raw", http_stream_stub_url(st));
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n"
		 "Accept-Ranges: bytes\r\n", body, 0, 3000);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\n"
		 "Content-Range: bytes 2000-2999/3000\r\nETag: \"v1\"\r\n", body, 2000, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_seekable(s));
	CHECK_STR(s ? vsource_validator(s) : NULL, "\"v1\"");
	if (s) {
		CHECK_INT(vsource_seek(s, 2000, &err), 0);
		read_all(s, &out, 65536, &last, &err);
	}
	CHECK(last == 0);
	CHECK(out.len == 1000 && memcmp(out.data, body + 2000, 1000) == 0);
	vsource_free(s);
	char *req = http_stream_stub_request(st, 1);
	CHECK_CONTAINS(req, "Range: bytes=2000-\r\n");
	CHECK_CONTAINS(req, "If-Range: \"v1\"\r\n");
	free(req);

	/* The file changed meanwhile: the server sends all of the new one. */
	http_stream_stub_reset(st);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n"
		 "Accept-Ranges: bytes\r\n", body, 0, 3000);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v2\"\r\n", body, 0, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK_INT(s ? vsource_seek(s, 2000, &err) : 0, VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK_CONTAINS(err.message, "the file changed");
	CHECK_CONTAINS(err.hint, "--restart");
	vmie_error_clear(&err);
	vsource_free(s);

	/* No Accept-Ranges: cannot seek (read from the start instead). */
	http_stream_stub_reset(st);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n", body, 0, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && !vsource_seekable(s));
	CHECK_INT(s ? vsource_seek(s, 2000, &err) : 0, VSOURCE_NO_SEEK);
	vsource_free(s);
	http_stream_stub_stop(st);
	vbuf_free(&url);
	vbuf_free(&out);
	free(body);
}

static void test_http_stream(void)
{
	http_stream_stub *st = http_stream_stub_start();
	if (!st) {
		printf("SKIP http stream tests: cannot start the local stub\n");
		return;
	}
	size_t n = 10u << 20, cut = 6u << 20;
	unsigned char *body = sample(n);
	vbuf url = VBUF_INIT, out = VBUF_INIT, h = VBUF_INIT;
	vsource *s = NULL;
	vmie_error err = {0};
	long long last = 1;
	vbuf_addf(&url, "%s/images/disk.vmdk", http_stream_stub_url(st));

	/* No Content-Length, the server closes: that is the end. */
	push(st, "HTTP/1.1 200 OK\r\nConnection: close\r\n", body, 0, 100000);
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == 0);
	CHECK_STR(s ? vsource_name(s) : NULL, "disk.vmdk");
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == 0);
	CHECK(out.len == 100000 && memcmp(out.data, body, out.len) == 0);
	vsource_free(s);

	/* 10 MiB (more than the ring holds), dropped after 6: resumed with
	 * Range and If-Range, and the bytes are the entity's. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	vbuf_addf(&h, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nETag: \"v1\"\r\n"
		  "Accept-Ranges: bytes\r\n", n);
	push(st, vbuf_str(&h), body, 0, cut);
	vbuf_reset(&h);
	vbuf_addf(&h, "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\n"
		  "Content-Range: bytes %zu-%zu/%zu\r\nETag: \"v1\"\r\n",
		  n - cut, cut, n - 1, n);
	push(st, vbuf_str(&h), body, cut, n);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == n);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == 0);
	CHECK(out.len == n && memcmp(out.data, body, n) == 0);
	CHECK(s && vsource_raw_offset(s) == n);
	vsource_free(s);
	CHECK_INT(http_stream_stub_count(st), 2);
	char *req = http_stream_stub_request(st, 1);
	vbuf_reset(&h);
	vbuf_addf(&h, "Range: bytes=%zu-\r\n", cut);
	CHECK_CONTAINS(req, vbuf_str(&h));
	CHECK_CONTAINS(req, "If-Range: \"v1\"\r\n");
	free(req);
	req = http_stream_stub_request(st, 0);
	CHECK(req && !strstr(req, "Range:"));
	free(req);

	/* A weak ETag cannot guard a range: Last-Modified does. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: W/\"w\"\r\n"
		 "Last-Modified: Tue, 15 Nov 1994 12:45:26 GMT\r\n", body, 0, 1000);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 2000\r\n"
		 "Content-Range: bytes 1000-2999/3000\r\n", body, 1000, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == 0);
	CHECK(out.len == 3000 && memcmp(out.data, body, 3000) == 0);
	vsource_free(s);
	req = http_stream_stub_request(st, 1);
	CHECK_CONTAINS(req, "If-Range: Tue, 15 Nov 1994 12:45:26 GMT\r\n");
	free(req);

	/* The server ignores Range (200 again): a clear failure, and the
	 * bytes given stop where the good ones did (no splice). */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n", body, 0, 1000);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v2\"\r\n", body, 0, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == -1);
	CHECK(out.len == 1000);
	CHECK(err.status == VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK_CONTAINS(err.message, "cannot resume");
	CHECK_CONTAINS(err.message, "HTTP 200");
	vmie_error_clear(&err);
	vsource_free(s);

	/* A 206 from another byte: refused. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n", body, 0, 1000);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 2500\r\n"
		 "Content-Range: bytes 500-2999/3000\r\n", body, 500, 3000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == -1 && out.len == 1000);
	CHECK_CONTAINS(err.message, "another start");
	vmie_error_clear(&err);
	vsource_free(s);

	/* Chunked without a length, cut inside a chunk: a transport error,
	 * resumed because the server honours ranges. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	vbuf_reset(&h);
	vbuf_adds(&h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: \"c\"\r\n\r\n"
		      "7d0\r\n"); /* a 2000-byte chunk, of which 1200 come */
	vbuf_add(&h, body, 1200);
	http_stream_stub_push(st, h.data, h.len);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 800\r\n"
		 "Content-Range: bytes 1200-1999/*\r\n", body, 1200, 2000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == 0);
	CHECK(out.len == 2000 && memcmp(out.data, body, 2000) == 0);
	vmie_error_clear(&err);
	vsource_free(s);

	/* Drops every time: given up after max_resumes. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nETag: \"v1\"\r\n", body, 0, 1000);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 2000\r\n"
		 "Content-Range: bytes 1000-2999/3000\r\n", body, 1000, 1500);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 1500\r\n"
		 "Content-Range: bytes 1500-2999/3000\r\n", body, 1500, 2000);
	vsource_http_opts o = {.max_resumes = 2};
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), &o, &s, &err) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == -1 && out.len == 2000);
	CHECK(memcmp(out.data, body, out.len) == 0);
	CHECK_CONTAINS(err.message, "dropped 3 times");
	CHECK_INT(http_stream_stub_count(st), 3);
	vmie_error_clear(&err);
	vsource_free(s);

	/* Mid-way the file changed size: refused. */
	http_stream_stub_reset(st);
	vbuf_reset(&out);
	push(st, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n", body, 0, 1000);
	push(st, "HTTP/1.1 206 Partial Content\r\nContent-Length: 3000\r\n"
		 "Content-Range: bytes 1000-3999/4000\r\n", body, 1000, 4000);
	s = NULL;
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	if (s)
		read_all(s, &out, 65536, &last, &err);
	CHECK(last == -1);
	CHECK_CONTAINS(err.message, "changed size");
	vmie_error_clear(&err);
	vsource_free(s);

	vbuf_free(&url);
	vbuf_free(&out);
	vbuf_free(&h);
	free(body);
	http_stream_stub_stop(st);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_file_sizes();
	test_file_rate();
	test_block_device();
	test_decoded();
	test_http_canned();
	test_http_stream();
	test_seek();
	rmdir(dir);
	return check_done("source");
}
