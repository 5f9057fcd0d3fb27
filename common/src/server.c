/* server.c - unary gRPC services on gRPC core: one shared completion queue served by a pool of worker threads, each
 * worker owning a database connection and a scratch arena; the event loop and the call state machine; start and
 * graceful shutdown. What happens to a call once received lives in serve.c (and dispatch.c, authz.c, idempotency.c,
 * audit.c, reply.c), the gateway's forwarding in proxy.c, reflection streams in reflection_stream.c, the health
 * check in health.c; internal.h draws the modules' graph.
 *
 * Life of a call context (ctx): REQUESTED (posted to gRPC, waiting for a call) -> [RECEIVING (generic calls read
 * their message with a second batch)] -> SENDING (reply batch in flight) -> freed. A ctx is owned by whichever
 * thread takes its tag from the queue; after grpc_call_start_batch returns, it is no longer ours to touch.
 *
 * Shutdown (ltc_server_stop): NOT_SERVING; no new requests are posted; gRPC is told to shut down (its tag completes
 * when every call is done); in-flight calls get the grace period, then are cancelled (and their statements, when
 * stuck in the database); once the shutdown tag completed and every context is freed the server is destroyed, the
 * queue shut down and drained by the workers, and the workers joined. */
#include "ltc/server.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ltc/assert.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/tls.h"
#include "reflection.h"

/* Posts a request for the next call of `kind` (method: index into the method table, or which reflection version),
 * unless shutting down. */
static void post_request(ltc_server *s, enum ctx_kind kind, int method) {
    if (atomic_load(&s->shutting_down)) return;
    ltc_call *c = ltc_call__new(s, kind, method);
    grpc_call_error e;
    if (kind == CTX_REGISTERED) {
        e = grpc_server_request_registered_call(s->server, s->handles[method], &c->call, &c->deadline, &c->md,
                                                &c->payload, s->cq, s->cq, c);
    } else if (kind == CTX_REFLECTION) {
        e = grpc_server_request_registered_call(s->server, s->refl_handles[method], &c->call, &c->deadline, &c->md,
                                                NULL, s->cq, s->cq, c);
    } else if (kind == CTX_WATCH) {
        e = grpc_server_request_registered_call(s->server, s->watch_handle, &c->call, &c->deadline, &c->md, &c->payload,
                                                s->cq, s->cq, c);
    } else {
        e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq, c);
    }
    if (e != GRPC_CALL_OK) {
        LTC_ERROR("request_call_failed", NULL, "grpc_call_error %d", (int)e);
        ltc_call__free(c);
    }
}

/* A call arrived on a posted request: another request is posted, the call counted busy, and served. */
static void on_received(ltc_server *s, ltc_call *c, ltc_worker *w) {
    post_request(s, c->kind, c->method); /* keep a request outstanding for the next call */
    atomic_fetch_add(&s->busy, 1);
    ltc_metrics_busy(1);
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    if (c->kind == CTX_REGISTERED) {
        ltc_serve__registered(c, w);
        return;
    }
    if (c->kind == CTX_REFLECTION) {
        ltc_reflection__stream_start(c);
        return;
    }
    if (c->kind == CTX_WATCH) {
        ltc_watch__start(c);
        return;
    }
    c->deadline = c->details.deadline;
    if (!s->opt.raw_handler) {
        ltc_serve__generic(c, w); /* UNIMPLEMENTED: no need to read the message */
        return;
    }
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->payload;
    ltc_call__set_state(c, ST_RECEIVING);
    if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) ltc_call__end(c);
}

