/* reflection.h (private to common/) - grpc.reflection.v1 / v1alpha answers from the descriptor set embedded at
 * build time, so grpcurl-style tools can list services, describe messages and call methods with no .proto. */
#ifndef LTC_REFLECTION_H
#define LTC_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct ltc_reflection ltc_reflection;

/* Parses the embedded descriptor set. `services` (NULL-terminated) are the full names listed by list_services; only
 * the files that define one of them, and their dependencies, are ever described (file_by_filename,
 * file_containing_symbol): the public port describes the public contract, not the internal services that share the
 * descriptor set. NULL on a corrupt set (a build error). */
ltc_reflection *ltc_reflection_create(const char *const *services);
void ltc_reflection_destroy(ltc_reflection *r); /* NULL-safe */

/* Answers one serialized ServerReflectionRequest with a serialized ServerReflectionResponse (malloc'd). Returns NULL
 * when the request cannot be decoded. */
uint8_t *ltc_reflection_answer(const ltc_reflection *r, const uint8_t *req, size_t len, size_t *out_len);

#endif
