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
/* Copies dsn into out with the value of any password=... replaced by "***". */
void ltc_redact_dsn(const char *dsn, char *out, size_t outlen);

#endif
