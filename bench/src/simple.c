/* simple.c - the one-call scenarios: every slot repeats one kind of call with pre-serialized requests.
 *   echo             /ltc.bench.v1.EchoService/Echo with a --payload byte payload (bare gRPC baseline)
 *   get-lead         /ltc.ltb.v1.LeadToBidService/GetLead of random names from --names (a primary-key read)
 *   get-opportunity  /ltc.ltb.v1.LeadToBidService/GetOpportunity of random names from --names (the deal record:
 *                    the opportunity, its requirements and stage history)
 *   mark-won         /ltc.ltb.v1.LeadToBidService/MarkBidWon, each bid of --names once (a state change that writes
 *                    its outbox row: the hand-off of the won deal to BTO); slots retire when the bids run out
 *   deal-timeline    /ltc.ltb.v1.LeadToBidService/GetDealTimeline of random deals from --names ("deals/{id}": one
 *                    deal's events from six tables and its milestones, each an index scan on the deal's id)
 *   velocity-report  /ltc.ltb.v1.LeadToBidService/GetVelocityReport of the last 7 days (UTC) grouped by month (one
 *                    request, repeated: the cycle-time report over the deals created in a week) */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ltc/bench/v1/echo.pb-c.h"
#include "ltc/ids.h"
#include "ltc/ltb/v1/ltb_service.pb-c.h"

typedef struct packed {
    uint8_t *data;
    size_t len;
} packed;

typedef struct simple {
    const char *method;
    packed *reqs;
    size_t n;
    int once; /* each request used once (writes) */
    atomic_size_t next_req;
    atomic_int exhausted;
    uint64_t seed[1024]; /* per slot (slot ids < concurrency <= 1024) */
} simple;

static int next_call(void *user, unsigned slot, const ltc_lg_done *done, ltc_lg_call *call) {
    (void)done;
    simple *s = user;
    size_t i;
    if (s->once) {
        i = atomic_fetch_add(&s->next_req, 1);
        if (i >= s->n) {
            atomic_store(&s->exhausted, 1);
            return 0;
        }
    } else {
        i = s->n == 1 ? 0 : (size_t)(bench_rand(&s->seed[slot % 1024]) % s->n);
    }
    call->method = s->method;
    call->req = s->reqs[i].data;
    call->len = s->reqs[i].len;
    call->klass = 0;
    return 1;
}

static int pack(const ProtobufCMessage *m, packed *out) {
    out->len = protobuf_c_message_get_packed_size(m);
    out->data = malloc(out->len ? out->len : 1);
    if (!out->data) return -1;
    protobuf_c_message_pack(m, out->data);
    return 0;
}

