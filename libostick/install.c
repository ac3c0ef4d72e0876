/* install.c: verify -> check -> apply -> deploy, with nothing written before every check passed. */
#include "install.h"

#include "apply.h"
#include "deploy.h"
#include "ostick-bundle-reader.h"
#include "ostick-error.h"
#include "policy.h"
#include "prefetch.h"
#include "state.h"

#include <string.h>

/* reboot_pending took one reserved pointer's space: the public struct keeps its size (ABI). */
typedef struct {
	OstickOutcome outcome;
	char *strings[7];
	guint64 numbers[3];
	gint64 duration_us;
	char *warning;
	gpointer reserved[8];
} ResultLayoutV0;
G_STATIC_ASSERT(sizeof(OstickInstallResult) == sizeof(ResultLayoutV0));

typedef struct {
	const OstickInstallOptions *options;
	OstickInstallResult *result;
	OstickDevice *device;
	OstickBundleReader *reader;
	gint64 start_us;
	GCancellable *cancellable;
} Run;

const char *
ostick_outcome_name(OstickOutcome outcome)
{
	switch (outcome) {
	case OSTICK_OUTCOME_INSTALLED:
		return "installed";
	case OSTICK_OUTCOME_ALREADY_INSTALLED:
		return "already-installed";
	case OSTICK_OUTCOME_VERIFIED:
		return "verified";
	case OSTICK_OUTCOME_APPLICABLE:
		return "applicable";
	case OSTICK_OUTCOME_PROVISIONED:
		return "provisioned";
	default:
		return "failed";
	}
}

void
ostick_install_result_clear(OstickInstallResult *result)
{
	g_clear_pointer(&result->os, g_free);
	g_clear_pointer(&result->from_version, g_free);
	g_clear_pointer(&result->from_commit, g_free);
	g_clear_pointer(&result->to_version, g_free);
	g_clear_pointer(&result->to_commit, g_free);
	g_clear_pointer(&result->ref, g_free);
	g_clear_pointer(&result->compatible, g_free);
	g_clear_pointer(&result->warning, g_free);
	result->reboot_pending = FALSE;
}

static void
emit_stage(Run *run, OstickStage stage)
{
	OstickProgress progress = {.stage = stage};

	if (run->options->progress == NULL)
		return;
	progress.elapsed_us = g_get_monotonic_time() - run->start_us;
	run->options->progress(&progress, run->options->progress_data);
}

static void
note_device(Run *run)
{
	g_autoptr(OstickDeploymentInfo) current = NULL;

	run->result->os = g_strdup(run->device->os);
	if (run->device->current == NULL)
		return;
	current = ostick_device_describe(run->device, run->device->current);
	run->result->from_commit = g_strdup(current->checksum);
	run->result->from_version = g_strdup(current->version);
}

static void
note_manifest(Run *run, const OstickManifest *m)
{
	run->result->to_commit = g_strdup(m->target);
	run->result->to_version = g_strdup(m->version);
	run->result->ref = g_strdup(m->ref);
	run->result->compatible = g_strdup(m->compatible);
	run->result->target_timestamp = m->target_timestamp;
}

/* Signature first, then the manifest: before anything else of the bundle is parsed. */
static gboolean
verify_signature(Run *run, GError **error)
{
	emit_stage(run, OSTICK_STAGE_VERIFY);
	if (!ostick_bundle_reader_verify(run->reader, run->options->keyring, error))
		return FALSE;
	note_manifest(run, ostick_bundle_reader_get_manifest(run->reader));
	return TRUE;
}

static gboolean
writes(const OstickInstallOptions *options)
{
	return !options->verify_only && !options->probe_only;
}

/* Whether it fits: all before any write. */
static gboolean
check_fit(Run *run, gboolean *out_installed, GError **error)
{
	const OstickInstallOptions *o = run->options;
	OstickPolicy policy = {o->compatible, o->allow_downgrade};
	const OstickManifest *m = ostick_bundle_reader_get_manifest(run->reader);

	emit_stage(run, OSTICK_STAGE_CHECK);
	if (!ostick_policy_check_fit(run->device, m, &policy, out_installed, error))
		return FALSE;
	if (*out_installed)
		return TRUE;
	return ostick_policy_check_base(
		       run->device->repo, m, !writes(o), run->cancellable, error) &&
	       ostick_policy_check_space(run->device->repo, m, error);
}

