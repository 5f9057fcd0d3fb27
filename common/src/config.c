/* config.c - environment variables, address checks and DSN redaction (see ltc/config.h). */
#include "ltc/config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *ltc_env_str(const char *name, const char *def) {
    const char *v = getenv(name);
    return (v && *v) ? v : def;
}

/* An empty value counts as unset (as in ltc_env_str). The value must be an optional sign and decimal digits, nothing
 * else (no spaces, no hex, no suffix). errbuf may be NULL. */
int ltc_env_int(const char *name, long def, long min, long max, long *out, char *errbuf, size_t errlen) {
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    const char *p = v;
    if (*p == '+' || *p == '-') p++;
    int digits_only = *p != '\0';
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) digits_only = 0;
    if (!digits_only) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s: \"%.40s\" is not a decimal integer", name, v);
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (errno == ERANGE || !end || *end != '\0' || x < min || x > max) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s: %.40s is out of range (%ld to %ld)", name, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

/* A DNS name: dot-separated labels of letters, digits, '-' (not at either end of a label) and '_' (which Docker and
 * Kubernetes service names use), each 1-63 characters, 253 in all; one trailing dot allowed. */
static int dns_name_valid(const char *s, size_t n) {
    if (n > 0 && s[n - 1] == '.') n--;
    if (n == 0 || n > 253) return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_') return 0;
        if (ch == '-' && label == 0) return 0;
        if (++label > 63) return 0;
    }
    return label > 0 && s[n - 1] != '-';
}

/* A host made of digits and dots only must be a dotted-quad IPv4 address (no "999.1.1.1" taken as a name). */
static int host_valid(const char *s, size_t n) {
    char buf[256];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strspn(buf, "0123456789.") == n) {
        struct in_addr a4;
        return inet_pton(AF_INET, buf, &a4) == 1;
    }
    return dns_name_valid(buf, n);
}

static int port_valid(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n) return 0;
    long port = strtol(p, NULL, 10);
    return port >= 1 && port <= 65535;
}

int ltc_addr_valid(const char *addr) {
    if (!addr || !*addr) return -1;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') return -1;
        size_t n = (size_t)(close - addr - 1);
        char buf[INET6_ADDRSTRLEN + 1];
        if (n == 0 || n >= sizeof buf) return -1;
        memcpy(buf, addr + 1, n);
        buf[n] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1) return -1;
        return port_valid(close + 2) ? 0 : -1;
    }
    const char *colon = strrchr(addr, ':');
    if (!colon) return -1;
    /* An unbracketed second colon would be an IPv6 address without its brackets: ambiguous, refused. */
    if (memchr(addr, ':', (size_t)(colon - addr))) return -1;
    if (!host_valid(addr, (size_t)(colon - addr))) return -1;
    return port_valid(colon + 1) ? 0 : -1;
}

/* --- DSN redaction ---------------------------------------------------------------------------------------- */

typedef struct sink {
    char *out;
    size_t cap; /* including the NUL */
    size_t len;
} sink;

static void put(sink *k, const char *s, size_t n) {
    if (k->cap == 0) return;
    size_t room = k->cap - 1 - k->len;
    if (n > room) n = room;
    memcpy(k->out + k->len, s, n);
    k->len += n;
    k->out[k->len] = '\0';
}

/* Keys whose values are secrets: libpq's password and sslpassword (the client key's passphrase). */
static int secret_key(const char *k, size_t n) {
    return (n == 8 && strncasecmp(k, "password", 8) == 0) || (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

/* The end of a conninfo value starting at p, as libpq reads it: 'quoted' with backslash escapes, or up to the next
 * white space with backslash escapes. */
static const char *kv_value_end(const char *p) {
    if (*p == '\'') {
        p++;
        while (*p && *p != '\'') {
            if (*p == '\\' && p[1]) p++;
            p++;
        }
        return *p ? p + 1 : p;
    }
    while (*p && !isspace((unsigned char)*p)) {
        if (*p == '\\' && p[1]) p++;
        p++;
    }
    return p;
}

/* "host=db password='s e c' user=x" -> "host=db password=*** user=x". Anything that does not parse as key = value
 * after a secret key is redacted to the end: when in doubt, print less. */
static void redact_kv(const char *dsn, sink *k) {
    const char *p = dsn;
    while (*p) {
        const char *ws = p;
        while (isspace((unsigned char)*p)) p++;
        put(k, ws, (size_t)(p - ws));
        if (!*p) break;
        const char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p)) p++;
        size_t keylen = (size_t)(p - key);
        while (isspace((unsigned char)*p)) p++;
        if (*p != '=') {
            /* malformed: copy the word, unless it could be a secret's key */
            if (secret_key(key, keylen)) {
                put(k, key, keylen);
                put(k, " ***", 4);
                return;
            }
            put(k, key, (size_t)(p - key));
            continue;
        }
        p++; /* '=' */
        while (isspace((unsigned char)*p)) p++;
        put(k, key, (size_t)(p - key));
        const char *end = kv_value_end(p);
        if (secret_key(key, keylen))
            put(k, "***", 3);
        else
            put(k, p, (size_t)(end - p));
        p = end;
    }
}

