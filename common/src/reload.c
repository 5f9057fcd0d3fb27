/* reload.c - the registry of key material checks and the thread that runs them (ltc/reload.h). */
#include "ltc/reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ltc/config.h"
#include "ltc/log.h"

int ltc_file_stamps_add(ltc_file_stamps *s, const char *path) {
    if (s->n >= LTC_RELOAD_MAX_FILES) return -1;
    size_t i = s->n;
    s->path[i] = strdup(path);
    if (!s->path[i]) return -1;
    struct stat st;
    if (stat(path, &st) == 0) {
        s->dev[i] = (unsigned long long)st.st_dev;
        s->ino[i] = (unsigned long long)st.st_ino;
        s->size[i] = (unsigned long long)st.st_size;
        s->mtime_ns[i] = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        s->ctime_ns[i] = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    } else {
        s->dev[i] = s->ino[i] = s->size[i] = 0;
        s->mtime_ns[i] = s->ctime_ns[i] = -1;
    }
    s->n++;
    return 0;
}

int ltc_file_stamps_changed(const ltc_file_stamps *s) {
    for (size_t i = 0; i < s->n; i++) {
        struct stat st;
        if (stat(s->path[i], &st) != 0) {
            if (s->mtime_ns[i] != -1) return 1;
            continue;
        }
        if (s->mtime_ns[i] == -1 || s->dev[i] != (unsigned long long)st.st_dev ||
            s->ino[i] != (unsigned long long)st.st_ino || s->size[i] != (unsigned long long)st.st_size ||
            s->mtime_ns[i] != (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec ||
            s->ctime_ns[i] != (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec)
            return 1;
    }
    return 0;
}

void ltc_file_stamps_free(ltc_file_stamps *s) {
    for (size_t i = 0; i < s->n; i++) free(s->path[i]);
    memset(s, 0, sizeof *s);
}

enum {
    MAX_CHECKS = 8
};

static struct {
    const char *name;
    ltc_reload_check_fn check;
    void *ctx;
} checks[MAX_CHECKS];
static size_t n_checks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* the registry, and one run of the checks at a time */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;
static int stopping, running;
static long interval_s;
static pthread_t thread;

void ltc_reload_register(const char *name, ltc_reload_check_fn check, void *ctx) {
    pthread_mutex_lock(&mu);
    if (n_checks < MAX_CHECKS) {
        checks[n_checks].name = name;
        checks[n_checks].check = check;
        checks[n_checks].ctx = ctx;
        n_checks++;
    } else {
        LTC_ERROR("reload_refused", NULL, "%s: too many reloadable materials, it is read at start only", name);
    }
    pthread_mutex_unlock(&mu);
}

void ltc_reload_unregister(void *ctx) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_checks;)
        if (checks[i].ctx == ctx)
            checks[i] = checks[--n_checks];
        else
            i++;
    pthread_mutex_unlock(&mu);
}

int ltc_reload_run(int force) {
    int refused = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_checks; i++)
        if (checks[i].check(checks[i].ctx, force) < 0) refused++;
    pthread_mutex_unlock(&mu);
    return refused;
}

static void *watch_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&stop_mu);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += interval_s;
        while (!stopping && pthread_cond_timedwait(&stop_cv, &stop_mu, &until) == 0) {}
        if (stopping) break;
        pthread_mutex_unlock(&stop_mu);
        ltc_reload_run(0);
        pthread_mutex_lock(&stop_mu);
    }
    pthread_mutex_unlock(&stop_mu);
    return NULL;
}

int ltc_reload_configure(char *err, size_t errlen) {
    return ltc_env_int("LTC_RELOAD_INTERVAL_SECONDS", 10, 0, 86400, &interval_s, err, errlen) != 0 ? -1 : 0;
}

int ltc_reload_start(char *err, size_t errlen) {
    if (ltc_reload_configure(err, errlen) != 0) return -1;
    if (interval_s == 0 || running) return 0;
    stopping = 0;
    if (pthread_create(&thread, NULL, watch_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the reload thread");
        return -1;
    }
    running = 1;
    return 0;
}

void ltc_reload_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&stop_mu);
    stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
    pthread_join(thread, NULL);
    running = 0;
}
