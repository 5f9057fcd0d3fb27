/* Unit tests of common/src/call.c and dispatch.c on detached calls (no network, no database): the handler API
 * (arena, printf, metadata, identity accessors), the transaction hooks, ltc_call_run's size cap, decoding, READ and
 * WRITE paths without a database, and the call state machine's steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>

#include "google/protobuf/duration.pb-c.h"
#include "internal.h"
#include "ltc/access.h"
#include "ltc/server.h"

static void test_arena_and_strings(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    char *s = ltc_call_strdup(c, "lead");
    assert_string_equal(s, "lead");
    assert_ptr_equal(ltc_call_arena(c), c->w->arena);
    unsigned char *z = ltc_call_alloc(c, 64);
    for (int i = 0; i < 64; i++) assert_int_equal(z[i], 0);
    assert_string_equal(ltc_call_printf(c, "%s-%d", "bid", 42), "bid-42");
    /* longer than printf's stack buffer: the second formatting pass */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *p = ltc_call_printf(c, "<%s>", big);
    assert_int_equal(strlen(p), sizeof big + 1);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[sizeof big], '>');
    Google__Protobuf__Duration *d = LTC_NEW(c, Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
    assert_ptr_equal(d->base.descriptor, &google__protobuf__duration__descriptor);
    assert_int_equal(d->seconds, 0);
    ltc_call_destroy_detached(c);
}

static void test_accessors_of_a_detached_call(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    assert_string_equal(ltc_call_request_id(c), "detached");
    assert_null(ltc_call_service_name(c));
    assert_null(ltc_call_db(c));
    assert_true(ltc_call_ms_left(c) == INT64_MAX);
    assert_string_equal(ltc_call_principal(c), "");
    assert_string_equal(ltc_call_peer(c), "");
    assert_null(ltc_call_deal_scope(c));
    ltc_call__set_identity(c, "gateway", "ann@example.com", LTC_ROLE_SALES, 1);
    assert_string_equal(ltc_call_peer(c), "gateway");
    assert_string_equal(ltc_call_principal(c), "ann@example.com");
    assert_int_equal(ltc_call_roles(c), LTC_ROLE_SALES);
    assert_string_equal(ltc_call_deal_scope(c), "ann@example.com");
    ltc_call__set_identity(c, NULL, "ann@example.com", LTC_ROLE_MANAGER, 0);
    assert_null(ltc_call_deal_scope(c));
    assert_null(ltc_call__grpc(c));
    assert_null(ltc_call__grpc(NULL));
    ltc_call_destroy_detached(c);
    ltc_call_destroy_detached(NULL);
}

static void test_metadata(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    assert_null(ltc_call_metadata(c, "x-request-id"));
    ltc_call__add_metadata(c, "x-ltc-roles", "sales,manager");
    ltc_call__add_metadata(c, "traceparent", "00-abc");
    ltc_call__add_metadata(c, "x-ltc-roles", "admin"); /* the first occurrence counts */
    assert_string_equal(ltc_call_metadata(c, "x-ltc-roles"), "sales,manager");
    assert_string_equal(ltc_call_metadata(c, "traceparent"), "00-abc");
    assert_null(ltc_call_metadata(c, "x-ltc-role"));
    ltc_call_destroy_detached(c);
}

