/* Unit tests of common/src/authz.c on detached calls: which callers a method's allow-list admits under mTLS, the
 * principal and roles forwarded by the gateway against the permission table (ltc/access.h), plaintext development,
 * and when the ownership check of deal-scoped callers asks the database, or is left to a READ handler that reads the
 * record's owners with it (ltc_call_check_owners, run through ltc_call_run). Identity and metadata are set through
 * internal.h's test hooks; "mTLS" is a server context with TLS and client certificates required. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "ltc/access.h"
#include "ltc/tls.h"
#include "ltc/ltb/v1/ltb_service.pb-c.h"

#define CREATE_LEAD "/ltc.ltb.v1.LeadToBidService/CreateLead"
#define GET_LEAD "/ltc.ltb.v1.LeadToBidService/GetLead"

static const ltc_method PUBLIC_WRITE = {.path = CREATE_LEAD, .flags = LTC_METHOD_WRITE, .callers = NULL};
static const ltc_method PUBLIC_READ = {.path = GET_LEAD, .flags = LTC_METHOD_READ, .callers = NULL};
static const ltc_method HANDOFF = {.path = "/ltc.bto.v1.IntakeService/AcceptWonBid",
                                   .flags = LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED,
                                   .callers = "dtc,ltb"};
static const ltc_method HEALTH = {.path = "/grpc.health.v1.Health/Check", .callers = "nobody"};

static struct ltc_server mtls_server;
static char some_tls[1]; /* authz asks only whether the server has TLS: any non-NULL source */

/* A detached call served "under mTLS" by peer `peer` (NULL: plaintext, no server). */
static ltc_call *call_from(const char *peer) {
    ltc_call *c = ltc_call_create_detached(NULL);
    if (peer) {
        mtls_server.opt.tls = (ltc_tls_source *)(void *)some_tls;
        mtls_server.opt.client_cert_required = 1;
        c->srv = &mtls_server;
        ltc_call__set_identity(c, peer, NULL, 0, 0);
    }
    return c;
}

static void done(ltc_call *c) {
    c->srv = NULL;
    ltc_call_destroy_detached(c);
}

static void expect_denied(ltc_call *c, const ltc_method *m, ltc_code code, const char *reason) {
    ltc_status st = {0};
    assert_int_equal(ltc_authz__authorize(c, m, &st), -1);
    assert_int_equal(st.code, code);
    assert_string_equal(st.reason, reason);
    ltc_status_clear(&st);
}

