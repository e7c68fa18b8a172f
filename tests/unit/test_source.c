/* Import sources: a file, a file through the decoder, and http(s) against
 * the local stub (status, redirects, names, refusals).  The dropped-
 * connection resume runs in the integration tests, whose Python server
 * can cut a body mid-way. */
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/buf.h"
#include "check.h"
#include "http_stub.h"
#include "transfer/source.h"

static char dir[] = "/tmp/vmie-source-XXXXXX";

static char *path_of(const char *name)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s", dir, name);
	return vbuf_detach(&b);
}

static unsigned char *sample(size_t n)
{
	unsigned char *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i % 4096 < 2048 ? 0 : i * 7 + i / 333);
	return p;
}

static void read_all(vsource *s, vbuf *out, size_t chunk)
{
	unsigned char *buf = malloc(chunk);
	long long n;
	while ((n = vsource_read(s, buf, chunk, NULL)) > 0)
		vbuf_add(out, buf, (size_t)n);
	CHECK(n == 0);
	free(buf);
}

static void test_file_and_decoded(void)
{
	size_t n = 3u << 20;
	unsigned char *plain = sample(n);
	char *raw = path_of("disk.raw"), *gz = path_of("disk.raw.gz"), *xz = path_of("disk.raw.xz");
	FILE *f = fopen(raw, "wb");
	fwrite(plain, 1, n, f);
	fclose(f);
	gzFile g = gzopen(gz, "wb");
	gzwrite(g, plain, (unsigned)n);
	gzclose(g);
	size_t cap = lzma_stream_buffer_bound(n), xlen = 0;
	unsigned char *x = malloc(cap);
	CHECK(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, plain, n, x, &xlen, cap) == LZMA_OK);
	f = fopen(xz, "wb");
	fwrite(x, 1, xlen, f);
	fclose(f);
	free(x);

	vsource *s = NULL, *d = NULL;
	vbuf out = VBUF_INIT;
	CHECK(vsource_open_file(raw, &s, NULL) == 0);
	CHECK(vsource_size(s) == n);
	CHECK_STR(vsource_name(s), "disk.raw");
	read_all(s, &out, 1u << 20);
	CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
	CHECK(vsource_raw_offset(s) == n);
	vsource_free(s);

	/* An uncompressed file through the decoding wrapper: unchanged. */
	vbuf_reset(&out);
	CHECK(vsource_open_file(raw, &s, NULL) == 0);
	CHECK(vsource_open_decoded(s, 2, &d, NULL) == 0);
	CHECK(vsource_compression(d) == VIMG_COMP_NONE);
	CHECK(vsource_size(d) == n);
	read_all(d, &out, 100000);
	CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
	vsource_free(d);

	const char *comp[] = {gz, xz};
	const vimg_compression kind[] = {VIMG_COMP_GZIP, VIMG_COMP_XZ};
	for (int i = 0; i < 2; i++) {
		vbuf_reset(&out);
		CHECK(vsource_open_file(comp[i], &s, NULL) == 0);
		CHECK(vsource_open_decoded(s, 2, &d, NULL) == 0);
		CHECK(vsource_compression(d) == kind[i]);
		CHECK_STR(vsource_name(d), "disk.raw"); /* stored decompressed */
		CHECK(vsource_raw_size(d) > 0 && vsource_raw_size(d) < n);
		read_all(d, &out, 1u << 20);
		CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
		CHECK(vsource_raw_offset(d) == vsource_raw_size(d));
		vsource_free(d);
	}

	/* A truncated compressed file: an error, not a short image. */
	if (truncate(gz, 5000) == 0) {
		vmie_error err = {0};
		unsigned char buf[65536];
		long long got;
		CHECK(vsource_open_file(gz, &s, NULL) == 0);
		CHECK(vsource_open_decoded(s, 1, &d, NULL) == 0);
		while ((got = vsource_read(d, buf, sizeof(buf), &err)) > 0)
			;
		CHECK(got == -1);
		CHECK(err.message && strstr(err.message, "truncated"));
		vmie_error_clear(&err);
		vsource_free(d);
	}

	vmie_error err = {0};
	CHECK(vsource_open_file(dir, &s, &err) == VMIE_ERR_INVALID_SOURCE);
	vmie_error_clear(&err);
	vbuf_free(&out);
	unlink(raw);
	unlink(gz);
	unlink(xz);
	free(raw);
	free(gz);
	free(xz);
	free(plain);
}

static void test_http(void)
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
	http_stub_add(st, "GET", "/dir/my%20disk.raw", 200, NULL, body);
	http_stub_add(st, "GET", "/moved", 302, "Location: /dir/my%20disk.raw\r\n", NULL);
	http_stub_add(st, "GET", "/to-file", 302, "Location: file:///etc/passwd\r\n", NULL);
	http_stub_add(st, "GET", "/secret", 403, NULL, "no");

	vbuf url = VBUF_INIT, out = VBUF_INIT;
	vsource *s = NULL;
	vmie_error err = {0};

	vbuf_addf(&url, "%s/dir/my%%20disk.raw?X-Amz-Signature=deadbeef", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK(s && vsource_size(s) == strlen(body));
	CHECK_STR(s ? vsource_name(s) : NULL, "my disk.raw");
	if (s)
		read_all(s, &out, 1000);
	CHECK(out.len == strlen(body) && memcmp(out.data, body, out.len) == 0);
	vsource_free(s);

	/* A redirect is followed; the name is the final URL's. */
	vbuf_reset(&url);
	vbuf_reset(&out);
	vbuf_addf(&url, "%s/moved", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) == 0);
	CHECK_STR(s ? vsource_name(s) : NULL, "my disk.raw");
	if (s)
		read_all(s, &out, 4096);
	CHECK(out.len == strlen(body));
	vsource_free(s);

	/* Only http and https, redirects included. */
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/to-file", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK(s == NULL);
	CHECK(err.message && strstr(err.message, "only http and https"));
	vmie_error_clear(&err);

	/* 4xx at open, with the status and a hint; the signature in the
	 * query never reaches the message. */
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/secret?X-Amz-Signature=deadbeef", http_stub_url(st));
	CHECK(vsource_open_http(vbuf_str(&url), NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK(err.message && strstr(err.message, "HTTP 403"));
	CHECK(err.message && !strstr(err.message, "deadbeef"));
	CHECK(err.hint && strstr(err.hint, "presigned"));
	vmie_error_clear(&err);

	/* Nothing listening. */
	CHECK(vsource_open_http("http://127.0.0.1:1/x", NULL, &s, &err) ==
	      VMIE_ERR_FILE_DOWNLOAD_FAILED);
	vmie_error_clear(&err);

	vbuf_free(&url);
	vbuf_free(&out);
	http_stub_stop(st);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_file_and_decoded();
	test_http();
	rmdir(dir);
	return check_done("source");
}
