/* provision.c: a fresh sysroot on blank storage from a full bundle (ostick.h), for factories.
 *
 * Everything that can refuse the bundle (signature, full bundle, OS, compatible string, space)
 * runs before the first write; what is written after that is removed again on failure, so the
 * storage is left blank as found. */
#include "ostick.h"

#include "deploy.h"
#include "install.h"
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-internal.h"
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* libostree's default core.min-free-space-percent for a new repo. */
#define NEW_REPO_RESERVE_PERCENT 3
#define DEVICE_KEYRING_DIR "etc/ostick/keyring.d"
#define DEVICE_CONFIG_FILE "etc/ostick/ostick.conf"

struct _OstickProvisionOptions {
	char *sysroot;
	char *os;
	char *bootloader;
	GPtrArray *kargs; /* NULL-terminated */
	char *compatible;
	const OstickKeyring *keyring;
	char *device_config;
	OstickProgressFunc progress;
	gpointer progress_data;
};

static const char *const bootloaders[] = {"none", "uboot", "grub2", "syslinux", NULL};

OstickProvisionOptions *
ostick_provision_options_new(void)
{
	OstickProvisionOptions *options = g_new0(OstickProvisionOptions, 1);

	options->bootloader = g_strdup("none");
	options->kargs = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(options->kargs, NULL);
	return options;
}

void
ostick_provision_options_free(OstickProvisionOptions *options)
{
	if (options == NULL)
		return;
	g_free(options->sysroot);
	g_free(options->os);
	g_free(options->bootloader);
	g_ptr_array_unref(options->kargs);
	g_free(options->compatible);
	g_free(options->device_config);
	g_free(options);
}

#define SET_STRING(field, value) (g_free(field), (field) = g_strdup(value))

void
ostick_provision_options_set_sysroot(OstickProvisionOptions *options, const char *path)
{
	SET_STRING(options->sysroot, path);
}

void
ostick_provision_options_set_os(OstickProvisionOptions *options, const char *os)
{
	SET_STRING(options->os, os);
}

gboolean
ostick_provision_options_set_bootloader(OstickProvisionOptions *options, const char *bootloader)
{
	if (bootloader == NULL || !g_strv_contains(bootloaders, bootloader))
		return FALSE;
	SET_STRING(options->bootloader, bootloader);
	return TRUE;
}

void
ostick_provision_options_add_karg(OstickProvisionOptions *options, const char *karg)
{
	g_ptr_array_insert(options->kargs, options->kargs->len - 1, g_strdup(karg));
}

void
ostick_provision_options_set_compatible(OstickProvisionOptions *options, const char *compatible)
{
	SET_STRING(options->compatible, compatible);
}

void
ostick_provision_options_set_keyring(OstickProvisionOptions *options, const OstickKeyring *keyring)
{
	options->keyring = keyring;
}

void
ostick_provision_options_set_device_config(OstickProvisionOptions *options, const char *config_text)
{
	SET_STRING(options->device_config, config_text);
}

void
ostick_provision_options_set_progress(
	OstickProvisionOptions *options, OstickProgressFunc progress, gpointer user_data)
{
	options->progress = progress;
	options->progress_data = user_data;
}

/* ---- The storage ---- */

/* Its own mounted filesystem: libostree syncs and freezes the filesystem holding /boot, which
 * must not be the station's own root. */
static gboolean
check_mount_point(const char *path, const struct stat *st, GError **error)
{
	g_autofree char *parent = g_build_filename(path, "..", NULL);
	struct stat parent_st, root_st;

	if (stat(parent, &parent_st) < 0 || stat("/", &root_st) < 0)
		return ostick_throw_errno(error, "%s", parent);
	if (st->st_dev == root_st.st_dev || st->st_dev == parent_st.st_dev) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_MOUNTED,
			"%s is not the mount point of its own filesystem: provision the blank "
			"storage mounted there",
			path);
		return FALSE;
	}
	return TRUE;
}

/* Empty but for mkfs.ext*'s lost+found. */
static gboolean
check_blank(const char *path, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	const char *name;
	struct stat st;

	if (stat(path, &st) < 0)
		return ostick_throw_errno(error, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return ostick_throw_errno_value(error, ENOTDIR, "%s", path);
	if (!check_mount_point(path, &st, error))
		return FALSE;
	dir = g_dir_open(path, 0, error);
	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (strcmp(name, "lost+found") != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
				"%s is not blank (it holds '%s'): provisioning writes only to "
				"empty storage",
				path, name);
			return FALSE;
		}
	}
	return TRUE;
}

/* Back to blank after a failure: everything but lost+found (which was all there was). */
static void
wipe(const char *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		if (strcmp(name, "lost+found") != 0)
			(void)ostick_rm_rf(child, NULL);
	}
}