static void test_allow_list_under_mtls(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_call *c = call_from("ltb");
    assert_int_equal(ltc_authz__authorize(c, &HANDOFF, &st), 0);
    assert_string_equal(ltc_call_principal(c), ""); /* hand-offs carry no principal */
    done(c);
    c = call_from("dtc");
    assert_int_equal(ltc_authz__authorize(c, &HANDOFF, &st), 0);
    done(c);
    c = call_from("dt"); /* a prefix of an allowed name is not that name */
    expect_denied(c, &HANDOFF, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    done(c);
    c = call_from("gateway");
    expect_denied(c, &HANDOFF, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    done(c);
    c = call_from("bto"); /* public methods: only the gateway */
    expect_denied(c, &PUBLIC_READ, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    done(c);
    c = call_from(""); /* no certificate name */
    expect_denied(c, &PUBLIC_READ, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    done(c);
    c = call_from("anyone"); /* health is open to every caller */
    assert_int_equal(ltc_authz__authorize(c, &HEALTH, &st), 0);
    done(c);
}

static void test_principal_from_the_gateway(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_call *c = call_from("gateway");
    expect_denied(c, &PUBLIC_READ, LTC_UNAUTHENTICATED, "NO_PRINCIPAL");
    done(c);

    c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "ann smith"); /* a space: malformed */
    expect_denied(c, &PUBLIC_READ, LTC_UNAUTHENTICATED, "BAD_PRINCIPAL");
    done(c);

    c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "ann@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "sales");
    assert_int_equal(ltc_authz__authorize(c, &PUBLIC_WRITE, &st), 0);
    assert_string_equal(ltc_call_principal(c), "ann@example.com");
    assert_int_equal(ltc_call_roles(c), LTC_ROLE_SALES);
    assert_string_equal(ltc_call_deal_scope(c), "ann@example.com"); /* sales sees its own deals */
    done(c);

    c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "fin@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "finance");
    expect_denied(c, &PUBLIC_WRITE, LTC_PERMISSION_DENIED, "ROLE_NOT_ALLOWED"); /* CreateLead: sales, manager, admin */
    done(c);

    c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "boss@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "manager");
    assert_int_equal(ltc_authz__authorize(c, &PUBLIC_WRITE, &st), 0);
    assert_null(ltc_call_deal_scope(c)); /* managers see every deal */
    done(c);
}

/* A role lifts the iron-triangle scope only for the methods it grants itself: "auditor: all deals, read only" and
 * "finance: all deals" do not make a sales user's writes unscoped (issue #19, finding 1). */
static void test_scope_comes_from_the_granting_roles(void **state) {
    (void)state;
    ltc_status st = {0};
    const char *mixes[] = {"sales,auditor", "sales,finance", "auditor,sales"};
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        ltc_call *c = call_from("gateway");
        ltc_call__add_metadata(c, "x-ltc-principal", "mallory@example.com");
        ltc_call__add_metadata(c, "x-ltc-roles", mixes[i]);
        assert_int_equal(ltc_authz__authorize(c, &PUBLIC_WRITE, &st), 0); /* CreateLead: granted by sales only */
        assert_non_null(ltc_call_deal_scope(c));
        assert_string_equal(ltc_call_deal_scope(c), "mallory@example.com");
        done(c);
    }
    ltc_call *c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "mallory@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "sales,auditor");
    assert_int_equal(ltc_authz__authorize(c, &PUBLIC_READ, &st), 0); /* GetLead: the auditor's read sees all deals */
    assert_null(ltc_call_deal_scope(c));
    done(c);
    c = call_from("gateway");
    ltc_call__add_metadata(c, "x-ltc-principal", "boss@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "sales,manager");
    assert_int_equal(ltc_authz__authorize(c, &PUBLIC_WRITE, &st), 0); /* the manager grants CreateLead itself */
    assert_null(ltc_call_deal_scope(c));
    done(c);
}

static void test_plaintext_development(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_call *c = call_from(NULL);
    assert_int_equal(ltc_authz__authorize(c, &PUBLIC_WRITE, &st), 0); /* no principal: not restricted */
    assert_int_equal(ltc_authz__authorize(c, &HANDOFF, &st), 0);
    done(c);
    c = call_from(NULL);
    ltc_call__add_metadata(c, "x-ltc-principal", "fin@example.com");
    ltc_call__add_metadata(c, "x-ltc-roles", "finance");
    expect_denied(c, &PUBLIC_WRITE, LTC_PERMISSION_DENIED, "ROLE_NOT_ALLOWED"); /* a forwarded principal counts */
    done(c);
}

static void test_identify_resets_who(void **state) {
    (void)state;
    ltc_call *c = call_from(NULL);
    ltc_call__set_identity(c, "ltb", "ann@example.com", LTC_ROLE_SALES, 1);
    ltc_authz__identify(c); /* no gRPC call behind it: nobody */
    assert_string_equal(ltc_call_peer(c), "");
    assert_string_equal(ltc_call_principal(c), "");
    assert_int_equal(ltc_call_roles(c), 0);
    assert_null(ltc_call_deal_scope(c));
    done(c);
}

static const ltc_owner_lookup LEAD_OWNER = {"lead.name", "SELECT account_owner FROM leads WHERE id = $1"};
static const ltc_method OWNED = {.path = CREATE_LEAD, .flags = LTC_METHOD_WRITE, .owner = &LEAD_OWNER};

static void test_owner_check_asks_only_when_it_must(void **state) {
    (void)state;
    ltc_status st = {0};
    Ltc__Ltb__V1__Lead lead = LTC__LTB__V1__LEAD__INIT;
    Ltc__Ltb__V1__CreateLeadRequest req = LTC__LTB__V1__CREATE_LEAD_REQUEST__INIT;
    req.lead = &lead;
    ltc_call *c = call_from(NULL); /* no database: a query would fail UNAVAILABLE */

    lead.name = "leads/4f1c2d3e-0000-4000-8000-000000000001";
    ltc_call__set_identity(c, "gateway", "boss@example.com", LTC_ROLE_MANAGER, 0);
    assert_int_equal(ltc_authz__check_owner(c, &OWNED, &req.base, &st), 0);        /* not deal-scoped */
    assert_int_equal(ltc_authz__check_owner(c, &PUBLIC_WRITE, &req.base, &st), 0); /* no lookup */

    ltc_call__set_identity(c, "gateway", "ann@example.com", LTC_ROLE_SALES, 1);
    lead.name = "leads/not-a-uuid"; /* left to the handler */
    assert_int_equal(ltc_authz__check_owner(c, &OWNED, &req.base, &st), 0);
    lead.name = "";
    assert_int_equal(ltc_authz__check_owner(c, &OWNED, &req.base, &st), 0);
    assert_int_equal(st.code, LTC_OK);

    lead.name = "leads/4f1c2d3e-0000-4000-8000-000000000001"; /* deal-scoped and a real id: the lookup runs */
    assert_int_equal(ltc_authz__check_owner(c, &OWNED, &req.base, &st), -1);
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    ltc_status_clear(&st);
    done(c);
}

static void test_owners_checked_on_the_record_read(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_call *c = call_from(NULL);
    ltc_call__set_identity(c, "gateway", "sr@example.com", LTC_ROLE_SALES, 1);
    assert_int_equal(ltc_call_check_owners(c, "ar@example.com", "sr@example.com", "fr@example.com", "deals/x", &st), 0);
    assert_int_equal(c->owners_checked, 1);
    assert_int_equal(ltc_call_check_owners(c, "ar@example.com", NULL, "fr@example.com", "deals/x", &st), -1);
    assert_int_equal(c->owners_checked, -1);
    assert_int_equal(st.code, LTC_PERMISSION_DENIED);
    assert_string_equal(st.reason, "NOT_IN_IRON_TRIANGLE");
    ltc_status_clear(&st);
    ltc_call__set_identity(c, "gateway", "boss@example.com", LTC_ROLE_MANAGER, 0); /* sees every deal */
    assert_int_equal(ltc_call_check_owners(c, "ar@example.com", "sr@example.com", "fr@example.com", "deals/x", &st), 0);
    done(c);
}

/* A READ whose lookup is by_handler, through ltc_call_run on a call without a database: a handler that checks the
 * owners of its record answers without the lookup's statement (which would fail UNAVAILABLE here), one that refuses
 * gives PERMISSION_DENIED, and one that forgets gets the lookup run after it (UNAVAILABLE: it was asked). */
static int check_mode; /* 1 the handler checks the owners; 0 it forgets */
static int read_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetOpportunityRequest *req = (const void *)m;
    if (check_mode && ltc_call_check_owners(c, "ar@example.com", "sr@example.com", "fr@example.com", req->name, st))
        return -1;
    *out = &LTC_NEW(c, Ltc__Ltb__V1__GetOpportunityResponse, LTC__LTB__V1__GET_OPPORTUNITY_RESPONSE__INIT)->base;
    return 0;
}
static const ltc_owner_lookup OPP_BY_HANDLER = {
    "name", "SELECT account_owner, solution_owner, fulfilment_owner FROM opportunities WHERE id = $1", 1};
static const ltc_method OPP_READ = {.path = "/ltc.ltb.v1.LeadToBidService/GetOpportunity",
                                    .request = &ltc__ltb__v1__get_opportunity_request__descriptor,
                                    .response = &ltc__ltb__v1__get_opportunity_response__descriptor,
                                    .handler = read_opportunity,
                                    .flags = LTC_METHOD_READ,
                                    .owner = &OPP_BY_HANDLER};

static int run_opportunity_read(ltc_call *c, const char *principal, int mode, ltc_status *st) {
    Ltc__Ltb__V1__GetOpportunityRequest req = LTC__LTB__V1__GET_OPPORTUNITY_REQUEST__INIT;
    req.name = "opportunities/4f1c2d3e-0000-4000-8000-000000000001";
    uint8_t buf[128], *out = NULL;
    size_t n = protobuf_c_message_pack(&req.base, buf), out_len = 0;
    check_mode = mode;
    ltc_call__set_identity(c, "gateway", principal, LTC_ROLE_SALES, 1);
    int rc = ltc_call_run(c, &OPP_READ, buf, n, sizeof buf, &out, &out_len, st);
    free(out);
    return rc;
}

static void test_read_with_owners_checked_by_its_handler(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_call *c = call_from(NULL);
    assert_int_equal(run_opportunity_read(c, "fr@example.com", 1, &st), 0); /* no statement before the handler */
    assert_int_equal(run_opportunity_read(c, "eve@example.com", 1, &st), -1);
    assert_int_equal(st.code, LTC_PERMISSION_DENIED);
    assert_string_equal(st.reason, "NOT_IN_IRON_TRIANGLE");
    ltc_status_clear(&st);
    assert_int_equal(run_opportunity_read(c, "fr@example.com", 0, &st), -1); /* forgot: the lookup ran after it */
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    ltc_status_clear(&st);
    done(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_list_under_mtls),
        cmocka_unit_test(test_principal_from_the_gateway),
        cmocka_unit_test(test_scope_comes_from_the_granting_roles),
        cmocka_unit_test(test_plaintext_development),
        cmocka_unit_test(test_identify_resets_who),
        cmocka_unit_test(test_owner_check_asks_only_when_it_must),
        cmocka_unit_test(test_owners_checked_on_the_record_read),
        cmocka_unit_test(test_read_with_owners_checked_by_its_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
