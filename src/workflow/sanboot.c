/* Placeholder until the sanbootable workflow lands. */
#include "workflow/sanboot.h"

#include "base/error.h"

int vwf_sanboot_check_image(vwf_run *r, const vec2_image *img, vmie_error *err)
{
	(void)r;
	if (img->platform && img->platform[0]) {
		verr_set(err, VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED,
			 "%s is a Windows AMI: sanbootable is Linux only",
			 img->image_id);
		return VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED;
	}
	return 0;
}

int vwf_sanboot(vwf_run *r, const char *ami_id, char **new_ami_id,
		vmie_error *err)
{
	(void)r;
	(void)ami_id;
	*new_ami_id = NULL;
	verr_set(err, VMIE_ERR_NOT_IMPLEMENTED,
		 "--install-sanbootable is not implemented yet");
	return VMIE_ERR_NOT_IMPLEMENTED;
}

void vwf_sanboot_reap(vwf_run *r)
{
	(void)r;
}
