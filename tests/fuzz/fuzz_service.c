/* fuzz_service.c - libFuzzer target for the request decoding and validation of one stage service: every public RPC
 * and every hand-off (IntakeService) message. Built once per service with -DLTC_FUZZ_SERVICE=<svc>_service.
 *
 * Input: the first byte picks the method (index into the service's method table sorted by path, so that the seed
 * generator can compute it from the protos: tests/fuzz/gen_seeds.py); the rest is the request bytes. Each input is
 * served twice:
 *   1. through ltc_call_run, exactly as the server does (size cap, decode, idempotency key checks and fingerprint,
 *      transaction, handler, encode) on a detached call with no database: a READ handler validates and its first
 *      query fails UNAVAILABLE; a WRITE method's BEGIN fails UNAVAILABLE, as with PostgreSQL down.
 *   2. for WRITE methods, the handler itself on the decoded request (still no database), so that its validation
 *      runs in full (step 1 stops at the failed BEGIN) and its first query fails cleanly.
 * Besides no crash / leak / undefined behaviour, every failure must carry a well-formed status (fuzz_check.h).
 *
 * LTC_FUZZ_LIST_METHODS=1 ./fuzz_ltb  prints "index path" for every method and exits (gen_seeds.py --check). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/arena.h"
#include "ltc/log.h"
#include "ltc/methods.h"
#include "ltc/server.h"
#include "ltc/service.h"

#ifndef LTC_FUZZ_SERVICE
#error "build with -DLTC_FUZZ_SERVICE=<svc>_service"
#endif

ltc_service_def LTC_FUZZ_SERVICE(void);

#define MAX_REQUEST_BYTES                                                                                              \
    4096 /* the server's cap (LTC_MAX_MESSAGE_BYTES) in the fuzzer, so that the fuzzer's inputs
                                * (up to 8 KiB: run_fuzz.sh) reach the refusal too */

static const ltc_method **methods;
static size_t n_methods;
static ltc_call *call; /* a detached call with no database: every query (and BEGIN) fails UNAVAILABLE */

static int by_path(const void *a, const void *b) {
    return strcmp((*(const ltc_method *const *)a)->path, (*(const ltc_method *const *)b)->path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ltc_log_init("fuzz", "error"); /* the no-database warnings of every input would flood the output */
    ltc_service_def def = LTC_FUZZ_SERVICE();
    /* the table as the server gets it: paths and message descriptors resolved (kept for the process's life) */
    ltc_status st = {0};
    const ltc_method *resolved = ltc_methods_resolve(def.methods, def.n_methods, ltc_runtime_paths, &st);
    if (!resolved) {
        fprintf(stderr, "fuzz: %s\n", st.message);
        abort();
    }
    n_methods = def.n_methods;
    methods = calloc(n_methods, sizeof *methods);
    if (!methods || n_methods == 0 || n_methods > 256) abort();
    for (size_t i = 0; i < n_methods; i++) methods[i] = &resolved[i];
    qsort(methods, n_methods, sizeof *methods, by_path);
    if (getenv("LTC_FUZZ_LIST_METHODS")) {
        for (size_t i = 0; i < n_methods; i++) printf("%zu %s\n", i, methods[i]->path);
        exit(0);
    }
    call = ltc_call_create_detached(NULL);
    if (!call) abort();
    return 0;
}

/* Step 1: the server's path. */
static void serve(const ltc_method *m, const uint8_t *req, size_t len) {
    ltc_call *c = call;
    ltc_status st = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = ltc_call_run(c, m, req, len, MAX_REQUEST_BYTES, &out, &out_len, &st);
    if (rc == 0) {
        /* a method that answers without its database (none does today): the answer must decode */
        ProtobufCMessage *resp = protobuf_c_message_unpack(m->response, NULL, out_len, out);
        FUZZ_REQUIRE(resp != NULL, "%s: the response does not decode as %s", m->path, m->response->name);
        protobuf_c_message_free_unpacked(resp, NULL);
        free(out);
    } else {
        FUZZ_REQUIRE(out == NULL, "%s: failed with a response", m->path);
        fuzz_check_failure(&st, m->path);
        if (len > MAX_REQUEST_BYTES) FUZZ_REQUIRE(st.code == LTC_RESOURCE_EXHAUSTED, "%s: no size cap", m->path);
    }
    ltc_status_clear(&st);
}

/* Step 2: the handler's validation (WRITE methods). */
static void validate(const ltc_method *m, const uint8_t *req, size_t len) {
    if (!(m->flags & LTC_METHOD_WRITE) || len > MAX_REQUEST_BYTES) return;
    ProtobufCMessage *msg = protobuf_c_message_unpack(m->request, NULL, len, req);
    if (!msg) return;
    ltc_status st = {0};
    ProtobufCMessage *resp = NULL;
    int rc = m->handler(call, msg, &resp, &st);
    if (rc == 0) {
        FUZZ_REQUIRE(resp != NULL, "%s: handler succeeded without a response", m->path);
        size_t n = protobuf_c_message_get_packed_size(resp);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) abort();
        protobuf_c_message_pack(resp, buf);
        free(buf);
    } else {
        fuzz_check_failure(&st, m->path);
    }
    ltc_status_clear(&st);
    protobuf_c_message_free_unpacked(msg, NULL);
    ltc_arena_reset(ltc_call_arena(call));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ltc_method *m = methods[data[0] % n_methods];
    serve(m, data + 1, size - 1);
    validate(m, data + 1, size - 1);
    return 0;
}
