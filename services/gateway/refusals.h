/* refusals.h - the gateway's own audit trail of the calls it refuses (no or bad token, a role without permission,
 * the per-principal rate limit): those never reach a stage, so no stage's audit_log has them. One JSON line a
 * refusal, appended to a file and hash-chained exactly like a stage's audit_log (ltc/audit_chain.h), so an edited,
 * deleted or inserted line is found by gw_refusals_verify (`ltc-gateway --verify-refusals FILE`). A reopened file
 * continues its chain. Thread-safe. */
#ifndef LTC_GATEWAY_REFUSALS_H
#define LTC_GATEWAY_REFUSALS_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_refusals gw_refusals;

/* Opens (creates 0600) the file and finds its chain's last link. NULL with a message in err (the file cannot be
 * opened, or its last line is not a chained refusal). */
gw_refusals *gw_refusals_open(const char *path, char *err, size_t err_len);
void gw_refusals_close(gw_refusals *r);

/* Appends one refusal (written before it returns; not fsync'd). principal: the token's subject, or "" when the
 * caller was not authenticated; remote: the client's host. 0, or -1 (the write failed). */
int gw_refusals_record(gw_refusals *r, int64_t time_us, const char *principal, const char *roles, const char *remote,
                       const char *method, const char *request_id, const char *server_request_id, const char *code,
                       const char *reason);

/* Verifies a file's chain: every line's hash over its content and the line before. Returns the problems found (0:
 * intact), each described on a line of `report` (cut at report_len); *lines the lines read. -1 when it cannot be
 * read. */
int gw_refusals_verify(const char *path, int64_t *lines, char *report, size_t report_len);

#endif