/* Builds the requests of the scenario. */
static int build(bench_opts *o, simple *s) {
    if (strcmp(o->scenario, "echo") == 0) {
        s->method = "/ltc.bench.v1.EchoService/Echo";
        s->n = 1;
        s->reqs = calloc(1, sizeof *s->reqs);
        uint8_t *payload = calloc(1, (size_t)o->payload + 1);
        if (!s->reqs || !payload) return -1;
        memset(payload, 'x', (size_t)o->payload);
        Ltc__Bench__V1__EchoRequest req = LTC__BENCH__V1__ECHO_REQUEST__INIT;
        req.payload.data = payload;
        req.payload.len = (size_t)o->payload;
        int rc = pack(&req.base, &s->reqs[0]);
        free(payload);
        return rc;
    }
    if (strcmp(o->scenario, "velocity-report") == 0) {
        time_t now = time(NULL), from = now - 6 * 86400;
        struct tm a, b;
        gmtime_r(&from, &a);
        gmtime_r(&now, &b);
        Ltc__Type__V1__Date start = LTC__TYPE__V1__DATE__INIT, end = LTC__TYPE__V1__DATE__INIT;
        start.year = a.tm_year + 1900, start.month = a.tm_mon + 1, start.day = a.tm_mday;
        end.year = b.tm_year + 1900, end.month = b.tm_mon + 1, end.day = b.tm_mday;
        Ltc__Ltb__V1__GetVelocityReportRequest req = LTC__LTB__V1__GET_VELOCITY_REPORT_REQUEST__INIT;
        req.start_date = &start;
        req.end_date = &end;
        req.group_by = LTC__LTB__V1__VELOCITY_GROUP_BY__VELOCITY_GROUP_BY_MONTH;
        s->method = "/ltc.ltb.v1.LeadToBidService/GetVelocityReport";
        s->n = 1;
        s->reqs = calloc(1, sizeof *s->reqs);
        return s->reqs ? pack(&req.base, &s->reqs[0]) : -1;
    }
    int kind = strcmp(o->scenario, "get-lead") == 0          ? 1
               : strcmp(o->scenario, "get-opportunity") == 0 ? 2
               : strcmp(o->scenario, "mark-won") == 0        ? 3
               : strcmp(o->scenario, "deal-timeline") == 0   ? 4
                                                             : 0;
    if (!kind) {
        fprintf(stderr, "ltc-bench: unknown scenario %s\n", o->scenario);
        return -1;
    }
    if (!o->names_file) {
        fprintf(stderr, "ltc-bench: %s needs --names FILE\n", o->scenario);
        return -1;
    }
    size_t n = 0;
    char **names = read_lines(o->names_file, &n);
    if (!names || n == 0) {
        fprintf(stderr, "ltc-bench: no names in %s\n", o->names_file);
        free_lines(names, n);
        return -1;
    }
    s->reqs = calloc(n, sizeof *s->reqs);
    if (!s->reqs) return -1;
    s->n = n;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (kind == 1) {
            Ltc__Ltb__V1__GetLeadRequest req = LTC__LTB__V1__GET_LEAD_REQUEST__INIT;
            req.name = names[i];
            rc = pack(&req.base, &s->reqs[i]);
        } else if (kind == 2) {
            Ltc__Ltb__V1__GetOpportunityRequest req = LTC__LTB__V1__GET_OPPORTUNITY_REQUEST__INIT;
            req.name = names[i];
            rc = pack(&req.base, &s->reqs[i]);
        } else if (kind == 4) {
            Ltc__Ltb__V1__GetDealTimelineRequest req = LTC__LTB__V1__GET_DEAL_TIMELINE_REQUEST__INIT;
            req.deal = names[i];
            rc = pack(&req.base, &s->reqs[i]);
        } else {
            char rid[LTC_UUID_LEN + 1];
            ltc_uuid_new(rid);
            Ltc__Ltb__V1__MarkBidWonRequest req = LTC__LTB__V1__MARK_BID_WON_REQUEST__INIT;
            req.name = names[i];
            req.request_id = rid;
            rc = pack(&req.base, &s->reqs[i]);
        }
    }
    free_lines(names, n);
    s->method = kind == 1   ? "/ltc.ltb.v1.LeadToBidService/GetLead"
                : kind == 2 ? "/ltc.ltb.v1.LeadToBidService/GetOpportunity"
                : kind == 4 ? "/ltc.ltb.v1.LeadToBidService/GetDealTimeline"
                            : "/ltc.ltb.v1.LeadToBidService/MarkBidWon";
    s->once = kind == 3;
    return rc;
}

int scenario_simple(bench_opts *o) {
    simple *s = calloc(1, sizeof *s);
    if (!s) return 1;
    for (unsigned i = 0; i < 1024; i++) s->seed[i] = 0x9E3779B97F4A7C15ull * (i + 1);
    int rc = 1;
    if (build(o, s) == 0) {
        ltc_lg_result *r = bench_run_load(o, next_call, s);
        if (r) {
            bench_row row;
            row_begin(&row, o, r, (double)r->ok);
            row_add(&row, "requests", "%zu", s->n);
            if (atomic_load(&s->exhausted)) row_add(&row, "exhausted", "1");
            rc = row_end(&row, o) == 0 && r->ok > 0 ? 0 : 1;
            if (r->ok == 0) fprintf(stderr, "ltc-bench: %s: no call succeeded (%s)\n", o->label, r->first_error);
            ltc_lg_result_free(r);
        }
    }
    for (size_t i = 0; i < s->n; i++) free(s->reqs[i].data);
    free(s->reqs);
    free(s);
    return rc;
}