static gboolean
discard_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return TRUE;
}

static gboolean
read_to_end(Run *run, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(run->reader);
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(run->device->repo));
	/* Staging for a zstd check goes where an install would put it, not into RAM. */
	g_autofree char *tmp_path = g_build_filename(repo_path, "tmp", NULL);

	for (guint i = 0; i < m->n_parts; i++) {
		if (g_cancellable_set_error_if_cancelled(run->cancellable, error) ||
			!ostick_bundle_reader_check_part(
				run->reader, i, discard_chunk, NULL, tmp_path, error))
			return FALSE;
	}
	return ostick_bundle_reader_finish(run->reader, error);
}

static void
add_warning(Run *run, const char *message)
{
	char *joined = run->result->warning == NULL
			       ? g_strdup(message)
			       : g_strconcat(run->result->warning, "; ", message, NULL);

	g_free(run->result->warning);
	run->result->warning = joined;
}

/* A deploy that failed: its checkout and boot files go, and so do the objects the apply added
 * (no ref points at them yet), unless the deployment went live after all or the sysroot could
 * not be read again to tell. */
static void
undo_failed_deploy(Run *run, const OstickManifest *m, const OstickAddedObjects *added)
{
	g_autoptr(GHashTable) deployed = NULL;

	if (!ostick_device_discard_failed_deploy(run->device) || added == NULL)
		return;
	deployed = ostick_device_roots(run->device, NULL);
	if (!g_hash_table_contains(deployed, m->target))
		ostick_added_objects_remove(run->device->repo, added);
}

static gboolean
apply_and_deploy(Run *run, const OstickSuperblock *sb, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(run->reader);
	OstickApplyOptions apply = {run->options->progress, run->options->progress_data,
		run->start_us, run->options->no_deploy, 0, NULL};
	g_autoptr(OstickAddedObjects) added = NULL;
	g_autofree char *old_commit = NULL;
	g_autoptr(GError) cleanup_error = NULL, ref_error = NULL;
	g_autoptr(GHashTable) roots = NULL;
	g_autoptr(OstickPrefetch) prefetch = NULL;
	gboolean applied;

	if (!ostree_repo_resolve_rev(run->device->repo, m->ref, TRUE, &old_commit, error))
		return FALSE;
	/* The deploy's reads go to the storage now, beside the apply (prefetch.c). */
	if (!run->options->no_deploy)
		prefetch = ostick_prefetch_start_for_deploy(run->device);
	emit_stage(run, OSTICK_STAGE_APPLY);
	applied = ostick_apply_delta(
		run->device->repo, run->reader, sb, &apply, run->cancellable, error);
	added = g_steal_pointer(&apply.added_objects);
	if (!applied) {
		ostick_policy_explain_apply_failure(run->device->repo, m, run->cancellable, error);
		return FALSE;
	}
	run->result->peak_staging = apply.peak_staging;
	if (run->options->no_deploy)
		return TRUE;
	roots = ostick_device_roots(run->device, old_commit);
	emit_stage(run, OSTICK_STAGE_DEPLOY);
	if (!ostick_device_deploy(
		    run->device, m, run->options->deploy, &ref_error, run->cancellable, error)) {
		undo_failed_deploy(run, m, added);
		/* The completeness check took what the target shares with the base as there: a
		 * checkout that finds a base object missing is the device's fault. */
		ostick_policy_explain_apply_failure(run->device->repo, m, run->cancellable, error);
		return FALSE;
	}
	/* A ref left behind does not undo a live deployment; a retry moves it. */
	if (ref_error != NULL)
		add_warning(run, ref_error->message);
	emit_stage(run, OSTICK_STAGE_CLEANUP);
	if (!ostick_device_cleanup(run->device, roots, m->target, &cleanup_error))
		add_warning(run, cleanup_error->message);
	return TRUE;
}

/* What a run killed after the switch leaves, for a retry that finds the update installed to
 * tidy: the ref not yet moved, and the staging directory libostree keeps for a resume. */
