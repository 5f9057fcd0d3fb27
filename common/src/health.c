/* health.c - grpc.health.v1.Health/Check, a row of every server's method table: SERVING or NOT_SERVING for the
 * process ("") and each service it lists, from the server's serving flag (ltc_server_set_serving). */
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"

/* Errors: NOT_FOUND UNKNOWN_SERVICE for a service the process does not serve. */
static int health_check(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)m;
    struct ltc_server *s = c->srv;
    int known = req->service[0] == 0;
    for (const char *const *n = s ? s->opt.health_services : NULL; !known && n && *n; n++)
        known = strcmp(*n, req->service) == 0;
    if (!known) return ltc_status_set(st, LTC_NOT_FOUND, "UNKNOWN_SERVICE", "unknown service %.100s", req->service);
    Grpc__Health__V1__HealthCheckResponse *resp =
        LTC_NEW(c, Grpc__Health__V1__HealthCheckResponse, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT);
    resp->status = s && atomic_load(&s->serving) ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                                                 : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    *out = &resp->base;
    return 0;
}

ltc_method ltc_health__method(void) {
    return (ltc_method){.path = "/grpc.health.v1.Health/Check",
                        .request = &grpc__health__v1__health_check_request__descriptor,
                        .response = &grpc__health__v1__health_check_response__descriptor,
                        .handler = health_check,
                        .flags = LTC_METHOD_READ};
}
