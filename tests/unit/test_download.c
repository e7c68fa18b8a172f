/*
 * The downloader's pure pieces: zero detection and the
 * sparse writes, ETag classification, the multipart ETag, chunk planning,
 * and the state file (round trip, and refusal of a mismatched or corrupt
 * one).  The transfers themselves are tested against the emulator
 * (tests/integration/test_download.py).
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_test_util.h"
#include "check.h"
#include "codec/crc32c.h"
#include "transfer/download_internal.h"

static void test_zero_detection(void)
{
	unsigned char z[8192] = {0};
	CHECK(vdl_is_zero(z, sizeof z));
	CHECK(vdl_is_zero(z, 0));
	CHECK(vdl_is_zero(z, 1));
	z[8191] = 1;
	CHECK(!vdl_is_zero(z, sizeof z));
	CHECK(vdl_is_zero(z, 8191));
	z[8191] = 0;
	z[0] = 1;
	CHECK(!vdl_is_zero(z, sizeof z));
}

/* Zero blocks become holes; data lands at its offset. */
static void test_sparse_write(void)
{
	char path[] = "/tmp/vmie-test-dl-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	size_t len = 4 * VDL_ZERO_BLOCK * 64;
	unsigned char *buf = calloc(1, len);
	memset(buf + 10, 0xAB, 100);                       /* block 0 */
	memset(buf + len - VDL_ZERO_BLOCK, 0xCD, VDL_ZERO_BLOCK); /* last */
	vdl_target t = {.fd = fd};
	CHECK(ftruncate(fd, (off_t)(len + 4096)) == 0);
	uint64_t skipped = 0;
	CHECK_INT(vdl_target_write(&t, buf, len, 4096, true, &skipped), 0);
	CHECK_INT(skipped, len - 2 * VDL_ZERO_BLOCK);
	unsigned char *back = malloc(len);
	CHECK_INT(pread(fd, back, len, 4096), (long long)len);
	CHECK(memcmp(back, buf, len) == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	CHECK((uint64_t)st.st_blocks * 512 < len / 2);
	/* Unaligned offset, no skipping: everything is written. */
	skipped = 0;
	CHECK_INT(vdl_target_write(&t, buf, 5000, 100, false, &skipped), 0);
	CHECK_INT(skipped, 0);
	close(fd);
	unlink(path);
	free(buf);
	free(back);
}

static void test_etag_kinds(void)
{
	bool md5;
	CHECK_INT(vdl_etag_parts("\"d41d8cd98f00b204e9800998ecf8427e\"", &md5), 0);
	CHECK(md5);
	CHECK_INT(vdl_etag_parts("\"6947ad72aad26d4f75d9d7d69862de7b-3\"", &md5), 3);
	CHECK(md5);
	CHECK_INT(vdl_etag_parts("6947ad72aad26d4f75d9d7d69862de7b-10000", &md5),
		  10000);
	CHECK_INT(vdl_etag_parts("\"6947ad72aad26d4f75d9d7d69862de7b-0\"", &md5), 0);
	CHECK(!md5);
	CHECK_INT(vdl_etag_parts("\"6947ad72aad26d4f75d9d7d69862de7b-\"", &md5), 0);
	CHECK(!md5);
	CHECK_INT(vdl_etag_parts("\"not-an-md5\"", &md5), 0);
	CHECK(!md5);
	CHECK_INT(vdl_etag_parts("\"d41d8cd98f00b204e9800998ecf8427\"", &md5), 0);
	CHECK(!md5);
	CHECK_INT(vdl_etag_parts(NULL, &md5), 0);
	CHECK(!md5);
}

static void test_md5_of_md5s(void)
{
	unsigned char d[32];
	unsigned n;
	EVP_Digest("part one", 8, d, &n, EVP_md5(), NULL);
	EVP_Digest("part two", 8, d + 16, &n, EVP_md5(), NULL);
	char out[48];
	vdl_md5_of_md5s(d, 2, out);
	CHECK_STR(out, "0732917abc3288784e318ac0aab1757a-2");
}

static void test_plan(void)
{
	vdl_plan p;
	vdl_plan_make(&p, 10, NULL, 0, 4);
	CHECK_INT(p.n, 3);
	CHECK_INT(p.chunks[2].off, 8);
	CHECK_INT(p.chunks[2].len, 2);
	CHECK(!p.chunks[0].whole_part);
	vdl_plan_free(&p);

	vdl_plan_make(&p, 0, NULL, 0, 4);
	CHECK_INT(p.n, 0);
	vdl_plan_free(&p);

	/* Parts 0-7, 7-14, 14-17: chunks never straddle a part. */
	uint64_t parts[] = {0, 7, 14, 17};
	vdl_plan_make(&p, 17, parts, 3, 5);
	CHECK_INT(p.n, 5);
	CHECK_INT(p.chunks[0].len, 5);
	CHECK_INT(p.chunks[1].off, 5);
	CHECK_INT(p.chunks[1].len, 2);
	CHECK_INT(p.chunks[2].off, 7);
	CHECK_INT(p.chunks[2].part, 2);
	CHECK_INT(p.chunks[4].off, 14);
	CHECK_INT(p.chunks[4].len, 3);
	CHECK(p.chunks[4].whole_part);
	CHECK(!p.chunks[0].whole_part);
	vdl_plan_free(&p);

	/* Default sizes: 16 MiB; a multipart ETag's part size. */
	vdownload_opts o = {0};
	uint64_t mp[] = {0, 8 << 20, 9 << 20};
	vdl_object ob = {.size = 9 << 20, .verify = VDL_VERIFY_MD5_MULTIPART,
			 .parts = 2, .part_off = mp};
	CHECK_INT(vdl_chunk_size(&o, &ob), 8 << 20);
	ob.verify = VDL_VERIFY_CRC_COMPOSITE;
	CHECK_INT(vdl_chunk_size(&o, &ob), VDL_DEFAULT_CHUNK);
	o.chunk_size = 1 << 20;
	CHECK_INT(vdl_chunk_size(&o, &ob), 1 << 20);
	/* A huge object gets larger chunks, never more than the cap. */
	vdl_object big = {.size = 4ull << 40};
	o.chunk_size = 0;
	CHECK(vdl_chunk_size(&o, &big) >= (32u << 20));
}

static void test_state(void)
{
	char dir[] = "/tmp/vmie-test-dl-state-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/sub/t.vmie-download", dir);
	vdl_plan p;
	vdl_plan_make(&p, 100, NULL, 0, 10);
	p.chunks[3].done = true;
	p.chunks[3].crc = 0xDEADBEEF;
	p.chunks[7].done = true;
	p.chunks[7].crc = 5;
	p.chunks[7].has_md5 = true;
	for (int i = 0; i < 16; i++)
		p.chunks[7].md5[i] = (unsigned char)(i * 17);
	vdl_state_id id = {.bucket = "b", .key = "k/ü x", .etag = "\"e-2\"",
			   .size = 100, .chunk_size = 10, .nchunks = 10,
			   .dev = 1, .ino = 2};
	vmie_error err = {0};
	CHECK_INT(vdl_state_save(path, &id, &p, &err), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	vdl_plan q;
	char *why = NULL;
	vdl_plan_make(&q, 100, NULL, 0, 10);
	CHECK(vdl_state_load(path, &id, &q, &why));
	CHECK(why == NULL);
	CHECK(q.chunks[3].done && q.chunks[3].crc == 0xDEADBEEF);
	CHECK(!q.chunks[3].has_md5);
	CHECK(q.chunks[7].done && q.chunks[7].has_md5);
	CHECK(memcmp(q.chunks[7].md5, p.chunks[7].md5, 16) == 0);
	CHECK(!q.chunks[0].done);
	vdl_plan_free(&q);

	/* Another ETag, another target, other chunks: not used. */
	vdl_state_id other = id;
	other.etag = "\"f-2\"";
	vdl_plan_make(&q, 100, NULL, 0, 10);
	CHECK(!vdl_state_load(path, &other, &q, &why));
	CHECK_CONTAINS(why, "changed");
	CHECK(!q.chunks[3].done);
	free(why);
	other = id;
	other.ino = 3;
	CHECK(!vdl_state_load(path, &other, &q, &why));
	CHECK_CONTAINS(why, "target");
	free(why);
	other = id;
	other.chunk_size = 20;
	CHECK(!vdl_state_load(path, &other, &q, &why));
	CHECK_CONTAINS(why, "chunks");
	free(why);
	vdl_plan_free(&q);

	/* Corrupt files. */
	const char *bad[] = {
		"not json",
		"{\"version\":1,\"bucket\":\"b\",\"key\":\"k/ü x\",\"etag\":"
		"\"\\\"e-2\\\"\",\"size\":100,\"chunk_size\":10,\"chunks\":10,"
		"\"target_dev\":1,\"target_ino\":2,\"done\":[[3,1,null],[99,1,null]]}",
		"{\"version\":1,\"bucket\":\"b\",\"key\":\"k/ü x\",\"etag\":"
		"\"\\\"e-2\\\"\",\"size\":100,\"chunk_size\":10,\"chunks\":10,"
		"\"target_dev\":1,\"target_ino\":2,\"done\":[[3,1,\"zz\"]]}",
		"{\"version\":2}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		vdl_plan_make(&q, 100, NULL, 0, 10);
		CHECK(!vdl_state_load(path, &id, &q, &why));
		CHECK(why != NULL);
		CHECK(!q.chunks[3].done);
		free(why);
		vdl_plan_free(&q);
	}
	unlink(path);
	CHECK(!vdl_state_load(path, &id, &p, &why));
	CHECK(why == NULL);
	vdl_plan_free(&p);
	char sub[300];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	rmdir(sub);
	rmdir(dir);
}

static void test_state_paths(void)
{
	char *s = vdl_state_path("/srv/disk.raw", false);
	CHECK_STR(s, "/srv/disk.raw.vmie-download");
	free(s);
	setenv("XDG_STATE_HOME", "/x/state", 1);
	s = vdl_state_path("/dev/mapper/vg-lv", true);
	CHECK_STR(s, "/x/state/vmie/dev_mapper_vg-lv.vmie-download");
	free(s);
}

/* HeadObject ?partNumber=N answered with Content-Length only (S3 sends
 * Content-Range too; some compatible servers do not): the layout comes
 * from the parts' lengths and the object's end. */
static void test_layout_without_content_range(void)
{
	awst_isolate_env();
	http_stub *stub = http_stub_start();
	vaws_client *c = awst_client(stub, "us-west-2");
	CHECK(c != NULL);
	/* 3 parts: 8 + 8 + 3 bytes of 19 (layout assumed from 1 and 3). */
	const char *path = "/b/k";
	http_stub_add(stub, "HEAD", path, 200,
		      "Content-Length: 19\r\nETag: \"0123456789abcdef0123456789abcdef-3\"\r\n",
		      NULL);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 8\r\n", NULL);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 3\r\n", NULL);
	vdl_object ob;
	vmie_error err = {0};
	CHECK_INT(vdl_object_head(c, "b", "k", &ob, &err), 0);
	CHECK_INT(ob.verify, VDL_VERIFY_MD5_MULTIPART);
	CHECK_INT(ob.parts, 3);
	CHECK(ob.part_off && ob.part_off[1] == 8 && ob.part_off[2] == 16 &&
	      ob.part_off[3] == 19);
	vdl_object_free(&ob);
	/* The exact layout, every part asked for, the same way. */
	http_stub_reset(stub);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 8\r\n", NULL);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 8\r\n", NULL);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 3\r\n", NULL);
	ob = (vdl_object){.size = 19, .parts = 3};
	CHECK_INT(vdl_object_exact_layout(c, "b", "k", &ob, &err), 0);
	CHECK(ob.part_off && ob.part_off[2] == 16 && ob.part_off[3] == 19);
	vdl_object_free(&ob);
	/* Lengths that do not add up to the object are refused. */
	http_stub_reset(stub);
	http_stub_add(stub, "HEAD", path, 200, "Content-Length: 8\r\n", NULL);
	ob = (vdl_object){.size = 20, .parts = 3};
	CHECK(vdl_object_exact_layout(c, "b", "k", &ob, &err) != 0);
	CHECK_CONTAINS(err.message, "do not add up");
	vmie_error_clear(&err);
	vdl_object_free(&ob);
	/* A CRC-64/NVME is preferred to the ETag: no part layout needed. */
	http_stub_reset(stub);
	http_stub_add(stub, "HEAD", path, 200,
		      "Content-Length: 19\r\nETag: \"0123456789abcdef0123456789abcdef-3\"\r\n"
		      "x-amz-checksum-crc64nvme: rosUhgp5mIg=\r\n",
		      NULL);
	CHECK_INT(vdl_object_head(c, "b", "k", &ob, &err), 0);
	CHECK_INT(ob.verify, VDL_VERIFY_CRC64);
	CHECK_STR(ob.crc64nvme, "rosUhgp5mIg=");
	CHECK_INT(http_stub_count(stub, "HEAD", path), 1);
	vdl_object_free(&ob);
	vaws_client_free(c);
	http_stub_stop(stub);
}

int main(void)
{
	test_zero_detection();
	test_sparse_write();
	test_etag_kinds();
	test_md5_of_md5s();
	test_plan();
	test_state();
	test_state_paths();
	test_layout_without_content_range();
	return check_done("download");
}
