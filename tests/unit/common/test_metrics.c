/* Unit tests of common/src/metrics.c: the exposition text cannot be forged through a method label (issue #19,
 * finding 2): whatever bytes a label value holds, each rendered line is one well-formed series, and the number of
 * method labels is bounded ("other" past the limit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/metrics.h"

/* Every line is a comment or `name{label="value",...} number`, values made of the safe characters only. */
static void assert_well_formed(const char *text) {
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = 0;
        if (line[0] && line[0] != '#') {
            assert_true(strncmp(line, "ltc_", 4) == 0 || strncmp(line, "process_", 8) == 0 ||
                        strncmp(line, "grpc_server_", 12) == 0 || strncmp(line, "grpc_client_", 12) == 0);
            char *brace = strchr(line, '{');
            if (brace) {
                char *close = strchr(brace, '}');
                assert_non_null(close);
                /* inside the braces: quotes come in pairs around values without quotes or backslashes */
                int quotes = 0;
                for (char *q = brace; q < close; q++)
                    if (*q == '"') quotes++;
                assert_int_equal(quotes % 2, 0);
                assert_null(strchr(close + 1, '"'));
                assert_null(strchr(close + 1, '{'));
            }
        }
        p += n + (e ? 1 : 0);
    }
}

static void test_forged_label_cannot_start_a_series(void **state) {
    (void)state;
    ltc_metrics_rpc("/p\"} 1\nfake_metric{x=\"", LTC_UNAUTHENTICATED, 0.001);
    ltc_metrics_rpc("/a\\\"b", LTC_OK, 0.001);
    ltc_metrics_rpc("/ltc.ltb.v1.LeadToBidService/GetLead", LTC_OK, 0.002);
    char *text = ltc_metrics_render();
    assert_non_null(text);
    assert_null(strstr(text, "\nfake_metric"));
    assert_non_null(strstr(text, "grpc_service=\"ltc.ltb.v1.LeadToBidService\",grpc_method=\"GetLead\""));
    assert_non_null(strstr(
        text, "grpc_service=\"p___1_fake_metric_x__\",grpc_method=\"p___1_fake_metric_x__\",grpc_type=\"unary\""));
    assert_well_formed(text);
    free(text);
}

static void test_method_labels_are_bounded(void **state) {
    (void)state;
    for (int i = 0; i < LTC_METRICS_MAX_METHODS + 50; i++) {
        char name[64];
        snprintf(name, sizeof name, "/flood.v1.S%d/M", i);
        ltc_metrics_rpc(name, LTC_UNIMPLEMENTED, 0.0001);
    }
    char *text = ltc_metrics_render();
    assert_non_null(text);
    assert_non_null(strstr(text, "grpc_method=\"other\""));
    assert_well_formed(text);
    free(text);
}

/* The gRPC ecosystem's shapes: started, handled by code, the histogram by code (cumulative, +Inf = count), the
 * client side apart from the server side, and the database's pool and transactions. */
static void test_grpc_shapes(void **state) {
    (void)state;
    ltc_metrics_rpc_started("/ltc.bto.v1.BidToOrderService/GetQuote");
    ltc_metrics_rpc("/ltc.bto.v1.BidToOrderService/GetQuote", LTC_NOT_FOUND, 0.003);
    ltc_metrics_client_started("/ltc.otd.v1.IntakeService/AcceptOrder");
    ltc_metrics_client("/ltc.otd.v1.IntakeService/AcceptOrder", LTC_UNAVAILABLE, 0.02);
    ltc_metrics_db_connection(1);
    ltc_metrics_db_connection(1);
    ltc_metrics_db_tx_begin();
    ltc_metrics_db_tx_begin();
    ltc_metrics_db_tx_end(0.004, 1);
    ltc_metrics_db_error(LTC_DB_ERROR_TIMEOUT);
    char *text = ltc_metrics_render();
    assert_non_null(text);
    const char *lb = "grpc_service=\"ltc.bto.v1.BidToOrderService\",grpc_method=\"GetQuote\",grpc_type=\"unary\"";
    char want[512];
    snprintf(want, sizeof want, "\ngrpc_server_started_total{%s} 1\n", lb);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "\ngrpc_server_handled_total{%s,grpc_code=\"NOT_FOUND\"} 1\n", lb);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "\ngrpc_server_handling_seconds_bucket{%s,grpc_code=\"NOT_FOUND\",le=\"0.0025\"} 0\n",
             lb);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "\ngrpc_server_handling_seconds_bucket{%s,grpc_code=\"NOT_FOUND\",le=\"0.005\"} 1\n",
             lb);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "\ngrpc_server_handling_seconds_count{%s,grpc_code=\"NOT_FOUND\"} 1\n", lb);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\ngrpc_client_handled_total{grpc_service=\"ltc.otd.v1.IntakeService\","
                                 "grpc_method=\"AcceptOrder\",grpc_type=\"unary\",grpc_code=\"UNAVAILABLE\"} 1\n"));
    /* the client call is not counted as served, nor the served one as made */
    assert_null(strstr(text, "grpc_server_handled_total{grpc_service=\"ltc.otd.v1.IntakeService\""));
    assert_null(strstr(text, "grpc_client_handled_total{grpc_service=\"ltc.bto.v1.BidToOrderService\""));
    assert_non_null(strstr(text, "\nltc_db_connections{state=\"in_use\"} 1\n"));
    assert_non_null(strstr(text, "\nltc_db_connections{state=\"idle\"} 1\n"));
    assert_non_null(strstr(text, "\nltc_db_transaction_seconds_count{outcome=\"commit\"} 1\n"));
    assert_non_null(strstr(text, "\nltc_db_errors_total{kind=\"timeout\"} 1\n"));
    assert_well_formed(text);
    free(text);
}

static void test_handoff_backlog(void **state) {
    (void)state;
    ltc_metrics_handoffs("otd", 7, 1.5, 2);
    ltc_metrics_handoffs("dtc", 5, 0.5, 0);
    assert_int_equal(ltc_metrics_handoff_backlog(), 12);
    ltc_metrics_handoffs("otd", 0, 0, 2);
    assert_int_equal(ltc_metrics_handoff_backlog(), 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_label_cannot_start_a_series),
        cmocka_unit_test(test_grpc_shapes), /* before the flood fills the per-method slots */
        cmocka_unit_test(test_handoff_backlog),
        cmocka_unit_test(test_method_labels_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
