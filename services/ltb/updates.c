/* updates.c - the standard Update methods of LTB (AIP-134 with AIP-154 etags): UpdateLead and UpdateOpportunity.
 *
 * Each writes the fields its update_mask names (empty mask or "*": every updatable field), never a state field.
 * A mask path that is not a field of the resource, or names an output-only or immutable field, is INVALID_ARGUMENT
 * naming "update_mask". When the resource's etag is set it must be the current one (the hex form of the row's
 * `version`), else ABORTED (ETAG_MISMATCH); the state is checked first, since a fresh etag would not help there.
 * Every update bumps `version` and update_time. Idempotent by request_id (done by the server). */
#include <string.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/fieldmask.h"
#include "ltc/proto.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

static const char SQL_LEAD_LOCK[] = "SELECT state, version, company_name, contact_name, contact_email, contact_phone"
                                    " FROM leads WHERE id = $1 FOR UPDATE";
/* $2..$5: whether to write company_name, contact_name, contact_email, contact_phone; $6..$9: the values. */
static const char SQL_LEAD_UPDATE[] =
    "UPDATE leads SET company_name = CASE WHEN $2::boolean THEN $6 ELSE company_name END,"
    " contact_name = CASE WHEN $3::boolean THEN $7 ELSE contact_name END,"
    " contact_email = CASE WHEN $4::boolean THEN $8 ELSE contact_email END,"
    " contact_phone = CASE WHEN $5::boolean THEN $9 ELSE contact_phone END,"
    " version = version + 1, update_time = now() WHERE id = $1";
/* The row and its values before the update (for the audit trail): title, effective probability, amount, close
 * date, competitors (names packed with LTB_SEP_ITEM). */
static const char SQL_OPP_LOCK[] =
    "SELECT o.stage, o.currency, o.version, o.title, " LTB_OPP_WIN_BPS ", o.expected_minor,"
    " " LTC_SQL_DATE("o.expected_close_date") ", array_to_string(o.competitor_names, ', ')"
                                              " FROM opportunities o WHERE o.id = $1 FOR UPDATE";
/* $2..$5: whether to write title, win_probability_bps, expected_minor, expected_close_date; $6..$9: the values
 * ($9 NULL clears the date). */
static const char SQL_OPP_UPDATE[] =
    "UPDATE opportunities SET title = CASE WHEN $2::boolean THEN $6 ELSE title END,"
    " win_probability_bps = CASE WHEN $3::boolean THEN $7::integer ELSE win_probability_bps END,"
    " expected_minor = CASE WHEN $4::boolean THEN $8::bigint ELSE expected_minor END,"
    " expected_close_date = CASE WHEN $5::boolean THEN $9::date ELSE expected_close_date END,"
    /* a probability written here is a manual override of the current stage (SetWinProbability is the way with a
     * reason of the caller's own) */
    " probability_override_bps = CASE WHEN $3::boolean THEN $7::integer ELSE probability_override_bps END,"
    " probability_override_reason = CASE WHEN $3::boolean THEN 'set through UpdateOpportunity'"
    "   ELSE probability_override_reason END,"
    " probability_override_by = CASE WHEN $3::boolean THEN COALESCE(NULLIF($10, ''), 'unknown')"
    "   ELSE probability_override_by END,"
    " probability_override_time = CASE WHEN $3::boolean THEN now() ELSE probability_override_time END,"
    " probability_override_stage = CASE WHEN $3::boolean THEN stage ELSE probability_override_stage END,"
    " competitor_names = CASE WHEN $11::boolean THEN $12::text[] ELSE competitor_names END,"
    " competitor_notes = CASE WHEN $11::boolean THEN $13::text[] ELSE competitor_notes END,"
    " version = version + 1, update_time = now() WHERE id = $1";

/* --- update masks -------------------------------------------------------------------------------------------- */

/* ABORTED (ETAG_MISMATCH) when `etag` is set and differs from the etag of row version `version`. */
static int etag_check(ltc_call *c, ltc_status *st, const char *what, const char *id, const char *etag,
                      int64_t version) {
    const char *now = ltb_etag(c, version);
    if (etag && etag[0] && strcmp(etag, now) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "%s %s changed since etag %.40s (now %s): read it again", what, id, etag, now);
    return 0;
}

