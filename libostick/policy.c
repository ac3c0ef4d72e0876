/* policy.c: compatible, OS, downgrade, already installed, base present, free space. */
#include "policy.h"

#include "ostick-error.h"

#include <string.h>
#include <sys/statvfs.h>

/* Headroom for the one-part superblock's metadata, commit and header around the part. */
#define STAGING_OVERHEAD (1024 * 1024)

static gboolean
check_identity(
	OstickDevice *device, const OstickManifest *m, const OstickPolicy *policy, GError **error)
{
	if (policy->compatible == NULL)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"this device has no compatible string configured ([device] "
			"compatible or --compatible)");
	if (strcmp(m->compatible, policy->compatible) != 0)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"bundle is for '%s', this device is '%s'", m->compatible,
			policy->compatible);
	if (strcmp(m->os, device->os) != 0)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"bundle is for OS '%s', this device runs '%s'", m->os, device->os);
	return TRUE;
}

static gboolean
is_installed(OstickDevice *device, const char *target)
{
	OstreeDeployment *candidates[] = {device->current, device->booted};

	for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
		if (candidates[i] != NULL &&
			strcmp(ostree_deployment_get_csum(candidates[i]), target) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
check_downgrade(OstickDevice *device, const OstickManifest *m, GError **error)
{
	g_autoptr(OstickDeploymentInfo) current = NULL;

	if (device->current == NULL)
		return TRUE;
	current = ostick_device_describe(device, device->current);
	if (m->target_timestamp < current->timestamp)
		return ostick_throw(error, OSTICK_ERROR_DOWNGRADE,
			"bundle %s (commit time %" G_GUINT64_FORMAT
			") is older than the installed %s (%" G_GUINT64_FORMAT ")",
			m->version, m->target_timestamp, current->version ?: "version",
			current->timestamp);
	if (current->version != NULL && strverscmp(m->version, current->version) < 0)
		return ostick_throw(error, OSTICK_ERROR_DOWNGRADE,
			"bundle version %s is older than the installed %s", m->version,
			current->version);
	return TRUE;
}

gboolean
ostick_policy_reboot_pending(OstickDevice *device, const char *target)
{
	/* No booted deployment: this sysroot is not the running system (a directory, a disk being
	 * provisioned), and restarting this machine would not boot it. */
	if (device->booted == NULL || device->current == NULL)
		return FALSE;
	return strcmp(ostree_deployment_get_csum(device->current), target) == 0 &&
	       strcmp(ostree_deployment_get_csum(device->booted), target) != 0;
}

gboolean
ostick_policy_check_fit(OstickDevice *device, const OstickManifest *manifest,
	const OstickPolicy *policy, gboolean *out_installed, GError **error)
{
	*out_installed = FALSE;
	if (!check_identity(device, manifest, policy, error))
		return FALSE;
	if (is_installed(device, manifest->target)) {
		*out_installed = TRUE;
		return TRUE;
	}
	if (!policy->allow_downgrade && !check_downgrade(device, manifest, error))
		return FALSE;
	return TRUE;
}

/* Every object of the delta's base is in @repo. */
static gboolean
check_base_objects(
	OstreeRepo *repo, const OstickManifest *manifest, GCancellable *cancellable, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	if (ostick_commit_check_complete(repo, manifest->base, NULL, cancellable, &local_error))
		return TRUE;
	if (g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return g_propagate_error(error, g_steal_pointer(&local_error)), FALSE;
	return ostick_throw(error, OSTICK_ERROR_BASE_MISSING,
		"the delta's base %.12s is incomplete on this device: %s", manifest->base,
		local_error->message);
}

gboolean
ostick_policy_check_base(OstreeRepo *repo, const OstickManifest *manifest, gboolean thorough,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	OstreeRepoCommitState state = 0;

	if (!ostick_manifest_is_delta(manifest))
		return TRUE;
	if (!ostree_repo_load_commit(repo, manifest->base, NULL, &state, &local_error))
		return ostick_throw(error, OSTICK_ERROR_BASE_MISSING,
			"this is a delta from %.12s, which is not on this device: use a "
			"full bundle or the matching delta",
			manifest->base);
	if (state & OSTREE_REPO_COMMIT_STATE_PARTIAL)
		return ostick_throw(error, OSTICK_ERROR_BASE_MISSING,
			"the delta's base %.12s is only partially on this device", manifest->base);
	return !thorough || check_base_objects(repo, manifest, cancellable, error);
}

void
ostick_policy_explain_apply_failure(
	OstreeRepo *repo, const OstickManifest *manifest, GCancellable *cancellable, GError **error)
{
	g_autoptr(GError) base_error = NULL;

	if (error == NULL || *error == NULL || !ostick_manifest_is_delta(manifest) ||
		g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	if (check_base_objects(repo, manifest, cancellable, &base_error) ||
		!g_error_matches(base_error, OSTICK_ERROR, OSTICK_ERROR_BASE_MISSING))
		return;
	g_clear_error(error);
	g_propagate_error(error, g_steal_pointer(&base_error));
}

guint64
ostick_policy_staging_bytes(const OstickManifest *manifest)
{
	guint64 peak = 0;

	for (guint i = 0; i < manifest->n_parts; i++) {
		const OstickMember *part = &manifest->parts[i];

		/* The member beside what it decodes to (by libostree, or ostick for zstd). */
		peak = MAX(peak, part->size + MAX(part->decoded_size, part->payload_size));
	}
	return peak + STAGING_OVERHEAD;
}

gboolean
ostick_policy_check_space_at(
	int dfd, guint64 reserve, const OstickManifest *manifest, GError **error)
{
	struct statvfs st;
	guint64 available, needed;

	if (fstatvfs(dfd, &st) < 0)
		return ostick_throw_errno(error, "statvfs");
	available = (guint64)st.f_bavail * st.f_frsize;
	needed = manifest->install_size + ostick_policy_staging_bytes(manifest) + reserve;
	if (available < needed) {
		g_autofree char *need_text = g_format_size(needed);
		g_autofree char *free_text = g_format_size(available);

		return ostick_throw(error, OSTICK_ERROR_NO_SPACE,
			"not enough space: the update needs %s (new objects, staging and "
			"libostree's reserve), %s is free",
			need_text, free_text);
	}
	return TRUE;
}

gboolean
ostick_policy_check_space(OstreeRepo *repo, const OstickManifest *manifest, GError **error)
{
	guint64 reserve = 0;

	if (!ostree_repo_get_min_free_space_bytes(repo, &reserve, error))
		return FALSE;
	return ostick_policy_check_space_at(ostree_repo_get_dfd(repo), reserve, manifest, error);
}
