/* authz.c - who is calling and whether it may (docs/security.md): the caller's internal identity from its client
 * certificate, the method's allow-list, the principal and roles the gateway forwards against the permission table,
 * and the ownership check of deal-scoped callers (OWASP API1). */
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ltc/access.h"
#include "ltc/assertion.h"
#include "ltc/assert.h"
#include "ltc/tls.h"

void ltc_authz__identify(ltc_call *c) {
    c->peer[0] = 0;
    c->remote[0] = 0;
    c->principal[0] = 0;
    c->roles = 0;
    c->acting = NULL;
    c->acting_principal[0] = 0;
    c->acting_roles = 0;
    c->deal_scoped = 0;
    if (!c->srv || !c->srv->opt.tls || !c->srv->opt.client_cert_required || !c->call) return;
    grpc_auth_context *ctx = grpc_call_auth_context(c->call);
    if (!ctx) return;
    /* the identity is the certificate's one URI SAN spiffe://ltc/<name> (gRPC sets peer_spiffe_id only for exactly
     * one well-formed spiffe URI), never its Common Name: a certificate of the mesh CA without that SAN, or with
     * another trust domain, names nobody and may call nothing but health */
    grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    char id[96];
    if (p && p->value_length > 0 && p->value_length < sizeof id) {
        memcpy(id, p->value, p->value_length);
        id[p->value_length] = 0;
        if (ltc_tls_spiffe_name(id, c->peer, sizeof c->peer) != 0) c->peer[0] = 0;
    }
    grpc_auth_context_release(ctx);
}

/* Whether `name` is one of the comma-separated `list` ("dtc,ltb"); never for "". */
static int name_in_list(const char *name, const char *list) {
    size_t n = strlen(name);
    if (n == 0) return 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* A forwarded principal: 1 to 128 printable, non-space ASCII characters. */
static int principal_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f) return 0;
    return 1;
}

static int authorize_roles(ltc_call *c, const ltc_method *m, ltc_status *st);

/* A hand-off (or another internal call) that names the user whose call caused it (x-ltc-acting, put there by the
 * sending stage's relay from its outbox row): believed only when the gateway's signature verifies; then the audit
 * rows name that user, with the sending stage as the caller. Without it the call is the sending service's own. */
static int acting_of_handoff(ltc_call *c, ltc_status *st) {
    const char *acting = ltc_call_metadata(c, "x-ltc-acting");
    if (!acting) return 0;
    char roles[96], aud[17];
    EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS]; /* the gateway's public keys: two during a rotation */
    size_t n_keys = ltc_keyring_acquire(c->srv->opt.assertion_keys, keys);
    int verified = ltc_assertion_verify_carried(keys, n_keys, acting, c->acting_principal, roles, aud, st);
    ltc_keyring_release(keys, n_keys);
    if (verified != 0) {
        c->acting_principal[0] = 0;
        return -1;
    }
    if (!principal_valid(c->acting_principal)) {
        c->acting_principal[0] = 0;
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ACTING_PRINCIPAL",
                              "the hand-off's acting principal is malformed");
    }
    c->acting_roles = ltc_roles_parse(roles);
    c->acting = acting;
    return 0;
}

/* In plaintext (development, and detached calls) the identity is unknown: forwarded principals are taken as given
 * and calls without one are not restricted. The principal is trusted only from the gateway. */