/* --- UpdateLead ---------------------------------------------------------------------------------------------- */

enum {
    LU_COMPANY,
    LU_CONTACT,
    LU_EMAIL,
    LU_PHONE,
    LU_N
};
static const char *const LEAD_UPDATABLE[LU_N] = {"company_name", "contact_name", "contact_email", "contact_phone"};

static void check_lead_fields(const Ltc__Ltb__V1__Lead *l, unsigned bits, ltc_status *st) {
    if (bits & (1u << LU_COMPANY)) ltc_check_text(l->company_name, "lead.company_name", 1, 200, st);
    if (bits & (1u << LU_CONTACT)) ltc_check_text(l->contact_name, "lead.contact_name", 0, 200, st);
    if ((bits & (1u << LU_EMAIL)) && ltc_check_text(l->contact_email, "lead.contact_email", 0, 254, st) == 0 &&
        l->contact_email[0] && !ltb_email_shape_ok(l->contact_email))
        ltc_status_bad_field(st, "lead.contact_email", "not an e-mail address of the form name@domain.tld");
    if (bits & (1u << LU_PHONE)) ltc_check_text(l->contact_phone, "lead.contact_phone", 0, 40, st);
}

/* UpdateLead: writes the masked contact fields / company name of a NEW lead. INVALID_ARGUMENT (lead, lead.name,
 * update_mask, lead.<field>); NOT_FOUND (LEAD_NOT_FOUND); FAILED_PRECONDITION (LEAD_NOT_NEW); ABORTED
 * (ETAG_MISMATCH). */
