/* ltc-bench-echo: the bare echo server of the benchmark, on the project's runtime (ltc_server: the same completion
 * queue, worker threads, logging and health as every service) with one READ method and no database.
 *
 * Environment: LTC_BENCH_ECHO_LISTEN (127.0.0.1:50059), LTC_WORKERS (8), LTC_LOG_LEVEL (info); LTC_BENCH_ECHO_TLS_CERT
 * and LTC_BENCH_ECHO_TLS_KEY: serve TLS with this certificate and key (as the gateway's public port: no client
 * certificate), the baseline of the secure stack's rows. Stops on SIGTERM. */
#include <stdio.h>
#include <string.h>

#include "ltc/bench/v1/echo.pb-c.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/server.h"
#include "ltc/service.h"
#include "ltc/tls.h"

/* Echo: the request's payload back. Never fails. */
static int echo(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    (void)st;
    const Ltc__Bench__V1__EchoRequest *req = (const void *)m;
    Ltc__Bench__V1__EchoResponse *resp = LTC_NEW(c, Ltc__Bench__V1__EchoResponse, LTC__BENCH__V1__ECHO_RESPONSE__INIT);
    resp->payload.len = req->payload.len;
    if (req->payload.len) {
        resp->payload.data = ltc_call_alloc(c, req->payload.len);
        memcpy(resp->payload.data, req->payload.data, req->payload.len);
    }
    *out = &resp->base;
    return 0;
}

static const ltc_method METHODS[] = {
    {"/ltc.bench.v1.EchoService/Echo", &ltc__bench__v1__echo_request__descriptor,
     &ltc__bench__v1__echo_response__descriptor, echo, LTC_METHOD_READ, NULL},
};
static const char *const HEALTH[] = {"ltc.bench.v1.EchoService", NULL};

int main(int argc, char **argv) {
    ltc_log_init("echo", ltc_env_str("LTC_LOG_LEVEL", "info"));
    const char *listen = ltc_env_str("LTC_BENCH_ECHO_LISTEN", "127.0.0.1:50059");
    if (argc == 2 && strcmp(argv[1], "--health-probe") == 0) return ltc_health_probe(listen, "echo", 2000);
    if (argc != 1) {
        fprintf(stderr, "usage: ltc-bench-echo [--health-probe]\n");
        return 2;
    }
    char err[200];
    long workers;
    if (ltc_addr_valid(listen) != 0 || ltc_env_int("LTC_WORKERS", 8, 1, 256, &workers, err, sizeof err) != 0) {
        fprintf(stderr, "echo: bad LTC_BENCH_ECHO_LISTEN or LTC_WORKERS\n");
        return 1;
    }
    const char *cert = ltc_env_str("LTC_BENCH_ECHO_TLS_CERT", ""), *key = ltc_env_str("LTC_BENCH_ECHO_TLS_KEY", "");
    ltc_tls_source *tls = NULL;
    ltc_status st = {0};
    if ((cert[0] != 0) != (key[0] != 0)) {
        fprintf(stderr, "echo: set both LTC_BENCH_ECHO_TLS_CERT and LTC_BENCH_ECHO_TLS_KEY, or neither\n");
        return 1;
    }
    if (cert[0] && !(tls = ltc_tls_source_open("tls_public", cert, key, NULL, &st))) {
        fprintf(stderr, "echo: %s\n", st.message);
        ltc_status_clear(&st);
        return 1;
    }
    ltc_block_signals();
    ltc_server_options so = {
        .service_name = "echo",
        .listen_addr = listen,
        .workers = (int)workers,
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .max_message_bytes = 4 * 1024 * 1024,
        .shutdown_grace_ms = 1000,
        .tls = tls,
    };
    ltc_server *server = ltc_server_start(&so, &st);
    if (!server) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        ltc_tls_source_close(tls);
        return 1;
    }
    LTC_INFO("serving", NULL, "echo on %s%s, %ld workers", listen, cert[0] ? " (TLS)" : "", workers);
    ltc_wait_for_signal();
    ltc_server_stop(server);
    ltc_tls_source_close(tls);
    return 0;
}
