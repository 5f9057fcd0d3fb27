/* ltc/audit_sealer.h - chains the audit trail after the commit (runtime migration 011_audit_chain_sealer.sql).
 *
 * Writers insert audit_log rows unsealed, with no lock in their transaction; the sealer calls the database's
 * audit_chain_seal(), which takes the chain head, gives the committed unsealed rows the next positions in seq order
 * with their hashes, and moves the head. Each stage process runs one sealer thread with its own connection: a tick
 * every LTC_AUDIT_SEAL_INTERVAL_MS (150 by default), and sooner when a write committed (ltc_audit_sealer_nudge). The
 * replicas of a stage take turns on the head's lock (a sealer that finds it taken leaves the rows to the one holding
 * it). GetAuditTrailIntegrity reports the rows still pending and, as a problem, any pending longer than
 * LTC_AUDIT_SEAL_MAX_PENDING_S (ltc_audit_set_max_pending_ms). docs/security.md, "The sealing window". */
#ifndef LTC_AUDIT_SEALER_H
#define LTC_AUDIT_SEALER_H

#include "ltc/db.h"
#include "ltc/status.h"

typedef struct ltc_audit_sealer ltc_audit_sealer;

/* Starts the sealer of service `service` (its schema) and its thread, which connects with `dsn` and seals every
 * interval_ms and after each nudge. Only one per process. NULL with st set. */
ltc_audit_sealer *ltc_audit_sealer_start(const char *service, const char *dsn, long interval_ms, ltc_status *st);

/* Stops the thread (after sealing what it can once more) and frees the sealer. NULL-safe. */
void ltc_audit_sealer_stop(ltc_audit_sealer *s);

/* Wakes the running sealer (a write committed an audit row). Cheap: one atomic exchange while a nudge is pending;
 * no-op when no sealer runs. */
void ltc_audit_sealer_nudge(void);

/* One call of audit_chain_seal(max_rows) over db (outside a transaction). Returns the rows sealed (0 also when
 * another sealer holds the head), or -1 with st set. */
int ltc_audit_seal(ltc_db *db, int max_rows, ltc_status *st);

/* The bound GetAuditTrailIntegrity reports a pending row beyond (CHAIN_PROBLEM_KIND_PENDING_TOO_LONG); 60000 by
 * default. */
void ltc_audit_set_max_pending_ms(long ms);
long ltc_audit_max_pending_ms(void);

#endif
