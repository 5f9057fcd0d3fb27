/* Unit tests of common/src/health.c: grpc.health.v1 Check answered through ltc_call_run as the server would, from
 * the serving flag and the listed services of a server context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"

static struct ltc_server srv;
static const char *const services[] = {"ltc.ltb.v1.LeadToBidService", NULL};

/* Check(service) on a call of srv: 0 with *status set, or -1 with st set. */
static int check(const char *service, int *status, ltc_status *st) {
    ltc_call *c = ltc_call_create_detached(NULL);
    c->srv = &srv;
    const ltc_method m = ltc_health__method();
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)service;
    uint8_t buf[256];
    size_t n = protobuf_c_message_pack(&req.base, buf);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = ltc_call_run(c, &m, buf, n, sizeof buf, &out, &out_len, st);
    if (rc == 0) {
        Grpc__Health__V1__HealthCheckResponse *resp =
            grpc__health__v1__health_check_response__unpack(NULL, out_len, out);
        assert_non_null(resp);
        *status = resp->status;
        grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
    }
    free(out);
    c->srv = NULL;
    ltc_call_destroy_detached(c);
    return rc;
}

static void test_health(void **state) {
    (void)state;
    const ltc_method m = ltc_health__method();
    assert_string_equal(m.path, "/grpc.health.v1.Health/Check");
    assert_int_equal(m.flags, LTC_METHOD_READ);
    srv.opt.health_services = services;
    int status = -1;
    ltc_status st = {0};
    atomic_store(&srv.serving, 1);
    assert_int_equal(check("", &status, &st), 0);
    assert_int_equal(status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    assert_int_equal(check("ltc.ltb.v1.LeadToBidService", &status, &st), 0);
    assert_int_equal(status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    atomic_store(&srv.serving, 0);
    assert_int_equal(check("ltc.ltb.v1.LeadToBidService", &status, &st), 0);
    assert_int_equal(status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    assert_int_equal(check("ltc.bto.v1.BidToOrderService", &status, &st), -1);
    assert_int_equal(st.code, LTC_NOT_FOUND);
    assert_string_equal(st.reason, "UNKNOWN_SERVICE");
    ltc_status_clear(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
