/* configuration.c - configuration rules (选配规则): CreateConfigurationRule, ValidateConfiguration, and the check
 * CreateQuote and AcceptQuote run (bto_configuration_check). The engine is rules.c (pure). */
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/proto.h"
#include "rules.h"

#define BTO_MAX_RULE_OTHERS 50
#define BTO_MAX_VIOLATIONS 100

static const char SQL_INSERT_RULE[] =
    "INSERT INTO configuration_rules (id, kind, product_id, other_ids, quantity, description) "
    "SELECT $1, $2, $3, $4::uuid[], $5, $6 WHERE (SELECT count(*) FROM products WHERE id = ANY($7::uuid[])) = $8 "
    "RETURNING id, " LTC_SQL_MICROS("create_time");
/* The rules about any of the configured products, oldest first; other_ids as a comma-separated list. */
static const char SQL_RULES_OF[] =
    "SELECT id, kind, product_id, array_to_string(other_ids, ','), quantity FROM configuration_rules "
    "WHERE product_id = ANY($1::uuid[]) ORDER BY seq";
static const char SQL_COUNT_PRODUCTS[] = "SELECT count(*) FROM products WHERE id = ANY($1::uuid[])";

static const char *const KIND_DB[] = {
    "", "REQUIRES", "EXCLUDES", "MIN_QUANTITY", "MAX_QUANTITY", "BUNDLE_NEEDS_ONE_OF"};

static bto_rule_kind kind_from_db(const char *s) {
    for (int k = 1; k <= 5; k++)
        if (strcmp(s, KIND_DB[k]) == 0) return (bto_rule_kind)k;
    return (bto_rule_kind)0;
}

/* Splits "a,b,c" in place into the arena: n items into *out. */
static size_t split_ids(ltc_call *c, const char *list, const char ***out) {
    size_t n = *list ? 1 : 0;
    for (const char *p = list; *p; p++) n += *p == ',';
    const char **items = ltc_call_alloc(c, (n ? n : 1) * sizeof *items);
    char *copy = ltc_call_strdup(c, list);
    size_t i = 0;
    for (char *tok = copy; n && tok;) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = '\0';
        items[i++] = tok;
        tok = comma ? comma + 1 : NULL;
    }
    *out = items;
    return i;
}

int bto_rules_load(ltc_call *c, ltc_status *st, const char *const *ids, size_t n, bto_rule **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (n == 0) return 0;
    const char *p[1] = {ltc_sql_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_RULES_OF, 1, p);
    if (!r) return -1;
    int nr = PQntuples(r);
    if (nr == 0) return 0;
    bto_rule *rules = ltc_call_alloc(c, (size_t)nr * sizeof *rules);
    for (int k = 0; k < nr; k++) {
        bto_rule *rule = &rules[k];
        rule->name = bto_name(c, "configurationRules", ltc_pg_str(r, k, 0));
        rule->kind = kind_from_db(ltc_pg_str(r, k, 1));
        rule->product = ltc_call_strdup(c, ltc_pg_str(r, k, 2));
        const char **others;
        rule->n_others = split_ids(c, ltc_pg_str(r, k, 3), &others);
        rule->others = others;
        rule->quantity = ltc_pg_i64(r, k, 4);
    }
    *out = rules;
    *n_out = (size_t)nr;
    return 0;
}

int bto_configuration_check(ltc_call *c, ltc_status *st, const char *const *ids, const int64_t *qty, size_t n,
                            bto_config_violation **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    bto_rule *rules;
    size_t nr;
    if (bto_rules_load(c, st, ids, n, &rules, &nr) != 0) return -1;
    if (nr == 0) return 0;
    bto_config_line *lines = ltc_call_alloc(c, n * sizeof *lines);
    for (size_t i = 0; i < n; i++) lines[i] = (bto_config_line){ids[i], qty[i]};
    bto_rule_violation *v = ltc_call_alloc(c, BTO_MAX_VIOLATIONS * sizeof *v);
    size_t nv = bto_rules_check(lines, n, rules, nr, v, BTO_MAX_VIOLATIONS);
    if (nv > BTO_MAX_VIOLATIONS) nv = BTO_MAX_VIOLATIONS;
    if (nv == 0) return 0;
    bto_config_violation *cv = ltc_call_alloc(c, nv * sizeof *cv);
    for (size_t i = 0; i < nv; i++) {
        char buf[400];
        const bto_rule *rule = &rules[v[i].rule];
        cv[i].line = v[i].line;
        cv[i].rule = rule->name;
        cv[i].kind = rule->kind;
        cv[i].product = bto_name(c, "products", lines[v[i].line].product);
        cv[i].other = v[i].other ? bto_name(c, "products", v[i].other) : ltc_call_strdup(c, "");
        cv[i].description = ltc_call_strdup(c, bto_rule_describe(rules, lines, &v[i], buf, sizeof buf));
    }
    *out = cv;
    *n_out = nv;
    return 0;
}

