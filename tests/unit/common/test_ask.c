/* Unit tests of common/src/ask.c on detached calls: a question is typed (the request must be the method's input, the
 * method must exist), asked only of a peer the process opened, and a peer that cannot be reached answers
 * UNAVAILABLE or DEADLINE_EXCEEDED within the deadline, never success: callers fail closed on it; a peer still
 * setting up its connection gets the whole deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "google/protobuf/duration.pb-c.h"
#include "ltc/ask.h"
#include "ltc/dtc/v1/credit_service.pb-c.h"
#include "ltc/server.h"

static const ltc_ask_peer DTC_CREDIT = {"dtc", &ltc__dtc__v1__credit_service__descriptor};

static void test_request_of_another_type_is_refused(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    Google__Protobuf__Duration wrong = GOOGLE__PROTOBUF__DURATION__INIT;
    ProtobufCMessage *out = (ProtobufCMessage *)1;
    assert_int_equal(ltc_ask(c, &st, &DTC_CREDIT, "CheckCredit", &wrong.base, 100, &out), -1);
    assert_null(out);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_non_null(strstr(st.message, "ltc.dtc.v1.CheckCreditRequest"));
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

static void test_unknown_method_is_refused(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(ltc_ask(c, &st, &DTC_CREDIT, "GrantCredit", &req.base, 100, &out), -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_non_null(strstr(st.message, "GrantCredit"));
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

static void test_peer_not_opened_is_refused(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    ltc_status st = {0};
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(ltc_ask(c, &st, &DTC_CREDIT, "CheckCredit", &req.base, 100, &out), -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_non_null(strstr(st.message, "does not ask dtc"));
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
}

/* Asks CheckCredit of the peer at `target` (opened and closed here) with an empty request and `deadline_ms`: the
 * call must fail, with no answer; its status in *code and the milliseconds it took returned. */
static long ask_failing(const char *target, int deadline_ms, ltc_code *code) {
    ltc_status st = {0};
    assert_int_equal(ltc_ask_open("dtc", target, 0, &st), 0);
    ltc_call *c = ltc_call_create_detached(NULL);
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(ltc_ask(c, &st, &DTC_CREDIT, "CheckCredit", &req.base, deadline_ms, &out), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(out);
    *code = st.code;
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
    ltc_ask_close_all();
    return (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/* Nothing listens on port 1 of loopback: the question fails fast, and never as success. */
static void test_unreachable_peer_fails_closed_within_the_deadline(void **state) {
    (void)state;
    ltc_code code;
    long ms = ask_failing("127.0.0.1:1", 300, &code);
    assert_true(code == LTC_UNAVAILABLE || code == LTC_DEADLINE_EXCEEDED);
    assert_true(ms < 5000);
}

/* A peer whose connection is still being set up (here: a listener that accepts and never sends HTTP/2's SETTINGS,
 * like a process slow to greet under load) is waited for until the question's deadline: the channel's connection
 * attempt has seconds, not the 100 ms reconnect backoff, so the question is not failed early as UNAVAILABLE. */
static void test_peer_slow_to_greet_gets_the_whole_deadline(void **state) {
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 16), 0); /* the kernel completes the handshakes; nobody ever answers */
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", (int)ntohs(a.sin_port));

    ltc_code code;
    long ms = ask_failing(target, 1500, &code);
    assert_int_equal(code, LTC_DEADLINE_EXCEEDED);
    assert_true(ms >= 1400);
    assert_true(ms < 5000);
    close(ls);
}

static void test_bad_target_is_refused_at_open(void **state) {
    (void)state;
    ltc_status st = {0};
    assert_int_equal(ltc_ask_open("dtc", "", 0, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    ltc_status_clear(&st);
    ltc_ask_close_all();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_of_another_type_is_refused),
        cmocka_unit_test(test_unknown_method_is_refused),
        cmocka_unit_test(test_peer_not_opened_is_refused),
        cmocka_unit_test(test_unreachable_peer_fails_closed_within_the_deadline),
        cmocka_unit_test(test_peer_slow_to_greet_gets_the_whole_deadline),
        cmocka_unit_test(test_bad_target_is_refused_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
