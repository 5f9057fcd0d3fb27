/* admin.h (private to common/) - the services every stage serves besides its own: ltc.admin.v1.HandoffAdminService
 * and ltc.audit.v1.AuditService. */
#ifndef LTC_ADMIN_H
#define LTC_ADMIN_H

#include <stddef.h>

#include "ltc/server.h"

extern const ltc_method ltc_admin_methods[];
extern const size_t ltc_admin_methods_count;

/* ltc.audit.v1.AuditService (audit.c), served by every stage service. */
extern const ltc_method ltc_audit_methods[];
extern const size_t ltc_audit_methods_count;

#endif
