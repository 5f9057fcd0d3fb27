/* suggestions.c - SuggestConfigurations (cost-down, 降本选配): reads the deal's requirements, the catalogue's products
 * that cover them (in the deal's currency, at list price) and the rules about those products, runs the search
 * (suggest.c, pure) and answers the cheapest valid configurations with their margin and the margin delta against
 * the quote being edited. Changes nothing. */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "pricing.h"
#include "rules.h"
#include "suggest.h"

#define BTO_SUGGEST_MAX_ROWS 5000 /* capability rows read at most (bounds the candidates) */

static const char SQL_DEAL[] = "SELECT currency FROM deals WHERE id = $1";
static const char SQL_REQS[] =
    "SELECT code, quantity FROM deal_requirements WHERE deal_id = $1 ORDER BY position LIMIT 20";
/* Products of the deal's currency covering any requirement, cheapest first, their capabilities grouped per product. */
static const char SQL_CANDIDATES[] =
    "SELECT p.id, p.list_price_minor, p.unit_cost_minor, pc.code, pc.quantity_per_unit FROM products p "
    "JOIN product_capabilities pc ON pc.product_id = p.id "
    "WHERE p.currency = $1 AND p.id IN (SELECT product_id FROM product_capabilities WHERE code = ANY($2::text[])) "
    "ORDER BY p.list_price_minor, p.id, pc.code LIMIT $3";
static const char SQL_QUOTE_MARGIN[] =
    "SELECT total_minor, cost_total_minor FROM quotes WHERE id = $1 AND deal_id = $2";

int bto_suggest_configurations(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SuggestConfigurationsRequest *req = (const void *)m;
    char deal_id[LTC_UUID_LEN + 1], quote_id[LTC_UUID_LEN + 1] = "";
    ltc_name_parse(req->deal, "deals", "deal", deal_id, st);
    if (req->quote[0]) ltc_name_parse(req->quote, "quotes", "quote", quote_id, st);
    if (req->max_results < 0 || req->max_results > BTO_SUGGEST_MAX_RESULTS)
        ltc_status_bad_field(st, "max_results", "must be 0 to %d", BTO_SUGGEST_MAX_RESULTS);
    if (st->code != LTC_OK) return -1;
    size_t max_results = req->max_results ? (size_t)req->max_results : 3;
    const char *dp[1] = {deal_id};
    PGresult *d = ltc_call_query(c, st, SQL_DEAL, 1, dp);
    if (!d) return -1;
    if (PQntuples(d) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal %s not found", req->deal);
    const char *currency = ltc_call_strdup(c, ltc_pg_str(d, 0, 0));
    int has_quote = 0;
    int64_t quote_margin = 0;
    if (quote_id[0]) {
        const char *qp[2] = {quote_id, deal_id};
        PGresult *q = ltc_call_query(c, st, SQL_QUOTE_MARGIN, 2, qp);
        if (!q) return -1;
        if (PQntuples(q) != 1)
            return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s of %s not found", req->quote,
                                  req->deal);
        has_quote = !PQgetisnull(q, 0, 1);
        quote_margin = ltc_pg_i64(q, 0, 0) - (has_quote ? ltc_pg_i64(q, 0, 1) : 0);
    }
    Ltc__Bto__V1__SuggestConfigurationsResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SuggestConfigurationsResponse, LTC__BTO__V1__SUGGEST_CONFIGURATIONS_RESPONSE__INIT);
    *out = &resp->base;
    PGresult *r = ltc_call_query(c, st, SQL_REQS, 1, dp);
    if (!r) return -1;
    size_t nr = (size_t)PQntuples(r);
    if (nr == 0) return 0;
    bto_requirement *reqs = ltc_call_alloc(c, nr * sizeof *reqs);
    const char **codes = ltc_call_alloc(c, nr * sizeof *codes);
    for (size_t i = 0; i < nr; i++) {
        reqs[i] = (bto_requirement){ltc_call_strdup(c, ltc_pg_str(r, (int)i, 0)), ltc_pg_i64(r, (int)i, 1)};
        codes[i] = reqs[i].code;
    }
    const char *cp[3] = {currency, bto_sql_text_array(c, codes, nr), ltc_sql_i64(c, BTO_SUGGEST_MAX_ROWS)};
    PGresult *k = ltc_call_query(c, st, SQL_CANDIDATES, 3, cp);
    if (!k) return -1;
    int nk = PQntuples(k);
    if (nk == 0) return 0;
    bto_candidate *cands = ltc_call_alloc(c, (size_t)nk * sizeof *cands);
    bto_capability *caps = ltc_call_alloc(c, (size_t)nk * sizeof *caps);
    const char **ids = ltc_call_alloc(c, (size_t)nk * sizeof *ids);
    size_t nc = 0;
    for (int i = 0; i < nk; i++) {
        const char *id = ltc_pg_str(k, i, 0);
        if (nc == 0 || strcmp(cands[nc - 1].product, id) != 0) {
            ids[nc] = ltc_call_strdup(c, id);
            cands[nc] = (bto_candidate){ids[nc], ltc_pg_i64(k, i, 1), ltc_pg_i64(k, i, 2), &caps[i], 0};
            nc++;
        }
        caps[i] = (bto_capability){ltc_call_strdup(c, ltc_pg_str(k, i, 3)), ltc_pg_i64(k, i, 4)};
        cands[nc - 1].n_caps++;
    }
    bto_rule *rules;
    size_t n_rules;
    if (bto_rules_load(c, st, ids, nc, &rules, &n_rules) != 0) return -1;
    bto_suggestion *sg = ltc_call_alloc(c, max_results * sizeof *sg);
    size_t ns = bto_suggest(reqs, nr, cands, nc, rules, n_rules, sg, max_results, NULL);
    resp->suggestions = ltc_call_alloc(c, (ns ? ns : 1) * sizeof *resp->suggestions);
    for (size_t s = 0; s < ns; s++) {
        Ltc__Bto__V1__ConfigurationSuggestion *o =
            LTC_NEW(c, Ltc__Bto__V1__ConfigurationSuggestion, LTC__BTO__V1__CONFIGURATION_SUGGESTION__INIT);
        o->n_lines = sg[s].n;
        o->lines = ltc_call_alloc(c, (sg[s].n ? sg[s].n : 1) * sizeof *o->lines);
        for (size_t j = 0; j < sg[s].n; j++) {
            Ltc__Bto__V1__ConfigurationLine *l =
                LTC_NEW(c, Ltc__Bto__V1__ConfigurationLine, LTC__BTO__V1__CONFIGURATION_LINE__INIT);
            l->product = bto_name(c, "products", cands[sg[s].product[j]].product);
            l->quantity = sg[s].quantity[j];
            o->lines[j] = l;
        }
        int64_t margin = sg[s].total - sg[s].cost;
        o->total = ltc_money_msg(c, currency, sg[s].total);
        o->cost = ltc_money_msg(c, currency, sg[s].cost);
        o->margin = ltc_money_msg(c, currency, margin);
        o->margin_bps = bto_margin_bps(margin, sg[s].total, sg[s].cost);
        if (has_quote) o->margin_delta = ltc_money_msg(c, currency, margin - quote_margin);
        resp->suggestions[resp->n_suggestions++] = o;
    }
    return 0;
}
