/* refusals.c - the gateway's chained file of refused calls (refusals.h). A line:
 *   {"position":N,"time_us":T,"principal":..,"roles":..,"remote":..,"method":..,"request_id":..,
 *    "server_request_id":..,"code":..,"reason":..,"prev":"<hex>","hash":"<hex>"}
 * hash = sha256(prev || canonical text) with the fields of a stage's audit row (ltc/audit_chain.h): position as both
 * chain position and seq, remote as the caller, no target, targets "{}", changes "[]", no spool id. */
#include "refusals.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ltc/audit_chain.h"

struct gw_refusals {
    pthread_mutex_t mu;
    int fd;
    int64_t position;
    uint8_t hash[32];
};

/* The chain fields of a line's values (pos and micros as text in the caller's buffers). */
static void chain_fields(const char *f[LTC_CHAIN_FIELDS], const char *pos, const char *micros, const char *principal,
                         const char *roles, const char *remote, const char *method, const char *request_id,
                         const char *server_request_id, const char *code, const char *reason) {
    f[LTC_CHAIN_F_POSITION] = pos;
    f[LTC_CHAIN_F_SEQ] = pos;
    f[LTC_CHAIN_F_EVENT_MICROS] = micros;
    f[LTC_CHAIN_F_PRINCIPAL] = principal;
    f[LTC_CHAIN_F_ROLES] = roles;
    f[LTC_CHAIN_F_CALLER] = remote;
    f[LTC_CHAIN_F_METHOD] = method;
    f[LTC_CHAIN_F_TARGET] = "";
    f[LTC_CHAIN_F_REQUEST_ID] = request_id;
    f[LTC_CHAIN_F_SERVER_REQUEST_ID] = server_request_id;
    f[LTC_CHAIN_F_CODE] = code;
    f[LTC_CHAIN_F_REASON] = reason;
    f[LTC_CHAIN_F_TARGETS] = "{}";
    f[LTC_CHAIN_F_CHANGES] = "[]";
    f[LTC_CHAIN_F_SPOOL_ID] = "";
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : NULL;
}

/* A parsed line: its position, prev and hash, and whether its own hash holds. -1 when it is not a refusal line. */
static int parse_line(const char *line, int64_t *pos, uint8_t prev[32], uint8_t hash[32], int *hash_ok) {
    json_t *o = json_loads(line, 0, NULL);
    if (!o) return -1;
    json_t *p = json_object_get(o, "position"), *t = json_object_get(o, "time_us");
    const char *v[8] = {str(o, "principal"), str(o, "roles"),      str(o, "remote"),
                        str(o, "method"),    str(o, "request_id"), str(o, "server_request_id"),
                        str(o, "code"),      str(o, "reason")};
    int ok = json_is_integer(p) && json_is_integer(t) && ltc_audit_chain_unhex(str(o, "prev"), prev) == 0 &&
             ltc_audit_chain_unhex(str(o, "hash"), hash) == 0;
    for (int i = 0; ok && i < 8; i++) ok = v[i] != NULL;
    if (ok) {
        char ps[24], ts[24];
        *pos = json_integer_value(p);
        snprintf(ps, sizeof ps, "%" PRId64, (int64_t)*pos);
        snprintf(ts, sizeof ts, "%" PRId64, (int64_t)json_integer_value(t));
        const char *f[LTC_CHAIN_FIELDS];
        chain_fields(f, ps, ts, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        uint8_t h[32];
        *hash_ok = ltc_audit_chain_hash(prev, f, h) == 0 && memcmp(h, hash, 32) == 0;
    }
    json_decref(o);
    return ok ? 0 : -1;
}

/* The whole file, NUL-terminated (malloc'd); NULL when it cannot be read. */
static char *slurp(int fd) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) return NULL;
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)sb.st_size) {
        ssize_t k = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (buf) buf[got] = 0;
    return buf;
}

