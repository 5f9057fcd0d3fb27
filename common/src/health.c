/* health.c - grpc.health.v1.Health/Check, a row of every server's method table.
 *
 *   service "liveness"            SERVING whenever a worker answers: the process's loop is alive (Kubernetes'
 *                                 livenessProbe; a process that cannot reach its database is not restarted for it)
 *   service "" and each listed    readiness: SERVING when the server serves (not stopping, ltc_server_set_serving),
 *                                 its database answers (a stage service) and its hand-off backlog - pending rows
 *                                 over every destination - is under LTC_READY_MAX_HANDOFF_BACKLOG (0: no limit)
 *
 * The readiness test itself is pure (ltc_health_ready); the database check is a SELECT 1 on the worker's connection,
 * bounded by the call's deadline like every statement. */
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"
#include "ltc/config.h"
#include "ltc/db.h"
#include "ltc/log.h"
#include "ltc/metrics.h"

#define LIVENESS "liveness"
#define DEFAULT_MAX_BACKLOG 10000

static long max_backlog(void) {
    static atomic_long cached = -1;
    long v = atomic_load(&cached);
    if (v >= 0) return v;
    char err[200];
    if (ltc_env_int("LTC_READY_MAX_HANDOFF_BACKLOG", DEFAULT_MAX_BACKLOG, 0, 100000000, &v, err, sizeof err) != 0) {
        LTC_WARN("bad_config", NULL, "%s: using %d", err, DEFAULT_MAX_BACKLOG);
        v = DEFAULT_MAX_BACKLOG;
    }
    atomic_store(&cached, v);
    return v;
}

const char *ltc_health_not_ready_reason(int serving, int db_ok, long backlog, long max) {
    if (!serving) return "not serving (starting or stopping)";
    if (!db_ok) return "database unreachable";
    if (max > 0 && backlog >= max) return "hand-off backlog over LTC_READY_MAX_HANDOFF_BACKLOG";
    return NULL;
}

int ltc_health_ready(int serving, int db_ok) {
    return ltc_health_not_ready_reason(serving, db_ok, ltc_metrics_handoff_backlog(), max_backlog()) == NULL;
}

/* Errors: NOT_FOUND UNKNOWN_SERVICE for a service the process does not serve. */
static int health_check(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)m;
    struct ltc_server *s = c->srv;
    int live = strcmp(req->service, LIVENESS) == 0;
    int known = live || req->service[0] == 0;
    for (const char *const *n = s ? s->opt.health_services : NULL; !known && n && *n; n++)
        known = strcmp(*n, req->service) == 0;
    if (!known) return ltc_status_set(st, LTC_NOT_FOUND, "UNKNOWN_SERVICE", "unknown service %.100s", req->service);
    int ok = 1;
    if (!live) {
        int serving = s && atomic_load(&s->serving);
        int db_ok = 1;
        if (serving && c->w && c->w->db) {
            ltc_status dbst = {0};
            db_ok = ltc_db_exec_text(c->w->db, &dbst, "SELECT 1") == 0;
            ltc_status_clear(&dbst);
        }
        const char *why = ltc_health_not_ready_reason(serving, db_ok, ltc_metrics_handoff_backlog(), max_backlog());
        if (why) LTC_INFO("not_ready", NULL, "%s", why);
        ok = why == NULL;
    }
    Grpc__Health__V1__HealthCheckResponse *resp =
        LTC_NEW(c, Grpc__Health__V1__HealthCheckResponse, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT);
    resp->status = ok ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
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