int ltc_authz__authorize(ltc_call *c, const ltc_method *m, ltc_status *st) {
    if (strcmp(m->path, "/grpc.health.v1.Health/Check") == 0) return 0;
    const int mtls = c->srv && c->srv->opt.tls && c->srv->opt.client_cert_required;
    const char *callers = m->callers ? m->callers : "gateway";
    if (mtls && !name_in_list(c->peer, callers))
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED", "%s may not call %s",
                              c->peer[0] ? c->peer : "this caller", m->path);
    const int public_method = m->callers == NULL;
    if (!public_method) return mtls && c->srv->opt.assertion_keys ? acting_of_handoff(c, st) : 0;
    if (mtls && strcmp(c->peer, "gateway") != 0) return 0;
    if (mtls && c->srv->opt.assertion_keys) {
        /* the identity the gateway signed for this stage and this method: its certificate alone proves nothing */
        const char *assertion = ltc_call_metadata(c, "x-ltc-assertion");
        char roles[96];
        if (!assertion)
            return ltc_status_set(st, LTC_UNAUTHENTICATED, "NO_ASSERTION", "the gateway forwarded no signed identity");
        EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS]; /* the gateway's public keys: two during a rotation */
        size_t n_keys = ltc_keyring_acquire(c->srv->opt.assertion_keys, keys);
        int verified = ltc_assertion_verify(keys, n_keys, assertion, c->srv->opt.service_name, m->path, time(NULL),
                                            c->principal, roles, st);
        ltc_keyring_release(keys, n_keys);
        if (verified != 0) {
            c->principal[0] = 0;
            return -1;
        }
        if (!principal_valid(c->principal)) {
            c->principal[0] = 0;
            return ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_PRINCIPAL", "the asserted principal is malformed");
        }
        c->acting = assertion; /* the hand-offs this call puts carry it on */
        c->roles = ltc_roles_parse(roles);
        return authorize_roles(c, m, st);
    }
    const char *principal = ltc_call_metadata(c, "x-ltc-principal");
    if (!principal) {
        if (!mtls) return 0; /* plaintext development without authentication at the gateway */
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "NO_PRINCIPAL", "the gateway forwarded no principal");
    }
    if (!principal_valid(principal))
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_PRINCIPAL", "the forwarded principal is malformed");
    snprintf(c->principal, sizeof c->principal, "%s", principal);
    c->roles = ltc_roles_parse(ltc_call_metadata(c, "x-ltc-roles"));
    return authorize_roles(c, m, st);
}

/* The principal and roles are known: may they call m, and is the call deal-scoped? */
static int authorize_roles(ltc_call *c, const ltc_method *m, ltc_status *st) {
    const unsigned granting = ltc_access_roles(m->path) & c->roles;
    if (!granting)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "ROLE_NOT_ALLOWED", "no role of %s may call %s", c->principal,
                              m->path);
    /* Only a role that itself grants this method may lift the iron-triangle scope: "auditor: all deals, read only"
     * does not make a sales user's writes unscoped (a role that cannot call the method lends it nothing). */
    c->deal_scoped = !ltc_access_all_deals(granting);
    return 0;
}

/* A name that is malformed or not found is left to the handler (INVALID_ARGUMENT, NOT_FOUND). */
int ltc_authz__check_owner(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, ltc_status *st) {
    if (!m->owner || !c->deal_scoped) return 0;
    const char *name = ltc_fields__string(req, m->owner->field);
    if (!name || !name[0]) return 0;
    const char *slash = strrchr(name, '/');
    const char *id = slash ? slash + 1 : name;
    if (!ltc_uuid_valid(id)) return 0;
    PGresult *r = ltc_call_query(c, st, m->owner->sql, 1, &id);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0;
    LTC_ASSERT(PQnfields(r) >= 1); /* the iron triangle's owners, one per column */
    for (int i = 0; i < PQnfields(r); i++)
        if (strcmp(PQgetvalue(r, 0, i), c->principal) == 0) return 0;
    return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE",
                          "%s is not in the iron triangle of the deal of %.200s", c->principal, name);
}

int ltc_call_check_owners(ltc_call *c, const char *account_owner, const char *solution_owner,
                          const char *fulfilment_owner, const char *name, ltc_status *st) {
    const char *owners[] = {account_owner, solution_owner, fulfilment_owner};
    c->owners_checked = 1;
    if (!c->deal_scoped) return 0;
    for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++)
        if (owners[i] && strcmp(owners[i], c->principal) == 0) return 0;
    c->owners_checked = -1;
    return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE",
                          "%s is not in the iron triangle of the deal of %.200s", c->principal, name ? name : "");
}

const char *ltc_call_remote(ltc_call *c) {
    if (c->remote[0]) return c->remote;
    char *peer = c->call ? grpc_call_get_peer(c->call) : NULL;
    if (peer) {
        /* "ipv4:10.0.0.7:51234", "ipv6:[::1]:51234", "unix:/path": the host, without the client's port */
        size_t n = strlen(peer);
        const char *colon = strrchr(peer, ':');
        if ((strncmp(peer, "ipv4:", 5) == 0 || strncmp(peer, "ipv6:", 5) == 0) && colon && colon > peer + 5)
            n = (size_t)(colon - peer);
        if (n >= sizeof c->remote) n = sizeof c->remote - 1;
        memcpy(c->remote, peer, n);
        c->remote[n] = 0;
        gpr_free(peer);
    }
    if (!c->remote[0]) snprintf(c->remote, sizeof c->remote, "unknown");
    return c->remote;
}
