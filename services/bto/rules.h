/* rules.h - BTO's configuration rules engine (CPQ, docs/cpq.md): pure functions, no database, no allocation.
 * ValidateConfiguration, CreateQuote and AcceptQuote read the rules of the configured products and call
 * bto_rules_check, which names every broken rule (not only the first). */
#ifndef LTC_BTO_RULES_H
#define LTC_BTO_RULES_H

#include <stddef.h>
#include <stdint.h>

/* What a rule says about its subject product, when the subject is in the configuration (a rule whose subject is not
 * configured never applies). */
typedef enum bto_rule_kind {
    BTO_RULE_REQUIRES = 1,            /* every one of `others` must be configured too */
    BTO_RULE_EXCLUDES = 2,            /* none of `others` may be configured */
    BTO_RULE_MIN_QUANTITY = 3,        /* the subject's quantity is at least `quantity` */
    BTO_RULE_MAX_QUANTITY = 4,        /* the subject's quantity is at most `quantity` */
    BTO_RULE_BUNDLE_NEEDS_ONE_OF = 5, /* the subject (a bundle) needs at least one of `others` (its components) */
} bto_rule_kind;

typedef struct bto_rule {
    const char *name; /* shown in violations, e.g. "configurationRules/{id}" */
    bto_rule_kind kind;
    const char *product;       /* subject product id */
    const char *const *others; /* REQUIRES, EXCLUDES, BUNDLE_NEEDS_ONE_OF: product ids */
    size_t n_others;
    int64_t quantity; /* MIN_QUANTITY, MAX_QUANTITY */
} bto_rule;

/* One configured product and its quantity. */
typedef struct bto_config_line {
    const char *product;
    int64_t quantity;
} bto_config_line;

/* One broken rule: the rule's index, the line of its subject, and the first product at fault (an `others` entry:
 * the missing required one, the excluded one present; NULL for quantities and bundles). */
typedef struct bto_rule_violation {
    size_t rule;
    size_t line;
    const char *other;
} bto_rule_violation;

/* Checks the configuration `lines` (products compared as strings, case-insensitively) against every rule, in rule
 * order, and writes up to max_out violations (one per broken rule and, for REQUIRES/EXCLUDES, per product at
 * fault). Returns the number of violations found, which may exceed max_out (only max_out are written). An unknown
 * kind is a violation (never silently passed). */
size_t bto_rules_check(const bto_config_line *lines, size_t n, const bto_rule *rules, size_t n_rules,
                       bto_rule_violation *out, size_t max_out);

/* A one-line English description of violation v, e.g. "products/A requires products/B", into buf. Returns buf. */
char *bto_rule_describe(const bto_rule *rules, const bto_config_line *lines, const bto_rule_violation *v, char *buf,
                        size_t size);

#endif
