/* matching.c - the pure part of duplicate matching (see matching.h): grouping key rows into parties, the caller's
 * confirmations, the "matches" metadata. No database, no allocation. */
#include "matching.h"

#include <stdio.h>
#include <string.h>

static int same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static void add_reason(ltb_match *m, const ltb_match_row *r) {
    for (size_t i = 0; i < m->n_reasons; i++)
        if (same(m->reasons[i].field, r->field) && same(m->reasons[i].value, r->value)) return;
    if (m->n_reasons >= LTB_MATCH_MAX_REASONS) return;
    m->reasons[m->n_reasons].field = r->field;
    m->reasons[m->n_reasons].value = r->value;
    m->n_reasons++;
}

/* One pass per kind (customers, then leads), so customers come first whatever the rows' order. */
size_t ltb_match_group(const ltb_match_row *rows, size_t n, ltb_match *out, size_t max) {
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t first = k;
        for (size_t i = 0; i < n; i++) {
            int is_lead = same(rows[i].kind, "LEAD");
            if (is_lead != pass || !rows[i].id || !rows[i].id[0]) continue;
            size_t j = first;
            while (j < k && !same(out[j].id, rows[i].id)) j++;
            if (j == k) {
                if (k >= max) continue;
                memset(&out[k], 0, sizeof out[k]);
                out[k].is_lead = is_lead;
                out[k].id = rows[i].id;
                out[k].display = rows[i].display;
                k++;
            }
            add_reason(&out[j], &rows[i]);
        }
    }
    return k;
}

void ltb_match_name(const ltb_match *m, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", m->is_lead ? "leads" : "customers", m->id);
}

int ltb_name_listed(const char *name, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0) return 1;
    return 0;
}

size_t ltb_match_unconfirmed(ltb_match *m, size_t n, const char *const *distinct_from, size_t nd) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char name[160];
        ltb_match_name(&m[i], name, sizeof name);
        if (ltb_name_listed(name, distinct_from, nd)) continue;
        if (i != k) {
            ltb_match t = m[k];
            m[k] = m[i];
            m[i] = t;
        }
        k++;
    }
    return k;
}

char *ltb_match_names(const ltb_match *m, size_t n, char *buf, size_t cap) {
    size_t len = 0;
    if (cap == 0) return buf;
    buf[0] = 0;
    for (size_t i = 0; i < n && i < LTB_MATCH_NAMES_MAX; i++) {
        char name[160];
        ltb_match_name(&m[i], name, sizeof name);
        size_t need = strlen(name) + (len ? 1 : 0);
        if (len + need + 1 > cap) break;
        if (len) buf[len++] = ',';
        memcpy(buf + len, name, strlen(name) + 1);
        len += strlen(name);
    }
    return buf;
}
