/* milestones.c - the CRM hub's milestones (issue #18): BTO, OTD and DTC report what happened to a deal
 * (ltc.ltb.v1.IntakeService/AcceptMilestone, sent with ltc_milestone_put); LTB keeps each once, per deal, with the
 * time it happened at its source. */
#include <ctype.h>
#include <string.h>

#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/ids.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

/* One statement: the milestone is written only when its deal is an opportunity of LTB (no row back: NOT_FOUND).
 * $6 the source time in microseconds since the epoch; $8/$9 amount and currency (both NULL or neither). */
static const char SQL_INSERT[] =
    "INSERT INTO deal_milestones (id, deal_id, stage, kind, record, occur_time, actor, amount_minor, currency, "
    "on_date, detail, handoff_id, product_skus) SELECT $1::uuid, o.id, $3::text, $4::text, $5::text, " LTC_SQL_TS_PARAM(
        "$6") ", $7::text, $8::bigint, $9::text, $10::date, $11::text, $12::uuid, $13::text[] "
              "FROM opportunities o WHERE o.id = $2::uuid RETURNING 1";

/* --- AcceptMilestone ----------------------------------------------------------------------------------------- */

int ltb_accept_milestone(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__AcceptMilestoneRequest *req = (const void *)m;
    const Ltc__Type__V1__Milestone *ms = req->milestone;
    char deal[LTC_UUID_LEN + 1] = "", date[11] = "";
    ltc_money amount = {{0}, 0};
    const char *stage = NULL, *kind = NULL;
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    if (!ms) return ltc_status_bad_field(st, "milestone", "required");
    ltc_name_parse(ms->deal, "deals", "milestone.deal", deal, st);
    stage = ltc_enum_to_db(&ltc__type__v1__milestone_stage__descriptor, "MILESTONE_STAGE_", ms->stage);
    if (!stage || ms->stage == LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_UNSPECIFIED ||
        ms->stage == LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_LTB)
        ltc_status_bad_field(st, "milestone.stage", "must be BTO, OTD or DTC");
    kind = ltc_enum_to_db(&ltc__type__v1__milestone_kind__descriptor, "MILESTONE_KIND_", ms->kind);
    if (!kind || ms->kind == LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_UNSPECIFIED)
        ltc_status_bad_field(st, "milestone.kind", "must be a MilestoneKind");
    ltc_check_text(ms->record, "milestone.record", 1, 200, st);
    const Google__Protobuf__Timestamp *t = ms->occur_time;
    if (!t)
        ltc_status_bad_field(st, "milestone.occur_time", "required");
    else if (t->seconds < 0 || t->seconds > 253402300799LL || t->nanos < 0 || t->nanos > 999999999)
        ltc_status_bad_field(st, "milestone.occur_time", "out of range");
    ltc_check_text(ms->actor, "milestone.actor", 0, 200, st);
    if (ms->amount) ltc_money_from_proto(ms->amount, "milestone.amount", 1, &amount, st);
    if (ms->date) ltc_date_to_text(ms->date, "milestone.date", 1, date, st);
    ltc_check_text(ms->detail, "milestone.detail", 0, 1000, st);
    if (ms->n_product_skus > 200) ltc_status_bad_field(st, "milestone.product_skus", "at most 200");
    for (size_t i = 0; i < ms->n_product_skus && i < 200; i++)
        ltc_check_text(ms->product_skus[i], ltc_call_printf(c, "milestone.product_skus[%zu]", i), 1, 64, st);
    if (st->code != LTC_OK) return -1;
    /* The sender reports its own stage's milestones (with client certificates; plaintext development has no peer). */
    const char *peer = ltc_call_peer(c);
    if (peer && peer[0]) {
        char up[8] = "";
        size_t n = strlen(peer);
        for (size_t i = 0; i < n && i + 1 < sizeof up; i++) up[i] = (char)toupper((unsigned char)peer[i]);
        if (strcmp(up, stage) != 0)
            return ltc_status_set(st, LTC_PERMISSION_DENIED, "STAGE_NOT_ALLOWED", "%s may not report %s milestones",
                                  peer, stage);
    }

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *pi[] = {id,
                        deal,
                        stage,
                        kind,
                        ms->record,
                        ltc_sql_i64(c, t->seconds * 1000000 + t->nanos / 1000),
                        ms->actor ? ms->actor : "",
                        ms->amount ? ltc_sql_i64(c, amount.minor) : NULL,
                        ms->amount ? amount.currency : NULL,
                        date[0] ? date : NULL,
                        ms->detail ? ms->detail : "",
                        req->handoff_id,
                        ltc_sql_text_array(c, (const char *const *)ms->product_skus, ms->n_product_skus)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT, 13, pi);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal %s is not an opportunity of LTB", deal);
    ltc_audit_change(c, ltc_call_printf(c, "deals/%s/milestones/%s", deal, id), "kind", NULL, kind);

    Ltc__Ltb__V1__AcceptMilestoneResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__AcceptMilestoneResponse, LTC__LTB__V1__ACCEPT_MILESTONE_RESPONSE__INIT);
    resp->name = ltc_call_printf(c, "deals/%s/milestones/%s", deal, id);
    *out = &resp->base;
    return 0;
}
