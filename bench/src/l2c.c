/* l2c.c - the lead-to-cash scenario: every slot drives whole deals through the gateway, one after another, through
 * all four stages and every hand-off, the way tests/clients/python/lead_to_cash.py does for one deal:
 *
 *   LTB  CreateLead (a party of its own: company, e-mail and phone of this run and deal), QualifyLead (2
 *        requirements; the customer is created from the lead), RequestOrderAdmission (ADMITTED, or the deal fails),
 *        CreateBid, MarkBidWon                                                      -> hand-off to BTO
 *   BTO  (poll GetDeal) CreateQuote (2 lines of a shared catalogue, one discounted), AcceptQuote, CreateContract
 *        (30% advance, 60% on acceptance, 10% retention), SignContract, CreateOrder -> hand-off to OTD
 *   OTD  (poll GetOrder) ReviewOrder, ReleaseOrder (again, 200 ms later, while it ends in CREDIT_HOLD because DTC's
 *        credit answer did not come in time), ScheduleOrder (on a pool of shared resources), CreateShipment
 *        (everything), RecordAcceptance                                             -> hand-off to DTC
 *   DTC  (poll ListInvoices until they add up to the order total) RecordPayment of each invoice -> hand-offs to
 *        BTO (order closure) and LTB (cash collected)
 *   LTB  (poll GetOpportunity until CASH_COLLECTED): the deal is done.
 *
 * Polls wait --poll-ms between tries. A write that fails with a transient code is retried with the same request_id
 * (idempotent); any other failure abandons the deal (counted) and the slot starts a new one. The products and
 * resources are created once, before the run, with single calls (ltc_lg_unary), by the solution and fulfilment
 * owners. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ltc/bto/v1/bto_service.pb-c.h"
#include "ltc/dtc/v1/dtc_service.pb-c.h"
#include "ltc/ids.h"
#include "ltc/ltb/v1/ltb_service.pb-c.h"
#include "ltc/otd/v1/otd_service.pb-c.h"

#define LTB "/ltc.ltb.v1.LeadToBidService/"
#define BTO "/ltc.bto.v1.BidToOrderService/"
#define OTD "/ltc.otd.v1.OrderToDeliveryService/"
#define DTC "/ltc.dtc.v1.DeliveryToCashService/"
#define CURRENCY "CNY"
#define MAX_INVOICES 8
#define POLL_GIVE_UP_MS 60000
#define MAX_RETRIES 5
#define MARGIN_BPS 2500 /* the expected margin given at admission: above the policy's default minimum (1000) */

enum step {
    S_CREATE_LEAD,
    S_QUALIFY,
    S_ADMIT,
    S_CREATE_BID,
    S_MARK_WON,
    S_WAIT_BTO_DEAL,
    S_CREATE_QUOTE,
    S_ACCEPT_QUOTE,
    S_CREATE_CONTRACT,
    S_SIGN_CONTRACT,
    S_CREATE_ORDER,
    S_WAIT_OTD_ORDER,
    S_REVIEW,
    S_RELEASE,
    S_SCHEDULE,
    S_SHIP,
    S_ACCEPT,
    S_WAIT_INVOICES,
    S_PAY,
    S_WAIT_CASH,
    S_COUNT
};

enum kind {
    READ,
    WRITE,
    POLL
};

/* Who makes each call on a secure stack (--token WHO=FILE): the people of tests/clients/python/lead_to_cash.py's
 * PeopleDeal, each with the role of that step: the account owner (sales), the solution owner (solution), the
 * fulfilment owner (fulfilment), finance. */
enum who {
    AR,
    SR,
    FR,
    FIN,
    WHO_COUNT
};
static const char *const WHO_NAMES[WHO_COUNT] = {"ar", "sr", "fr", "fin"};

