/* fault.c - test-only fault injection (see ltc/fault.h). */
#include "ltc/fault.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ltc/log.h"

#define MAX_RULES 16

typedef struct rule {
    char point[48];
    char match[96];
    double p;
} rule;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rule rules[MAX_RULES];
static int n_rules;
static uint64_t rng;

static void load(void) {
    const char *spec = getenv("LTC_FAULT_POINTS");
    const char *seed = getenv("LTC_FAULT_SEED");
    rng = seed ? strtoull(seed, NULL, 10) : 1;
    rng = rng * 0x9E3779B97F4A7C15ull + (uint64_t)getpid();
    if (!rng) rng = 1;
    if (!spec || !*spec) return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n_rules < MAX_RULES; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        rule *r = &rules[n_rules];
        r->p = strtod(eq + 1, NULL);
        char *at = strchr(tok, '@');
        if (at) {
            *at = 0;
            snprintf(r->match, sizeof r->match, "%s", at + 1);
        }
        snprintf(r->point, sizeof r->point, "%s", tok);
        n_rules++;
    }
    if (n_rules) LTC_WARN("fault_injection", NULL, "LTC_FAULT_POINTS=%s (test only)", spec);
}

static double next_uniform(void) {
    pthread_mutex_lock(&lock);
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    uint64_t v = rng;
    pthread_mutex_unlock(&lock);
    return (double)(v >> 11) / 9007199254740992.0;
}

int ltc_fault_hit(const char *point, const char *detail) {
    pthread_once(&once, load);
    for (int i = 0; i < n_rules; i++) {
        if (strcmp(rules[i].point, point) != 0) continue;
        if (rules[i].match[0] && (!detail || !strstr(detail, rules[i].match))) continue;
        return next_uniform() < rules[i].p;
    }
    return 0;
}

void ltc_fault_crash_point(const char *point, const char *detail) {
    if (!ltc_fault_hit(point, detail)) return;
    LTC_WARN("fault_crash", NULL, "crash point %s (%s): SIGKILL", point, detail ? detail : "");
    fflush(stdout);
    kill(getpid(), SIGKILL);
    _exit(137);
}
