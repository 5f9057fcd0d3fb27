/* ltc-gateway: the single entry for clients. Forwards every public RPC of the four stage services to its service,
 * unchanged (bytes in, bytes out, error details passed through), with the caller's deadline (or a default), its
 * cancellation, a request id (the caller's x-request-id, else a new one) and the W3C trace context (the caller's
 * traceparent, else a new trace). Internal services (the IntakeService
 * hand-off receivers, admin) are not routed: they answer UNIMPLEMENTED here.
 *
 * Security (TLS, authentication, authorisation by role and deal ownership) goes in `forward`, before the call. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/client.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/server.h"
#include "ltc/service.h"

typedef struct route {
    const char *prefix;   /* "/ltc.ltb.v1.LeadToBidService/" */
    const char *service;  /* "ltb" */
    ltc_client *client;
} route;

typedef struct gateway {
    route routes[4];
    size_t n_routes;
    int default_deadline_ms;
} gateway;

static const struct {
    const char *prefix, *service;
} public_services[] = {
    {"/ltc.ltb.v1.LeadToBidService/", "ltb"},
    {"/ltc.bto.v1.BidToOrderService/", "bto"},
    {"/ltc.otd.v1.OrderToDeliveryService/", "otd"},
    {"/ltc.dtc.v1.DeliveryToCashService/", "dtc"},
};

static const char *const health_services[] = {
    "ltc.ltb.v1.LeadToBidService",
    "ltc.bto.v1.BidToOrderService",
    "ltc.otd.v1.OrderToDeliveryService",
    "ltc.dtc.v1.DeliveryToCashService",
    NULL,
};

static int forward(ltc_call *call, const char *method, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len, ltc_status *st, void *user) {
    gateway *g = user;
    const route *r = NULL;
    for (size_t i = 0; i < g->n_routes && !r; i++)
        if (strncmp(method, g->routes[i].prefix, strlen(g->routes[i].prefix)) == 0) r = &g->routes[i];
    if (!r) return ltc_status_set(st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %.150s is not served here", method);
    /* Authentication and authorisation (TLS, tokens, roles, deal ownership) belong here, before forwarding. */
    int64_t left = ltc_call_ms_left(call);
    int deadline = left == INT64_MAX ? g->default_deadline_ms : (int)(left > INT32_MAX ? INT32_MAX : left);
    if (deadline <= 0) return ltc_status_set(st, LTC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "deadline passed");
    ltc_metadata_kv md[2] = {{"x-request-id", ltc_call_request_id(call)}, {"traceparent", ltc_call_traceparent(call)}};
    if (ltc_client_call(r->client, call, method, req, req_len, deadline, md, 2, resp, resp_len, st) == 0) return 0;
    /* The transport failed, or the service cancelled the call while stopping: say which service, in our own error
     * details, as UNAVAILABLE (retryable) */
    if ((st->code == LTC_UNAVAILABLE || (st->code == LTC_CANCELLED && ltc_call_ms_left(call) > 0)) && !st->raw_details) {
        ltc_status_set(st, LTC_UNAVAILABLE, "SERVICE_UNAVAILABLE", "the %s service is unavailable, retry later",
                       r->service);
    }
    return -1;
}

int main(int argc, char **argv) {
    ltc_log_init("gateway", ltc_env_str("LTC_LOG_LEVEL", "info"));
    const char *listen = ltc_env_str("LTC_GATEWAY_LISTEN", "127.0.0.1:50051");
    if (argc == 2 && strcmp(argv[1], "--health-probe") == 0) return ltc_health_probe(listen, 2000);
    if (argc != 1) {
        fprintf(stderr, "usage: ltc-gateway [--health-probe]\n(configuration: docs/configuration.md)\n");
        return 2;
    }
    if (ltc_addr_valid(listen) != 0) {
        fprintf(stderr, "gateway: LTC_GATEWAY_LISTEN=%s is not a host:port address\n", listen);
        return 1;
    }
    char err[200];
    long workers, grace, max_msg, deadline;
    if (ltc_env_int("LTC_WORKERS", 8, 1, 256, &workers, err, sizeof err) != 0 ||
        ltc_env_int("LTC_SHUTDOWN_GRACE_MS", 5000, 0, 600000, &grace, err, sizeof err) != 0 ||
        ltc_env_int("LTC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024, &max_msg, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_FORWARD_DEADLINE_MS", 30000, 100, 600000, &deadline, err, sizeof err) != 0) {
        fprintf(stderr, "gateway: %s\n", err);
        return 1;
    }
    char metrics_default[300];
    ltc_default_metrics_listen(listen, metrics_default, sizeof metrics_default);
    const char *metrics_listen = ltc_env_str("LTC_GATEWAY_METRICS_LISTEN", metrics_default);
    gateway g = {.default_deadline_ms = (int)deadline};
    int rc = 1;
    ltc_block_signals(); /* before any thread starts (gRPC's too), so that only sigwait below takes SIGTERM */
    for (size_t i = 0; i < sizeof public_services / sizeof public_services[0]; i++) {
        char var[64];
        snprintf(var, sizeof var, "LTC_%c%c%c_TARGET", public_services[i].service[0] - 32,
                 public_services[i].service[1] - 32, public_services[i].service[2] - 32);
        const char *target = ltc_env_str(var, ltc_default_target(public_services[i].service));
        ltc_client *c = ltc_client_create(target, (int)max_msg);
        if (!c) {
            fprintf(stderr, "gateway: %s=%s is not a host:port address\n", var, target);
            goto out;
        }
        g.routes[g.n_routes++] = (route){public_services[i].prefix, public_services[i].service, c};
    }
    ltc_status st = {0};
    if (ltc_metrics_start(metrics_listen, &st) != 0) {
        LTC_ERROR("start_failed", NULL, "metrics: %s", st.message);
        ltc_status_clear(&st);
        goto out;
    }
    ltc_server_options so = {
        .service_name = "gateway",
        .listen_addr = listen,
        .workers = (int)workers,
        .health_services = health_services,
        .raw_handler = forward,
        .raw_user = &g,
        .max_message_bytes = (int)max_msg,
        .shutdown_grace_ms = (int)grace,
    };
    ltc_server *server = ltc_server_start(&so, &st);
    if (!server) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        ltc_status_clear(&st);
        goto out;
    }
    LTC_INFO("serving", NULL, "gateway on %s, metrics on %s", listen, metrics_listen);
    int sig = ltc_wait_for_signal();
    LTC_INFO("stopping", NULL, "signal %d: draining", sig);
    ltc_server_stop(server);
    LTC_INFO("stopped", NULL, "clean exit");
    rc = 0;
out:
    ltc_metrics_stop();
    for (size_t i = 0; i < g.n_routes; i++) ltc_client_destroy(g.routes[i].client);
    return rc;
}