/* Redacts password=/sslpassword= parameters of a URI query: "a=1&password=x" -> "a=1&password=***". */
static void redact_query(const char *q, sink *k) {
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (eq && secret_key(q, (size_t)(eq - q))) {
            put(k, q, (size_t)(eq - q) + 1);
            put(k, "***", 3);
        } else {
            put(k, q, n);
        }
        if (!amp) break;
        put(k, "&", 1);
        q = amp + 1;
    }
}

/* "postgresql://user:secret@host:5432/db?sslpassword=x" -> "postgresql://user:***@host:5432/db?sslpassword=***".
 * As libpq reads it, the user info ends at the first '@' before the first '/' (a '?' does not end it). The password
 * runs from the user info's first ':' to that '@', or on to the last '@' before the first '/' when no '?' comes in
 * between (an unencoded '@' in a password is then covered entirely). What follows it is host, path and a query
 * whose secret values are redacted. */
static void redact_uri(const char *dsn, size_t scheme_len, sink *k) {
    const char *rest = dsn + scheme_len;
    const char *slash = strchr(rest, '/');
    const char *auth_end = slash ? slash : rest + strlen(rest);
    const char *first_at = memchr(rest, '@', (size_t)(auth_end - rest));
    put(k, dsn, scheme_len);
    const char *p = rest;
    if (first_at) {
        const char *at = first_at;
        int query_between = 0;
        for (const char *q = first_at + 1; q < auth_end; q++) {
            if (*q == '?') query_between = 1;
            if (*q == '@' && !query_between) at = q;
        }
        const char *colon = memchr(rest, ':', (size_t)(first_at - rest));
        if (colon) {
            put(k, rest, (size_t)(colon - rest) + 1);
            put(k, "***", 3);
            p = at;
        } else {
            put(k, rest, (size_t)(first_at - rest));
            p = first_at;
        }
    }
    const char *qm = strchr(p, '?');
    if (!qm) {
        put(k, p, strlen(p));
        return;
    }
    put(k, p, (size_t)(qm - p) + 1);
    redact_query(qm + 1, k);
}

void ltc_redact_dsn(const char *dsn, char *out, size_t outlen) {
    if (!out || outlen == 0) return;
    out[0] = '\0';
    if (!dsn) return;
    sink k = {out, outlen, 0};
    static const char *const schemes[] = {"postgresql://", "postgres://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(dsn, schemes[i], n) == 0) {
            redact_uri(dsn, n, &k);
            return;
        }
    }
    redact_kv(dsn, &k);
}

int ltc_target_valid(const char *target) {
    if (!target) return -1;
    if (strncmp(target, "dns:///", 7) == 0) target += 7;
    if (strncmp(target, "ipv4:", 5) == 0) { /* gRPC's static list: ipv4:10.0.0.1:50062,10.0.0.2:50062 */
        const char *p = target + 5;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char one[64];
            struct in_addr a4;
            const char *colon = n < sizeof one ? memchr(p, ':', n) : NULL;
            if (!colon) return -1;
            memcpy(one, p, (size_t)(colon - p));
            one[colon - p] = 0;
            if (inet_pton(AF_INET, one, &a4) != 1) return -1;
            memcpy(one, p, n);
            one[n] = 0;
            if (ltc_addr_valid(one) != 0) return -1;
            if (!comma) return 0;
            p = comma + 1;
        }
    }
    return ltc_addr_valid(target);
}

int ltc_listen_check(const char *addr, char *why, size_t n) {
    why[0] = 0;
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon) {
        snprintf(why, n, "%s: not a host:port address", addr ? addr : "");
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, addr, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(why, n, "%s: %s", addr, gai ? gai_strerror(gai) : "no address");
        return -1;
    }
    int rc = 0;
    for (struct addrinfo *a = ai; a && rc == 0; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1) != 0) {
            int e = errno;
            snprintf(why, n, "%s: %s", addr, strerror(e));
            rc = -1;
        }
        if (fd >= 0) close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}