/* As for an install, with the reserve libostree keeps in a new repo. */
static gboolean
check_space(const char *path, const OstickManifest *m, GError **error)
{
	g_auto(OstickFd) dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statvfs st;

	if (dfd < 0 || fstatvfs(dfd, &st) < 0)
		return ostick_throw_errno(error, "%s", path);
	return ostick_policy_check_space_at(
		dfd, (guint64)st.f_blocks * st.f_frsize / 100 * NEW_REPO_RESERVE_PERCENT, m, error);
}

/* ---- Checks before any write ---- */

static gboolean
check_bundle(const OstickProvisionOptions *o, const OstickManifest *m, GError **error)
{
	if (ostick_manifest_is_delta(m))
		return ostick_throw(error, OSTICK_ERROR_BASE_MISSING,
			"this is a delta from %.12s: provisioning blank storage needs a full "
			"bundle (ostick-bundle create without --from)",
			m->base);
	if (strcmp(m->os, o->os) != 0)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"bundle is for OS '%s', not '%s'", m->os, o->os);
	if (o->compatible != NULL && strcmp(m->compatible, o->compatible) != 0)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"bundle is for '%s', this device is '%s'", m->compatible, o->compatible);
	return check_space(o->sysroot, m, error);
}

/* ---- Layout: what `ostree admin init-fs` and `os-init` make, and the bootloader's files ---- */

static gboolean
make_dirs(int dfd, GError **error)
{
	static const struct {
		const char *name;
		mode_t mode;
	} dirs[] = {{"boot", 0755}, {"dev", 0755}, {"home", 0755}, {"proc", 0755}, {"run", 0755},
		{"sys", 0755}, {"root", 0700}, {"tmp", 01777}};

	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		if (mkdirat(dfd, dirs[i].name, dirs[i].mode) < 0 && errno != EEXIST)
			return ostick_throw_errno(error, "creating %s", dirs[i].name);
		if (fchmodat(dfd, dirs[i].name, dirs[i].mode, 0) < 0)
			return ostick_throw_errno(error, "chmod %s", dirs[i].name);
	}
	return TRUE;
}

