/* ltc/methods.h - method tables checked against the contract at start.
 *
 * A row of a method table (ltc/server.h: LTC_READ, LTC_WRITE, LTC_HANDOFF) names its RPC by the protoc-c service
 * descriptor generated from proto/ and the method's name. Before a process serves, ltc_methods_resolve derives each
 * row's path ("/<full service name>/<Method>") and request and response message descriptors from that descriptor,
 * and refuses a table that does not cover its services exactly:
 *   - every row names a service descriptor, a method that descriptor has, and a handler;
 *   - every method of a service that some row names has a row (a new RPC in the proto without a handler is caught
 *     at start, not by a caller's UNIMPLEMENTED);
 *   - no method is named twice, and no path is one of the paths the runtime serves itself (health, reflection):
 *     every path a process serves is unique;
 *   - an idempotency field is a string field of the request, and an ownership lookup's field path ("quote.deal")
 *     leads through message fields to a string field.
 * The result is a new array; the table stays const. */
#ifndef LTC_METHODS_H
#define LTC_METHODS_H

#include <stddef.h>

#include "ltc/server.h"
#include "ltc/status.h"

/* The paths every ltc_server registers besides its method table (grpc.health.v1 Check, server reflection v1 and
 * v1alpha), NULL-terminated: no method table may name them. */
extern const char *const ltc_runtime_paths[];

/* Resolves the n rows of a method table. `reserved`: further paths no row may have (NULL-terminated; NULL: none).
 * Returns a malloc'd array of the n rows in the same order with path, request and response filled in (the paths live
 * in the same allocation: release it with ltc_methods_free), or NULL with st set (INTERNAL, reason BAD_METHOD_TABLE,
 * the message naming the first problem: the row, service and method). Reads only its arguments. */
ltc_method *ltc_methods_resolve(const ltc_method *rows, size_t n, const char *const *reserved, ltc_status *st);

/* The methods a stage service process serves: its own table (`rows`, n) followed by those of the services every
 * stage serves (ltc.admin.v1.HandoffAdminService, ltc.audit.v1.AuditService), resolved as above against
 * ltc_runtime_paths. The array (free with ltc_methods_free) and its length in *n_out, or NULL with st set. */
ltc_method *ltc_methods_resolve_stage(const ltc_method *rows, size_t n, size_t *n_out, ltc_status *st);

/* Frees an array returned by ltc_methods_resolve or ltc_methods_resolve_stage. NULL-safe. */
void ltc_methods_free(ltc_method *methods);

#endif
