/* admin.h (private to common/) - ltc.admin.v1.HandoffAdminService, served by every stage service. */
#ifndef LTC_ADMIN_H
#define LTC_ADMIN_H

#include <stddef.h>

#include "ltc/server.h"

extern const ltc_method ltc_admin_methods[];
extern const size_t ltc_admin_methods_count;

#endif
