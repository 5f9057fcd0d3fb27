/* Unit tests of common/src/methods.c: method table rows resolved against the generated service descriptors, and
 * every table that does not cover its services exactly refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc/health/v1/health.pb-c.h"
#include "ltc/admin/v1/handoff_admin_service.pb-c.h"
#include "ltc/audit/v1/audit_service.pb-c.h"
#include "ltc/ltb/v1/intake_service.pb-c.h"
#include "ltc/methods.h"

#define AUDIT ltc__audit__v1__audit_service__descriptor
#define ADMIN ltc__admin__v1__handoff_admin_service__descriptor
#define LTB_INTAKE ltc__ltb__v1__intake_service__descriptor

static int handler(ltc_call *c, const ProtobufCMessage *req, ProtobufCMessage **resp, ltc_status *st) {
    (void)c, (void)req, (void)resp, (void)st;
    return -1;
}

static const ltc_owner_lookup BY_STAGE = {"stage", "SELECT 1"};

/* Asserts that resolving the rows fails with BAD_METHOD_TABLE and a message containing `needle`. */
static void assert_refused(const ltc_method *rows, size_t n, const char *const *reserved, const char *needle) {
    ltc_status st = {0};
    ltc_method *m = ltc_methods_resolve(rows, n, reserved, &st);
    assert_null(m);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_string_equal(st.reason, "BAD_METHOD_TABLE");
    if (!strstr(st.message, needle)) fail_msg("\"%s\" does not name \"%s\"", st.message, needle);
    ltc_status_clear(&st);
}

static void test_resolves_path_and_descriptors(void **state) {
    (void)state;
    const ltc_method rows[] = {
        LTC_READ(AUDIT, ListAuditEvents, handler, &BY_STAGE),
        LTC_HANDOFF(LTB_INTAKE, AcceptCashCollected, handler, "dtc"),
        LTC_HANDOFF(LTB_INTAKE, AcceptMilestone, handler, "bto,otd,dtc"),
        LTC_READ(AUDIT, GetAuditTrailIntegrity, handler, NULL),
    };
    ltc_status st = {0};
    ltc_method *m = ltc_methods_resolve(rows, 4, ltc_runtime_paths, &st);
    assert_non_null(m);
    assert_string_equal(m[0].path, "/ltc.audit.v1.AuditService/ListAuditEvents");
    assert_ptr_equal(m[0].request, &ltc__audit__v1__list_audit_events_request__descriptor);
    assert_ptr_equal(m[0].response, &ltc__audit__v1__list_audit_events_response__descriptor);
    assert_ptr_equal(m[0].handler, handler);
    assert_int_equal(m[0].flags, LTC_METHOD_READ);
    assert_ptr_equal(m[0].owner, &BY_STAGE);
    assert_null(m[0].callers);
    assert_string_equal(m[1].path, "/ltc.ltb.v1.IntakeService/AcceptCashCollected");
    assert_int_equal(m[1].flags, LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED);
    assert_string_equal(m[1].idempotency_field, "handoff_id");
    assert_string_equal(m[1].callers, "dtc");
    assert_null(rows[0].path); /* the table itself is left as it was */
    ltc_methods_free(m);
    ltc_methods_free(NULL);
}

static void test_empty_table(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_method *m = ltc_methods_resolve(NULL, 0, NULL, &st);
    assert_non_null(m);
    ltc_methods_free(m);
}

static void test_refuses_a_method_without_row(void **state) {
    (void)state;
    const ltc_method rows[] = {
        {.service = &ADMIN, .rpc = "GetHandoffBacklog", .handler = handler, .callers = "ops"},
        {.service = &ADMIN, .rpc = "ListHandoffs", .handler = handler, .callers = "ops"},
    };
    assert_refused(rows, 2, NULL, "/ltc.admin.v1.HandoffAdminService/RetryHandoff has no row");
}

static void test_refuses_a_method_the_descriptor_lacks(void **state) {
    (void)state;
    const ltc_method rows[] = {
        LTC_READ(AUDIT, ListAuditEvents, handler, NULL),
        LTC_READ(AUDIT, DeleteAuditEvents, handler, NULL),
    };
    assert_refused(rows, 2, NULL,
                   "/ltc.audit.v1.AuditService/DeleteAuditEvents, a method the service descriptor lacks");
}

static void test_refuses_a_method_named_twice(void **state) {
    (void)state;
    const ltc_method rows[] = {
        LTC_READ(AUDIT, ListAuditEvents, handler, NULL),
        LTC_HANDOFF(LTB_INTAKE, AcceptCashCollected, handler, "dtc"),
        LTC_HANDOFF(LTB_INTAKE, AcceptMilestone, handler, "bto,otd,dtc"),
        LTC_READ(AUDIT, ListAuditEvents, handler, NULL),
        LTC_READ(AUDIT, GetAuditTrailIntegrity, handler, NULL),
    };
    assert_refused(rows, 5, NULL,
                   "/ltc.audit.v1.AuditService/ListAuditEvents is named twice in the method table (rows 0 and 3)");
}

static void test_refuses_a_runtime_path(void **state) {
    (void)state;
    const ltc_method rows[] = {
        {.service = &grpc__health__v1__health__descriptor, .rpc = "Check", .handler = handler},
        {.service = &grpc__health__v1__health__descriptor, .rpc = "Watch", .handler = handler},
    };
    assert_refused(rows, 2, ltc_runtime_paths, "/grpc.health.v1.Health/Check is a path the runtime serves itself");
    int watch_reserved = 0; /* Health/Watch is served by the runtime too (health_watch.c) */
    for (const char *const *p = ltc_runtime_paths; *p; p++)
        watch_reserved |= strcmp(*p, "/grpc.health.v1.Health/Watch") == 0;
    assert_true(watch_reserved);
    /* not reserved: accepted */
    ltc_status st = {0};
    ltc_method *m = ltc_methods_resolve(rows, 2, NULL, &st);
    assert_non_null(m);
    ltc_methods_free(m);
}