static const struct step_info {
    const char *name;
    const char *method;
    enum kind kind;
    enum who who;
} STEPS[S_COUNT] = {
    {"CreateLead", LTB "CreateLead", WRITE, AR},
    {"QualifyLead", LTB "QualifyLead", WRITE, AR},
    {"RequestOrderAdmission", LTB "RequestOrderAdmission", WRITE, AR},
    {"CreateBid", LTB "CreateBid", WRITE, AR},
    {"MarkBidWon", LTB "MarkBidWon", WRITE, AR},
    {"poll BTO GetDeal", BTO "GetDeal", POLL, AR},
    {"CreateQuote", BTO "CreateQuote", WRITE, SR},
    {"AcceptQuote", BTO "AcceptQuote", WRITE, AR},
    {"CreateContract", BTO "CreateContract", WRITE, AR},
    {"SignContract", BTO "SignContract", WRITE, AR},
    {"CreateOrder", BTO "CreateOrder", WRITE, AR},
    {"poll OTD GetOrder", OTD "GetOrder", POLL, FR},
    {"ReviewOrder", OTD "ReviewOrder", WRITE, FR},
    {"ReleaseOrder", OTD "ReleaseOrder", WRITE, FR},
    {"ScheduleOrder", OTD "ScheduleOrder", WRITE, FR},
    {"CreateShipment", OTD "CreateShipment", WRITE, FR},
    {"RecordAcceptance", OTD "RecordAcceptance", WRITE, FR},
    {"poll DTC ListInvoices", DTC "ListInvoices", POLL, FIN},
    {"RecordPayment", DTC "RecordPayment", WRITE, FIN},
    {"poll LTB GetOpportunity", LTB "GetOpportunity", POLL, AR},
};

/* The catalogue and price list every deal uses: 3 x A at list price, 2 x B with 10% off. */
#define QTY_A 3
#define QTY_B 2
#define PRICE_A 123456
#define PRICE_B 50000
#define DISCOUNT_B_BPS 1000
#define DEAL_MINOR ((int64_t)PRICE_A * QTY_A + (PRICE_B - PRICE_B * DISCOUNT_B_BPS / 10000) * QTY_B)

typedef struct deal {
    int step;
    int attempts; /* failed tries of the current request */
    uint64_t started_ns, wait_since_ns;
    unsigned number;
    char rid[LTC_UUID_LEN + 1]; /* request_id of the current write (the same on a retry) */
    char lead[64], opp[64], deal[64], bid[64], quote[64], contract[64], order[64], shipment[64];
    char invoice[MAX_INVOICES][64];
    int64_t invoice_minor[MAX_INVOICES];
    int n_invoices, paid;
    int64_t total_minor;
    const char *why; /* what absorb found wrong, for the failure report */
    uint8_t buf[2048];
} deal;

typedef struct l2c {
    bench_opts *o;
    char run[16];
    unsigned phone_seed; /* 5 digits of this run, in every lead's phone number */
    char product[2][64];
    deal *deals;
    atomic_uint next_number;
    pthread_mutex_t mu; /* the figures below */
    ltc_hist deal_latency;
    uint64_t deals_done, deals_failed, deals_done_total;
    char first_failure[300];
    int who[WHO_COUNT]; /* each person's token (bench_token_index) */
} l2c;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- message helpers ---- */

static void money(int64_t minor, Ltc__Type__V1__Money *m) {
    Ltc__Type__V1__Money init = LTC__TYPE__V1__MONEY__INIT;
    *m = init;
    m->currency_code = CURRENCY;
    m->units = minor / 100;
    m->nanos = (int32_t)(minor % 100) * 10000000;
}

static int64_t minor_of(const Ltc__Type__V1__Money *m) { return m ? m->units * 100 + m->nanos / 10000000 : 0; }

static void days_ahead(int days, Ltc__Type__V1__Date *d) {
    Ltc__Type__V1__Date init = LTC__TYPE__V1__DATE__INIT;
    *d = init;
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    d->year = tm.tm_year + 1900;
    d->month = tm.tm_mon + 1;
    d->day = tm.tm_mday;
}

static size_t pack_into(deal *d, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > sizeof d->buf) return 0;
    return protobuf_c_message_pack(m, d->buf);
}

/* Copies "name" into a deal field; 0 when it is missing or too long. */
static int keep(char *dst, const char *name) {
    if (!name || !name[0] || strlen(name) >= 64) return 0;
    strcpy(dst, name);
    return 1;
}

/* ---- building each step's request into d->buf ---- */