static void test_query_without_database(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    assert_null(ltc_call_query(c, &st, "SELECT 1", 0, NULL));
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    assert_string_equal(st.reason, "DATABASE_UNAVAILABLE");
    assert_int_equal(c->w->n_results, 0);
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

/* ---- transaction hooks ---- */

static int commits, rollbacks;
static void on_commit(void *arg) { commits += arg ? *(int *)arg : 1; }
static void on_rollback(void *arg) { rollbacks += arg ? *(int *)arg : 1; }

static void test_hooks_run_once_per_transaction(void **state) {
    (void)state;
    commits = rollbacks = 0;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    const ltc_txn_hook h = {on_commit, on_rollback, NULL};
    assert_int_equal(ltc_call__on_commit(c, &h, &st), 0);
    assert_int_equal(ltc_call__on_commit(c, &h, &st), 0); /* the same hook twice: once */
    int ten = 10;
    const ltc_txn_hook h10 = {on_commit, NULL, &ten};
    assert_int_equal(ltc_call__on_commit(c, &h10, &st), 0);
    ltc_call_after_commit(c);
    assert_int_equal(commits, 11);
    assert_int_equal(rollbacks, 0);
    ltc_call_after_commit(c); /* forgotten once run */
    assert_int_equal(commits, 11);

    assert_int_equal(ltc_call__on_commit(c, &h, &st), 0);
    assert_int_equal(ltc_call__on_commit(c, &h10, &st), 0);
    ltc_call_after_rollback(c);
    assert_int_equal(rollbacks, 1); /* h10 has no rollback hook */
    assert_int_equal(commits, 11);
    ltc_call_after_commit(c);
    assert_int_equal(commits, 11);
    ltc_call_after_commit(NULL);
    ltc_call_after_rollback(NULL);
    ltc_call_destroy_detached(c);
}

static void test_hooks_are_bounded(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    int args[LTC_TXN_HOOKS_MAX + 1];
    for (int i = 0; i < LTC_TXN_HOOKS_MAX; i++) {
        const ltc_txn_hook h = {on_commit, NULL, &args[i]};
        assert_int_equal(ltc_call__on_commit(c, &h, &st), 0);
    }
    const ltc_txn_hook extra = {on_commit, NULL, &args[LTC_TXN_HOOKS_MAX]};
    assert_int_equal(ltc_call__on_commit(c, &extra, &st), -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_string_equal(st.reason, "TOO_MANY_TXN_HOOKS");
    ltc_status_clear(&st);
    const ltc_txn_hook again = {on_commit, NULL, &args[0]}; /* already there: still fine */
    assert_int_equal(ltc_call__on_commit(c, &again, &st), 0);
    ltc_call_after_rollback(c);
    assert_int_equal(c->w->n_hooks, 0);
    ltc_call_destroy_detached(c);
}

/* ---- ltc_call_run ---- */

static int handler_calls;

/* Echoes the request's seconds doubled; registers a hook (as ltc_outbox_put does); fails for negative seconds. */
static int echo(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Google__Protobuf__Duration *req = (const void *)m;
    handler_calls++;
    const ltc_txn_hook h = {on_commit, on_rollback, NULL};
    if (ltc_call__on_commit(c, &h, st) != 0) return -1;
    if (req->seconds < 0) return ltc_status_bad_field(st, "seconds", "must not be negative");
    Google__Protobuf__Duration *resp = LTC_NEW(c, Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
    resp->seconds = req->seconds * 2;
    *out = &resp->base;
    return 0;
}

static const ltc_method ECHO_READ = {.path = "/test.Echo/Read",
                                     .request = &google__protobuf__duration__descriptor,
                                     .response = &google__protobuf__duration__descriptor,
                                     .handler = echo,
                                     .flags = LTC_METHOD_READ};
static const ltc_method ECHO_WRITE = {.path = "/test.Echo/Write",
                                      .request = &google__protobuf__duration__descriptor,
                                      .response = &google__protobuf__duration__descriptor,
                                      .handler = echo,
                                      .flags = LTC_METHOD_WRITE};

static size_t pack_duration(int64_t seconds, uint8_t *buf) {
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    d.seconds = seconds;
    return protobuf_c_message_pack(&d.base, buf);
}

static void test_run_read(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    uint8_t req[32];
    size_t n = pack_duration(21, req);
    uint8_t *out = NULL;
    size_t out_len = 0;
    ltc_status st = {0};
    commits = rollbacks = handler_calls = 0;
    assert_int_equal(ltc_call_run(c, &ECHO_READ, req, n, 1024, &out, &out_len, &st), 0);
    assert_int_equal(st.code, LTC_OK);
    Google__Protobuf__Duration *resp = google__protobuf__duration__unpack(NULL, out_len, out);
    assert_non_null(resp);
    assert_int_equal(resp->seconds, 42);
    google__protobuf__duration__free_unpacked(resp, NULL);
    free(out);
    assert_int_equal(handler_calls, 1);
    /* a hook registered outside a transaction is dropped when the call ends, never run as committed */
    assert_int_equal(commits, 0);
    assert_int_equal(rollbacks, 1);
    assert_int_equal(c->w->n_hooks, 0);
    assert_int_equal(ltc_arena_used(c->w->arena), 0); /* scratch memory released */

    n = pack_duration(-1, req);
    assert_int_equal(ltc_call_run(c, &ECHO_READ, req, n, 1024, &out, &out_len, &st), -1);
    assert_null(out);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

static void test_run_rejects_before_the_handler(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    uint8_t req[32];
    size_t n = pack_duration(5, req);
    uint8_t *out = NULL;
    size_t out_len = 0;
    ltc_status st = {0};
    handler_calls = 0;
    assert_int_equal(ltc_call_run(c, &ECHO_READ, req, n, n - 1, &out, &out_len, &st), -1);
    assert_int_equal(st.code, LTC_RESOURCE_EXHAUSTED);
    assert_string_equal(st.reason, "MESSAGE_TOO_LARGE");
    ltc_status_clear(&st);
    const uint8_t garbage[] = {0x08, 0x80}; /* a varint cut short */
    assert_int_equal(ltc_call_run(c, &ECHO_READ, garbage, sizeof garbage, 1024, &out, &out_len, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_string_equal(st.reason, "MALFORMED_REQUEST");
    ltc_status_clear(&st);
    assert_int_equal(handler_calls, 0);
    ltc_call_destroy_detached(c);
}

static void test_run_write_without_database(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    uint8_t req[32];
    size_t n = pack_duration(5, req);
    uint8_t *out = NULL;
    size_t out_len = 0;
    ltc_status st = {0};
    handler_calls = 0;
    /* BEGIN fails (and is tried once more, as for a lost connection): the handler never runs */
    assert_int_equal(ltc_call_run(c, &ECHO_WRITE, req, n, 1024, &out, &out_len, &st), -1);
    assert_null(out);
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    assert_string_equal(st.reason, "DATABASE_UNAVAILABLE");
    assert_int_equal(handler_calls, 0);
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

/* ---- the call state machine ---- */

static void test_state_steps(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    static const enum ctx_state generic[] = {ST_RECEIVING, ST_FORWARDING, ST_RECEIVING, ST_FORWARDING, ST_SENDING};
    c->state = ST_REQUESTED;
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        ltc_call__set_state(c, generic[i]);
        assert_int_equal(c->state, generic[i]);
    }
    static const enum ctx_state stream[] = {ST_STREAM_RECV, ST_STREAM_SEND, ST_STREAM_RECV, ST_SENDING};
    c->state = ST_REQUESTED;
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        ltc_call__set_state(c, stream[i]);
        assert_int_equal(c->state, stream[i]);
    }
    ltc_call_destroy_detached(c);
}

/* A step the life cycle does not have aborts in the sanitizer tree (LTC_ASSERTS); elsewhere it is not checked. */
static void test_state_step_outside_the_cycle(void **state) {
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        ltc_call *c = ltc_call_create_detached(NULL);
        c->state = ST_SENDING;
        ltc_call__set_state(c, ST_RECEIVING); /* a reply in flight cannot go back to receiving */
        _exit(c->state == ST_RECEIVING ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
#if defined(LTC_ASSERTS) && LTC_ASSERTS
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
#else
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_and_strings),
        cmocka_unit_test(test_accessors_of_a_detached_call),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_query_without_database),
        cmocka_unit_test(test_hooks_run_once_per_transaction),
        cmocka_unit_test(test_hooks_are_bounded),
        cmocka_unit_test(test_run_read),
        cmocka_unit_test(test_run_rejects_before_the_handler),
        cmocka_unit_test(test_run_write_without_database),
        cmocka_unit_test(test_state_steps),
        cmocka_unit_test(test_state_step_outside_the_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
