/* ltc/milestone.h - a stage reports a milestone of a deal to LTB, the CRM hub (ltc.ltb.v1.IntakeService/
 * AcceptMilestone), through its outbox: inside the handler's transaction, so the milestone is delivered exactly once
 * if and only if the state change commits, and a deal's milestones from one stage arrive in the order written.
 * The sending service lists "ltb" among its hand-off peers. Kinds and what their amount/date mean:
 * proto/ltc/type/v1/milestone.proto. */
#ifndef LTC_MILESTONE_H
#define LTC_MILESTONE_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/money.h"
#include "ltc/server.h"
#include "ltc/status.h"

/* One milestone to report. `deal_id` and `record` are required ("orders/{id}", ...); `occur_micros` is the time at
 * the source in microseconds since the epoch (0: now, the call's clock); `actor` NULL: the call's principal, else the
 * service's name; `amount` NULL and `date` "" (YYYY-MM-DD) when none; `detail` may be NULL. `stage` and `kind` are
 * the values of ltc.type.v1.MilestoneStage / MilestoneKind. */
typedef struct ltc_milestone {
    const char *deal_id;
    int stage;
    int kind;
    const char *record;
    int64_t occur_micros;
    const char *actor;
    const ltc_money *amount;
    const char *date;
    const char *detail;
    /* ORDER_PLACED: the order's SKUs (Milestone.product_skus); NULL/0 for none. */
    const char *const *product_skus;
    size_t n_product_skus;
} ltc_milestone;

/* Queues the milestone to LTB in the call's transaction (ltc_outbox_put, ordered by the deal's milestone stream,
 * ltc_milestone_ordering_key). 0, or -1 with st set (INTERNAL: a bad kind, stage or date is a programming error). */
int ltc_milestone_put(ltc_call *c, ltc_status *st, const ltc_milestone *m);

/* The outbox ordering key (outbox.deal_id) of a deal's milestones: "milestones/{deal_id}", apart from the deal's
 * other hand-offs (keyed by the deal id), so a parked milestone holds back only the deal's later milestones. */
const char *ltc_milestone_ordering_key(ltc_call *c, const char *deal_id);

#endif