/* The call state machine: one completed batch of context c (ok: the event's success). */
static void on_event(ltc_server *s, ltc_call *c, int ok, ltc_worker *w) {
    switch (c->state) {
        case ST_REQUESTED:
            if (!ok) { /* server shutting down: the request is returned unused */
                ltc_call__free(c);
                return;
            }
            on_received(s, c, w);
            return;
        case ST_RECEIVING:
            ltc_serve__generic(c, w); /* !ok or no payload: answered as MISSING_MESSAGE (the peer may be gone) */
            return;
        case ST_FORWARDING:
            ltc_proxy__done(c, w); /* RECV_STATUS_ON_CLIENT always completes, ok or not */
            return;
        case ST_SENDING: ltc_call__end(c); return;
        case ST_STREAM_RECV:
        case ST_STREAM_SEND: ltc_reflection__stream_event(c, ok); return;
        case ST_WATCHING: ltc_watch__event(c, ok, 0); return;
    }
    LTC_ASSERT(!"a call context in no known state");
}

/* A worker thread: its own connection (registered for cancelling at shutdown) and arena; takes events from the
 * shared queue until the queue is shut down, then releases its resources. */
static void *worker_main(void *arg) {
    ltc_server *s = arg;
    ltc_worker w = {0};
    w.arena = ltc_arena_create(16 * 1024);
    if (s->opt.db_dsn) w.db = ltc_db_create(s->opt.db_dsn, s->opt.db_schema);
    pthread_mutex_lock(&s->workers_mu);
    for (int k = 0; k < s->opt.workers; k++) {
        if (!s->worker_dbs[k]) {
            s->worker_dbs[k] = w.db;
            break;
        }
    }
    pthread_mutex_unlock(&s->workers_mu);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        if (ev.tag == &s->shutdown_tag) {
            atomic_store(&s->shutdown_done, 1);
            continue;
        }
        if (ltc_watch__is_close_tag(ev.tag)) { /* a Health/Watch stream's RECV_CLOSE_ON_SERVER */
            ltc_watch__event((ltc_call *)((uintptr_t)ev.tag & ~(uintptr_t)1), ev.success, 1);
            continue;
        }
        on_event(s, ev.tag, ev.success, &w);
    }
    ltc_call__clear_results(&w);
    free(w.results);
    pthread_mutex_lock(&s->workers_mu);
    for (int k = 0; k < s->opt.workers; k++)
        if (s->worker_dbs[k] == w.db) s->worker_dbs[k] = NULL;
    pthread_mutex_unlock(&s->workers_mu);
    ltc_db_destroy(w.db);
    ltc_arena_destroy(w.arena);
    return NULL;
}

/* gRPC's certificate config fetcher (called for each new connection): the source's material when its generation
 * moved since the last answer, else UNCHANGED. gRPC copies what it is given and frees the config. */
