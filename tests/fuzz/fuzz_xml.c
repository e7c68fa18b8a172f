/* libFuzzer target: the XML reader every AWS response goes through. */
#include "aws/xml.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vxml *d = vxml_parse((const char *)data, size);
	if (!d)
		return 0;
	vxml_node *root = vxml_root(d);
	free(vxml_text(root, "Errors/Error/Code"));
	free(vxml_text(root, "//Message"));
	for (vxml_node *c = vxml_child(root, NULL); c; c = vxml_next(c, NULL))
		free(vxml_text(c, NULL));
	vxml_free(d);
	return 0;
}
