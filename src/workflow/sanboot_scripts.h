/*
 * The scripts --install-sanbootable sends to its instance, compiled in
 * from data/ by scripts/embed_data.py (a meson custom_target), so the
 * binary needs no data files at run time.
 */
#ifndef VMIE_WORKFLOW_SANBOOT_SCRIPTS_H
#define VMIE_WORKFLOW_SANBOOT_SCRIPTS_H

/* data/install_sanbootable.sh: the SSM Run Command script. */
extern const char vdata_install_sanbootable_sh[];
/* data/ssm_agent_userdata.sh: the instance's user data. */
extern const char vdata_ssm_agent_userdata_sh[];

#endif
