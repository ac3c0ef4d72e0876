/* deploy.h: the device's sysroot through libostree: what it runs, and deploying a new commit
 * (3-way /etc merge, inherited kernel arguments, bootloader configuration, cleanup that keeps
 * the rollback). */
#pragma once

#include "ostick-manifest.h"

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

/* One deployment as status and policy see it. */
typedef struct {
	char *checksum;
	char *version; /* origin [ostick] version, else the commit's "version"; may be NULL */
	guint64 timestamp; /* commit timestamp */
	int index; /* ostree index (boot menu order) */
	gboolean booted;
	gboolean is_default; /* what boots next: the first deployment of the OS */
	gboolean pinned;
	char *refspec;
} OstickDeploymentInfo;

/* The device as the applier sees it before a change. */
typedef struct {
	OstreeSysroot *sysroot;
	OstreeRepo *repo;
	char *os;
	gboolean locked;
	OstreeDeployment *booted; /* NULL on a sysroot that is not running */
	OstreeDeployment *current; /* default deployment of @os (what boots next), or NULL */
	OstreeDeployment *merge; /* libostree's merge deployment (booted, else default) */
} OstickDevice;

/* Called on a new deployment's checkout, before the boot configuration that makes it live is
 * written: the last moment to change its /etc. */
typedef gboolean (*OstickDeploymentPrepareFunc)(
	OstickDevice *device, OstreeDeployment *deployment, gpointer user_data, GError **error);

typedef struct {
	const char *const *kargs; /* the kernel arguments; NULL: the merge deployment's */
	OstickDeploymentPrepareFunc prepare; /* optional */
	gpointer prepare_data;
} OstickDeployOptions;

/* Opens and loads the sysroot at @path. With @lock, takes libostree's sysroot lock (one
 * ostick/ostree operation at a time device-wide): OSTICK_ERROR_BUSY if it is held. @os may be
 * NULL: then the booted deployment's OS. (transfer full) */
OstickDevice *ostick_device_open(
	const char *path, const char *os, gboolean lock, GCancellable *cancellable, GError **error);
void ostick_device_free(OstickDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickDevice, ostick_device_free)

/* Facts about @deployment. (transfer full) */
OstickDeploymentInfo *ostick_device_describe(OstickDevice *device, OstreeDeployment *deployment);
void ostick_deployment_info_free(OstickDeploymentInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickDeploymentInfo, ostick_deployment_info_free)

/* The deployments of the device's OS, in boot order. (transfer full) of OstickDeploymentInfo */
GPtrArray *ostick_device_list(OstickDevice *device);

/* The configured bootloader (repo config sysroot.bootloader, "auto" if unset). (transfer full) */
char *ostick_device_get_bootloader(OstickDevice *device);

/* Deploys @target as the new default of the device's OS, merging /etc from the merge deployment
 * and inheriting its kernel arguments; writes the bootloader configuration, keeping the booted
 * or merge deployment as rollback. The origin records @manifest's ref and version. @options
 * (optional) override the kernel arguments and add a last step on the checkout. Once the
 * deployment is live, moves @manifest's ref to it (not before: a failure leaves the ref where
 * it was); if that fails, @ref_error says why and the deploy still succeeds. Once it returned
 * TRUE the device boots @target: call ostick_device_cleanup() afterwards. */
gboolean ostick_device_deploy(OstickDevice *device, const OstickManifest *manifest,
	const OstickDeployOptions *options, GError **ref_error, GCancellable *cancellable,
	GError **error);

/* Points @manifest's ref at its target, unless it does already; with @sync, on disk before it
 * returns. Error: why it could not. */
gboolean ostick_device_move_ref(
	OstickDevice *device, const OstickManifest *manifest, gboolean sync, GError **error);

/* The commits that keep objects alive in the repo through this install: every deployment's (of
 * any OS) and @ref_commit, the install's ref before it moves (may be NULL). Taken before
 * ostick_device_deploy(), for ostick_device_cleanup(). (transfer full): a set of checksums */
GHashTable *ostick_device_roots(OstickDevice *device, const char *ref_commit);

/* After a successful ostick_device_deploy(): removes deployments beyond the rollback and their
 * boot files, and prunes objects nothing references any more, unless none can have become
 * unreferenced: every commit of @roots_before (NULL: unknown) is still deployed or is
 * @ref_commit, what the ref points at now. Failure is only worth a warning. */
gboolean ostick_device_cleanup(
	OstickDevice *device, GHashTable *roots_before, const char *ref_commit, GError **error);

/* After ostick_device_deploy() failed: removes the deployment checkout and boot files it may
 * have left, so that the sysroot is as the bootloader configuration on disk says. Best effort;
 * returns whether the sysroot was reloaded from disk (then its deployments are the live ones). */
gboolean ostick_device_discard_failed_deploy(OstickDevice *device);

G_END_DECLS
