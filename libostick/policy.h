/* policy.h: does a verified bundle fit this device? Every check runs before anything is written. */
#pragma once

#include "deploy.h"
#include "ostick-manifest.h"

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

typedef struct {
	const char *compatible; /* this device's compatible string (required) */
	gboolean allow_downgrade;
} OstickPolicy;

/* Compatible string and OS name match; the target is not older than what the device runs
 * (commit timestamp, and version where both are known) unless downgrades are allowed.
 * Sets @out_installed when the target is already the default or booted deployment.
 * Errors: OSTICK_ERROR_INCOMPATIBLE, OSTICK_ERROR_DOWNGRADE. */
gboolean ostick_policy_check_fit(OstickDevice *device, const OstickManifest *manifest,
	const OstickPolicy *policy, gboolean *out_installed, GError **error);

/* @target is the default deployment of the device's OS but the booted deployment is another
 * one: installed, and a reboot starts it. FALSE on a sysroot that is not booted (no booted
 * deployment: restarting this machine would not start that sysroot). */
gboolean ostick_policy_reboot_pending(OstickDevice *device, const char *target);

/* Every object @commit reaches (dirtrees, dirmeta and file objects) is in @repo, or in its
 * open transaction. With @base (a commit in @repo known complete, or NULL), what @commit
 * shares with it at the same paths is taken as there (complete.c). Error: G_IO_ERROR_NOT_FOUND
 * naming the first missing object. */
gboolean ostick_commit_check_complete(OstreeRepo *repo, const char *commit, const char *base,
	GCancellable *cancellable, GError **error);

/* For a delta: the base commit is in the repo, complete (not marked partial). With @thorough,
 * also every object it reaches (bsdiff opcodes read old objects): the check of a dry run, which
 * applies nothing that would find a gap. An install leaves that walk to
 * ostick_policy_explain_apply_failure(). Error: OSTICK_ERROR_BASE_MISSING. */
gboolean ostick_policy_check_base(OstreeRepo *repo, const OstickManifest *manifest,
	gboolean thorough, GCancellable *cancellable, GError **error);

/* After applying or deploying @manifest failed with @error (set): if the delta's base is
 * incomplete in @repo, replaces @error with OSTICK_ERROR_BASE_MISSING saying so. A missing base
 * object is the device's fault, not the bundle's, whether libostree tripped over it applying
 * the delta or checking out the target (the completeness check does not look at what the
 * target shares with the base). */
void ostick_policy_explain_apply_failure(OstreeRepo *repo, const OstickManifest *manifest,
	GCancellable *cancellable, GError **error);

/* Peak bytes the apply stages at once: the largest one-part superblock plus what libostree
 * decompresses it to. */
guint64 ostick_policy_staging_bytes(const OstickManifest *manifest);

/* The repo's filesystem has room for the new objects, the staging, and libostree's reserve
 * (core.min-free-space-*). Error: OSTICK_ERROR_NO_SPACE. */
gboolean ostick_policy_check_space(
	OstreeRepo *repo, const OstickManifest *manifest, GError **error);

/* The same for the filesystem of the directory @dfd, keeping @reserve bytes free. */
gboolean ostick_policy_check_space_at(
	int dfd, guint64 reserve, const OstickManifest *manifest, GError **error);

G_END_DECLS
