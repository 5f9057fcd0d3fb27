/* audit_spool.c - the audit trail's durable local spool (ltc/audit_spool.h): rows that the database could not take
 * are appended to a file (fdatasync'd before the call is answered) and ingested into audit_log by a thread once the
 * database answers again.
 *
 * Files: <dir>/<service>-<pid>-<n>.spool, one line a row: spool id, event time (µs since the epoch), the eight
 * text columns of audit_log and the server's request id (absent in files from before it), tab-separated, each
 * %-escaped (%, tab, CR, LF). A process holds an exclusive flock on
 * the file it appends to; the ingester takes every file of its service whose lock it can get (its own, closed first,
 * and those of processes that died), inserts its rows in one transaction with ON CONFLICT (spool_id) DO NOTHING, and
 * deletes it after the commit: a crash between the two ingests it again and adds nothing. */
#include "ltc/audit_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ltc/access.h"
#include "ltc/db.h"
#include "ltc/ids.h"
#include "ltc/log.h"

#define N_FIELDS 11 /* spool id, event time, the eight text columns, the server's request id */

/* Inserted only when absent: the hash chain's trigger (runtime migration 009) runs before ON CONFLICT is decided, so
 * a conflicting row would take a chain position and leave a gap; the index stays the last guard. */
static const char SQL_INGEST[] =
    "INSERT INTO audit_log (spool_id, event_time, principal, roles, caller, method, target, request_id, code, reason,"
    " server_request_id)"
    " SELECT $1::uuid, to_timestamp($2::double precision / 1000000), $3, $4, $5, $6, $7, $8, $9, $10, $11"
    " WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE spool_id = $1::uuid)"
    " ON CONFLICT (spool_id) WHERE spool_id IS NOT NULL DO NOTHING";

struct ltc_audit_spool {
    char *service, *dir;
    ltc_db *db;
    pthread_mutex_t mu;        /* the file appended to */
    pthread_mutex_t ingest_mu; /* one ingestion at a time (the thread, a flush): it owns db */
    int fd;                    /* -1: none open (the next append creates one) */
    unsigned long n;           /* files created by this process */
    pthread_t thread;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stop;
};

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static ltc_audit_spool *running;

/* Appends `s` %-escaped to out (at most cap bytes, NUL-terminated); returns the new length. */
static size_t put_escaped(char *out, size_t len, size_t cap, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s && len + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '%' || ch == '\t' || ch == '\n' || ch == '\r') {
            out[len++] = '%';
            out[len++] = hex[ch >> 4];
            out[len++] = hex[ch & 15];
        } else {
            out[len++] = (char)ch;
        }
    }
    out[len] = 0;
    return len;
}

/* Decodes a %-escaped field in place. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '%' && r[1] && r[2]) {
            char h[3] = {r[1], r[2], 0};
            *w++ = (char)strtol(h, NULL, 16);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

static void fsync_dir(const char *dir) {
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return;
    fsync(d);
    close(d);
}

/* Opens a new file to append to, locked. Called with s->mu held. 0 or -1. */
static int open_file(ltc_audit_spool *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%ld-%lu.spool", s->dir, s->service, (long)getpid(), s->n++);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    fsync_dir(s->dir); /* the new name survives a crash too */
    s->fd = fd;
    return 0;
}

