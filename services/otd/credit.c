/* credit.c - OTD's credit questions to DTC (ltc.dtc.v1.CreditService/CheckCredit, stages RELEASE and SHIPMENT) and
 * what their answers mean (docs/credit.md, "The gate in each stage"). The reading of an answer is pure
 * (otd_credit_read, unit tested): anything but a well-formed APPROVED or REFUSED decision counts as no answer, and OTD
 * fails closed on it (CREDIT_HOLD at release, nothing shipped). Every answer OTD acts on is a row of credit_checks. */
#include <stdio.h>
#include <string.h>

#include "ltc/ask.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "otd.h"

static const ltc_ask_peer DTC_CREDIT = {"dtc", &ltc__dtc__v1__credit_service__descriptor};

static const char SQL_CHECK_INSERT[] =
    "INSERT INTO credit_checks (id, order_id, stage, outcome, reasons, credit_decision_id, checked_by, request_id) "
    "VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8)";

static void unanswered(otd_credit_answer *a) {
    memset(a, 0, sizeof *a);
    a->outcome = OTD_CREDIT_UNANSWERED;
    a->reasons[0] = "CREDIT_SERVICE_UNAVAILABLE";
    a->n_reasons = 1;
}

int otd_credit_read(const Ltc__Dtc__V1__CheckCreditResponse *resp, otd_credit_answer *a) {
    unanswered(a);
    const Ltc__Dtc__V1__CreditDecision *d = resp ? resp->decision : NULL;
    if (!d || !d->name || strncmp(d->name, "creditDecisions/", 16) != 0 || !ltc_uuid_valid(d->name + 16)) return -1;
    otd_credit_answer got;
    memset(&got, 0, sizeof got);
    if (d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED) {
        if (d->n_reasons != 0) return -1;
        got.outcome = OTD_CREDIT_APPROVED;
    } else if (d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED) {
        if (d->n_reasons == 0 || d->n_reasons > OTD_MAX_CREDIT_REASONS) return -1; /* a refusal says why */
        for (size_t i = 0; i < d->n_reasons; i++) {
            const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value(&ltc__dtc__v1__credit_refusal_reason__descriptor, d->reasons[i]);
            if (!v || v->value == 0) return -1; /* unknown to this build: not an answer we can act on */
            size_t j = 0;
            while (j < got.n_reasons && strcmp(got.reasons[j], v->name) != 0) j++;
            if (j == got.n_reasons) got.reasons[got.n_reasons++] = v->name;
        }
        got.outcome = OTD_CREDIT_REFUSED;
    } else {
        return -1;
    }
    for (size_t i = 0; i < LTC_UUID_LEN; i++) {
        char ch = d->name[16 + i];
        got.decision_id[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    got.decision_id[LTC_UUID_LEN] = '\0';
    *a = got;
    return 0;
}

const char *otd_credit_outcome_db(const otd_credit_answer *a) {
    return a->outcome == OTD_CREDIT_APPROVED  ? "APPROVED"
           : a->outcome == OTD_CREDIT_REFUSED ? "REFUSED"
                                              : "UNAVAILABLE";
}

const char *otd_credit_release_state(const otd_credit_answer *a) {
    return a->outcome == OTD_CREDIT_APPROVED ? "RELEASED" : "CREDIT_HOLD";
}

void otd_credit_check(ltc_call *c, Ltc__Dtc__V1__CreditStage stage, const Ltc__Type__V1__CustomerSnapshot *customer,
                      const char *order_id, const char *deal_id, const char *currency, int64_t amount_minor,
                      otd_credit_answer *a) {
    unanswered(a);
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    req.customer = (Ltc__Type__V1__CustomerSnapshot *)customer;
    req.stage = stage;
    req.reference = ltc_call_printf(c, "orders/%s", order_id);
    req.deal = ltc_call_printf(c, "deals/%s", deal_id);
    req.amount = ltc_money_msg(c, currency, amount_minor);
    req.request_id = (char *)ltc_call_request_id(c);
    ltc_status ask_st = {0};
    ProtobufCMessage *out = NULL;
    if (ltc_ask(c, &ask_st, &DTC_CREDIT, "CheckCredit", &req.base, ltc_ask_deadline_ms("LTC_CREDIT_DEADLINE_MS", 2000),
                &out) != 0) {
        LTC_WARN("credit_unanswered", ltc_call_request_id(c), "credit check for orders/%s: DTC answered %s (%s): %s",
                 order_id, ltc_code_name(ask_st.code), ask_st.reason, ask_st.message);
        ltc_status_clear(&ask_st);
        return;
    }
    if (otd_credit_read((const Ltc__Dtc__V1__CheckCreditResponse *)out, a) != 0)
        LTC_WARN("credit_unanswered", ltc_call_request_id(c), "credit check for orders/%s: a malformed decision",
                 order_id);
    protobuf_c_message_free_unpacked(out, NULL);
}

int otd_credit_record(ltc_call *c, ltc_status *st, const char *order_id, const char *stage,
                      const otd_credit_answer *a) {
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *by = ltc_call_principal(c);
    if (!by || !*by) by = "anonymous";
    int approved = a->outcome == OTD_CREDIT_APPROVED;
    const char *p[8] = {id,
                        order_id,
                        stage,
                        otd_credit_outcome_db(a),
                        ltc_sql_text_array(c, approved ? NULL : a->reasons, approved ? 0 : a->n_reasons),
                        a->decision_id[0] ? a->decision_id : NULL,
                        by,
                        ltc_call_request_id(c)};
    return ltc_call_query(c, st, SQL_CHECK_INSERT, 8, p) ? 0 : -1;
}