static void
tidy_after_killed_run(Run *run)
{
	g_autoptr(GHashTable) none = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) ref_error = NULL;

	if (run->device->current != NULL &&
		strcmp(ostree_deployment_get_csum(run->device->current), run->result->to_commit) ==
			0 &&
		!ostick_device_move_ref(run->device, ostick_bundle_reader_get_manifest(run->reader),
			TRUE, &ref_error))
		add_warning(run, ref_error->message);
	ostick_staging_remove_new(run->device->repo, none);
}

/* Everything after the signature verified. */
static gboolean
run_verified(Run *run, GError **error)
{
	const OstickSuperblock *sb;
	gboolean installed = FALSE;

	if (!check_fit(run, &installed, error))
		return FALSE;
	if (installed) {
		run->result->outcome = OSTICK_OUTCOME_ALREADY_INSTALLED;
		if (writes(run->options))
			tidy_after_killed_run(run);
		run->result->reboot_pending = ostick_policy_reboot_pending(
			run->device, ostick_bundle_reader_get_manifest(run->reader)->target);
		ostick_bundle_reader_drain(run->reader);
		return TRUE;
	}
	if (run->options->probe_only) {
		run->result->outcome = OSTICK_OUTCOME_APPLICABLE;
		return TRUE;
	}
	sb = ostick_bundle_reader_read_superblock(run->reader, error);
	if (sb == NULL)
		return FALSE;
	if (run->options->verify_only) {
		if (!read_to_end(run, error))
			return FALSE;
		run->result->outcome = OSTICK_OUTCOME_VERIFIED;
		return TRUE;
	}
	if (!apply_and_deploy(run, sb, error))
		return FALSE;
	run->result->outcome = OSTICK_OUTCOME_INSTALLED;
	/* The new deployment is the default; the booted one (if any) is another. */
	run->result->reboot_pending = !run->options->no_deploy && run->device->booted != NULL;
	return TRUE;
}

/* Records and reports the end of @run; returns @ok, with @local_error moved to @error. */
static gboolean
finish(Run *run, gboolean ok, GError *local_error, GError **error)
{
	OstickInstallResult *result = run->result;

	if (run->reader != NULL)
		result->bytes_read = ostick_bundle_reader_get_bytes_read(run->reader);
	result->duration_us = g_get_monotonic_time() - run->start_us;
	if (run->options->record && writes(run->options))
		ostick_state_record(run->device, result, local_error);
	if (ok)
		emit_stage(run, OSTICK_STAGE_DONE);
	else
		g_propagate_error(error, local_error);
	return ok;
}

gboolean
ostick_install_verified(OstickDevice *device, OstickBundleReader *reader,
	const OstickInstallOptions *options, OstickInstallResult *result, GCancellable *cancellable,
	GError **error)
{
	Run run = {options, result, device, reader, g_get_monotonic_time(), cancellable};
	GError *local_error = NULL;
	gboolean ok;

	g_return_val_if_fail(ostick_bundle_reader_is_verified(reader), FALSE);
	result->outcome = OSTICK_OUTCOME_FAILED;
	result->reboot_pending = FALSE;
	note_device(&run);
	note_manifest(&run, ostick_bundle_reader_get_manifest(reader));
	ok = run_verified(&run, &local_error);
	return finish(&run, ok, local_error, error);
}

gboolean
ostick_install(int fd, const OstickInstallOptions *options, OstickInstallResult *result,
	GCancellable *cancellable, GError **error)
{
	Run run = {options, result, NULL, NULL, g_get_monotonic_time(), cancellable};
	g_autoptr(OstickDevice) device = NULL;
	g_autoptr(OstickBundleReader) reader = NULL;
	GError *local_error = NULL;
	gboolean ok;

	g_return_val_if_fail(options->keyring != NULL, FALSE);
	result->outcome = OSTICK_OUTCOME_FAILED;
	result->reboot_pending = FALSE;

	device = ostick_device_open(
		options->sysroot, options->os, writes(options), cancellable, error);
	if (device == NULL)
		return FALSE;
	run.device = device;
	note_device(&run);
	reader = ostick_bundle_reader_new(fd, cancellable, &local_error);
	run.reader = reader;
	ok = reader != NULL && verify_signature(&run, &local_error) &&
	     run_verified(&run, &local_error);
	return finish(&run, ok, local_error, error);
}
