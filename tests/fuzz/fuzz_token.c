/* fuzz_token.c - libFuzzer target for the gateway's bearer-token checks (services/gateway/auth.c): whatever a client
 * puts in its `authorization` header. The first byte picks the mode:
 *   0  the rest is the header value after "Bearer " (the fuzzer has to get through our header parsing, base64url,
 *      JSON, the key choice and the signature);
 *   1  the rest is a claims JSON object, signed here with the key set's HS256 key (so the claim checks after a valid
 *      signature are fuzzed too).
 * Properties, besides no crash / leak / UB: an accepted token has a subject of 1-128 printable characters without
 * ',' and an expiry no further in the past than the leeway; mode 0 never accepts (the fuzzer does not know a key);
 * a refusal is always UNAUTHENTICATED with a reason. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "fuzz_check.h"

#define SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"

static gw_auth *auth;
static const time_t NOW = 1800000000;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char dir[] = "/tmp/ltc-fuzz-token-XXXXXX";
    if (!mkdtemp(dir)) abort();
    char path[128];
    snprintf(path, sizeof path, "%s/hs.secret", dir);
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(SECRET, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/keys.json", dir);
    f = fopen(path, "w");
    if (!f) abort();
    fputs("{\"issuer\": \"iss\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"hs\", \"alg\": \"HS256\", \"file\": "
          "\"hs.secret\"}]}",
          f);
    fclose(f);
    char err[256];
    auth = gw_auth_load(path, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "fuzz_token: %s\n", err);
        abort();
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/hs.secret", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

static size_t b64url(const uint8_t *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t k = 0;
    for (int i = 0; i < len; i++) {
        char c = out[i];
        if (c == '=') break;
        out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[k] = 0;
    return k;
}

static void check(const char *header, int may_accept) {
    gw_principal p;
    ltc_status st = {0};
    if (gw_auth_check(auth, header, NOW, &p, &st) == 0) {
        FUZZ_REQUIRE(may_accept, "accepted a token the fuzzer could not have signed");
        size_t n = strlen(p.subject);
        FUZZ_REQUIRE(n >= 1 && n <= 128, "subject of %zu characters", n);
        for (size_t i = 0; i < n; i++)
            FUZZ_REQUIRE(p.subject[i] > 0x20 && p.subject[i] < 0x7f && p.subject[i] != ',', "subject byte %02x",
                         (unsigned char)p.subject[i]);
        FUZZ_REQUIRE(p.expires + 30 >= NOW, "expired at %ld", p.expires);
    } else {
        FUZZ_REQUIRE(st.code == LTC_UNAUTHENTICATED && st.reason[0], "refused with %d %s", st.code, st.reason);
    }
    ltc_status_clear(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 6000) return 0;
    char *buf = malloc(2 * size + 256);
    if (!buf) return 0;
    if (data[0] % 2 == 0) {
        memcpy(buf, "Bearer ", 7);
        memcpy(buf + 7, data + 1, size - 1);
        buf[6 + size] = 0;
        check(buf, 0);
    } else {
        static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"hs\"}";
        size_t k = 7;
        memcpy(buf, "Bearer ", 7);
        k += b64url((const uint8_t *)hdr, sizeof hdr - 1, buf + k);
        buf[k++] = '.';
        k += b64url(data + 1, size - 1, buf + k);
        unsigned char mac[32];
        unsigned int mlen = 0;
        HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)buf + 7, k - 7, mac, &mlen);
        buf[k++] = '.';
        b64url(mac, mlen, buf + k);
        check(buf, 1);
    }
    free(buf);
    return 0;
}
