/* access.c - the roles and the permission table of every method reached through the gateway (docs/security.md has
 * it as a table). Deny by default: a public method missing here cannot be called; tests/contract checks that every
 * public RPC of the protos has a row. Ownership (iron triangle) is checked by the stage service that holds the
 * record: its method table names the SQL that finds a record's triangle. */
#include "ltc/access.h"

#include <stdio.h>
#include <string.h>

enum {
    S = LTC_ROLE_SALES,
    O = LTC_ROLE_SOLUTION,
    F = LTC_ROLE_FULFILMENT,
    FIN = LTC_ROLE_FINANCE,
    M = LTC_ROLE_MANAGER,
    A = LTC_ROLE_ADMIN,
    AU = LTC_ROLE_AUDITOR,
    READ = LTC_ROLES_ALL, /* every role may read (deal records only within its triangle, for S/O/F) */
};

#define LTB "/ltc.ltb.v1.LeadToBidService/"
#define BTO "/ltc.bto.v1.BidToOrderService/"
#define OTD "/ltc.otd.v1.OrderToDeliveryService/"
#define DTC "/ltc.dtc.v1.DeliveryToCashService/"

const ltc_access_rule ltc_access_table[] = {
    /* LTB: leads and opportunities, the sales side */
    {LTB "CreateLead", S | M | A},
    {LTB "GetLead", READ},
    {LTB "ListLeads", READ},
    {LTB "UpdateLead", S | M | A},
    {LTB "QualifyLead", S | M | A},
    {LTB "DisqualifyLead", S | M | A},
    {LTB "GetOpportunity", READ},
    {LTB "ListOpportunities", READ},
    {LTB "UpdateOpportunity", S | O | M | A},
    {LTB "CreateBid", S | O | M | A},
    {LTB "GetBid", READ},
    {LTB "MarkBidWon", S | M | A},
    {LTB "MarkBidLost", S | M | A},
    /* BTO: the catalogue belongs to solution; quotes, contracts and orders to the deal's triangle */
    {BTO "CreateProduct", O | M | A},
    {BTO "GetProduct", READ},
    {BTO "ListProducts", READ},
    {BTO "UpdateProduct", O | M | A},
    {BTO "GetDeal", READ},
    {BTO "ListDeals", READ},
    {BTO "CreateQuote", S | O | M | A},
    {BTO "GetQuote", READ},
    {BTO "AcceptQuote", S | M | A},
    {BTO "CreateContract", S | M | A},
    {BTO "GetContract", READ},
    {BTO "SignContract", S | M | A},
    {BTO "CreateOrder", S | F | M | A},
    {BTO "GetOrder", READ},
    /* OTD: fulfilment */
    {OTD "GetOrder", READ},
    {OTD "ListOrders", READ},
    {OTD "ReviewOrder", F | M | A},
    {OTD "ReleaseOrder", F | M | A},
    {OTD "CreateResource", F | M | A},
    {OTD "ScheduleOrder", F | M | A},
    {OTD "CreateShipment", F | M | A},
    {OTD "GetShipment", READ},
    {OTD "RecordAcceptance", S | F | M | A},
    /* DTC: receivables are finance's */
    {DTC "GetOrderAccount", READ},
    {DTC "GetInvoice", READ},
    {DTC "ListInvoices", READ},
    {DTC "RecordPayment", FIN | A},
    /* the audit trail of each stage */
    {"/ltc.audit.v1.AuditService/ListAuditEvents", AU | M | A},
    {NULL, 0},
};

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
