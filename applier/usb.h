/* usb.h: the stick handler: confirm the device, mount it read-only in a private directory, find
 * and check candidate bundles, install the newest applicable one through the same pipeline,
 * leave a result file if configured, unmount. Never prints: the caller reports. */
#pragma once

#include "config.h"
#include "install.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	OSTICK_USB_NOTHING_FOUND, /* no *.ostick file: not an update stick */
	OSTICK_USB_UP_TO_DATE, /* bundles, but none newer than what runs */
	OSTICK_USB_INSTALLED,
	OSTICK_USB_FAILED,
} OstickUsbOutcome;

typedef void (*OstickLogFunc)(int priority, const char *message, gpointer user_data);

typedef struct {
	const OstickConfig *config;
	const OstickKeyring *keyring;
	OstickProgressFunc progress;
	gpointer progress_data;
	OstickLogFunc log; /* what the handler is doing, for the journal */
	gpointer log_data;
} OstickUsbOptions;

typedef struct {
	OstickUsbOutcome outcome;
	char *device;
	char *bundle; /* the chosen bundle, relative to the stick's root */
	OstickInstallResult install;
	GPtrArray *notes; /* "name: why it was not chosen", for the journal and the result file */
} OstickUsbResult;

void ostick_usb_result_clear(OstickUsbResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OstickUsbResult, ostick_usb_result_clear)

const char *ostick_usb_outcome_name(OstickUsbOutcome outcome);

/* Handles the stick @device (/dev path or kernel name). Returns FALSE with @error when the
 * stick was refused or the install failed; @result says what happened either way. */
gboolean ostick_usb_handle(const char *device, const OstickUsbOptions *options,
	OstickUsbResult *result, GCancellable *cancellable, GError **error);

G_END_DECLS
