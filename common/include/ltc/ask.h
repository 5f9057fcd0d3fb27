/* ltc/ask.h - synchronous questions from inside a call to another stage service: credit (DTC's CheckCredit),
 * available-to-promise. Questions only: a change that another stage must see is a hand-off (ltc/outbox.h).
 *
 * A process names the peers it asks in its service definition (ltc_service_def.asks, e.g. {"dtc", NULL}); at start
 * the runtime opens one client per peer (target LTC_<PEER>_TARGET, mTLS with the process's internal identity when
 * loaded) and closes them at stop. A handler then asks with a typed request:
 *
 *   static const ltc_ask_peer DTC_CREDIT = {"dtc", &ltc__dtc__v1__credit_service__descriptor};
 *   ProtobufCMessage *out = NULL;
 *   if (ltc_ask(c, st, &DTC_CREDIT, "CheckCredit", &req.base, 2000, &out) != 0) ... fail closed with a reason ...
 *   Ltc__Dtc__V1__CheckCreditResponse *resp = (void *)out;
 *   ...
 *   protobuf_c_message_free_unpacked(out, NULL);
 *
 * The question carries the call's request id and trace context; its deadline is the smaller of deadline_ms and
 * the time the caller has left. Ask before locking rows where you can: the call's transaction waits meanwhile. */
#ifndef LTC_ASK_H
#define LTC_ASK_H

#include <protobuf-c/protobuf-c.h>

#include "ltc/server.h"
#include "ltc/status.h"

/* The peer asked and the service that answers: declared once per stage, next to its uses. */
typedef struct ltc_ask_peer {
    const char *name;                          /* "dtc": one of the process's ltc_service_def.asks */
    const ProtobufCServiceDescriptor *service; /* &ltc__dtc__v1__credit_service__descriptor */
} ltc_ask_peer;

/* Asks `method` of peer->service with `req`, which must be that method's input type. 0 with *resp (the method's
 * output type, unpacked: the caller frees it with protobuf_c_message_free_unpacked); or -1 with st set and *resp
 * NULL: INTERNAL for a method the service lacks, a request of another type or a peer the process does not ask
 * (bugs); otherwise the peer's own status (UNAVAILABLE when it cannot be reached, DEADLINE_EXCEEDED when it did not
 * answer in time): the caller decides what no answer means, and must fail closed. */
int ltc_ask(ltc_call *c, ltc_status *st, const ltc_ask_peer *peer, const char *method, const ProtobufCMessage *req,
            int deadline_ms, ProtobufCMessage **resp);

/* The deadline of a question from the environment variable `var` (milliseconds, 100 to 60000; `def` when unset),
 * read once per process; a bad value is logged and `def` used. For LTC_CREDIT_DEADLINE_MS and the like. */
int ltc_ask_deadline_ms(const char *var, int def);

/* --- the runtime's side (ltc/service.h calls these) ----------------------------------------------------------- */

/* Opens the client of peer `name` at `target` (before serving). 0, or -1 with st set (malformed target, too many
 * peers: at most 8). */
int ltc_ask_open(const char *name, const char *target, int max_message_bytes, ltc_status *st);
/* Closes every client (after the server stopped: no call may ask any more). */
void ltc_ask_close_all(void);

#endif
