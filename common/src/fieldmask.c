/* fieldmask.c - the update mask of a standard Update method (see ltc/fieldmask.h). */
#include "ltc/fieldmask.h"

#include <string.h>

unsigned ltc_update_mask_bits(const Google__Protobuf__FieldMask *mask, const ProtobufCMessageDescriptor *d,
                              const char *const *updatable, size_t n, ltc_status *st) {
    unsigned all = (1u << n) - 1, bits = 0;
    if (!mask || mask->n_paths == 0) return all;
    for (size_t p = 0; p < mask->n_paths; p++) {
        const char *path = mask->paths[p] ? mask->paths[p] : "";
        size_t i = 0;
        while (i < n && strcmp(path, updatable[i]) != 0) i++;
        if (strcmp(path, "*") == 0)
            bits = all;
        else if (i < n)
            bits |= 1u << i;
        else if (protobuf_c_message_descriptor_get_field_by_name(d, path))
            ltc_status_bad_field(st, "update_mask", "%.64s is output only or cannot be changed", path);
        else if (strchr(path, '.'))
            ltc_status_bad_field(st, "update_mask", "%.64s: name whole fields, not sub-fields", path);
        else
            ltc_status_bad_field(st, "update_mask", "%.64s is not a field of %s", path, d->short_name);
    }
    return bits;
}

const char *ltc_mask_flag(unsigned bits, unsigned i) { return bits & (1u << i) ? "true" : "false"; }
