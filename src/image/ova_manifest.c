/*
 * The OVA manifest: each "ALG(name)= hex" line checked against the
 * member's bytes.  Digests are computed with OpenSSL's EVP, streaming each
 * member once in archive order (a compressed OVA is read forwards only
 * once), with every algorithm the manifest asks for that member.
 */
#include "image/ova_manifest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"

#define CHUNK (1u << 20)
/* A broken manifest can have thousands of bad lines: report a few. */
#define MAX_REPORTED 8
#define MAX_DIGEST 64

static const char aws_mf[] =
	"ImportImage validates the OVA's members against its manifest; a "
	"mismatch fails the import task";

enum { ALG_SHA1, ALG_SHA256, ALG_SHA512, NALG };

static const struct {
	const char *name;
	size_t len;
} algs[NALG] = { { "SHA1", 20 }, { "SHA256", 32 }, { "SHA512", 64 } };

static const EVP_MD *alg_md(int a)
{
	switch (a) {
	case ALG_SHA1: return EVP_sha1();
	case ALG_SHA256: return EVP_sha256();
	default: return EVP_sha512();
	}
}

typedef struct mf_item {
	const vtar_entry *e;
	int alg;
	unsigned char want[MAX_DIGEST];
} mf_item;

typedef struct mf_ctx {
	const vimg_reader *r;
	const vtar *tar;
	vimg_info *info;
	const char *mf_name;
	mf_item *items;
	size_t n, cap;
	size_t reported, suppressed;
	bool suppressed_error;
} mf_ctx;

/* Whether one more finding may be added; counts those that may not. */
static bool may_report(mf_ctx *c, vimg_severity sev)
{
	if (c->reported < MAX_REPORTED) {
		c->reported++;
		return true;
	}
	c->suppressed++;
	c->suppressed_error |= sev == VIMG_ERROR;
	return false;
}

