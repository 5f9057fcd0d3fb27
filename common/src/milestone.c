/* milestone.c - a stage's milestone of a deal, queued to LTB (the CRM hub) in the caller's transaction
 * (ltc/milestone.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ltc/ids.h"
#include "ltc/ltb/v1/intake_service.pb-c.h"
#include "ltc/milestone.h"
#include "ltc/outbox.h"
#include "ltc/proto.h"

static const ltc_handoff_peer LTB = {"ltb", &ltc__ltb__v1__intake_service__descriptor};

static int64_t now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ltc_milestone_put(ltc_call *c, ltc_status *st, const ltc_milestone *m) {
    if (!m->deal_id || !m->deal_id[0] || !m->record || !m->record[0] ||
        !protobuf_c_enum_descriptor_get_value(&ltc__type__v1__milestone_stage__descriptor, m->stage) ||
        m->stage == LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_UNSPECIFIED ||
        !protobuf_c_enum_descriptor_get_value(&ltc__type__v1__milestone_kind__descriptor, m->kind) ||
        m->kind == LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_UNSPECIFIED)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "milestone %d of stage %d for deal %s: incomplete", m->kind,
                              m->stage, m->deal_id ? m->deal_id : "(none)");
    Ltc__Type__V1__Milestone *ms = LTC_NEW(c, Ltc__Type__V1__Milestone, LTC__TYPE__V1__MILESTONE__INIT);
    ms->deal = ltc_call_printf(c, "deals/%s", m->deal_id);
    ms->stage = (Ltc__Type__V1__MilestoneStage)m->stage;
    ms->kind = (Ltc__Type__V1__MilestoneKind)m->kind;
    ms->record = ltc_call_strdup(c, m->record);
    ms->occur_time = ltc_ts_from_micros(c, m->occur_micros ? m->occur_micros : now_micros(), 0);
    const char *actor = m->actor ? m->actor : ltc_call_principal(c);
    ms->actor = ltc_call_strdup(c, actor ? actor : "");
    if (m->amount) ms->amount = ltc_money_msg(c, m->amount->currency, m->amount->minor);
    if (m->date && m->date[0]) {
        int y, mo, d;
        char tail;
        if (sscanf(m->date, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "milestone date \"%s\" is not YYYY-MM-DD", m->date);
        Ltc__Type__V1__Date *date = LTC_NEW(c, Ltc__Type__V1__Date, LTC__TYPE__V1__DATE__INIT);
        date->year = y;
        date->month = mo;
        date->day = d;
        ms->date = date;
    }
    ms->detail = ltc_call_strdup(c, m->detail ? m->detail : "");
    if (m->n_product_skus) {
        ms->product_skus = ltc_call_alloc(c, m->n_product_skus * sizeof *ms->product_skus);
        for (size_t i = 0; i < m->n_product_skus; i++) ms->product_skus[i] = ltc_call_strdup(c, m->product_skus[i]);
        ms->n_product_skus = m->n_product_skus;
    }

    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(hid);
    Ltc__Ltb__V1__AcceptMilestoneRequest *msg =
        LTC_NEW(c, Ltc__Ltb__V1__AcceptMilestoneRequest, LTC__LTB__V1__ACCEPT_MILESTONE_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, hid);
    msg->milestone = ms;
    /* The ordering key is the deal's milestone stream, not the deal: a deal's milestones stay in order among
     * themselves, but one parked at LTB (a deal LTB does not know: DEAL_NOT_FOUND) holds back only the deal's later
     * milestones, never its other hand-offs to LTB (AcceptCashCollected). */
    return ltc_outbox_put(c, st, &LTB, "AcceptMilestone", ltc_milestone_ordering_key(c, m->deal_id), hid, &msg->base);
}

const char *ltc_milestone_ordering_key(ltc_call *c, const char *deal_id) {
    return ltc_call_printf(c, "milestones/%s", deal_id);
}