static size_t build(l2c *L, deal *d, unsigned slot) {
    char text[160], email[160], phone[40];
    switch (d->step) {
        case S_CREATE_LEAD: {
            Ltc__Ltb__V1__Lead lead = LTC__LTB__V1__LEAD__INIT;
            snprintf(text, sizeof text, "Bench Logistics %s-%u", L->run, d->number);
            snprintf(email, sizeof email, "buyer%u@bench-%s.example", d->number, L->run);
            lead.source = LTC__LTB__V1__LEAD_SOURCE__LEAD_SOURCE_REFERRAL;
            lead.company_name = text;
            lead.contact_name = "Wang Fang";
            lead.contact_email = email;
            /* +86 1SSSSS NNNNNN: unique within the run (deal number), and across runs but by chance (seed) */
            snprintf(phone, sizeof phone, "+86 1%05u %06u", L->phone_seed % 100000u, d->number % 1000000u);
            lead.contact_phone = phone;
            Ltc__Ltb__V1__CreateLeadRequest req = LTC__LTB__V1__CREATE_LEAD_REQUEST__INIT;
            req.lead = &lead;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_QUALIFY: {
            Ltc__Type__V1__IronTriangle it = LTC__TYPE__V1__IRON_TRIANGLE__INIT;
            it.account_owner = "ar.li.na";
            it.solution_owner = "sr.zhang.wei";
            it.fulfilment_owner = "fr.chen.jie";
            Ltc__Type__V1__Money amount;
            money(50000000, &amount);
            Ltc__Type__V1__Date close;
            days_ahead(45, &close);
            Ltc__Ltb__V1__Requirement r1 = LTC__LTB__V1__REQUIREMENT__INIT, r2 = LTC__LTB__V1__REQUIREMENT__INIT;
            r1.code = "THROUGHPUT";
            r1.description = "3 sorting cells, 1200 parcels/hour";
            r1.quantity = 3;
            r2.code = "VISION";
            r2.description = "barcode and damage detection";
            r2.quantity = 2;
            Ltc__Ltb__V1__Requirement *reqs[2] = {&r1, &r2};
            Ltc__Ltb__V1__QualifyLeadRequest req = LTC__LTB__V1__QUALIFY_LEAD_REQUEST__INIT;
            req.name = d->lead;
            req.opportunity_title = "Warehouse sorting line";
            req.iron_triangle = &it;
            req.expected_amount = &amount;
            req.expected_close_date = &close;
            req.win_probability_bps = 6000;
            req.n_requirements = 2;
            req.requirements = reqs;
            req.customer_country_code = "CN"; /* the customer created from the lead */
            req.customer_billing_currency = CURRENCY;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_ADMIT: {
            Ltc__Type__V1__Money amount;
            money(DEAL_MINOR, &amount);
            Ltc__Ltb__V1__RequestOrderAdmissionRequest req = LTC__LTB__V1__REQUEST_ORDER_ADMISSION_REQUEST__INIT;
            req.opportunity = d->opp;
            req.amount = &amount;
            req.expected_margin_bps = MARGIN_BPS;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_CREATE_BID: {
            Ltc__Type__V1__Money amount;
            money(DEAL_MINOR, &amount);
            Ltc__Ltb__V1__Bid bid = LTC__LTB__V1__BID__INIT;
            bid.opportunity = d->opp;
            bid.amount = &amount;
            Ltc__Ltb__V1__CreateBidRequest req = LTC__LTB__V1__CREATE_BID_REQUEST__INIT;
            req.bid = &bid;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_MARK_WON: {
            Ltc__Ltb__V1__MarkBidWonRequest req = LTC__LTB__V1__MARK_BID_WON_REQUEST__INIT;
            req.name = d->bid;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_WAIT_BTO_DEAL: {
            Ltc__Bto__V1__GetDealRequest req = LTC__BTO__V1__GET_DEAL_REQUEST__INIT;
            req.name = d->deal;
            return pack_into(d, &req.base);
        }
        case S_CREATE_QUOTE: {
            Ltc__Bto__V1__QuoteLine a = LTC__BTO__V1__QUOTE_LINE__INIT, b = LTC__BTO__V1__QUOTE_LINE__INIT;
            a.product = L->product[0];
            a.quantity = QTY_A;
            b.product = L->product[1];
            b.quantity = QTY_B;
            b.discount_bps = DISCOUNT_B_BPS;
            Ltc__Bto__V1__QuoteLine *lines[2] = {&a, &b};
            Ltc__Type__V1__Date valid;
            days_ahead(30, &valid);
            Ltc__Bto__V1__Quote q = LTC__BTO__V1__QUOTE__INIT;
            q.deal = d->deal;
            q.valid_until = &valid;
            q.n_lines = 2;
            q.lines = lines;
            Ltc__Bto__V1__CreateQuoteRequest req = LTC__BTO__V1__CREATE_QUOTE_REQUEST__INIT;
            req.quote = &q;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_ACCEPT_QUOTE: {
            Ltc__Bto__V1__AcceptQuoteRequest req = LTC__BTO__V1__ACCEPT_QUOTE_REQUEST__INIT;
            req.name = d->quote;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_CREATE_CONTRACT: {
            Ltc__Type__V1__PaymentTerm t[3] = {LTC__TYPE__V1__PAYMENT_TERM__INIT, LTC__TYPE__V1__PAYMENT_TERM__INIT,
                                               LTC__TYPE__V1__PAYMENT_TERM__INIT};
            t[0].kind = LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ADVANCE;
            t[0].share_bps = 3000;
            t[1].kind = LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ON_ACCEPTANCE;
            t[1].share_bps = 6000;
            t[1].due_days = 30;
            t[2].kind = LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_RETENTION;
            t[2].share_bps = 1000;
            t[2].due_days = 365;
            Ltc__Type__V1__PaymentTerm *terms[3] = {&t[0], &t[1], &t[2]};
            Ltc__Type__V1__Date delivery;
            days_ahead(60, &delivery);
            Ltc__Bto__V1__Contract k = LTC__BTO__V1__CONTRACT__INIT;
            k.quote = d->quote;
            k.n_payment_terms = 3;
            k.payment_terms = terms;
            k.requested_delivery_date = &delivery;
            Ltc__Bto__V1__CreateContractRequest req = LTC__BTO__V1__CREATE_CONTRACT_REQUEST__INIT;
            req.contract = &k;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_SIGN_CONTRACT: {
            Ltc__Bto__V1__SignContractRequest req = LTC__BTO__V1__SIGN_CONTRACT_REQUEST__INIT;
            req.name = d->contract;
            req.signed_by = "Zhao Min";
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_CREATE_ORDER: {
            Ltc__Bto__V1__CreateOrderRequest req = LTC__BTO__V1__CREATE_ORDER_REQUEST__INIT;
            req.contract = d->contract;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_WAIT_OTD_ORDER: {
            Ltc__Otd__V1__GetOrderRequest req = LTC__OTD__V1__GET_ORDER_REQUEST__INIT;
            req.name = d->order;
            return pack_into(d, &req.base);
        }
        case S_REVIEW: {
            Ltc__Otd__V1__ReviewOrderRequest req = LTC__OTD__V1__REVIEW_ORDER_REQUEST__INIT;
            req.name = d->order;
            req.approved = 1;
            req.comment = "configuration, credit, capacity, terms ok";
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_RELEASE: {
            Ltc__Otd__V1__ReleaseOrderRequest req = LTC__OTD__V1__RELEASE_ORDER_REQUEST__INIT;
            req.name = d->order;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_SCHEDULE: {
            Ltc__Otd__V1__ScheduleOrderRequest req = LTC__OTD__V1__SCHEDULE_ORDER_REQUEST__INIT;
            req.name = d->order;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_SHIP: {
            Ltc__Otd__V1__ShipmentLine a = LTC__OTD__V1__SHIPMENT_LINE__INIT, b = LTC__OTD__V1__SHIPMENT_LINE__INIT;
            a.product = L->product[0];
            a.quantity = QTY_A;
            b.product = L->product[1];
            b.quantity = QTY_B;
            Ltc__Otd__V1__ShipmentLine *lines[2] = {&a, &b};
            Ltc__Otd__V1__Shipment s = LTC__OTD__V1__SHIPMENT__INIT;
            s.order = d->order;
            s.n_lines = 2;
            s.lines = lines;
            Ltc__Otd__V1__CreateShipmentRequest req = LTC__OTD__V1__CREATE_SHIPMENT_REQUEST__INIT;
            req.shipment = &s;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_ACCEPT: {
            Ltc__Otd__V1__RecordAcceptanceRequest req = LTC__OTD__V1__RECORD_ACCEPTANCE_REQUEST__INIT;
            req.name = d->shipment;
            req.accepted = 1;
            req.note = "inspected on site, accepted";
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_WAIT_INVOICES: {
            Ltc__Dtc__V1__ListInvoicesRequest req = LTC__DTC__V1__LIST_INVOICES_REQUEST__INIT;
            req.order = d->order;
            req.page_size = MAX_INVOICES;
            return pack_into(d, &req.base);
        }
        case S_PAY: {
            Ltc__Type__V1__Money amount;
            money(d->invoice_minor[d->paid], &amount);
            snprintf(text, sizeof text, "BANK-%s-%u-%d", L->run, d->number, d->paid);
            Ltc__Dtc__V1__Payment p = LTC__DTC__V1__PAYMENT__INIT;
            p.invoice = d->invoice[d->paid];
            p.amount = &amount;
            p.reference = text;
            Ltc__Dtc__V1__RecordPaymentRequest req = LTC__DTC__V1__RECORD_PAYMENT_REQUEST__INIT;
            req.payment = &p;
            req.request_id = d->rid;
            return pack_into(d, &req.base);
        }
        case S_WAIT_CASH: {
            Ltc__Ltb__V1__GetOpportunityRequest req = LTC__LTB__V1__GET_OPPORTUNITY_REQUEST__INIT;
            req.name = d->opp;
            return pack_into(d, &req.base);
        }
    }
    (void)slot;
    return 0;
}

/* ---- reading each step's response; returns 1 to move on, 0 to poll again, -1 when it is not what the contract
 * promises (the deal fails) ---- */

#define UNPACK(Type, fn, var)                                                                                          \
    Type *var = fn##__unpack(NULL, done->resp_len, done->resp);                                                        \
    if (!var) return -1

static int absorb(deal *d, const ltc_lg_done *done) {
    int ok = 1;
    switch (d->step) {
        case S_CREATE_LEAD: {
            UNPACK(Ltc__Ltb__V1__CreateLeadResponse, ltc__ltb__v1__create_lead_response, r);
            ok = r->lead && keep(d->lead, r->lead->name);
            ltc__ltb__v1__create_lead_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_QUALIFY: {
            UNPACK(Ltc__Ltb__V1__QualifyLeadResponse, ltc__ltb__v1__qualify_lead_response, r);
            ok = r->opportunity && keep(d->opp, r->opportunity->name) && keep(d->deal, r->opportunity->deal);
            ltc__ltb__v1__qualify_lead_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_ADMIT: {
            UNPACK(Ltc__Ltb__V1__RequestOrderAdmissionResponse, ltc__ltb__v1__request_order_admission_response, r);
            ok = r->decision && r->decision->outcome == LTC__LTB__V1__ADMISSION_OUTCOME__ADMISSION_OUTCOME_ADMITTED;
            if (!ok) d->why = "order admission not ADMITTED";
            ltc__ltb__v1__request_order_admission_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_CREATE_BID: {
            UNPACK(Ltc__Ltb__V1__CreateBidResponse, ltc__ltb__v1__create_bid_response, r);
            ok = r->bid && keep(d->bid, r->bid->name);
            ltc__ltb__v1__create_bid_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_CREATE_QUOTE: {
            UNPACK(Ltc__Bto__V1__CreateQuoteResponse, ltc__bto__v1__create_quote_response, r);
            ok = r->quote && keep(d->quote, r->quote->name);
            ltc__bto__v1__create_quote_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_CREATE_CONTRACT: {
            UNPACK(Ltc__Bto__V1__CreateContractResponse, ltc__bto__v1__create_contract_response, r);
            ok = r->contract && keep(d->contract, r->contract->name);
            ltc__bto__v1__create_contract_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_CREATE_ORDER: {
            UNPACK(Ltc__Bto__V1__CreateOrderResponse, ltc__bto__v1__create_order_response, r);
            ok = r->order && keep(d->order, r->order->name);
            if (ok) d->total_minor = minor_of(r->order->total);
            ltc__bto__v1__create_order_response__free_unpacked(r, NULL);
            return ok && d->total_minor > 0 ? 1 : -1;
        }
        case S_RELEASE: {
            /* CREDIT_HOLD because DTC's answer did not come in time (a loaded machine): release again, with a new
             * request_id, until it is answered (within the deal's give-up time); any other hold fails the deal */
            UNPACK(Ltc__Otd__V1__ReleaseOrderResponse, ltc__otd__v1__release_order_response, r);
            int rc = r->order ? 1 : -1;
            if (r->order && r->order->state == LTC__OTD__V1__ORDER_STATE__ORDER_STATE_CREDIT_HOLD) {
                rc = -1;
                d->why = "the order went to CREDIT_HOLD at release";
                for (size_t i = 0; i < r->order->n_credit_hold_reasons; i++)
                    if (strcmp(r->order->credit_hold_reasons[i], "CREDIT_SERVICE_UNAVAILABLE") == 0) rc = 0;
                if (rc == 0) ltc_uuid_new(d->rid);
            }
            ltc__otd__v1__release_order_response__free_unpacked(r, NULL);
            return rc;
        }
        case S_SHIP: {
            UNPACK(Ltc__Otd__V1__CreateShipmentResponse, ltc__otd__v1__create_shipment_response, r);
            ok = r->shipment && keep(d->shipment, r->shipment->name);
            ltc__otd__v1__create_shipment_response__free_unpacked(r, NULL);
            return ok ? 1 : -1;
        }
        case S_WAIT_INVOICES: {
            UNPACK(Ltc__Dtc__V1__ListInvoicesResponse, ltc__dtc__v1__list_invoices_response, r);
            int64_t sum = 0;
            int n = 0;
            for (size_t i = 0; i < r->n_invoices && n < MAX_INVOICES; i++) {
                const Ltc__Dtc__V1__Invoice *inv = r->invoices[i];
                int64_t m = minor_of(inv->amount);
                sum += m;
                if (!keep(d->invoice[n], inv->name)) ok = 0;
                d->invoice_minor[n++] = m;
            }
            ltc__dtc__v1__list_invoices_response__free_unpacked(r, NULL);
            if (!ok || sum > d->total_minor) return -1;
            if (sum < d->total_minor || n == 0) return 0; /* not all raised yet */
            d->n_invoices = n;
            d->paid = 0;
            return 1;
        }
        case S_WAIT_CASH: {
            UNPACK(Ltc__Ltb__V1__GetOpportunityResponse, ltc__ltb__v1__get_opportunity_response, r);
            int collected = r->opportunity &&
                            r->opportunity->stage == LTC__LTB__V1__OPPORTUNITY_STAGE__OPPORTUNITY_STAGE_CASH_COLLECTED;
            ltc__ltb__v1__get_opportunity_response__free_unpacked(r, NULL);
            return collected ? 1 : 0;
        }
        default: return 1; /* the state changes and the hand-off arrivals need nothing from the response */
    }
}

/* ---- the slot's state machine ---- */

static void start_deal(l2c *L, deal *d) {
    memset(d, 0, sizeof *d - sizeof d->buf);
    d->number = atomic_fetch_add(&L->next_number, 1);
    d->started_ns = now_ns();
    d->step = S_CREATE_LEAD;
    ltc_uuid_new(d->rid);
}

static void fail_deal(l2c *L, deal *d, const ltc_lg_done *done, const char *why) {
    pthread_mutex_lock(&L->mu);
    if (done->counted) L->deals_failed++;
    if (!L->first_failure[0])
        snprintf(L->first_failure, sizeof L->first_failure, "%s: %s %s", STEPS[d->step].name,
                 done->code ? ltc_code_name((ltc_code)done->code) : "OK", why);
    pthread_mutex_unlock(&L->mu);
}

static void finish_deal(l2c *L, deal *d, const ltc_lg_done *done) {
    uint64_t ns = now_ns() - d->started_ns;
    pthread_mutex_lock(&L->mu);
    L->deals_done_total++;
    if (done->counted) {
        L->deals_done++;
        ltc_hist_record(&L->deal_latency, ns);
    }
    pthread_mutex_unlock(&L->mu);
}

static int retryable(int code) {
    return code == LTC_UNAVAILABLE || code == LTC_DEADLINE_EXCEEDED || code == LTC_ABORTED ||
           code == LTC_RESOURCE_EXHAUSTED || code == LTC_UNKNOWN;
}

/* Moves the deal after a completed call. Returns the delay before its next call (ms). */
static int advance(l2c *L, deal *d, const ltc_lg_done *done) {
    int poll = STEPS[d->step].kind == POLL;
    if (done->code != LTC_OK) {
        if (poll && done->code == LTC_NOT_FOUND) { /* the hand-off has not arrived yet */
            if ((now_ns() - d->wait_since_ns) / 1000000u > POLL_GIVE_UP_MS) {
                fail_deal(L, d, done, "hand-off never arrived");
                start_deal(L, d);
                return 0;
            }
            return L->o->poll_ms;
        }
        if (retryable(done->code) && ++d->attempts <= MAX_RETRIES) return 20 * d->attempts;
        fail_deal(L, d, done, done->message);
        start_deal(L, d);
        return 0;
    }
    int r = absorb(d, done);
    if (r < 0) {
        fail_deal(L, d, done, d->why ? d->why : "unexpected response");
        start_deal(L, d);
        return 0;
    }
    if (r == 0) {
        if ((now_ns() - d->wait_since_ns) / 1000000u > POLL_GIVE_UP_MS) {
            fail_deal(L, d, done, d->step == S_RELEASE ? "credit never answered at release" : "hand-off never applied");
            start_deal(L, d);
            return 0;
        }
        return d->step == S_RELEASE ? 200 : L->o->poll_ms;
    }
    d->attempts = 0;
    if (d->step == S_PAY && ++d->paid < d->n_invoices) {
        ltc_uuid_new(d->rid);
        return 0; /* the next invoice */
    }
    if (d->step == S_WAIT_CASH) {
        finish_deal(L, d, done);
        start_deal(L, d);
        return 0;
    }
    d->step++;
    if (STEPS[d->step].kind == WRITE) ltc_uuid_new(d->rid);
    if (STEPS[d->step].kind == POLL) {
        d->wait_since_ns = now_ns();
        return 1; /* the hand-off takes at least a relay round trip: look a little later */
    }
    return 0;
}

static int next_call(void *user, unsigned slot, const ltc_lg_done *done, ltc_lg_call *call) {
    l2c *L = user;
    deal *d = &L->deals[slot];
    int delay = 0;
    if (!done) {
        start_deal(L, d);
    } else {
        delay = advance(L, d, done);
    }
    size_t n = build(L, d, slot);
    if (n == 0) return 0;
    call->method = STEPS[d->step].method;
    call->req = d->buf;
    call->len = n;
    call->delay_ms = delay;
    call->klass = d->step;
    call->who = L->who[STEPS[d->step].who];
    return 1;
}

/* ---- set-up: the shared catalogue and resources ---- */

static int setup_call(const l2c *L, enum who who, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *rd, ProtobufCMessage **out) {
    uint8_t buf[1024];
    size_t n = protobuf_c_message_get_packed_size(req);
    if (n > sizeof buf) return -1;
    protobuf_c_message_pack(req, buf);
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    ltc_status st = {0};
    int rc = -1;
    const bench_opts *o = L->o;
    ltc_lg_options lo = {.target = o->target,
                         .ca_pem = o->ca_pem,
                         .tls_name = o->tls_name,
                         .authorization = (const char *const *)o->authorization,
                         .n_authorization = (unsigned)o->n_tokens};
    if (ltc_lg_unary(&lo, L->who[who], method, buf, n, &resp, &resp_len, &st) == 0) {
        *out = protobuf_c_message_unpack(rd, NULL, resp_len, resp);
        rc = *out ? 0 : -1;
    } else {
        fprintf(stderr, "ltc-bench: l2c set-up %s failed: %s %s\n", method, ltc_code_name(st.code), st.message);
    }
    free(resp);
    ltc_status_clear(&st);
    return rc;
}

static int setup(l2c *L) {
    int rc = 0;
    const char *suffix[2] = {"A", "B"};
    const int64_t price[2] = {PRICE_A, PRICE_B}, cost[2] = {80000, 30000};
    for (int i = 0; i < 2 && rc == 0; i++) {
        char sku[64], rid[LTC_UUID_LEN + 1];
        snprintf(sku, sizeof sku, "BENCH-%s-%s", L->run, suffix[i]);
        ltc_uuid_new(rid);
        Ltc__Type__V1__Money lp, uc;
        money(price[i], &lp);
        money(cost[i], &uc);
        Ltc__Bto__V1__Product p = LTC__BTO__V1__PRODUCT__INIT;
        p.sku = sku;
        p.display_name = i == 0 ? "Sorting robot arm" : "Vision kit";
        p.list_price = &lp;
        p.unit_cost = &uc;
        p.lead_time_days = i == 0 ? 20 : 10;
        Ltc__Bto__V1__CreateProductRequest req = LTC__BTO__V1__CREATE_PRODUCT_REQUEST__INIT;
        req.product = &p;
        req.request_id = rid;
        ProtobufCMessage *out = NULL;
        rc =
            setup_call(L, SR, BTO "CreateProduct", &req.base, &ltc__bto__v1__create_product_response__descriptor, &out);
        if (rc == 0) {
            Ltc__Bto__V1__CreateProductResponse *r = (void *)out;
            if (!r->product || !keep(L->product[i], r->product->name)) rc = -1;
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    for (int i = 0; i < L->o->resources && rc == 0; i++) {
        char name[64], rid[LTC_UUID_LEN + 1];
        snprintf(name, sizeof name, "Bench line %s-%d", L->run, i);
        ltc_uuid_new(rid);
        Ltc__Otd__V1__Resource res = LTC__OTD__V1__RESOURCE__INIT;
        res.display_name = name;
        res.daily_capacity = 1000000000;
        Ltc__Otd__V1__CreateResourceRequest req = LTC__OTD__V1__CREATE_RESOURCE_REQUEST__INIT;
        req.resource = &res;
        req.request_id = rid;
        ProtobufCMessage *out = NULL;
        rc = setup_call(L, FR, OTD "CreateResource", &req.base, &ltc__otd__v1__create_resource_response__descriptor,
                        &out);
        if (rc == 0) protobuf_c_message_free_unpacked(out, NULL);
    }
    return rc;
}

/* ---- the scenario ---- */

int scenario_l2c(bench_opts *o) {
    l2c *L = calloc(1, sizeof *L);
    if (!L) return 1;
    L->o = o;
    L->deals = calloc(o->concurrency, sizeof *L->deals);
    if (!L->deals) {
        free(L);
        return 1;
    }
    char rid[LTC_UUID_LEN + 1];
    ltc_uuid_new(rid);
    snprintf(L->run, sizeof L->run, "%.8s", rid);
    L->phone_seed = (unsigned)strtoul(L->run, NULL, 16);
    pthread_mutex_init(&L->mu, NULL);
    ltc_hist_init(&L->deal_latency);
    int rc = 1;
    for (int w = 0; w < WHO_COUNT; w++)
        if ((L->who[w] = bench_token_index(o, WHO_NAMES[w])) < 0) {
            fprintf(stderr, "ltc-bench: l2c with tokens needs one for each of ar, sr, fr, fin (--token %s=FILE)\n",
                    WHO_NAMES[w]);
            goto out;
        }
    if (setup(L) != 0) {
        fprintf(stderr, "ltc-bench: l2c: could not create the catalogue and resources through %s\n", o->target);
        goto out;
    }
    ltc_lg_result *r = bench_run_load(o, next_call, L);
    if (!r) goto out;
    double deals_s = r->window_s > 0 ? (double)L->deals_done / r->window_s : 0;
    uint64_t writes = 0, reads = 0, polls = 0;
    char steps[4096];
    size_t sl = 0;
    steps[0] = 0;
    for (int k = 0; k < S_COUNT; k++) {
        const ltc_lg_class *c = &r->classes[k];
        if (STEPS[k].kind == WRITE)
            writes += c->ok;
        else if (STEPS[k].kind == POLL)
            polls += c->ok;
        else
            reads += c->ok;
        int n = snprintf(steps + sl, sizeof steps - sl, "%s%s:%llu:%.2f:%.2f", sl ? ";" : "", STEPS[k].name,
                         (unsigned long long)c->ok, (double)ltc_hist_percentile(&c->hist, 50) / 1e6,
                         (double)ltc_hist_percentile(&c->hist, 99) / 1e6);
        if (n > 0 && (size_t)n < sizeof steps - sl) sl += (size_t)n;
    }
    /* a poll that finds no hand-off yet answers NOT_FOUND: that is waiting, not failing */
    uint64_t not_yet = r->by_code[LTC_NOT_FOUND];
    r->failed -= not_yet < r->failed ? not_yet : r->failed;
    r->first_error[0] = 0; /* the deals' own first failure (deal_error) says more than the first non-OK call */
    bench_row row;
    row_begin(&row, o, r, (double)r->ok);
    row_add(&row, "polls_not_yet", "%llu", (unsigned long long)not_yet);
    double dd = L->deals_done ? (double)L->deals_done : 1;
    row_add(&row, "deals", "%llu", (unsigned long long)L->deals_done);
    row_add(&row, "deals_failed", "%llu", (unsigned long long)L->deals_failed);
    row_add(&row, "deals_all", "%llu", (unsigned long long)L->deals_done_total);
    row_add(&row, "deals_per_s", "%.2f", deals_s);
    row_add(&row, "deal_p50_ms", "%.1f", (double)ltc_hist_percentile(&L->deal_latency, 50) / 1e6);
    row_add(&row, "deal_p99_ms", "%.1f", (double)ltc_hist_percentile(&L->deal_latency, 99) / 1e6);
    row_add(&row, "writes_per_deal", "%.2f", (double)writes / dd);
    row_add(&row, "polls_per_deal", "%.2f", (double)polls / dd);
    row_add(&row, "reads_per_deal", "%.2f", (double)reads / dd);
    row_add(&row, "run", "%s", L->run);
    row_add(&row, "steps", "%s", steps);
    if (L->first_failure[0]) row_add(&row, "deal_error", "%s", L->first_failure);
    rc = row_end(&row, o) == 0 && L->deals_done > 0 ? 0 : 1;
    if (L->deals_done == 0) fprintf(stderr, "ltc-bench: l2c: no deal completed (%s)\n", L->first_failure);
    ltc_lg_result_free(r);
out:
    pthread_mutex_destroy(&L->mu);
    free(L->deals);
    free(L);
    return rc;
}
