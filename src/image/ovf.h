/*
 * The OVF descriptor of an OVA (DMTF DSP0243): the files it references,
 * its disks and the guest OS it declares.  Only what an import needs is
 * kept; the rest of the envelope (networks, hardware) is ignored.
 */
#ifndef VMIE_IMAGE_OVF_H
#define VMIE_IMAGE_OVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* A descriptor bigger than this is not one a hypervisor wrote. */
#define OVF_MAX_SIZE (4u << 20)
/* Caps on what the lists hold; more is reported and ignored. */
#define OVF_MAX_FILES 1024
#define OVF_MAX_DISKS 256

typedef struct ovf_file {
	char *id;          /* ovf:id */
	char *href;        /* ovf:href: the member's name in the OVA */
	uint64_t size;     /* ovf:size, when has_size */
	bool has_size;
	char *compression; /* ovf:compression ("gzip"), NULL when absent */
	bool chunked;      /* ovf:chunkSize: split into href.000000000, ... */
} ovf_file;

typedef struct ovf_disk {
	char *disk_id;     /* ovf:diskId */
	char *file_ref;    /* ovf:fileRef, NULL for an empty disk */
	uint64_t capacity; /* bytes, when has_capacity */
	bool has_capacity;
	char *format;      /* ovf:format URI, NULL when absent */
} ovf_disk;

typedef struct ovf_desc {
	ovf_file *files;
	size_t nfiles;
	ovf_disk *disks;
	size_t ndisks;
	bool has_disk_section;
	char *os_id;   /* OperatingSystemSection ovf:id (a CIM OS code) */
	char *os_type; /* ... vmw:osType ("windows2019srv_64Guest"), or NULL */
} ovf_desc;

/* Parse the descriptor text.  Problems (malformed XML, a disk whose
 * fileRef names no File, capacity units vmie cannot read) become findings
 * in info.  Returns 0 when the text is an OVF envelope, -1 when it is not
 * XML or not an Envelope (a finding says so). */
int ovf_parse(const char *text, size_t len, ovf_desc *d, vimg_info *info);
void ovf_desc_free(ovf_desc *d);

/* The File a disk's fileRef names, or NULL. */
const ovf_file *ovf_file_by_id(const ovf_desc *d, const char *id);

/* "byte", "byte * 2^30", "byte * 1024", "byte * 10^3 * 2^10": the
 * multiplier in bytes.  NULL or "" means "byte".  -1 when the units are
 * not bytes or the multiplier overflows 64 bits. */
int ovf_capacity_units(const char *units, uint64_t *mult);

#endif
