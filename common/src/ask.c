/* ask.c - synchronous questions to other stage services (ltc/ask.h): one client per asked peer, opened at start and
 * read-only while serving, so handlers on every worker share it without a lock. */
#include "ltc/ask.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/client.h"
#include "ltc/config.h"
#include "ltc/log.h"

#define ASK_PEERS_MAX 8

static struct {
    const char *name;
    ltc_client *client;
} peers[ASK_PEERS_MAX];
static size_t n_peers;

int ltc_ask_open(const char *name, const char *target, int max_message_bytes, ltc_status *st) {
    if (n_peers == ASK_PEERS_MAX)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "more than %d asked peers", ASK_PEERS_MAX);
    ltc_client *client = ltc_client_create(target, name, max_message_bytes);
    if (!client) return ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_PEER", "%s: bad target %s", name, target);
    peers[n_peers].name = name;
    peers[n_peers].client = client;
    n_peers++;
    return 0;
}

void ltc_ask_close_all(void) {
    for (size_t i = 0; i < n_peers; i++) ltc_client_destroy(peers[i].client);
    memset(peers, 0, sizeof peers);
    n_peers = 0;
}

static ltc_client *client_of(const char *name) {
    for (size_t i = 0; i < n_peers; i++)
        if (strcmp(peers[i].name, name) == 0) return peers[i].client;
    return NULL;
}

int ltc_ask(ltc_call *c, ltc_status *st, const ltc_ask_peer *peer, const char *method, const ProtobufCMessage *req,
            int deadline_ms, ProtobufCMessage **resp) {
    *resp = NULL;
    if (!peer || !peer->name || !peer->service || !method || !req)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "a question without a peer, method or request");
    const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(peer->service, method);
    if (!md) return ltc_status_set(st, LTC_INTERNAL, NULL, "%s has no method %s", peer->service->name, method);
    if (req->descriptor != md->input)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "%s/%s takes %s, not %s", peer->service->name, method,
                              md->input->name, req->descriptor ? req->descriptor->name : "(none)");
    ltc_client *client = client_of(peer->name);
    if (!client) return ltc_status_set(st, LTC_INTERNAL, NULL, "this process does not ask %s", peer->name);

    const char *path = ltc_call_printf(c, "/%s/%s", peer->service->name, md->name);
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = ltc_call_alloc(c, n ? n : 1);
    protobuf_c_message_pack(req, buf);
    int64_t left = ltc_call_ms_left(c);
    if (left < deadline_ms) deadline_ms = left > 0 ? (int)left : 1;
    const ltc_metadata_kv md_kv[2] = {{"x-request-id", ltc_call_request_id(c)},
                                      {"traceparent", ltc_call_traceparent(c)}};
    uint8_t *out = NULL;
    size_t out_len = 0;
    /* no parent call: the question's deadline is ours (bounded above by the caller's), and a caller that goes away
     * does not cancel a question whose answer the handler is waiting for */
    if (ltc_client_call(client, NULL, path, buf, n, deadline_ms, md_kv, 2, &out, &out_len, st) != 0) return -1;
    *resp = protobuf_c_message_unpack(md->output, NULL, out_len, out);
    free(out);
    if (!*resp)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "%s answered %s with a message that does not decode", peer->name,
                              path);
    return 0;
}

/* One cached value per variable: the few a process reads (a fixed table, filled once under a lock). */
int ltc_ask_deadline_ms(const char *var, int def) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        const char *var;
        int ms;
    } cache[8];
    static size_t n;
    int ms = -1;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n && ms < 0; i++)
        if (strcmp(cache[i].var, var) == 0) ms = cache[i].ms;
    if (ms < 0) {
        long v = def;
        char err[160];
        if (ltc_env_int(var, def, 100, 60000, &v, err, sizeof err) != 0) {
            LTC_WARN("bad_config", NULL, "%s; using %d", err, def);
            v = def;
        }
        ms = (int)v;
        if (n < sizeof cache / sizeof cache[0]) cache[n++] = (typeof(cache[0])){var, ms};
    }
    pthread_mutex_unlock(&mu);
    return ms;
}