static gboolean
write_text_at(int dfd, const char *path, const char *text, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);

	if (g_mkdir_with_parents(dir, 0755) < 0)
		return ostick_throw_errno(error, "creating %s", dir);
	return g_file_set_contents_full(
		path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* libostree edits the loader file of a backend it finds, and finds syslinux and GRUB by the
 * link into boot/loader that its own setups have (U-Boot's uEnv.txt is made by deploy). */
static gboolean
lay_out_bootloader(const char *sysroot, const char *bootloader, GError **error)
{
	g_autofree char *loader = g_build_filename(sysroot, "boot/loader.0", NULL);
	g_autofree char *link = g_build_filename(sysroot, "boot/loader", NULL);
	const char *file, *dir;

	if (strcmp(bootloader, "syslinux") == 0)
		file = "syslinux.cfg", dir = "boot/syslinux";
	else if (strcmp(bootloader, "grub2") == 0)
		file = "grub.cfg", dir = "boot/grub";
	else
		return TRUE;
	{
		g_autofree char *config = g_build_filename(loader, file, NULL);
		g_autofree char *link_dir = g_build_filename(sysroot, dir, NULL);
		g_autofree char *link_path = g_build_filename(link_dir, file, NULL);
		g_autofree char *target = g_build_filename("../loader", file, NULL);

		if (!write_text_at(AT_FDCWD, config, "", error))
			return FALSE;
		if (symlink("loader.0", link) < 0)
			return ostick_throw_errno(error, "creating %s", link);
		if (g_mkdir_with_parents(link_dir, 0755) < 0 || symlink(target, link_path) < 0)
			return ostick_throw_errno(error, "creating %s", link_path);
	}
	return TRUE;
}

static gboolean
set_bootloader(OstreeRepo *repo, const char *bootloader, GError **error)
{
	g_autoptr(GKeyFile) config = ostree_repo_copy_config(repo);

	g_key_file_set_string(config, "sysroot", "bootloader", bootloader);
	return ostree_repo_write_config(repo, config, error);
}

static gboolean
lay_out(const OstickProvisionOptions *o, GCancellable *cancellable, GError **error)
{
	g_autoptr(GFile) root = g_file_new_for_path(o->sysroot);
	g_autoptr(OstreeSysroot) sysroot = ostree_sysroot_new(root);
	g_autoptr(OstreeRepo) repo = NULL;

	if (!ostree_sysroot_ensure_initialized(sysroot, cancellable, error) ||
		!make_dirs(ostree_sysroot_get_fd(sysroot), error) ||
		!ostree_sysroot_load(sysroot, cancellable, error) ||
		!ostree_sysroot_init_osname(sysroot, o->os, cancellable, error) ||
		!ostree_sysroot_get_repo(sysroot, &repo, cancellable, error) ||
		!set_bootloader(repo, o->bootloader, error))
		return g_prefix_error(error, "laying out the sysroot: "), FALSE;
	return lay_out_bootloader(o->sysroot, o->bootloader, error);
}

/* ---- The device's own files, in the new deployment's /etc before it goes live ---- */

typedef struct {
	const OstickProvisionOptions *options;
	const OstickManifest *manifest;
} DeviceFiles;

static char *
default_device_config(const OstickProvisionOptions *o, const OstickManifest *m)
{
	return g_strdup_printf("# Written by ostick-apply provision (bundle %s, created %s).\n"
			       "# See ostick's samples/ostick.conf for every setting.\n\n"
			       "[device]\ncompatible=%s\nos=%s\nkeyring=/%s\n",
		m->version, m->created, m->compatible, o->os, DEVICE_KEYRING_DIR);
}

static gboolean
write_device_files(
	OstickDevice *device, OstreeDeployment *deployment, gpointer user_data, GError **error)
{
	DeviceFiles *files = user_data;
	g_autofree char *rel = ostree_sysroot_get_deployment_dirpath(device->sysroot, deployment);
	g_autofree char *deploy_dir = g_build_filename(files->options->sysroot, rel, NULL);
	g_autofree char *keyring_dir = g_build_filename(deploy_dir, DEVICE_KEYRING_DIR, NULL);
	g_autofree char *config_path = g_build_filename(deploy_dir, DEVICE_CONFIG_FILE, NULL);
	g_autofree char *generated = NULL;
	const char *config = files->options->device_config;

	if (config == NULL)
		config = generated = default_device_config(files->options, files->manifest);
	if (g_mkdir_with_parents(keyring_dir, 0755) < 0)
		return ostick_throw_errno(error, "creating %s", keyring_dir);
	if (!ostick_keyring_write_pem(files->options->keyring, keyring_dir, error) ||
		!write_text_at(AT_FDCWD, config_path, config, error))
		return g_prefix_error(error, "writing the device's /etc/ostick: "), FALSE;
	return TRUE;
}

/* ---- Putting it together ---- */

static gboolean
check_options(const OstickProvisionOptions *o, GError **error)
{
	const char *missing = o->sysroot == NULL   ? "sysroot"
			      : o->os == NULL	   ? "OS name"
			      : o->keyring == NULL ? "keyring"
						   : NULL;

	if (missing != NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			"provisioning needs a %s", missing);
		return FALSE;
	}
	return TRUE;
}

static void
emit_stage(const OstickProvisionOptions *o, OstickStage stage, gint64 start_us)
{
	OstickProgress progress = {.stage = stage, .elapsed_us = g_get_monotonic_time() - start_us};

	if (o->progress)
		o->progress(&progress, o->progress_data);
}

/* Lays out the storage, then runs the install pipeline after the signature on it. */
static gboolean
install_on_blank(const OstickProvisionOptions *o, OstickBundleReader *reader,
	OstickInstallResult *result, GCancellable *cancellable, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	DeviceFiles files = {o, m};
	OstickDeployOptions deploy = {
		(const char *const *)o->kargs->pdata, write_device_files, &files};
	OstickInstallOptions install = {
		.sysroot = o->sysroot,
		.os = o->os,
		.compatible = m->compatible,
		.keyring = o->keyring,
		.record = TRUE,
		.progress = o->progress,
		.progress_data = o->progress_data,
		.deploy = &deploy,
	};
	g_autoptr(OstickDevice) device = NULL;

	if (!lay_out(o, cancellable, error))
		return FALSE;
	device = ostick_device_open(o->sysroot, o->os, TRUE, cancellable, error);
	return device != NULL &&
	       ostick_install_verified(device, reader, &install, result, cancellable, error);
}

gboolean
ostick_bundle_provision(OstickBundle *bundle, const OstickProvisionOptions *options,
	OstickInstallResult *result, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickBundleReader) reader = NULL;
	gint64 start_us = g_get_monotonic_time();
	int fd;

	g_return_val_if_fail(bundle != NULL && options != NULL && result != NULL, FALSE);
	result->outcome = OSTICK_OUTCOME_FAILED;
	if (!check_options(options, error) || !check_blank(options->sysroot, error))
		return FALSE;
	fd = ostick_bundle_begin_read(bundle, error);
	if (fd < 0 || (reader = ostick_bundle_reader_new(fd, cancellable, error)) == NULL)
		return FALSE;
	emit_stage(options, OSTICK_STAGE_VERIFY, start_us);
	if (!ostick_bundle_reader_verify(reader, options->keyring, error))
		return FALSE;
	/* The pipeline announces the check stage with the device's own checks. */
	if (!check_bundle(options, ostick_bundle_reader_get_manifest(reader), error))
		return FALSE;
	if (!install_on_blank(options, reader, result, cancellable, error)) {
		wipe(options->sysroot);
		result->outcome = OSTICK_OUTCOME_FAILED;
		return FALSE;
	}
	result->outcome = OSTICK_OUTCOME_PROVISIONED;
	return TRUE;
}
