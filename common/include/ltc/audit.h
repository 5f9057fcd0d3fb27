/* ltc/audit.h - what a state-changing call changed, for the audit trail (ltc.audit.v1.AuditService).
 *
 * Every WRITE and hand-off leaves one audit_log row (who, method, outcome: the runtime writes it). A handler adds
 * what it changed, inside the call, before it returns:
 *   ltc_audit_change(c, "opportunities/8c1c...", "stage", "BIDDING", "LOST");
 *   ltc_audit_change_money(c, "invoices/...", "paid_amount", "CNY", old_minor, 1, new_minor, 1);
 *   ltc_audit_target(c, "receipts/...");           a record changed without a field worth listing
 *   ltc_audit_secret_changed(c, "customers/...", "api_key");   never the values of a secret
 * The row's targets are the records named (in order, each once); without any, the runtime's default (the request's
 * owner field, "name", or the idempotency key). Changes are kept only if the call commits (a retried transaction
 * starts again empty); at most LTC_AUDIT_MAX_CHANGES per call (then one "(more changes not recorded)" entry).
 * Values are text: money as "CNY 1234.56" (ltc_audit_change_money), dates "YYYY-MM-DD", enums by short name;
 * control characters become '?' and each value is cut at 500 bytes. Adopting it in a stage: call these in the
 * handlers with the locked row's old values (see services/ltb/updates.c and pipeline.c). */
#ifndef LTC_AUDIT_H
#define LTC_AUDIT_H

#include <stdint.h>

#include "ltc/server.h"

#define LTC_AUDIT_MAX_CHANGES 64
#define LTC_AUDIT_MAX_TARGETS 16

/* Field `field` of record `target` ("leads/{id}") went from old_value to new_value (NULL: none, e.g. created or
 * cleared). Nothing is recorded when both are equal. Copies what it keeps into the call's arena. */
void ltc_audit_change(ltc_call *c, const char *target, const char *field, const char *old_value, const char *new_value);
/* The same for an amount in minor units of `currency` (has_old / has_new 0: none), shown as "CNY 1234.56". */
void ltc_audit_change_money(ltc_call *c, const char *target, const char *field, const char *currency, int64_t old_minor,
                            int has_old, int64_t new_minor, int has_new);
/* A secret field of `target` changed: recorded with the values "(secret)", never the values themselves. */
void ltc_audit_secret_changed(ltc_call *c, const char *target, const char *field);
/* `target` is a record the call changed (listed among the row's targets even without a field change). */
void ltc_audit_target(ltc_call *c, const char *target);

/* "CNY 1234.56" for minor units of a currency (its ISO 4217 digits; unknown: 2), into out (48 bytes). Pure. */
const char *ltc_audit_money_text(const char *currency, int64_t minor, char out[48]);

#endif
