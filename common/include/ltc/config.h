/* ltc/config.h - configuration from environment variables, validated at start. Every variable is documented in
 * docs/configuration.md. A bad value stops the process with a message naming the variable; secrets (DSNs with
 * passwords) are never logged: use ltc_redact_dsn before printing one. */
#ifndef LTC_CONFIG_H
#define LTC_CONFIG_H

#include <stddef.h>

/* The value of `name`, or `def` when unset or empty. */
const char *ltc_env_str(const char *name, const char *def);
/* Parses `name` as a decimal integer in [min, max]; `def` when unset. 0, or -1 with errbuf set. */
int ltc_env_int(const char *name, long def, long min, long max, long *out, char *errbuf, size_t errlen);
/* Parses a "host:port" listen or target address (IPv4, [IPv6] or a DNS name; port 1-65535). 0 or -1. */
int ltc_addr_valid(const char *addr);
/* A client target: "host:port", optionally with gRPC's "dns:///" scheme (resolved to every address, for
 * round-robin over a headless Service's pods), or gRPC's static list "ipv4:10.0.0.1:50062,10.0.0.2:50062" (replicas
 * at fixed addresses). 0 or -1. */
int ltc_target_valid(const char *target);
/* Why the process cannot listen on "host:port": binds it once itself (SO_REUSEADDR, as gRPC and the metrics endpoint
 * do; then closes it) and writes the system's reason into why ("127.0.0.1:50051: Address already in use"). gRPC
 * core's add-port call returns only 0 on failure: this names the cause for the start_failed log line. 0 when the
 * address can be bound now (why: ""), -1 otherwise. */
int ltc_listen_check(const char *addr, char *why, size_t n);
/* Copies dsn into out with the value of any password=... replaced by "***". */
void ltc_redact_dsn(const char *dsn, char *out, size_t outlen);

#endif