int bto_configuration_fail(ltc_call *c, ltc_status *st, const char *line_field, const bto_config_violation *v,
                           size_t n) {
    char *names = ltc_call_strdup(c, "");
    for (size_t i = 0; i < n; i++) {
        ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].product", line_field, v[i].line), "%s", v[i].description);
        names = ltc_call_printf(c, "%s%s%s", names, i ? "," : "", v[i].rule);
    }
    ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONFIGURATION_INVALID",
                   "%zu configuration rule(s) broken: %s (each named in BadRequest)", n, v[0].description);
    ltc_status_meta(st, "broken_rules", "%s", names);
    return -1;
}

/* CreateConfigurationRule: adds a rule. Errors: INVALID_ARGUMENT (rule.*), NOT_FOUND "PRODUCT_NOT_FOUND". */
int bto_create_configuration_rule(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateConfigurationRuleRequest *req = (const void *)m;
    const Ltc__Bto__V1__ConfigurationRule *rule = req->rule;
    if (!rule) return ltc_status_bad_field(st, "rule", "required");
    int kind = (int)rule->kind;
    int quantity_kind = kind == BTO_RULE_MIN_QUANTITY || kind == BTO_RULE_MAX_QUANTITY;
    if (kind < 1 || kind > 5)
        ltc_status_bad_field(st, "rule.kind",
                             "required: REQUIRES, EXCLUDES, MIN_QUANTITY, "
                             "MAX_QUANTITY or BUNDLE_NEEDS_ONE_OF");
    char pid[LTC_UUID_LEN + 1] = "";
    ltc_name_parse(rule->product, "products", "rule.product", pid, st);
    size_t no = rule->n_other_products;
    char(*oid)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, (no ? no : 1) * sizeof *oid);
    if (kind >= 1 && kind <= 5) {
        if (quantity_kind && no > 0)
            ltc_status_bad_field(st, "rule.other_products", "must be empty for a quantity rule");
        if (!quantity_kind && (no < 1 || no > BTO_MAX_RULE_OTHERS))
            ltc_status_bad_field(st, "rule.other_products", "1 to %d products", BTO_MAX_RULE_OTHERS);
        if (quantity_kind && (rule->quantity < 1 || rule->quantity > 1000000))
            ltc_status_bad_field(st, "rule.quantity", "must be 1 to 1000000");
        if (!quantity_kind && rule->quantity != 0)
            ltc_status_bad_field(st, "rule.quantity", "must be 0 unless the rule is MIN_QUANTITY or MAX_QUANTITY");
    }
    for (size_t i = 0; i < no && i < BTO_MAX_RULE_OTHERS; i++) {
        const char *f = ltc_call_printf(c, "rule.other_products[%zu]", i);
        if (ltc_name_parse(rule->other_products[i], "products", f, oid[i], st) != 0) continue;
        if (pid[0] && strcmp(oid[i], pid) == 0) ltc_status_bad_field(st, f, "must not be the rule's own product");
        for (size_t j = 0; j < i; j++)
            if (strcmp(oid[i], oid[j]) == 0) {
                ltc_status_bad_field(st, f, "duplicate of rule.other_products[%zu]", j);
                break;
            }
    }
    ltc_check_text(rule->description, "rule.description", 0, 500, st);
    if (st->code != LTC_OK) return -1;
    const char **others = ltc_call_alloc(c, (no ? no : 1) * sizeof *others);
    const char **all = ltc_call_alloc(c, (no + 1) * sizeof *all);
    all[0] = pid;
    for (size_t i = 0; i < no; i++) others[i] = all[i + 1] = oid[i];
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[8] = {id,
                        KIND_DB[kind],
                        pid,
                        ltc_sql_array(c, others, no),
                        ltc_sql_i64(c, rule->quantity),
                        rule->description,
                        ltc_sql_array(c, all, no + 1),
                        ltc_sql_i64(c, (int64_t)no + 1)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_RULE, 8, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND",
                              "rule.product or one of rule.other_products is not in the catalogue");
    ltc_audit_change(c, ltc_call_printf(c, "configurationRules/%s", id), "kind", NULL, KIND_DB[kind]);
    Ltc__Bto__V1__CreateConfigurationRuleResponse *resp = LTC_NEW(
        c, Ltc__Bto__V1__CreateConfigurationRuleResponse, LTC__BTO__V1__CREATE_CONFIGURATION_RULE_RESPONSE__INIT);
    Ltc__Bto__V1__ConfigurationRule *o =
        LTC_NEW(c, Ltc__Bto__V1__ConfigurationRule, LTC__BTO__V1__CONFIGURATION_RULE__INIT);
    o->name = bto_name(c, "configurationRules", ltc_pg_str(r, 0, 0));
    o->kind = rule->kind;
    o->product = bto_name(c, "products", pid);
    o->n_other_products = no;
    o->other_products = ltc_call_alloc(c, (no ? no : 1) * sizeof *o->other_products);
    for (size_t i = 0; i < no; i++) o->other_products[i] = bto_name(c, "products", oid[i]);
    o->quantity = rule->quantity;
    o->description = ltc_call_strdup(c, rule->description);
    o->create_time = ltc_ts_from_pg(c, r, 0, 1);
    resp->rule = o;
    *out = &resp->base;
    return 0;
}

