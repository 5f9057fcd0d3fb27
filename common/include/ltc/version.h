/* ltc/version.h - the product's one version string (CMake's project(VERSION ...)), the same in every binary: printed
 * by `--version`, logged in each process's first log line ("event":"starting") and exported as the gauge
 * ltc_build_info{version,service,grpc_core} 1 on /metrics. */
#ifndef LTC_VERSION_H
#define LTC_VERSION_H

#include <stdio.h>

/* "0.1.0": PROJECT_VERSION of the top CMakeLists.txt. */
const char *ltc_version(void);

/* Names the process ("ltb", "gateway") for ltc_build_info's service label. */
void ltc_version_set_service(const char *service);

/* Prints "ltc-<service> <version> (gRPC core <v>, protobuf-c <v>, libpq <v>, <OpenSSL version>)" and a newline. */
void ltc_version_print(FILE *out, const char *service);

/* The ltc_build_info gauge in Prometheus text format (HELP, TYPE and the sample), for ltc_metrics_render. */
const char *ltc_build_info_metric(void);

#endif
