/* state.h: the outcome of the last install attempt, kept in the OS's /var so that `status` (and a
 * technician, later) can see it: <sysroot>/ostree/deploy/<os>/var/lib/ostick/last-result. */
#pragma once

#include "deploy.h"
#include "install.h"

#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_STATE_GROUP "last-result"

/* Records @result (and @error when it failed). Best effort: a failure to record is not a failure
 * of the install. */
void ostick_state_record(
	OstickDevice *device, const OstickInstallResult *result, const GError *error);

/* The last recorded result, or NULL if none. (transfer full) */
GKeyFile *ostick_state_load(OstickDevice *device);

G_END_DECLS
