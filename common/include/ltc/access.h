/* ltc/access.h - who may call what: the roles of an LTC organisation (common/src/access.c) and the per-method
 * permission table, generated at build time from the contract (each public RPC's (ltc.type.v1.access) option in
 * proto/, proto/gen_access_table.py), used by the gateway (to refuse early) and by every stage service (defence in
 * depth, and to scope deal records to their iron triangle). The roles match ltc.type.v1.Role
 * (proto/ltc/type/v1/access.proto): ROLE_<X> there is LTC_ROLE_<X> here.
 *
 *   role        who                                       sees deals
 *   sales       account owner (AR)                        where they are in the iron triangle
 *   solution    solution owner (SR)                       where they are in the iron triangle
 *   fulfilment  fulfilment owner (FR)                     where they are in the iron triangle
 *   finance     receivables, payments, credit             all
 *   manager     sales/delivery management, approvals      all
 *   admin       operators of the system                   all
 *   auditor     read-only, and the audit trail            all (read only)
 */
#ifndef LTC_ACCESS_H
#define LTC_ACCESS_H

#include <stddef.h>

enum {
    LTC_ROLE_SALES = 1u << 0,
    LTC_ROLE_SOLUTION = 1u << 1,
    LTC_ROLE_FULFILMENT = 1u << 2,
    LTC_ROLE_FINANCE = 1u << 3,
    LTC_ROLE_MANAGER = 1u << 4,
    LTC_ROLE_ADMIN = 1u << 5,
    LTC_ROLE_AUDITOR = 1u << 6,
};
#define LTC_ROLES_TRIANGLE (LTC_ROLE_SALES | LTC_ROLE_SOLUTION | LTC_ROLE_FULFILMENT)
#define LTC_ROLES_ALL 0x7fu

/* The role bits named in a comma- or space-separated list ("sales,manager"); unknown names are ignored. */
unsigned ltc_roles_parse(const char *list);
/* "sales,manager" (empty for none) into out. */
void ltc_roles_format(unsigned roles, char *out, size_t n);
/* The role with this name, or 0. */
unsigned ltc_role_by_name(const char *name, size_t len);

/* The roles allowed to call a method reached through the gateway ("/ltc.ltb.v1.LeadToBidService/CreateLead"); 0
 * for a method that is not in the table (nobody: deny by default). */
unsigned ltc_access_roles(const char *method);
/* Whether these roles see every deal; otherwise (sales, solution, fulfilment only) a caller sees and changes a
 * deal's records only where they are in its iron triangle. */
int ltc_access_all_deals(unsigned roles);

/* The table itself, for tests and docs: one entry per public RPC in the contract's order, NULL method at the end
 * (generated: <build>/gen/ltc_access_table.c). */
typedef struct ltc_access_rule {
    const char *method;
    unsigned roles;
} ltc_access_rule;
extern const ltc_access_rule ltc_access_table[];

#endif