static int append_row(const char *principal, const char *roles, const char *caller, const char *method,
                      const char *target, const char *request_id, const char *code, const char *reason,
                      const char *server_request_id) {
    char line[8192];
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t len =
        (size_t)snprintf(line, sizeof line, "%s\t%lld", id, (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
    const char *text[9] = {principal, roles, caller, method, target, request_id, code, reason, server_request_id};
    for (int i = 0; i < 9; i++) {
        line[len++] = '\t';
        len = put_escaped(line, len, sizeof line - 1, text[i]);
    }
    line[len++] = '\n';
    int rc = -1;
    pthread_mutex_lock(&running_mu);
    ltc_audit_spool *s = running;
    if (s) {
        pthread_mutex_lock(&s->mu);
        if (s->fd >= 0 || open_file(s) == 0) {
            ssize_t w = write(s->fd, line, len);
            if (w == (ssize_t)len && fdatasync(s->fd) == 0) rc = 0;
        }
        if (rc != 0)
            LTC_ERROR("audit_spool_failed", request_id, "cannot append to the spool in %s: %s", s->dir,
                      strerror(errno));
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&running_mu);
    return rc;
}

int ltc_audit_spool_append(const char *principal, const char *roles, const char *caller, const char *method,
                           const char *target, const char *request_id, const char *code, const char *reason) {
    return append_row(principal, roles, caller, method, target, request_id, code, reason, "");
}

int ltc_audit_spool__call(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                          const char *reason) {
    /* the same columns as audit.c's row */
    char roles[96], who[140], target[256];
    ltc_roles_format(c->roles, roles, sizeof roles);
    if (c->principal[0]) {
        snprintf(who, sizeof who, "%s", c->principal);
    } else if (c->acting_principal[0]) { /* a hand-off caused by this user's call; the caller column: its carrier */
        snprintf(who, sizeof who, "%s", c->acting_principal);
        ltc_roles_format(c->acting_roles, roles, sizeof roles);
    } else if (c->peer[0]) {
        snprintf(who, sizeof who, "service:%s", c->peer);
    } else {
        snprintf(who, sizeof who, "anonymous");
    }
    const char *t = NULL;
    if (req && m->owner) t = ltc_fields__string(req, m->owner->field);
    if (req && !t) t = ltc_fields__string(req, "name");
    if (req && !t && m->idempotency_field) t = ltc_fields__string(req, m->idempotency_field);
    snprintf(target, sizeof target, "%s", t ? t : "");
    ltc_utf8_clean(target);
    return append_row(who, roles, c->peer, m->path, target, c->request_id, ltc_code_name(outcome->code),
                      reason ? reason : outcome->reason, c->server_request_id);
}

/* Inserts the rows of one spool file in one transaction. Returns the rows, or -1 (nothing committed). */
static int ingest_file(ltc_audit_spool *s, int fd, const char *path) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) return -1;
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) return -1;
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t k = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    buf[got] = 0;
    ltc_status st = {0};
    int rows = 0;
    if (ltc_db_begin(s->db, &st) != 0) goto fail;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (!next) {
            LTC_WARN("audit_spool_torn", NULL, "%s: an incomplete last line (written when the process died) skipped",
                     path);
            break;
        }
        *next++ = 0;
        const char *f[N_FIELDS];
        int nf = 0;
        for (char *p = line, *tab; p && nf < N_FIELDS; p = tab) {
            tab = strchr(p, '\t');
            if (tab) *tab++ = 0;
            unescape(p);
            f[nf++] = p;
        }
        if (nf == N_FIELDS - 1) f[nf++] = ""; /* a file from before the server's request id */
        if (nf != N_FIELDS || !ltc_uuid_valid(f[0])) {
            LTC_WARN("audit_spool_bad_line", NULL, "%s: a line that is not a spooled audit row skipped", path);
            continue;
        }
        PGresult *r = ltc_db_query(s->db, &st, SQL_INGEST, N_FIELDS, f);
        if (!r) goto fail;
        PQclear(r);
        rows++;
    }
    if (ltc_db_commit(s->db, &st) != 0) goto fail;
    free(buf);
    return rows;
fail:
    ltc_db_rollback(s->db);
    LTC_WARN("audit_spool_wait", NULL, "%s: kept for later (%s)", path, st.message);
    ltc_status_clear(&st);
    free(buf);
    return -1;
}

/* Ingests every file of the spool whose lock it gets; this process's open file is closed first (the next append
 * starts another). Returns the rows ingested, or -1 when a file could not be (it stays for the next round). */
