/* atp.c - available to promise: SendQuote asks OTD (ltc.otd.v1.AvailabilityService/CheckAvailability) for the
 * earliest promise date of the quote's lines and stores the answer on the quote. The answer is advisory: when OTD
 * does not answer (down, deadline, an error, UNIMPLEMENTED), the quote is still sent and shows availability UNKNOWN
 * with the reason (docs/cpq.md). */
#include <stdio.h>
#include <string.h>

#include "bto.h"
#include "ltc/ask.h"
#include "ltc/log.h"
#include "ltc/otd/v1/availability_service.pb-c.h"

static const ltc_ask_peer OTD_ATP = {"otd", &ltc__otd__v1__availability_service__descriptor};

static const char SQL_QUOTE_LINES[] =
    "SELECT product_id, sku, quantity FROM quote_lines WHERE quote_id = $1 ORDER BY line_no";

int bto_atp_read(const Ltc__Otd__V1__CheckAvailabilityResponse *resp, bto_atp_answer *a) {
    a->known = 0;
    const Ltc__Type__V1__Date *d = resp ? resp->earliest_promise_date : NULL;
    if (!d || d->year < 1970 || d->year > 9999 || d->month < 1 || d->month > 12 || d->day < 1 || d->day > 31) {
        snprintf(a->reason, sizeof a->reason, "OTD answered without a valid earliest_promise_date");
        return -1;
    }
    snprintf(a->date, sizeof a->date, "%04d-%02d-%02d", d->year, d->month, d->day);
    a->meets = resp->meets_requested_date;
    a->known = 1;
    a->reason[0] = '\0';
    return 0;
}

int bto_atp_check(ltc_call *c, ltc_status *st, const char *quote_id, const char *deal_id, const char *requested,
                  bto_atp_answer *a) {
    memset(a, 0, sizeof *a);
    const char *p[1] = {quote_id};
    PGresult *r = ltc_call_query(c, st, SQL_QUOTE_LINES, 1, p);
    if (!r) return -1;
    int n = PQntuples(r);
    Ltc__Otd__V1__CheckAvailabilityRequest req = LTC__OTD__V1__CHECK_AVAILABILITY_REQUEST__INIT;
    req.reference = ltc_call_printf(c, "quotes/%s", quote_id);
    req.deal = ltc_call_printf(c, "deals/%s", deal_id);
    req.request_id = (char *)ltc_call_request_id(c);
    req.n_lines = (size_t)n;
    req.lines = ltc_call_alloc(c, (size_t)(n ? n : 1) * sizeof *req.lines);
    for (int i = 0; i < n; i++) {
        Ltc__Otd__V1__AvailabilityLine *l =
            LTC_NEW(c, Ltc__Otd__V1__AvailabilityLine, LTC__OTD__V1__AVAILABILITY_LINE__INIT);
        l->product = ltc_call_printf(c, "products/%s", ltc_pg_str(r, i, 0));
        l->sku = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
        l->quantity = ltc_pg_i64(r, i, 2);
        req.lines[i] = l;
    }
    Ltc__Type__V1__Date date = LTC__TYPE__V1__DATE__INIT;
    if (requested && requested[0] && sscanf(requested, "%d-%d-%d", &date.year, &date.month, &date.day) == 3)
        req.requested_date = &date;
    ltc_status ask_st = {0};
    ProtobufCMessage *out = NULL;
    if (ltc_ask(c, &ask_st, &OTD_ATP, "CheckAvailability", &req.base, ltc_ask_deadline_ms("LTC_ATP_DEADLINE_MS", 2000),
                &out) != 0) {
        snprintf(a->reason, sizeof a->reason, "%s%s%s", ltc_code_name(ask_st.code), ask_st.reason[0] ? " " : "",
                 ask_st.reason[0] && strcmp(ask_st.reason, ltc_code_name(ask_st.code)) != 0 ? ask_st.reason : "");
        LTC_WARN("atp_unanswered", ltc_call_request_id(c), "availability for quotes/%s: OTD answered %s (%s): %s",
                 quote_id, ltc_code_name(ask_st.code), ask_st.reason, ask_st.message);
        ltc_status_clear(&ask_st);
        return 0;
    }
    bto_atp_read((const Ltc__Otd__V1__CheckAvailabilityResponse *)out, a);
    protobuf_c_message_free_unpacked(out, NULL);
    return 0;
}
