/* ltc/metrics.h - Prometheus metrics of a process, served as text at http://<listen>/metrics by libmicrohttpd.
 *
 *   ltc_rpc_requests_total{method,code}          counter, every call served
 *   ltc_rpc_duration_seconds{method}             histogram of the time to serve a call
 *   ltc_handoff_pending{destination}             outbox rows not yet delivered (not parked)
 *   ltc_handoff_oldest_pending_age_seconds{destination}
 *   ltc_handoff_parked{destination}              hand-offs refused for good, waiting for an operator
 *   ltc_workers / ltc_workers_busy               worker threads and how many are serving a call
 *   process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds
 *
 * Recording is thread-safe and cheap (one mutex, no allocation after a method is first seen). Method labels are
 * bounded: at most LTC_METRICS_MAX_METHODS distinct values, then "other". */
#ifndef LTC_METRICS_H
#define LTC_METRICS_H

#include "ltc/status.h"

#define LTC_METRICS_MAX_METHODS 128

/* Starts the endpoint on "host:port" (NULL, "" or "off": no endpoint, recording still works). 0 or -1 (st set). */
int ltc_metrics_start(const char *listen_addr, ltc_status *st);
void ltc_metrics_stop(void);

void ltc_metrics_rpc(const char *method, ltc_code code, double seconds);
void ltc_metrics_workers(int total);
void ltc_metrics_busy(int delta);
/* Replaces the hand-off gauges of `destination`. */
void ltc_metrics_handoffs(const char *destination, long pending, double oldest_age_s, long parked);

/* The exposition text (malloc'd, caller frees), as served at /metrics. */
char *ltc_metrics_render(void);

#endif
