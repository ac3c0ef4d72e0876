/* install.h: the install pipeline: verify, check, apply, deploy. Used by `install`, `verify` and
 * the USB handler. Never prints; reports through the progress callback and the result. */
#pragma once

#include "deploy.h"
#include "ostick-bundle-reader.h"
#include "ostick-progress.h"
#include "ostick-sign.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* The public OstickInstallOptions (ostick.h), whose setters fill these fields. */
struct _OstickInstallOptions {
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
	const OstickDeployOptions *deploy; /* NULL: libostree's defaults (inherit kernel args) */
	char *owned_strings[3]; /* what the public setters copied */
};

/* Runs the pipeline on the bundle read sequentially from @fd (borrowed). On success
 * @result->outcome says what happened; on failure @result holds what was known (versions). */
gboolean ostick_install(int fd, const OstickInstallOptions *options, OstickInstallResult *result,
	GCancellable *cancellable, GError **error);

/* The pipeline after the signature: @reader has verified it; @device is open (and locked, unless
 * verifying only). For provisioning, which has to verify before it lays out the device. */
gboolean ostick_install_verified(OstickDevice *device, OstickBundleReader *reader,
	const OstickInstallOptions *options, OstickInstallResult *result, GCancellable *cancellable,
	GError **error);

G_END_DECLS
