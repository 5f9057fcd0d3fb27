/* ids.c - random UUIDs and "collection/{uuid}" resource names (see ltc/ids.h). */
#include "ltc/ids.h"

#include <string.h>
#include <uuid/uuid.h>

void ltc_uuid_new(char out[LTC_UUID_LEN + 1]) {
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static int is_hex(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

/* 8-4-4-4-12 hex digits, any case; no braces, no "urn:uuid:" prefix, nothing after. */
int ltc_uuid_valid(const char *s) {
    if (!s) return 0;
    for (int i = 0; i < LTC_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!is_hex(s[i])) {
            return 0;  /* also stops at the NUL of a short string */
        }
    }
    return s[LTC_UUID_LEN] == '\0';
}

int ltc_name_parse(const char *name, const char *collection, const char *field, char id_out[LTC_UUID_LEN + 1],
                   ltc_status *st) {
    id_out[0] = '\0';
    if (!name || !*name) return ltc_status_bad_field(st, field, "required; must be \"%s/{uuid}\"", collection);
    size_t n = strlen(collection);
    if (strncmp(name, collection, n) != 0 || name[n] != '/' || !ltc_uuid_valid(name + n + 1))
        return ltc_status_bad_field(st, field, "must be \"%s/{uuid}\"", collection);
    const char *id = name + n + 1;
    for (int i = 0; i < LTC_UUID_LEN; i++) {
        char ch = id[i];
        id_out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    id_out[LTC_UUID_LEN] = '\0';
    return 0;
}