int ltb_update_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UpdateLeadRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Lead *l = req->lead;
    char id[LTC_UUID_LEN + 1];
    if (!l) return ltc_status_bad_field(st, "lead", "required: the lead with its name and the fields to write");
    ltc_name_parse(l->name, "leads", "lead.name", id, st);
    unsigned bits = ltc_update_mask_bits(req->update_mask, &ltc__ltb__v1__lead__descriptor, LEAD_UPDATABLE, LU_N, st);
    check_lead_fields(l, bits, st);
    if (st->code != LTC_OK) return -1;

    const char *pl[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LEAD_LOCK, 1, pl);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", id);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "NEW") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "LEAD_NOT_NEW", "lead %s is %s: only NEW leads change", id,
                              state);
    if (etag_check(c, st, "lead", id, l->etag, ltc_pg_i64(r, 0, 1)) != 0) return -1;
    const char *target = ltc_call_printf(c, "leads/%s", id);
    const char *newv[LU_N] = {l->company_name, l->contact_name, l->contact_email, l->contact_phone};
    for (int k = 0; k < LU_N; k++)
        if (bits & (1u << k))
            ltc_audit_change(c, target, LEAD_UPDATABLE[k], ltc_pg_str(r, 0, 2 + k), newv[k] ? newv[k] : "");

    const char *pu[] = {id,
                        ltc_mask_flag(bits, LU_COMPANY),
                        ltc_mask_flag(bits, LU_CONTACT),
                        ltc_mask_flag(bits, LU_EMAIL),
                        ltc_mask_flag(bits, LU_PHONE),
                        l->company_name,
                        l->contact_name,
                        l->contact_email,
                        l->contact_phone};
    if (!ltc_call_query(c, st, SQL_LEAD_UPDATE, 9, pu)) return -1;

    Ltc__Ltb__V1__UpdateLeadResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UpdateLeadResponse, LTC__LTB__V1__UPDATE_LEAD_RESPONSE__INIT);
    if (ltb_load_lead(c, st, id, &resp->lead) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- UpdateOpportunity --------------------------------------------------------------------------------------- */

enum {
    OU_TITLE,
    OU_WIN,
    OU_AMOUNT,
    OU_CLOSE,
    OU_COMPETITORS,
    OU_N
};
static const char *const OPP_UPDATABLE[OU_N] = {"title", "win_probability_bps", "expected_amount",
                                                "expected_close_date", "competitors"};

/* Whether the mask selects everything (absent, empty or "*"): then "competitors", added after v1's first release,
 * is not written (a caller that never heard of it must not clear it). */
static int mask_is_all(const Google__Protobuf__FieldMask *mask) {
    if (!mask || mask->n_paths == 0) return 1;
    for (size_t i = 0; i < mask->n_paths; i++)
        if (mask->paths[i] && strcmp(mask->paths[i], "*") == 0) return 1;
    return 0;
}

/* Validates the competitors: at most 20, names 1 to 200 characters and distinct, notes up to 500, no control
 * characters. */
static void check_competitors(ltc_call *c, const Ltc__Ltb__V1__Opportunity *o, ltc_status *st) {
    if (o->n_competitors > 20) {
        ltc_status_bad_field(st, "opportunity.competitors", "at most 20, got %zu", o->n_competitors);
        return;
    }
    for (size_t i = 0; i < o->n_competitors; i++) {
        const Ltc__Ltb__V1__Competitor *x = o->competitors[i];
        const char *fn = ltc_call_printf(c, "opportunity.competitors[%zu].name", i);
        const char *ft = ltc_call_printf(c, "opportunity.competitors[%zu].note", i);
        if (ltc_check_text(x->name, fn, 1, 200, st) == 0 && !ltb_text_plain(x->name))
            ltc_status_bad_field(st, fn, "must not contain control characters");
        if (ltc_check_text(x->note, ft, 0, 500, st) == 0 && !ltb_text_plain(x->note))
            ltc_status_bad_field(st, ft, "must not contain control characters");
        for (size_t j = 0; j < i; j++)
            if (x->name && o->competitors[j]->name && strcmp(x->name, o->competitors[j]->name) == 0) {
                ltc_status_bad_field(st, fn, "names %s twice", x->name);
                break;
            }
    }
}

/* Validates the masked fields; fills the amount and the date text ("" = clear it). */
static void check_opp_fields(const Ltc__Ltb__V1__Opportunity *o, unsigned bits, ltc_money *amount, char date[11],
                             ltc_status *st) {
    if (bits & (1u << OU_TITLE)) ltc_check_text(o->title, "opportunity.title", 1, 200, st);
    if ((bits & (1u << OU_WIN)) && (o->win_probability_bps < 0 || o->win_probability_bps > 10000))
        ltc_status_bad_field(st, "opportunity.win_probability_bps", "must be between 0 and 10000, got %d",
                             (int)o->win_probability_bps);
    if (bits & (1u << OU_AMOUNT))
        ltc_money_from_proto(o->expected_amount, "opportunity.expected_amount", 0, amount, st);
    if (bits & (1u << OU_CLOSE))
        ltc_date_to_text(o->expected_close_date, "opportunity.expected_close_date", 1, date, st);
}

/* UpdateOpportunity: writes the masked title, win probability, expected amount (in the opportunity's currency)
 * and expected close date of a QUALIFIED or BIDDING opportunity. INVALID_ARGUMENT (opportunity, opportunity.name,
 * update_mask, opportunity.<field>); NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_CLOSED);
 * ABORTED (ETAG_MISMATCH). */
int ltb_update_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UpdateOpportunityRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Opportunity *o = req->opportunity;
    char id[LTC_UUID_LEN + 1], date[11] = "";
    ltc_money amount = {{0}, 0};
    if (!o) return ltc_status_bad_field(st, "opportunity", "required: the opportunity with its name and fields");
    ltc_name_parse(o->name, "opportunities", "opportunity.name", id, st);
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__ltb__v1__opportunity__descriptor, OPP_UPDATABLE, OU_N, st);
    if (mask_is_all(req->update_mask)) bits &= ~(1u << OU_COMPETITORS);
    check_opp_fields(o, bits, &amount, date, st);
    if (bits & (1u << OU_COMPETITORS)) check_competitors(c, o, st);
    if (st->code != LTC_OK) return -1;

    const char *pl[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_OPP_LOCK, 1, pl);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "OPPORTUNITY_NOT_FOUND", "opportunity %s does not exist", id);
    Ltc__Ltb__V1__OpportunityStage stage = ltb_stage_parse(ltc_pg_str(r, 0, 0));
    if (stage != LTB_STAGE(QUALIFIED) && stage != LTB_STAGE(BIDDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_CLOSED",
                              "opportunity %s is %s: only QUALIFIED or BIDDING opportunities change", id,
                              ltb_stage_text(stage));
    const char *currency = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    if ((bits & (1u << OU_AMOUNT)) && strcmp(amount.currency, currency) != 0)
        return ltc_status_bad_field(st, "opportunity.expected_amount.currency_code",
                                    "must be %s, the opportunity's currency, not %s", currency, amount.currency);
    if (etag_check(c, st, "opportunity", id, o->etag, ltc_pg_i64(r, 0, 2)) != 0) return -1;
    const char *target = ltc_call_printf(c, "opportunities/%s", id);
    if (bits & (1u << OU_TITLE)) ltc_audit_change(c, target, "title", ltc_pg_str(r, 0, 3), o->title ? o->title : "");
    if (bits & (1u << OU_WIN))
        ltc_audit_change(c, target, "win_probability_bps", ltc_pg_str(r, 0, 4), ltc_sql_i64(c, o->win_probability_bps));
    if (bits & (1u << OU_AMOUNT))
        ltc_audit_change_money(c, target, "expected_amount", currency, ltc_pg_i64(r, 0, 5), 1, amount.minor, 1);
    if (bits & (1u << OU_CLOSE))
        ltc_audit_change(c, target, "expected_close_date", ltc_pg_isnull(r, 0, 6) ? NULL : ltc_pg_str(r, 0, 6),
                         date[0] ? date : NULL);
    if (bits & (1u << OU_COMPETITORS)) {
        size_t len = 1;
        for (size_t i = 0; i < o->n_competitors; i++) len += strlen(o->competitors[i]->name) + 2;
        char *names = ltc_call_alloc(c, len);
        names[0] = '\0';
        for (size_t i = 0; i < o->n_competitors; i++) {
            if (i) strcat(names, ", ");
            strcat(names, o->competitors[i]->name);
        }
        ltc_audit_change(c, target, "competitors", ltc_pg_str(r, 0, 7), names);
    }

    const char *pu[] = {id,
                        ltc_mask_flag(bits, OU_TITLE),
                        ltc_mask_flag(bits, OU_WIN),
                        ltc_mask_flag(bits, OU_AMOUNT),
                        ltc_mask_flag(bits, OU_CLOSE),
                        o->title,
                        ltc_sql_i64(c, o->win_probability_bps),
                        ltc_sql_i64(c, amount.minor),
                        date[0] ? date : NULL,
                        ltb_actor(c),
                        ltc_mask_flag(bits, OU_COMPETITORS),
                        NULL,
                        NULL};
    if (bits & (1u << OU_COMPETITORS)) {
        const char **names = ltc_call_alloc(c, sizeof *names * (o->n_competitors + 1));
        const char **notes = ltc_call_alloc(c, sizeof *notes * (o->n_competitors + 1));
        for (size_t i = 0; i < o->n_competitors; i++) {
            names[i] = o->competitors[i]->name;
            notes[i] = o->competitors[i]->note ? o->competitors[i]->note : "";
        }
        pu[11] = ltc_sql_text_array(c, names, o->n_competitors);
        pu[12] = ltc_sql_text_array(c, notes, o->n_competitors);
    }
    if (!ltc_call_query(c, st, SQL_OPP_UPDATE, 13, pu)) return -1;
    if ((bits & (1u << OU_AMOUNT)) && ltb_admission_supersede_exceeded(c, st, id, amount.minor) != 0) return -1;

    Ltc__Ltb__V1__UpdateOpportunityResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UpdateOpportunityResponse, LTC__LTB__V1__UPDATE_OPPORTUNITY_RESPONSE__INIT);
    if (ltb_load_opportunity(c, st, id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}