static void test_refuses_rows_without_service_method_or_handler(void **state) {
    (void)state;
    const ltc_method no_service[] = {{.path = "/ltc.audit.v1.AuditService/ListAuditEvents", .handler = handler}};
    assert_refused(no_service, 1, NULL, "row 0 (?) names no service descriptor");
    const ltc_method no_rpc[] = {{.service = &AUDIT, .handler = handler}};
    assert_refused(no_rpc, 1, NULL, "row 0 (ltc.audit.v1.AuditService) names no method");
    const ltc_method no_handler[] = {LTC_READ(AUDIT, ListAuditEvents, NULL, NULL)};
    assert_refused(no_handler, 1, NULL, "/ltc.audit.v1.AuditService/ListAuditEvents has no handler");
}

static void test_refuses_bad_request_fields(void **state) {
    (void)state;
    /* ListAuditEventsRequest has no request_id */
    const ltc_method no_key[] = {LTC_WRITE(AUDIT, ListAuditEvents, handler, NULL)};
    assert_refused(no_key, 1, NULL, "idempotency field \"request_id\" is not a string field");
    static const ltc_owner_lookup through_string = {"stage.name", "SELECT 1"}, missing = {"deal", "SELECT 1"},
                                  not_string = {"page_size", "SELECT 1"};
    const ltc_method rows[] = {LTC_READ(AUDIT, ListAuditEvents, handler, &through_string)};
    assert_refused(rows, 1, NULL, "ownership field \"stage.name\"");
    const ltc_method rows2[] = {LTC_READ(AUDIT, ListAuditEvents, handler, &missing)};
    assert_refused(rows2, 1, NULL, "ownership field \"deal\"");
    const ltc_method rows3[] = {LTC_READ(AUDIT, ListAuditEvents, handler, &not_string)};
    assert_refused(rows3, 1, NULL, "ownership field \"page_size\"");
    /* a WRITE's owners are looked up before its handler: a lookup left to the handler is for READ methods only */
    static const ltc_owner_lookup by_handler = {"stage", "SELECT 1", 1};
    const ltc_method rows4[] = {{.handler = handler,
                                 .flags = LTC_METHOD_WRITE,
                                 .owner = &by_handler,
                                 .service = &AUDIT,
                                 .rpc = "ListAuditEvents"}};
    assert_refused(rows4, 1, NULL, "a WRITE method's owners are looked up before its handler");
    const ltc_method rows5[] = {LTC_READ(AUDIT, ListAuditEvents, handler, &by_handler),
                                LTC_READ(AUDIT, GetAuditTrailIntegrity, handler, NULL)};
    ltc_status st = {0};
    ltc_method *m = ltc_methods_resolve(rows5, 2, NULL, &st);
    assert_non_null(m);
    ltc_methods_free(m);
}

static void test_stage_adds_admin_and_audit(void **state) {
    (void)state;
    const ltc_method rows[] = {LTC_HANDOFF(LTB_INTAKE, AcceptCashCollected, handler, "dtc"),
                               LTC_HANDOFF(LTB_INTAKE, AcceptMilestone, handler, "bto,otd,dtc")};
    ltc_status st = {0};
    size_t n = 0;
    ltc_method *m = ltc_methods_resolve_stage(rows, 2, &n, &st);
    assert_non_null(m);
    assert_int_equal(n, 7); /* the rows, HandoffAdminService's three, AuditService's two */
    assert_string_equal(m[0].path, "/ltc.ltb.v1.IntakeService/AcceptCashCollected");
    assert_string_equal(m[2].path, "/ltc.admin.v1.HandoffAdminService/GetHandoffBacklog");
    assert_string_equal(m[2].callers, "ops");
    assert_string_equal(m[4].path, "/ltc.admin.v1.HandoffAdminService/RetryHandoff");
    assert_string_equal(m[4].idempotency_field, "request_id");
    assert_string_equal(m[5].path, "/ltc.audit.v1.AuditService/ListAuditEvents");
    assert_null(m[5].callers);
    assert_string_equal(m[6].path, "/ltc.audit.v1.AuditService/GetAuditTrailIntegrity");
    assert_int_equal(m[6].flags, LTC_METHOD_READ);
    ltc_methods_free(m);
    /* a stage that names the audit service itself collides with the runtime's row: paths are unique per process */
    const ltc_method twice[] = {LTC_READ(AUDIT, ListAuditEvents, handler, NULL)};
    m = ltc_methods_resolve_stage(twice, 1, &n, &st);
    assert_null(m);
    assert_string_equal(st.reason, "BAD_METHOD_TABLE");
    assert_non_null(strstr(st.message, "/ltc.audit.v1.AuditService/ListAuditEvents is named twice"));
    ltc_status_clear(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolves_path_and_descriptors),
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_refuses_a_method_without_row),
        cmocka_unit_test(test_refuses_a_method_the_descriptor_lacks),
        cmocka_unit_test(test_refuses_a_method_named_twice),
        cmocka_unit_test(test_refuses_a_runtime_path),
        cmocka_unit_test(test_refuses_rows_without_service_method_or_handler),
        cmocka_unit_test(test_refuses_bad_request_fields),
        cmocka_unit_test(test_stage_adds_admin_and_audit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
