/* procstat.c - CPU time and resident memory of other processes, from /proc (Linux). */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Reads /proc/<pid>/stat: parent pid, utime + stime, and cutime + cstime (its reaped children's) in clock ticks.
 * 0, or -1 when the process is gone. */
static int read_stat2(int pid, int *ppid, unsigned long long *ticks, unsigned long long *cticks) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    /* after ") ": state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
     * cutime(16) cstime(17) */
    char state;
    int pp;
    unsigned long long ut, stt, cut, cst;
    if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &state, &pp, &ut, &stt, &cut,
               &cst) != 6)
        return -1;
    if (ppid) *ppid = pp;
    if (ticks) *ticks = ut + stt;
    if (cticks) *cticks = cut + cst;
    return 0;
}

static int read_stat(int pid, int *ppid, unsigned long long *ticks) { return read_stat2(pid, ppid, ticks, NULL); }

/* Calls fn for every process whose parent is `pid`. */
static void for_children(int pid, void (*fn)(int child, void *arg), void *arg) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        int child = atoi(e->d_name), pp = 0;
        if (read_stat(child, &pp, NULL) == 0 && pp == pid) fn(child, arg);
    }
    closedir(d);
}

static void add_ticks(int child, void *arg) {
    unsigned long long t = 0;
    if (read_stat(child, NULL, &t) == 0) *(unsigned long long *)arg += t;
}

double proc_cpu_s(int pid, int tree) {
    unsigned long long t = 0, ct = 0;
    if (read_stat2(pid, NULL, &t, &ct) != 0) return -1;
    if (tree) {
        for_children(pid, add_ticks, &t);
        t += ct; /* children that exited (pgbench's backends) */
    }
    return (double)t / (double)sysconf(_SC_CLK_TCK);
}

/* --- a tree's CPU over a window, children coming and going --- */

static void note_child(int child, void *arg) {
    proc_tree *s = arg;
    unsigned long long t = 0;
    if (s->n < PROC_TREE_MAX && read_stat(child, NULL, &t) == 0) {
        s->pid[s->n] = child;
        s->ticks[s->n] = t;
        s->n++;
    }
}

int proc_tree_sample(int pid, int tree, proc_tree *s) {
    memset(s, 0, sizeof *s);
    if (read_stat2(pid, NULL, &s->own, &s->reaped) != 0) return -1;
    if (tree) for_children(pid, note_child, s);
    return 0;
}

double proc_tree_cpu_s(const proc_tree *a, const proc_tree *b) {
    /* own time, plus every child's time inside the window: a child alive at both ends counts its difference; one
     * born inside counts all of it; one that exited inside reached the parent's reaped total (whole life), from
     * which its time before the window is taken back */
    long long t = (long long)(b->own - a->own) + (long long)(b->reaped - a->reaped);
    for (size_t j = 0; j < b->n; j++) {
        unsigned long long before = 0;
        for (size_t i = 0; i < a->n; i++)
            if (a->pid[i] == b->pid[j]) before = a->ticks[i];
        t += (long long)(b->ticks[j] - before);
    }
    for (size_t i = 0; i < a->n; i++) {
        int alive = 0;
        for (size_t j = 0; j < b->n && !alive; j++) alive = a->pid[i] == b->pid[j];
        if (!alive) t -= (long long)a->ticks[i];
    }
    return (double)(t > 0 ? t : 0) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:   123 kB" line of /proc/<pid>/status, or -1. */
static long status_kb(int pid, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            kb = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static void add_anon(int child, void *arg) {
    long kb = status_kb(child, "RssAnon");
    if (kb > 0) *(long *)arg += kb;
}

long proc_rss_kb(int pid, int tree) {
    if (!tree) return status_kb(pid, "VmRSS");
    long kb = status_kb(pid, "RssAnon");
    if (kb < 0) return -1;
    for_children(pid, add_anon, &kb);
    return kb;
}
