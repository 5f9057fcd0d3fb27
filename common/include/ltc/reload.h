/* ltc/reload.h - certificates and keys re-read while the process runs (docs/security.md, "Reloading keys and
 * certificates").
 *
 * Each kind of key material (the internal mTLS identity, the gateway's public certificate, its token key set, the
 * assertion keys) registers a check here. A check compares the files the material was read from with what is on disk
 * now (device, inode, size, modification time: a file replaced by rename or a Kubernetes secret's symlink swap
 * counts), and when one changed it reads them all again, validates them, and swaps the material in; a bad new file
 * is refused (log line "reload_refused", metric ltc_reload_total{result="refused"}) and the old material stays.
 * Checks run on SIGHUP (forced: read again even when nothing seems changed) and every LTC_RELOAD_INTERVAL_SECONDS
 * (default 10; 0: on SIGHUP only) on a thread of their own. */
#ifndef LTC_RELOAD_H
#define LTC_RELOAD_H

#include <stddef.h>

enum {
    LTC_RELOAD_MAX_FILES = 20
};

/* What files were read, and how they looked just before: compared with the disk to see a change. */
typedef struct ltc_file_stamps {
    size_t n;
    char *path[LTC_RELOAD_MAX_FILES];
    unsigned long long dev[LTC_RELOAD_MAX_FILES], ino[LTC_RELOAD_MAX_FILES], size[LTC_RELOAD_MAX_FILES];
    long long mtime_ns[LTC_RELOAD_MAX_FILES], ctime_ns[LTC_RELOAD_MAX_FILES];
} ltc_file_stamps;

/* Adds a file (stat'ed now; a missing file is stamped as missing). 0, or -1 when full. */
int ltc_file_stamps_add(ltc_file_stamps *s, const char *path);
/* 1 when any file differs from its stamp now, else 0. */
int ltc_file_stamps_changed(const ltc_file_stamps *s);
void ltc_file_stamps_free(ltc_file_stamps *s);

/* A check: re-reads its material when `force` or its files changed. 1 applied, 0 nothing to do, -1 refused (it has
 * logged why and counted it). Called from one thread at a time. */
typedef int (*ltc_reload_check_fn)(void *ctx, int force);

/* Registers a check (at most 8; before ltc_reload_start). `name` is for the log. */
void ltc_reload_register(const char *name, ltc_reload_check_fn check, void *ctx);
void ltc_reload_unregister(void *ctx);
/* Runs every check now (SIGHUP: force 1). Returns how many were refused. */
int ltc_reload_run(int force);
/* Reads LTC_RELOAD_INTERVAL_SECONDS (0-86400, default 10). 0, or -1 with err set (a start-up error). */
int ltc_reload_configure(char *err, size_t errlen);
/* Starts the watcher thread (none when the interval is 0; after ltc_block_signals). 0, or -1 with err set. */
int ltc_reload_start(char *err, size_t errlen);
void ltc_reload_stop(void);

#endif
