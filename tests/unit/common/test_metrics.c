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
            assert_true(strncmp(line, "ltc_", 4) == 0 || strncmp(line, "process_", 8) == 0);
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
    assert_non_null(strstr(text, "method=\"/ltc.ltb.v1.LeadToBidService/GetLead\""));
    assert_non_null(strstr(text, "method=\"/p___1_fake_metric_x__\""));
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
    assert_non_null(strstr(text, "method=\"other\""));
    assert_well_formed(text);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_label_cannot_start_a_series),
        cmocka_unit_test(test_method_labels_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