static grpc_ssl_certificate_config_reload_status fetch_certificate_config(void *user,
                                                                          grpc_ssl_server_certificate_config **config) {
    ltc_server *s = user;
    unsigned long g = ltc_tls_source_generation(s->opt.tls), seen = atomic_load(&s->tls_generation);
    if (g == seen) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    if (!atomic_compare_exchange_strong(&s->tls_generation, &seen, g))
        return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    const ltc_tls *t = ltc_tls_source_acquire(s->opt.tls);
    grpc_ssl_pem_key_cert_pair pair = {t->key_pem, t->cert_pem};
    /* gRPC 1.51 asserts that a fetched config has roots even when no client certificate is asked for (the public
     * port): then our own chain stands in, never used (no CertificateRequest is sent, nothing is verified) */
    *config =
        grpc_ssl_server_certificate_config_create(s->opt.client_cert_required ? t->ca_pem : t->cert_pem, &pair, 1);
    ltc_tls_source_release(s->opt.tls, t);
    if (!*config) {
        atomic_store(&s->tls_generation, seen);
        return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_FAIL;
    }
    if (seen != 0)
        LTC_INFO("tls_serving", NULL, "%s: new connections get the certificate of generation %lu",
                 s->opt.service_name ? s->opt.service_name : "server", g);
    return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

ltc_server *ltc_server_start(const ltc_server_options *opt, ltc_status *st) {
    ltc_server *s = calloc(1, sizeof *s);
    if (!s) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    s->opt = *opt;
    snprintf(s->domain, sizeof s->domain, "%s.ltc", opt->service_name ? opt->service_name : "ltc");
    if (s->opt.workers < 1) s->opt.workers = 1;
    if (s->opt.max_message_bytes <= 0) s->opt.max_message_bytes = 4 * 1024 * 1024;
    s->n_methods = opt->n_methods + 1;
    s->methods = calloc(s->n_methods, sizeof *s->methods);
    s->handles = calloc(s->n_methods, sizeof *s->handles);
    if (!s->methods || !s->handles) abort();
    if (opt->n_methods) memcpy(s->methods, opt->methods, opt->n_methods * sizeof *opt->methods);
    s->methods[opt->n_methods] = ltc_health__method();
    grpc_init();
    grpc_arg args[6];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    /* gRPC's own limit is a little above ours, so a request just over the limit gets our RESOURCE_EXHAUSTED with
     * details (MESSAGE_TOO_LARGE); far larger ones are cut by gRPC itself. */
    args[0].value.integer = s->opt.max_message_bytes + 64 * 1024;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = s->opt.max_message_bytes;
    /* Connections are closed gracefully after 5 minutes, so long-lived callers re-resolve and spread over
     * replicas that started since (round_robin on the client side). */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_MAX_CONNECTION_AGE_MS;
    args[2].value.integer = 5 * 60 * 1000;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS;
    args[3].value.integer = 30 * 1000;
    /* OWASP API4: bounded request headers and streams per connection */
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = GRPC_ARG_MAX_METADATA_SIZE;
    args[4].value.integer = s->opt.max_metadata_bytes > 0 ? s->opt.max_metadata_bytes : 8 * 1024;
    args[5].type = GRPC_ARG_INTEGER;
    args[5].key = GRPC_ARG_MAX_CONCURRENT_STREAMS;
    args[5].value.integer = s->opt.max_concurrent_streams > 0 ? s->opt.max_concurrent_streams : 100;
    grpc_channel_args cargs = {6, args};
    s->server = grpc_server_create(&cargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t i = 0; i < s->n_methods; i++) {
        s->handles[i] = grpc_server_register_method(s->server, s->methods[i].path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->handles[i]) {
            ltc_status_set(st, LTC_INTERNAL, "BAD_METHOD_TABLE", "cannot register %s", s->methods[i].path);
            goto fail;
        }
    }
    {
        /* reflection lists the process's services and the standard ones */
        const char *names[40];
        size_t k = 0;
        for (const char *const *n = opt->health_services; n && *n && k < 36; n++) names[k++] = *n;
        names[k++] = "grpc.health.v1.Health";
        names[k++] = "grpc.reflection.v1.ServerReflection";
        names[k++] = "grpc.reflection.v1alpha.ServerReflection";
        names[k] = NULL;
        s->reflection = ltc_reflection_create(names);
        if (!s->reflection) {
            ltc_status_set(st, LTC_INTERNAL, "BAD_DESCRIPTORS", "embedded descriptor set is corrupt");
            goto fail;
        }
        s->refl_handles[0] = grpc_server_register_method(
            s->server, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", NULL, GRPC_SRM_PAYLOAD_NONE, 0);
        s->refl_handles[1] =
            grpc_server_register_method(s->server, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                        NULL, GRPC_SRM_PAYLOAD_NONE, 0);
        s->watch_handle = grpc_server_register_method(s->server, "/grpc.health.v1.Health/Watch", NULL,
                                                      GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
    grpc_server_credentials *creds;
    if (s->opt.tls) {
        /* gRPC asks the fetcher at every new connection: new handshakes get a reloaded certificate */
        creds = grpc_ssl_server_credentials_create_with_options(
            grpc_ssl_server_credentials_create_options_using_config_fetcher(
                s->opt.client_cert_required ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
                fetch_certificate_config, s));
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    int port = grpc_server_add_http2_port(s->server, opt->listen_addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        /* gRPC core says only "0": bind the address ourselves for the system's reason */
        char why[300];
        if (ltc_listen_check(opt->listen_addr, why, sizeof why) != 0)
            ltc_status_set(st, LTC_UNAVAILABLE, "LISTEN_FAILED", "cannot listen on %s", why);
        else
            ltc_status_set(st, LTC_UNAVAILABLE, "LISTEN_FAILED", "cannot listen on %s (gRPC core refused it)",
                           opt->listen_addr);
        goto fail;
    }
    grpc_server_start(s->server);
    atomic_store(&s->serving, 1);
    ltc_metrics_workers(s->opt.workers);
    int per_method = s->opt.workers < 2 ? 1 : 2;
    for (size_t i = 0; i < s->n_methods; i++)
        for (int k = 0; k < per_method; k++) post_request(s, CTX_REGISTERED, (int)i);
    for (int k = 0; k < s->opt.workers; k++) post_request(s, CTX_GENERIC, 0);
    post_request(s, CTX_REFLECTION, 0);
    post_request(s, CTX_REFLECTION, 1);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cond, NULL);
    atomic_store(&s->ready, 1);
    post_request(s, CTX_WATCH, 0);
    if (pthread_create(&s->watch_thread, NULL, ltc_watch__thread, s) != 0) abort();
    s->threads = calloc((size_t)s->opt.workers, sizeof *s->threads);
    s->worker_dbs = calloc((size_t)s->opt.workers, sizeof *s->worker_dbs);
    if (!s->threads || !s->worker_dbs) abort();
    pthread_mutex_init(&s->workers_mu, NULL);
    for (int k = 0; k < s->opt.workers; k++) {
        if (pthread_create(&s->threads[k], NULL, worker_main, s) != 0) abort();
        s->n_threads++;
    }
    return s;
fail:
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(s->cq);
    ltc_reflection_destroy(s->reflection);
    free(s->methods);
    free(s->handles);
    free(s);
    grpc_shutdown();
    return NULL;
}

void ltc_server_set_serving(ltc_server *s, int serving) { atomic_store(&s->serving, serving ? 1 : 0); }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void ltc_server_stop(ltc_server *s) {
    if (!s) return;
    atomic_store(&s->serving, 0);
    atomic_store(&s->shutting_down, 1);
    ltc_watch__stop_all(s); /* Watch streams end now (UNAVAILABLE), not after the grace */
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    /* in-flight calls get the grace period to finish */
    for (int waited = 0; atomic_load(&s->busy) > 0 && waited < s->opt.shutdown_grace_ms; waited += 10) sleep_ms(10);
    if (atomic_load(&s->busy) > 0)
        LTC_WARN("shutdown_cancel", NULL, "%d calls still running after the grace period", atomic_load(&s->busy));
    grpc_server_cancel_all_calls(s->server);
    if (atomic_load(&s->busy) > 0) { /* calls stuck in the database: cancel their statements so they end now */
        pthread_mutex_lock(&s->workers_mu);
        for (int k = 0; k < s->opt.workers; k++) ltc_db_cancel(s->worker_dbs[k]);
        pthread_mutex_unlock(&s->workers_mu);
    }
    while (!atomic_load(&s->shutdown_done) || atomic_load(&s->ctx_alive) > 0) sleep_ms(5);
    pthread_join(s->watch_thread, NULL);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_cond_destroy(&s->watch_cond);
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    for (int k = 0; k < s->n_threads; k++) pthread_join(s->threads[k], NULL);
    grpc_completion_queue_destroy(s->cq);
    ltc_reflection_destroy(s->reflection);
    pthread_mutex_destroy(&s->workers_mu);
    free(s->worker_dbs);
    free(s->threads);
    free(s->methods);
    free(s->handles);
    free(s);
    grpc_shutdown();
}
