/* vmie_resolve_region: the public face of vaws_config_region. */
#include "aws/config.h"
#include "vmie.h"

int vmie_resolve_region(const vmie_aws_opts *aws, char **region_out,
			const char **source_out, vmie_error *err)
{
	vaws_config cfg;
	int rc = vaws_config_load(&cfg, aws ? aws->profile : NULL, err);
	if (rc != 0) {
		*region_out = NULL;
		return rc;
	}
	rc = vaws_config_region(&cfg, aws ? aws->region : NULL, region_out,
				source_out, err);
	vaws_config_free(&cfg);
	return rc;
}
