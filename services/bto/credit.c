/* credit.c - BTO's credit question to DTC (ltc.dtc.v1.CreditService/CheckCredit, stage ORDER_PLACEMENT) and what its
 * answer means (docs/credit.md, "The gate in each stage"). The reading of an answer is pure (bto_credit_read, unit
 * tested): anything but a well-formed APPROVED or REFUSED decision counts as no answer, and BTO fails closed on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bto.h"
#include "ltc/ask.h"
#include "ltc/config.h"
#include "ltc/ids.h"
#include "ltc/log.h"

static const ltc_ask_peer DTC_CREDIT = {"dtc", &ltc__dtc__v1__credit_service__descriptor};

int bto_credit_read(const Ltc__Dtc__V1__CheckCreditResponse *resp, bto_credit_answer *a) {
    memset(a, 0, sizeof *a);
    a->outcome = BTO_CREDIT_UNANSWERED;
    const Ltc__Dtc__V1__CreditDecision *d = resp ? resp->decision : NULL;
    if (!d || !d->name || strncmp(d->name, "creditDecisions/", 16) != 0 || !ltc_uuid_valid(d->name + 16)) return -1;
    if (d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED) {
        if (d->n_reasons != 0) return -1;
    } else if (d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED) {
        if (d->n_reasons == 0) return -1; /* a refusal always says why */
        size_t used = 0;
        for (size_t i = 0; i < d->n_reasons; i++) {
            const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value(&ltc__dtc__v1__credit_refusal_reason__descriptor, d->reasons[i]);
            if (!v || v->value == 0) return -1; /* unknown to this build: not an answer we can act on */
            int n = snprintf(a->reasons + used, sizeof a->reasons - used, "%s%s", used ? "," : "", v->name);
            if (n < 0 || (size_t)n >= sizeof a->reasons - used) return -1;
            used += (size_t)n;
        }
    } else {
        return -1;
    }
    for (size_t i = 0; i < LTC_UUID_LEN; i++) {
        char ch = d->name[16 + i];
        a->decision_id[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    a->decision_id[LTC_UUID_LEN] = '\0';
    a->outcome =
        d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED ? BTO_CREDIT_APPROVED : BTO_CREDIT_REFUSED;
    return 0;
}

int bto_credit_fail(const bto_credit_answer *a, const char *contract, ltc_status *st) {
    if (a->outcome == BTO_CREDIT_APPROVED) return 0;
    if (a->outcome == BTO_CREDIT_REFUSED) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "CREDIT_REFUSED",
                       "DTC refused credit for %s (creditDecisions/%s): %s; nothing placed", contract, a->decision_id,
                       a->reasons);
        ltc_status_meta(st, "credit_decision", "creditDecisions/%s", a->decision_id);
        return ltc_status_meta(st, "credit_reasons", "%s", a->reasons);
    }
    return ltc_status_set(st, LTC_UNAVAILABLE, "CREDIT_SERVICE_UNAVAILABLE",
                          "DTC did not answer the credit check for %s%s%s; nothing placed, retry with the same "
                          "request_id",
                          contract, a->reasons[0] ? ": " : "", a->reasons);
}

int bto_credit_check(ltc_call *c, const Ltc__Type__V1__CustomerSnapshot *customer, const char *contract_id,
                     const char *deal_id, const char *currency, int64_t total_minor, bto_credit_answer *a) {
    memset(a, 0, sizeof *a);
    a->outcome = BTO_CREDIT_UNANSWERED;
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    req.customer = (Ltc__Type__V1__CustomerSnapshot *)customer;
    req.stage = LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_ORDER_PLACEMENT;
    req.reference = ltc_call_printf(c, "contracts/%s", contract_id);
    req.deal = ltc_call_printf(c, "deals/%s", deal_id);
    req.amount = ltc_money_msg(c, currency, total_minor);
    req.request_id = (char *)ltc_call_request_id(c);
    ltc_status ask_st = {0};
    ProtobufCMessage *out = NULL;
    if (ltc_ask(c, &ask_st, &DTC_CREDIT, "CheckCredit", &req.base, ltc_ask_deadline_ms("LTC_CREDIT_DEADLINE_MS", 2000),
                &out) != 0) {
        snprintf(a->reasons, sizeof a->reasons, "%s %s", ltc_code_name(ask_st.code),
                 ask_st.reason[0] ? ask_st.reason : "");
        LTC_WARN("credit_unanswered", ltc_call_request_id(c), "credit check for contracts/%s: DTC answered %s (%s): %s",
                 contract_id, ltc_code_name(ask_st.code), ask_st.reason, ask_st.message);
        ltc_status_clear(&ask_st);
        return 0;
    }
    if (bto_credit_read((const Ltc__Dtc__V1__CheckCreditResponse *)out, a) != 0)
        LTC_WARN("credit_unanswered", ltc_call_request_id(c),
                 "credit check for contracts/%s: a malformed decision from DTC", contract_id);
    protobuf_c_message_free_unpacked(out, NULL);
    return 0;
}
