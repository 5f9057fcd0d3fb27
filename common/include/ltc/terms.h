/* ltc/terms.h - payment terms (ltc.type.v1.PaymentTerm), the one shared type of BTO's contracts, OTD's orders and
 * DTC's order accounts: the stored text of a term's kind and the validation of a list of terms. */
#ifndef LTC_TERMS_H
#define LTC_TERMS_H

#include <stddef.h>

#include "ltc/server.h"
#include "ltc/status.h"
#include "ltc/type/v1/payment_term.pb-c.h"

/* Longest due date of a term, in days after the invoice. */
#define LTC_TERM_MAX_DUE_DAYS 3650
/* Longest name of a MILESTONE term's billing milestone. */
#define LTC_TERM_MAX_MILESTONE 64

/* The stored text of a kind ("ADVANCE"), or NULL for UNSPECIFIED or a number that is no kind. Static storage. */
const char *ltc_term_kind_to_db(Ltc__Type__V1__PaymentTermKind kind);
/* The kind of a stored text; UNSPECIFIED for NULL or unknown text. */
Ltc__Type__V1__PaymentTermKind ltc_term_kind_from_db(const char *text);

/* Checks the n terms of `field` ("contract.payment_terms", "payment_terms"): 1 to max_terms of them, each of a known
 * kind, share_bps 1..10000 and due_days 0..LTC_TERM_MAX_DUE_DAYS, and (when each term is valid) shares adding up to
 * 10000 bps; a MILESTONE term names its milestone (1..LTC_TERM_MAX_MILESTONE characters, unique among the terms),
 * no other term names one. Adds an INVALID_ARGUMENT violation per bad field ("<field>[i].kind", ...) to st, violation names in the
 * call's arena. 0 when all is well, else -1. */
int ltc_check_payment_terms(ltc_call *c, Ltc__Type__V1__PaymentTerm *const *terms, size_t n, const char *field,
                            size_t max_terms, ltc_status *st);

/* The terms of rows [first_row, first_row + n_rows) of a result whose columns `col`, col + 1, col + 2 hold the kind's
 * text, share_bps and due_days, and the column named "milestone", when the result has one, the milestone's name
 * (NULL: none): an array of n_rows messages in the call's arena (room for one even when n_rows is 0,
 * so it is never NULL). */
Ltc__Type__V1__PaymentTerm **ltc_terms_from_pg(ltc_call *c, const PGresult *r, int first_row, int n_rows, int col);

#endif
