/* ltc/fieldmask.h - the update mask of a standard Update method (AIP-134): which of a resource's updatable fields a
 * google.protobuf.FieldMask names. */
#ifndef LTC_FIELDMASK_H
#define LTC_FIELDMASK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "ltc/status.h"

/* The fields of message type `d` named by `mask`, as bits over updatable[0..n) (n <= 31): bit i for updatable[i].
 * An absent or empty mask, or the path "*", selects them all. Each bad path adds an INVALID_ARGUMENT violation on
 * "update_mask" to st: a field of `d` that is not updatable (output only or immutable), a sub-field path, or no field
 * of `d` at all; the bits of the good paths are still returned (the caller checks st). */
unsigned ltc_update_mask_bits(const Google__Protobuf__FieldMask *mask, const ProtobufCMessageDescriptor *d,
                              const char *const *updatable, size_t n, ltc_status *st);

/* Whether bit i of bits is set: "true" or "false", for a boolean statement parameter. Static storage. */
const char *ltc_mask_flag(unsigned bits, unsigned i);

#endif