static int ingest_all(ltc_audit_spool *s) {
    pthread_mutex_lock(&s->mu);
    if (s->fd >= 0) {
        close(s->fd); /* releases its lock */
        s->fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
    DIR *d = opendir(s->dir);
    if (!d) return -1;
    size_t plen = strlen(s->service);
    int total = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < plen + 7 || strncmp(e->d_name, s->service, plen) != 0 || e->d_name[plen] != '-' ||
            strcmp(e->d_name + n - 6, ".spool") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* a live process appends to it */
            close(fd);
            continue;
        }
        struct stat sb;
        int rows = fstat(fd, &sb) == 0 && sb.st_size == 0 ? 0 : ingest_file(s, fd, path);
        if (rows >= 0) {
            unlink(path); /* still under its lock: nobody else ingests it again */
            if (rows > 0) LTC_INFO("audit_spool_ingested", NULL, "%d audit rows from %s", rows, e->d_name);
            total += rows;
        } else {
            failed = 1;
        }
        close(fd);
    }
    closedir(d);
    if (total > 0) fsync_dir(s->dir);
    return failed ? -1 : total;
}

int ltc_audit_spool_flush(void) {
    pthread_mutex_lock(&running_mu); /* appends wait meanwhile: for tests */
    int rc = -1;
    if (running) {
        pthread_mutex_lock(&running->ingest_mu);
        rc = ingest_all(running);
        pthread_mutex_unlock(&running->ingest_mu);
    }
    pthread_mutex_unlock(&running_mu);
    return rc;
}

/* Has the folder a file of this service? (Cheap: the ingester runs only when there is something.) */
static int has_files(ltc_audit_spool *s) {
    DIR *d = opendir(s->dir);
    if (!d) return 0;
    size_t plen = strlen(s->service);
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL)
        found = strncmp(e->d_name, s->service, plen) == 0 && e->d_name[plen] == '-';
    closedir(d);
    return found;
}

static void *spool_main(void *arg) {
    ltc_audit_spool *s = arg;
    long wait_ms = 1000;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &until);
        if (s->stop) break;
        pthread_mutex_unlock(&s->stop_mu);
        int rc = 0;
        if (has_files(s)) { /* s lives while this thread runs: appends go on meanwhile */
            pthread_mutex_lock(&s->ingest_mu);
            rc = ingest_all(s);
            pthread_mutex_unlock(&s->ingest_mu);
        }
        wait_ms = rc < 0 ? 5000 : 1000;
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

static void spool_free(ltc_audit_spool *s) {
    if (s->fd >= 0) close(s->fd);
    ltc_db_destroy(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->ingest_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    free(s->service);
    free(s->dir);
    free(s);
}

ltc_audit_spool *ltc_audit_spool_start(const char *service, const char *dir, const char *dsn, ltc_status *st) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "AUDIT_SPOOL_UNUSABLE", "cannot create %s: %s", dir,
                       strerror(errno));
        return NULL;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "AUDIT_SPOOL_UNUSABLE", "cannot write in %s", dir);
        return NULL;
    }
    ltc_audit_spool *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->ingest_mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    s->service = strdup(service);
    s->dir = strdup(dir);
    s->db = ltc_db_create(dsn, service);
    if (!s->service || !s->dir || !s->db) abort();
    pthread_mutex_lock(&running_mu);
    if (running) {
        pthread_mutex_unlock(&running_mu);
        spool_free(s);
        ltc_status_set(st, LTC_INTERNAL, "AUDIT_SPOOL_RUNNING", "an audit spool runs already");
        return NULL;
    }
    running = s;
    pthread_mutex_unlock(&running_mu);
    if (pthread_create(&s->thread, NULL, spool_main, s) != 0) {
        pthread_mutex_lock(&running_mu);
        running = NULL;
        pthread_mutex_unlock(&running_mu);
        spool_free(s);
        ltc_status_set(st, LTC_INTERNAL, "THREAD_FAILED", "cannot start the audit spool's thread");
        return NULL;
    }
    return s;
}

void ltc_audit_spool_stop(ltc_audit_spool *s) {
    if (!s) return;
    pthread_mutex_lock(&s->stop_mu);
    s->stop = 1;
    pthread_cond_signal(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&running_mu);
    running = NULL; /* no append from here on */
    pthread_mutex_unlock(&running_mu);
    if (has_files(s)) ingest_all(s); /* what it can: the rest waits for the next start */
    spool_free(s);
}
