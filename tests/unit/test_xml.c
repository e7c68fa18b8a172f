#include "aws/xml.h"
#include "check.h"

#include <stdlib.h>

static void test_paths(void)
{
	const char *t =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<GetCallerIdentityResult><UserId>AIDAEXAMPLE</UserId>"
		"<Account>123456789012</Account>"
		"<Arn>arn:aws:iam::123456789012:user/x</Arn></GetCallerIdentityResult>"
		"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
		"</GetCallerIdentityResponse>";
	vxml *d = vxml_parse(t, strlen(t));
	CHECK(d != NULL);
	vxml_node *root = vxml_root(d);
	CHECK_STR(vxml_name(root), "GetCallerIdentityResponse");
	char *acct = vxml_text(root, "GetCallerIdentityResult/Account");
	CHECK_STR(acct, "123456789012");
	free(acct);
	char *rid = vxml_text(root, "//RequestId");
	CHECK_STR(rid, "r-1");
	free(rid);
	CHECK(vxml_find(root, "GetCallerIdentityResult/Nope") == NULL);
	CHECK(vxml_find(root, "Account") == NULL); /* not a direct child */
	vxml_free(d);
}

static void test_lists(void)
{
	const char *t = "<R xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\">"
			"<set><item><id>a</id></item><other/><item><id>b</id></item>"
			"</set></R>";
	vxml *d = vxml_parse(t, strlen(t));
	vxml_node *set = vxml_find(vxml_root(d), "set");
	int n = 0;
	char got[8] = "";
	for (vxml_node *i = vxml_child(set, "item"); i; i = vxml_next(i, "item")) {
		char *id = vxml_text(i, "id");
		if (id && n < 7)
			got[n] = id[0];
		n++;
		free(id);
	}
	CHECK_INT(n, 2);
	CHECK_STR(got, "ab");
	vxml_free(d);
}

static void test_hostile(void)
{
	/* XXE: an external entity must never be fetched or expanded. */
	const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE r ["
			  "<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
	CHECK(vxml_parse(xxe, strlen(xxe)) == NULL);
	/* Entity expansion bomb. */
	const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE r ["
			   "<!ENTITY a \"aaaaaaaaaa\">"
			   "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
			   "<r>&b;</r>";
	CHECK(vxml_parse(bomb, strlen(bomb)) == NULL);
	const char *html = "<html><body>502 Bad Gateway</body>";
	CHECK(vxml_parse(html, strlen(html)) == NULL);
	CHECK(vxml_parse("", 0) == NULL);
	CHECK(vxml_parse("not xml", 7) == NULL);
	CHECK(vxml_text(NULL, "x") == NULL);
}

int main(void)
{
	test_paths();
	test_lists();
	test_hostile();
	return check_done("xml");
}
