/* install.h: the install pipeline: verify, check, apply, deploy. Used by `install`, `verify` and
 * the USB handler. Never prints; reports through the progress callback and the result. */
#pragma once

#include "ostick-progress.h"
#include "ostick-sign.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	OSTICK_OUTCOME_FAILED,
	OSTICK_OUTCOME_INSTALLED,
	OSTICK_OUTCOME_ALREADY_INSTALLED,
	OSTICK_OUTCOME_VERIFIED, /* verify only: everything checked, it would install */
	OSTICK_OUTCOME_APPLICABLE, /* probe only: signature and fit checked, payload not read */
} OstickOutcome;

typedef struct {
	const char *sysroot; /* "/" on a device */
	const char *os; /* NULL: the booted deployment's OS */
	const char *compatible; /* this device's compatible string */
	const OstickKeyring *keyring;
	gboolean allow_downgrade;
	gboolean no_deploy; /* apply and set the ref, but do not deploy */
	gboolean verify_only; /* read and check everything, write nothing, take no lock */
	gboolean probe_only; /* stop after the signature and fit checks (implies verify_only) */
	gboolean record; /* keep the outcome for `status` (var/lib/ostick/last-result) */
	OstickProgressFunc progress;
	gpointer progress_data;
} OstickInstallOptions;

typedef struct {
	OstickOutcome outcome;
	char *os;
	char *from_version; /* the default deployment before, if any */
	char *from_commit;
	char *to_version;
	char *to_commit;
	char *ref;
	char *compatible;
	guint64 target_timestamp;
	guint64 bytes_read;
	guint64 peak_staging;
	gint64 duration_us;
	char *warning; /* installed, but something after the switch failed (cleanup) */
} OstickInstallResult;

void ostick_install_result_clear(OstickInstallResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OstickInstallResult, ostick_install_result_clear)

/* Runs the pipeline on the bundle read sequentially from @fd (borrowed). On success
 * @result->outcome says what happened; on failure @result holds what was known (versions). */
gboolean ostick_install(int fd, const OstickInstallOptions *options, OstickInstallResult *result,
	GCancellable *cancellable, GError **error);

const char *ostick_outcome_name(OstickOutcome outcome);

G_END_DECLS