gw_refusals *gw_refusals_open(const char *path, char *err, size_t err_len) {
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open %s", path);
        return NULL;
    }
    gw_refusals *r = calloc(1, sizeof *r);
    char *buf = slurp(fd);
    if (!r || !buf) {
        snprintf(err, err_len, "cannot read %s", path);
        goto fail;
    }
    /* the last complete line carries the chain's last link (a torn last line, from a crash, is ignored) */
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] != '\n') n--;
    if (n > 0) {
        buf[n - 1] = 0;
        char *last = strrchr(buf, '\n');
        last = last ? last + 1 : buf;
        uint8_t prev[32];
        int ok = 0;
        if (parse_line(last, &r->position, prev, r->hash, &ok) != 0) {
            snprintf(err, err_len, "%s: its last line is not a chained refusal", path);
            goto fail;
        }
    }
    free(buf);
    r->fd = fd;
    pthread_mutex_init(&r->mu, NULL);
    return r;
fail:
    free(buf);
    free(r);
    close(fd);
    return NULL;
}

void gw_refusals_close(gw_refusals *r) {
    if (!r) return;
    close(r->fd);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int gw_refusals_record(gw_refusals *r, int64_t time_us, const char *principal, const char *roles, const char *remote,
                       const char *method, const char *request_id, const char *server_request_id, const char *code,
                       const char *reason) {
    if (!r) return -1;
    pthread_mutex_lock(&r->mu);
    int64_t pos = r->position + 1;
    char ps[24], ts[24], prev_hex[65], hash_hex[65];
    snprintf(ps, sizeof ps, "%" PRId64, pos);
    snprintf(ts, sizeof ts, "%" PRId64, time_us);
    const char *f[LTC_CHAIN_FIELDS];
    chain_fields(f, ps, ts, principal, roles, remote, method, request_id, server_request_id, code, reason);
    uint8_t h[32];
    int rc = -1;
    json_t *o = NULL;
    char *line = NULL;
    if (ltc_audit_chain_hash(r->hash, f, h) != 0) goto done;
    ltc_audit_chain_hex(r->hash, prev_hex);
    ltc_audit_chain_hex(h, hash_hex);
    o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "position", (json_int_t)pos, "time_us",
                  (json_int_t)time_us, "principal", principal, "roles", roles, "remote", remote, "method", method,
                  "request_id", request_id, "server_request_id", server_request_id, "code", code, "reason", reason,
                  "prev", prev_hex, "hash", hash_hex);
    line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (!line) goto done;
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps's NUL: the line is written with its newline in one write */
    if (write(r->fd, line, len + 1) != (ssize_t)(len + 1)) goto done;
    r->position = pos;
    memcpy(r->hash, h, 32);
    rc = 0;
done:
    free(line);
    json_decref(o);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static void say(char *report, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *report, size_t len, const char *fmt, ...) {
    size_t used = strlen(report);
    va_list ap;
    va_start(ap, fmt);
    if (used + 1 < len) vsnprintf(report + used, len - used, fmt, ap);
    va_end(ap);
}

int gw_refusals_verify(const char *path, int64_t *lines, char *report, size_t report_len) {
    report[0] = 0;
    *lines = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char *buf = slurp(fd);
    close(fd);
    if (!buf) return -1;
    ltc_audit_chain_walk w;
    ltc_audit_chain_walk_init(&w);
    int problems = 0;
    int64_t n = 0;
    for (char *line = buf, *next; *line; line = next) {
        next = strchr(line, '\n');
        if (!next) break; /* a torn last line */
        *next++ = 0;
        n++;
        int64_t pos = 0;
        uint8_t prev[32], hash[32];
        int ok = 0;
        if (parse_line(line, &pos, prev, hash, &ok) != 0) {
            say(report, report_len, "line %" PRId64 ": not a chained refusal (edited)\n", n);
            problems++;
            continue;
        }
        /* the links as ltc_audit_chain_step walks them; parse_line checked the line's own hash (ok) */
        if (pos != w.position + 1) {
            say(report, report_len, "position %" PRId64 ": missing before position %" PRId64 " (deleted)\n",
                w.position + 1, pos);
            problems++;
        } else if (memcmp(prev, w.hash, 32) != 0) {
            say(report, report_len, "position %" PRId64 ": does not follow the line before\n", pos);
            problems++;
        }
        if (!ok) {
            say(report, report_len, "position %" PRId64 ": content does not match its hash (edited)\n", pos);
            problems++;
        }
        w.position = pos;
        memcpy(w.hash, hash, 32);
    }
    free(buf);
    *lines = n;
    return problems;
}