static void malformed(mf_ctx *c, size_t lineno)
{
	if (may_report(c, VIMG_WARNING))
		vimg_add_finding(c->info, VIMG_WARNING, "ova-manifest-malformed",
				 NULL, "line %zu of the manifest %s is not of "
				 "the form ALG(file)= hex digest; vmie did not "
				 "check it", lineno, c->mf_name);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool unhex(const char *s, size_t len, unsigned char *out, size_t want)
{
	if (len != 2 * want)
		return false;
	for (size_t i = 0; i < want; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static int find_alg(const char *s, size_t len)
{
	for (int a = 0; a < NALG; a++)
		if (strlen(algs[a].name) == len &&
		    strncasecmp(s, algs[a].name, len) == 0)
			return a;
	return -1;
}

static void trim(const char **s, size_t *len)
{
	while (*len && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && strchr(" \t\r", (*s)[*len - 1]))
		(*len)--;
}

/* "SHA256(disk1.vmdk)= abcd..." (spaces around the parts tolerated, as
 * some tools write "SHA1 (x.ovf) = ..."). */
static void parse_line(mf_ctx *c, const char *line, size_t len, size_t lineno)
{
	trim(&line, &len);
	if (len == 0)
		return;
	const char *open = memchr(line, '(', len);
	const char *eq = open ? memrchr(line, '=', len) : NULL;
	if (!open || !eq || eq < open) {
		malformed(c, lineno);
		return;
	}
	const char *close = eq;
	while (close > open + 1 && (close[-1] == ' ' || close[-1] == '\t'))
		close--;
	close--;
	if (close <= open + 1 || *close != ')') {
		malformed(c, lineno);
		return;
	}
	const char *alg = line, *name = open + 1, *hex = eq + 1;
	size_t alen = (size_t)(open - line), nlen = (size_t)(close - name);
	size_t hlen = len - (size_t)(hex - line);
	trim(&alg, &alen);
	trim(&hex, &hlen);
	if (nlen > VTAR_MAX_NAME || memchr(name, '\0', nlen)) {
		malformed(c, lineno);
		return;
	}
	char *fname = xstrndup(name, nlen);
	int a = find_alg(alg, alen);
	mf_item it = { .alg = a };

	if (a < 0) {
		if (may_report(c, VIMG_WARNING))
			vimg_add_finding(c->info, VIMG_WARNING,
					 "ova-manifest-algorithm", NULL,
					 "the manifest %s gives a %.*s digest of "
					 "%s; vmie checks only SHA1, SHA256 and "
					 "SHA512, so it did not check this one",
					 c->mf_name, (int)(alen > 32 ? 32 : alen),
					 alg, fname);
	} else if (!unhex(hex, hlen, it.want, algs[a].len)) {
		malformed(c, lineno);
	} else if (!(it.e = vtar_find(c->tar, vtar_rel_name(fname)))) {
		if (may_report(c, VIMG_ERROR))
			vimg_add_finding(c->info, VIMG_ERROR,
					 "ova-manifest-missing-member", aws_mf,
					 "the manifest %s lists %s but the OVA "
					 "has no such member; add it to the OVA "
					 "or remove its line from the manifest",
					 c->mf_name, fname);
	} else {
		xgrow((void **)&c->items, &c->cap, c->n + 1, sizeof(*c->items));
		c->items[c->n++] = it;
	}
	free(fname);
}

static int by_offset(const void *pa, const void *pb)
{
	const mf_item *a = pa, *b = pb;
	if (a->e->offset != b->e->offset)
		return a->e->offset < b->e->offset ? -1 : 1;
	return a->alg - b->alg;
}

/* All the digests in mask of the member e, reading it once. */
static int digest_member(const vimg_reader *r, const vtar_entry *e,
			 unsigned mask, unsigned char out[NALG][MAX_DIGEST],
			 unsigned char *buf)
{
	EVP_MD_CTX *ctx[NALG] = { 0 };
	int rc = -1;

	for (int a = 0; a < NALG; a++) {
		if (!(mask & (1u << a)))
			continue;
		ctx[a] = EVP_MD_CTX_new();
		if (!ctx[a] || !EVP_DigestInit_ex(ctx[a], alg_md(a), NULL))
			goto out;
	}
	for (uint64_t off = 0; off < e->size;) {
		size_t n = e->size - off < CHUNK ? (size_t)(e->size - off) : CHUNK;
		if (!vimg_read_exact(r, e->offset + off, buf, n))
			goto out;
		for (int a = 0; a < NALG; a++)
			if (ctx[a] && !EVP_DigestUpdate(ctx[a], buf, n))
				goto out;
		off += n;
	}
	for (int a = 0; a < NALG; a++)
		if (ctx[a] && !EVP_DigestFinal_ex(ctx[a], out[a], NULL))
			goto out;
	rc = 0;
out:
	for (int a = 0; a < NALG; a++)
		EVP_MD_CTX_free(ctx[a]);
	return rc;
}

/* Items sorted by member: one pass over each member, then compare. */
static void check_items(mf_ctx *c)
{
	unsigned char got[NALG][MAX_DIGEST];
	unsigned char *buf = xmalloc(CHUNK);

	qsort(c->items, c->n, sizeof(*c->items), by_offset);
	for (size_t i = 0; i < c->n;) {
		const vtar_entry *e = c->items[i].e;
		size_t end = i;
		unsigned mask = 0;
		while (end < c->n && c->items[end].e == e)
			mask |= 1u << c->items[end++].alg;
		if (digest_member(c->r, e, mask, got, buf) < 0) {
			if (may_report(c, VIMG_WARNING))
				vimg_add_finding(c->info, VIMG_WARNING,
						 "ova-manifest-unchecked", NULL,
						 "vmie could not read member %s "
						 "to check its digest", e->name);
			i = end;
			continue;
		}
		for (; i < end; i++) {
			const mf_item *it = &c->items[i];
			if (memcmp(got[it->alg], it->want, algs[it->alg].len) &&
			    may_report(c, VIMG_ERROR))
				vimg_add_finding(
					c->info, VIMG_ERROR, "ova-manifest-mismatch",
					aws_mf,
					"the %s digest of member %s does not match "
					"the one in the manifest %s: the member is "
					"corrupt or was changed after the manifest "
					"was written; copy the OVA again, or "
					"regenerate the manifest if you changed the "
					"member on purpose",
					algs[it->alg].name, e->name, c->mf_name);
		}
	}
	free(buf);
}

void ova_manifest_check(const vimg_reader *r, const vtar *tar,
			const vtar_entry *mf, vimg_info *info)
{
	mf_ctx c = { .r = r, .tar = tar, .info = info, .mf_name = mf->name };
	char *text = NULL;

	if (mf->size > OVA_MF_MAX_SIZE) {
		vimg_add_finding(info, VIMG_WARNING, "ova-manifest-unchecked",
				 NULL, "the manifest %s is larger than 1 MiB; "
				 "vmie did not check it", mf->name);
		return;
	}
	text = xmalloc((size_t)mf->size + 1);
	if (!vimg_read_exact(r, mf->offset, text, (size_t)mf->size)) {
		vimg_add_finding(info, VIMG_WARNING, "ova-manifest-unchecked",
				 NULL, "vmie could not read the manifest %s",
				 mf->name);
		goto out;
	}
	text[mf->size] = '\0';
	size_t lineno = 0;
	for (const char *p = text, *end = text + mf->size; p < end; lineno++) {
		if (lineno == OVA_MF_MAX_LINES) {
			vimg_add_finding(info, VIMG_WARNING, "ova-manifest-unchecked",
					 NULL, "the manifest %s has more than %d "
					 "lines; vmie checked only the first %d",
					 mf->name, OVA_MF_MAX_LINES,
					 OVA_MF_MAX_LINES);
			break;
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		parse_line(&c, p, len, lineno + 1);
		p += len + 1;
	}
	if (c.n)
		check_items(&c);
	if (c.suppressed)
		vimg_add_finding(info, c.suppressed_error ? VIMG_ERROR : VIMG_WARNING,
				 "ova-manifest-more",
				 c.suppressed_error ? aws_mf : NULL,
				 "%zu more problems with the manifest %s are not "
				 "listed", c.suppressed, mf->name);
out:
	free(c.items);
	free(text);
}