/* ValidateConfiguration: every broken rule of a configuration. Errors: INVALID_ARGUMENT (lines), NOT_FOUND
 * "PRODUCT_NOT_FOUND". */
int bto_validate_configuration(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ValidateConfigurationRequest *req = (const void *)m;
    size_t n = req->n_lines;
    if (n == 0 || n > BTO_MAX_QUOTE_LINES)
        return ltc_status_bad_field(st, "lines", "1 to %d lines", BTO_MAX_QUOTE_LINES);
    char(*pid)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, n * sizeof *pid);
    const char **ids = ltc_call_alloc(c, n * sizeof *ids);
    int64_t *qty = ltc_call_alloc(c, n * sizeof *qty);
    for (size_t i = 0; i < n; i++) {
        const char *f = ltc_call_printf(c, "lines[%zu].product", i);
        pid[i][0] = '\0';
        if (ltc_name_parse(req->lines[i]->product, "products", f, pid[i], st) == 0)
            for (size_t j = 0; j < i; j++)
                if (strcmp(pid[i], pid[j]) == 0) {
                    ltc_status_bad_field(st, f, "duplicate product: lines[%zu] has it already", j);
                    break;
                }
        if (req->lines[i]->quantity < 1 || req->lines[i]->quantity > 1000000)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "must be 1 to 1000000");
        ids[i] = pid[i];
        qty[i] = req->lines[i]->quantity;
    }
    if (st->code != LTC_OK) return -1;
    const char *p[1] = {ltc_sql_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_COUNT_PRODUCTS, 1, p);
    if (!r) return -1;
    if (ltc_pg_i64(r, 0, 0) != (int64_t)n)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND", "a product of lines is not in the catalogue");
    bto_config_violation *v;
    size_t nv;
    if (bto_configuration_check(c, st, ids, qty, n, &v, &nv) != 0) return -1;
    Ltc__Bto__V1__ValidateConfigurationResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ValidateConfigurationResponse, LTC__BTO__V1__VALIDATE_CONFIGURATION_RESPONSE__INIT);
    resp->valid = nv == 0;
    resp->n_violations = nv;
    resp->violations = ltc_call_alloc(c, (nv ? nv : 1) * sizeof *resp->violations);
    for (size_t i = 0; i < nv; i++) {
        Ltc__Bto__V1__RuleViolation *o = LTC_NEW(c, Ltc__Bto__V1__RuleViolation, LTC__BTO__V1__RULE_VIOLATION__INIT);
        o->rule = (char *)v[i].rule;
        o->kind = (Ltc__Bto__V1__RuleKind)v[i].kind;
        o->product = (char *)v[i].product;
        o->other_product = (char *)v[i].other;
        o->description = (char *)v[i].description;
        resp->violations[i] = o;
    }
    *out = &resp->base;
    return 0;
}
