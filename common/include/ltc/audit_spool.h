/* ltc/audit_spool.h - the audit trail's durable local spool (docs/security.md#the-audit-trail-during-a-database-outage).
 *
 * The audit row of a refused or failed call is written on its own, after the call's transaction (ltc_audit__outside);
 * when the database cannot take it (down, partitioned), the row goes to a spool file in a local folder instead,
 * written and fdatasync'd before the call is answered. A thread of the process ingests the spool into audit_log as
 * soon as the database answers again, in one transaction per file, each row keyed by its spool id (a retried
 * ingestion adds nothing twice), and deletes the file after the commit. Files left by a process that died (no live
 * process holds their lock) are ingested by the next process of the same service that starts with that folder. */
#ifndef LTC_AUDIT_SPOOL_H
#define LTC_AUDIT_SPOOL_H

#include "ltc/status.h"

typedef struct ltc_audit_spool ltc_audit_spool;

/* Starts the spool of service `service` (its schema) in folder `dir` (created 0700 if missing) and its ingesting
 * thread, which connects with `dsn`. Only one spool per process. NULL with st set (the folder cannot be used). */
ltc_audit_spool *ltc_audit_spool_start(const char *service, const char *dir, const char *dsn, ltc_status *st);

/* Ingests what it can one last time, stops the thread and closes the spool. NULL-safe. */
void ltc_audit_spool_stop(ltc_audit_spool *s);

/* Appends one audit row (the columns of audit_log, event time now) to the running spool, durably. 0, or -1 when no
 * spool runs or the write failed (logged). */
int ltc_audit_spool_append(const char *principal, const char *roles, const char *caller, const char *method,
                           const char *target, const char *request_id, const char *code, const char *reason);

/* Ingests every spool file of the running spool now (the ingesting thread does it every second). Returns the rows
 * ingested, or -1 when the database did not take them (the files stay). For tests. */
int ltc_audit_spool_flush(void);

#endif
