/* ltc/fault.h - fault injection for the fault tests (tests/fault/), off unless LTC_FAULT_POINTS is set.
 *
 *   LTC_FAULT_POINTS="server.before_commit@AcceptWonBid=0.2,relay.after_send=0.1,relay.send_twice=1"
 *   LTC_FAULT_SEED=42
 *
 * Each entry is `point[@substring]=probability` (0..1): the point fires with that probability when its detail (the
 * method path) contains the substring. Crash points end the process with SIGKILL, exactly as `kill -9` would, at
 * the moment the test needs: before a receiver's COMMIT, between its COMMIT and its reply, between a relay's send
 * and its mark. The points:
 *   server.before_commit   crash before a WRITE method's COMMIT
 *   server.after_commit    crash after COMMIT, before the reply is sent
 *   relay.after_send       crash after the receiver confirmed a hand-off, before the outbox row is marked
 *   relay.send_twice       deliver every hand-off twice (duplicates)
 * Production never sets LTC_FAULT_POINTS; the check is one branch on a flag read at start. */
#ifndef LTC_FAULT_H
#define LTC_FAULT_H

/* 1 when `point` fires for `detail` (may be NULL). */
int ltc_fault_hit(const char *point, const char *detail);
/* Crashes the process (SIGKILL) when `point` fires. */
void ltc_fault_crash_point(const char *point, const char *detail);

#endif
