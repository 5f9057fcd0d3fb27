/* rules.c - BTO's configuration rules engine (see rules.h). Pure: O(rules x (others + lines) x lines), which is
 * bounded by the quote's 200 lines and the rules of those products. */
#include "rules.h"

#include <stdio.h>
#include <strings.h>

/* The line holding `product`, or -1. */
static long find(const bto_config_line *lines, size_t n, const char *product) {
    if (!product) return -1;
    for (size_t i = 0; i < n; i++)
        if (lines[i].product && strcasecmp(lines[i].product, product) == 0) return (long)i;
    return -1;
}

static void add(bto_rule_violation *out, size_t max_out, size_t *count, size_t rule, size_t line, const char *other) {
    if (*count < max_out) out[*count] = (bto_rule_violation){rule, line, other};
    (*count)++;
}

size_t bto_rules_check(const bto_config_line *lines, size_t n, const bto_rule *rules, size_t n_rules,
                       bto_rule_violation *out, size_t max_out) {
    size_t count = 0;
    for (size_t r = 0; r < n_rules; r++) {
        const bto_rule *rule = &rules[r];
        long at = find(lines, n, rule->product);
        if (at < 0) continue;
        size_t line = (size_t)at;
        switch (rule->kind) {
            case BTO_RULE_REQUIRES:
                for (size_t k = 0; k < rule->n_others; k++)
                    if (find(lines, n, rule->others[k]) < 0) add(out, max_out, &count, r, line, rule->others[k]);
                break;
            case BTO_RULE_EXCLUDES:
                for (size_t k = 0; k < rule->n_others; k++)
                    if (find(lines, n, rule->others[k]) >= 0) add(out, max_out, &count, r, line, rule->others[k]);
                break;
            case BTO_RULE_MIN_QUANTITY:
                if (lines[line].quantity < rule->quantity) add(out, max_out, &count, r, line, NULL);
                break;
            case BTO_RULE_MAX_QUANTITY:
                if (lines[line].quantity > rule->quantity) add(out, max_out, &count, r, line, NULL);
                break;
            case BTO_RULE_BUNDLE_NEEDS_ONE_OF: {
                int any = 0;
                for (size_t k = 0; k < rule->n_others && !any; k++) any = find(lines, n, rule->others[k]) >= 0;
                if (!any) add(out, max_out, &count, r, line, NULL);
                break;
            }
            default: add(out, max_out, &count, r, line, NULL);
        }
    }
    return count;
}

char *bto_rule_describe(const bto_rule *rules, const bto_config_line *lines, const bto_rule_violation *v, char *buf,
                        size_t size) {
    const bto_rule *r = &rules[v->rule];
    const char *subject = lines[v->line].product;
    const char *name = r->name ? r->name : "";
    switch (r->kind) {
        case BTO_RULE_REQUIRES:
            snprintf(buf, size, "%s: products/%s requires products/%s", name, subject, v->other);
            break;
        case BTO_RULE_EXCLUDES:
            snprintf(buf, size, "%s: products/%s excludes products/%s", name, subject, v->other);
            break;
        case BTO_RULE_MIN_QUANTITY:
            snprintf(buf, size, "%s: products/%s needs a quantity of at least %lld (has %lld)", name, subject,
                     (long long)r->quantity, (long long)lines[v->line].quantity);
            break;
        case BTO_RULE_MAX_QUANTITY:
            snprintf(buf, size, "%s: products/%s allows a quantity of at most %lld (has %lld)", name, subject,
                     (long long)r->quantity, (long long)lines[v->line].quantity);
            break;
        case BTO_RULE_BUNDLE_NEEDS_ONE_OF:
            snprintf(buf, size, "%s: bundle products/%s needs one of its %zu components", name, subject, r->n_others);
            break;
        default: snprintf(buf, size, "%s: unknown rule kind %d", name, (int)r->kind);
    }
    return buf;
}
