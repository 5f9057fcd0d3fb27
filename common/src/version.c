/* version.c - the product version (LTC_VERSION, defined for this file by common/CMakeLists.txt from
 * PROJECT_VERSION) and its build_info gauge. */
#include "ltc/version.h"

#include <grpc/grpc.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdio.h>

#ifndef LTC_VERSION
#error "LTC_VERSION must be defined by the build (common/CMakeLists.txt)"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char service_name[32] = "ltc";
static char metric[512];

const char *ltc_version(void) { return LTC_VERSION; }

void ltc_version_set_service(const char *service) { snprintf(service_name, sizeof service_name, "%s", service); }

void ltc_version_print(FILE *out, const char *service) {
    int pq = PQlibVersion();
    fprintf(out, "ltc-%s %s (gRPC core %s, protobuf-c %s, libpq %d.%d, %s)\n", service, LTC_VERSION,
            grpc_version_string(), protobuf_c_version(), pq / 10000, pq % 10000, OpenSSL_version(OPENSSL_VERSION));
}

static void render(void) {
    /* label values: the version and service names are [0-9A-Za-z.-] (checked by tests/deploy/check_version.py),
     * gRPC's version string likewise: nothing to escape */
    snprintf(metric, sizeof metric,
             "# HELP ltc_build_info The product version and the gRPC core it runs on; always 1.\n"
             "# TYPE ltc_build_info gauge\n"
             "ltc_build_info{version=\"%s\",service=\"%s\",grpc_core=\"%s\"} 1\n",
             LTC_VERSION, service_name, grpc_version_string());
}

const char *ltc_build_info_metric(void) {
    pthread_once(&once, render);
    return metric;
}
