/* access.c - the roles, and lookups in the permission table of every method reached through the gateway. The table
 * itself (ltc_access_table) is generated at build time from the contract: each public RPC's (ltc.type.v1.access)
 * option in proto/ names the roles allowed (proto/gen_access_table.py writes <build>/gen/ltc_access_table.c; docs/
 * security.md has it as a table). Deny by default: a method missing there cannot be called; tests/contract checks
 * that every public RPC has the option and no internal one does. Ownership (iron triangle) is checked by the stage
 * service that holds the record: its method table names the SQL that finds a record's triangle. */
#include "ltc/access.h"

#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {"sales", "solution", "fulfilment", "finance", "manager", "admin", "auditor"};

unsigned ltc_role_by_name(const char *name, size_t len) {
    for (unsigned i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (strlen(role_names[i]) == len && memcmp(role_names[i], name, len) == 0) return 1u << i;
    return 0;
}

unsigned ltc_roles_parse(const char *list) {
    unsigned roles = 0;
    if (!list) return 0;
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ') p++;
        if (p > start) roles |= ltc_role_by_name(start, (size_t)(p - start));
    }
    return roles;
}

void ltc_roles_format(unsigned roles, char *out, size_t n) {
    size_t k = 0;
    if (n) out[0] = 0;
    for (unsigned i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (!(roles & (1u << i))) continue;
        int w = snprintf(out + k, n > k ? n - k : 0, "%s%s", k ? "," : "", role_names[i]);
        if (w < 0 || (size_t)w >= n - k) { /* does not fit: keep whole names only */
            if (n > k) out[k] = 0;
            break;
        }
        k += (size_t)w;
    }
}

unsigned ltc_access_roles(const char *method) {
    for (const ltc_access_rule *r = ltc_access_table; r->method; r++)
        if (strcmp(r->method, method) == 0) return r->roles;
    return 0;
}

int ltc_access_all_deals(unsigned roles) {
    return (roles & (LTC_ROLE_FINANCE | LTC_ROLE_MANAGER | LTC_ROLE_ADMIN | LTC_ROLE_AUDITOR)) != 0;
}
