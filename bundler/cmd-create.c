/* cmd-create.c: ostick-bundle create — repo or rootfs in, signed bundle out. */
#include "cli.h"
#include "delta.h"
#include "encode.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-manifest.h"
#include "ostick-sign.h"
#include "pack.h"
#include "rootfs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_PART_MB 16 /* peak RSS is about twice a part plus 18 MiB: 51 MiB */

static char *opt_repo;
static char *opt_rootfs;
static char *opt_ref;
static char *opt_from;
static gboolean opt_from_scratch;
static char *opt_to;
static char **opt_keys;
static char *opt_compatible;
static char *opt_version;
static char *opt_os;
static char *opt_description;
static char *opt_output;
static gboolean opt_force;
static int opt_max_part_mb = DEFAULT_MAX_PART_MB;
static gboolean opt_no_bsdiff;
static char *opt_part_encoding;
static int opt_zstd_level = OSTICK_DEFAULT_ZSTD_LEVEL;
static char *opt_branch_filter;
static OstickBranchChoice branches = OSTICK_BRANCHES_AUTO; /* --branch-filter, parsed */

static GOptionEntry entries[] = {
	{"repo", 0, 0, G_OPTION_ARG_FILENAME, &opt_repo,
		"OSTree repo holding the commits (with --rootfs: where to commit it)", "REPO"},
	{"rootfs", 0, 0, G_OPTION_ARG_FILENAME, &opt_rootfs,
		"Commit this root filesystem (directory, .tar, .tar.gz, .tar.xz, .tar.zst) first",
		"PATH"},
	{"ref", 0, 0, G_OPTION_ARG_STRING, &opt_ref, "Ref the device will track (required)", "REF"},
	{"from", 0, 0, G_OPTION_ARG_STRING, &opt_from,
		"Delta from this commit or ref (the version on the device)", "REV"},
	{"from-scratch", 0, 0, G_OPTION_ARG_NONE, &opt_from_scratch,
		"Carry the whole tree (the default without --from)", NULL},
	{"to", 0, 0, G_OPTION_ARG_STRING, &opt_to, "Target commit (default: the ref)", "REV"},
	{"key", 'k', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_keys,
		"PEM private key to sign with (repeat to sign with several)", "KEY.pem"},
	{"compatible", 0, 0, G_OPTION_ARG_STRING, &opt_compatible,
		"Devices that may install this bundle (required)", "STRING"},
	{"version", 0, 0, G_OPTION_ARG_STRING, &opt_version,
		"Human version (default: the commit's version metadata)", "STRING"},
	{"os", 0, 0, G_OPTION_ARG_STRING, &opt_os,
		"OS name / stateroot (default: ID from the tree's os-release)", "NAME"},
	{"description", 0, 0, G_OPTION_ARG_STRING, &opt_description, "Free text for humans",
		"TEXT"},
	{"output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output, "Bundle to write (required)",
		"OUT.ostick"},
	{"force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Replace the output if it exists", NULL},
	{"max-part-size", 0, 0, G_OPTION_ARG_INT, &opt_max_part_mb,
		"Largest delta part in MB (default 16; bounds device memory and staging)", "MB"},
	{"part-encoding", 0, 0, G_OPTION_ARG_STRING, &opt_part_encoding,
		"zstd (default: fast to install) or ostree-xz (stock ostree can apply it)",
		"ENCODING"},
	{"zstd-level", 0, 0, G_OPTION_ARG_INT, &opt_zstd_level,
		"zstd compression level, 1 to 22 (default 19)", "N"},
	{"branch-filter", 0, 0, G_OPTION_ARG_STRING, &opt_branch_filter,
		"zstd parts: x86 (convert x86 call targets: smaller for x86 code), none, or auto "
		"(default: x86 for the parts where a trial shows it pays)",
		"auto|x86|none"},
	{"no-bsdiff", 0, 0, G_OPTION_ARG_NONE, &opt_no_bsdiff,
		"No binary diffs of modified files (faster to create, larger)", NULL},
	{NULL}};

static gboolean
parse_branch_filter(const char *value, OstickBranchChoice *out_choice)
{
	if (value == NULL || g_str_equal(value, "auto"))
		*out_choice = OSTICK_BRANCHES_AUTO;
	else if (g_str_equal(value, "x86"))
		*out_choice = OSTICK_BRANCHES_X86;
	else if (g_str_equal(value, "none"))
		*out_choice = OSTICK_BRANCHES_NONE;
	else
		return FALSE;
	return TRUE;
}

static gboolean
check_options(GError **error)
{
	if (opt_ref == NULL)
		return ostick_throw_usage(error, "missing --ref");
	if (opt_repo == NULL && opt_rootfs == NULL)
		return ostick_throw_usage(error, "missing --repo or --rootfs");
	if (opt_from != NULL && opt_from_scratch)
		return ostick_throw_usage(error, "--from and --from-scratch exclude each other");
	if (opt_rootfs != NULL && opt_to != NULL)
		return ostick_throw_usage(error, "--to makes no sense with --rootfs");
	if (opt_rootfs != NULL && opt_repo == NULL && opt_from != NULL)
		return ostick_throw_usage(
			error, "--from with --rootfs needs --repo holding the base");
	/* Before anything is committed: a usage error leaves no repo behind. */
	if (opt_rootfs != NULL && opt_version == NULL)
		return ostick_throw_usage(error, "--rootfs needs --version");
	if (!ostree_validate_rev(opt_ref, NULL))
		return ostick_throw_usage(error, "--ref '%s' is not a valid ref name", opt_ref);
	if (opt_keys == NULL)
		return ostick_throw_usage(error, "missing --key");
	if (opt_compatible == NULL)
		return ostick_throw_usage(error, "missing --compatible");
	if (opt_output == NULL)
		return ostick_throw_usage(error, "missing --output");
	if (opt_part_encoding != NULL && !g_str_equal(opt_part_encoding, OSTICK_ENCODING_ZSTD) &&
		!g_str_equal(opt_part_encoding, OSTICK_ENCODING_OSTREE_XZ))
		return ostick_throw_usage(
			error, "--part-encoding: '%s' is not zstd or ostree-xz", opt_part_encoding);
	if (!parse_branch_filter(opt_branch_filter, &branches))
		return ostick_throw_usage(
			error, "--branch-filter: '%s' is not auto, x86 or none", opt_branch_filter);
	if (branches == OSTICK_BRANCHES_X86 && opt_part_encoding != NULL &&
		!g_str_equal(opt_part_encoding, OSTICK_ENCODING_ZSTD))
		return ostick_throw_usage(error, "--branch-filter x86 needs zstd parts");
	if (opt_zstd_level < 1 || opt_zstd_level > 22)
		return ostick_throw_usage(
			error, "--zstd-level: %d is not in 1..22", opt_zstd_level);
	if (opt_max_part_mb < 1 || opt_max_part_mb > 4096)
		return ostick_throw_usage(error, "--max-part-size must be 1..4096 MB");
	return TRUE;
}

/* SOURCE_DATE_EPOCH (reproducible-builds.org) fixes every timestamp the bundle carries. */
static gboolean
creation_time(guint64 *out_time, GError **error)
{
	const char *epoch = g_getenv("SOURCE_DATE_EPOCH");

	if (epoch == NULL) {
		*out_time = (guint64)(g_get_real_time() / G_USEC_PER_SEC);
		return TRUE;
	}
	if (!g_ascii_string_to_unsigned(epoch, 10, 0, G_MAXINT64, out_time, NULL))
		return ostick_throw_usage(
			error, "SOURCE_DATE_EPOCH='%s' is not a Unix time", epoch);
	return TRUE;
}

/* Every --key, checked before the long delta generation (not when signing after it): usable,
 * each key once, not more than a signature block holds. */
static GPtrArray *
load_keys(GError **error)
{
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)EVP_PKEY_free);
	g_autoptr(GHashTable) ids = g_hash_table_new_full(
		g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);

	for (guint i = 0; opt_keys[i] != NULL; i++) {
		EVP_PKEY *key = ostick_key_load_private(opt_keys[i], error);
		guint8 id[OSTICK_KEY_ID_LEN];

		if (key == NULL)
			return NULL;
		g_ptr_array_add(keys, key);
		if (!ostick_key_get_id(key, id, error))
			return NULL;
		if (!g_hash_table_add(ids, g_bytes_new(id, sizeof id)))
			return ostick_throw(error, OSTICK_ERROR_KEY,
				       "%s: the same key is given twice", opt_keys[i]),
			       NULL;
	}
	if (keys->len > OSTICK_SIG_MAX_COUNT)
		return ostick_throw_usage(error, "at most %d --key", OSTICK_SIG_MAX_COUNT), NULL;
	return g_steal_pointer(&keys);
}

static OstreeRepo *
open_repo(const char *workdir, GCancellable *cancellable, GError **error)
{
	g_autofree char *tmp_repo = NULL;
	OstreeRepoMode mode;

	if (opt_rootfs == NULL)
		return ostick_repo_open(opt_repo, cancellable, error);
	if (opt_repo != NULL)
		return ostick_repo_open_or_create(
			opt_repo, OSTREE_REPO_MODE_ARCHIVE, cancellable, error);
	/* A throw-away repo when the user keeps none: bare keeps ownership cheaply, as root. */
	tmp_repo = g_build_filename(workdir, "repo", NULL);
	mode = getuid() == 0 ? OSTREE_REPO_MODE_BARE : OSTREE_REPO_MODE_ARCHIVE;
	return ostick_repo_open_or_create(tmp_repo, mode, cancellable, error);
}

static char *
resolve_target(OstreeRepo *repo, guint64 created, GCancellable *cancellable, GError **error)
{
	OstickRootfsOptions options = {opt_rootfs, opt_ref, opt_version, created};
	char *target;

	if (opt_rootfs == NULL)
		return ostick_repo_resolve_commit(repo, opt_to ? opt_to : opt_ref, error);
	target = ostick_rootfs_commit(repo, &options, cancellable, error);
	if (target == NULL)
		g_prefix_error(error, "rootfs %s: ", opt_rootfs);
	return target;
}

/* --from is resolved before a --rootfs commit moves the ref: "--from REF" then means the
 * version the devices run now, as one would expect. */
static gboolean
resolve_commits(OstreeRepo *repo, OstickManifest *m, guint64 created, GCancellable *cancellable,
	GError **error)
{
	g_autofree char *base = NULL;
	g_autofree char *target = NULL;

	if (opt_from != NULL && (base = ostick_repo_resolve_commit(repo, opt_from, error)) == NULL)
		return FALSE;
	target = resolve_target(repo, created, cancellable, error);
	if (target == NULL)
		return FALSE;
	if (base != NULL && strcmp(base, target) == 0)
		return ostick_throw_usage(error, "--from %s is the target commit itself", opt_from);
	g_strlcpy(m->target, target, sizeof m->target);
	g_strlcpy(m->base, base ? base : "", sizeof m->base);
	return TRUE;
}

static char *
os_release_id(OstreeRepo *repo, const char *commit, GCancellable *cancellable)
{
	static const char *const paths[] = {"usr/lib/os-release", "usr/etc/os-release", NULL};
	g_autoptr(GFile) root = NULL;

	if (!ostree_repo_read_commit(repo, commit, &root, NULL, cancellable, NULL))
		return NULL;
	for (guint i = 0; paths[i] != NULL; i++) {
		g_autoptr(GFile) file = g_file_resolve_relative_path(root, paths[i]);
		g_autofree char *contents = NULL;
		g_auto(GStrv) lines = NULL;

		if (!g_file_load_contents(file, cancellable, &contents, NULL, NULL, NULL))
			continue;
		lines = g_strsplit(contents, "\n", -1);
		for (guint j = 0; lines[j] != NULL; j++) {
			if (g_str_has_prefix(lines[j], "ID="))
				return g_shell_unquote(lines[j] + 3, NULL);
		}
	}
	return NULL;
}

static gboolean
fill_identity(OstreeRepo *repo, OstickManifest *m, guint64 created, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(GVariant) commit = NULL;
	g_autoptr(GVariant) metadata = NULL;
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc((gint64)created);
	const char *commit_version = NULL;

	if (!ostree_repo_load_commit(repo, m->target, &commit, NULL, error))
		return FALSE;
	metadata = g_variant_get_child_value(commit, 0);
	(void)g_variant_lookup(metadata, "version", "&s", &commit_version);
	m->created = g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ");
	m->target_timestamp = ostree_commit_get_timestamp(commit);
	m->compatible = g_strdup(opt_compatible);
	m->ref = g_strdup(opt_ref);
	m->description = g_strdup(opt_description);
	m->version = g_strdup(opt_version ? opt_version : commit_version);
	if (m->version == NULL)
		return ostick_throw_usage(error, "missing --version (the commit has no version "
						 "metadata)");
	m->os = opt_os ? g_strdup(opt_os) : os_release_id(repo, m->target, cancellable);
	if (m->os == NULL)
		return ostick_throw_usage(error, "missing --os (the tree has no os-release ID)");
	return TRUE;
}

/* The identity comes from the options (or the commit, which --version and --os override): a bad
 * one is a usage error (exit 2), not the corrupt bundle OSTICK_ERROR_FORMAT means to a reader. */
static gboolean
validate_identity(const OstickManifest *m, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	if (ostick_manifest_validate_identity(m, &local_error))
		return TRUE;
	return ostick_throw_usage(error, "%s", local_error->message);
}

static gboolean
generate(OstreeRepo *repo, const OstickManifest *m, const char *delta_dir,
	GCancellable *cancellable, GError **error)
{
	OstickDeltaOptions options = {(guint)opt_max_part_mb, !opt_no_bsdiff,
		g_str_equal(opt_part_encoding ?: OSTICK_ENCODING_ZSTD, OSTICK_ENCODING_ZSTD)};
	OstickCliSpinner *spinner;
	gboolean ok;

	if (g_mkdir(delta_dir, 0700) < 0)
		return ostick_throw_errno(error, "%s", delta_dir);
	spinner = ostick_cli_spinner_start(OSTICK_STAGE_GENERATE);
	ok = ostick_delta_generate(repo, m->base[0] ? m->base : NULL, m->target, &options,
		delta_dir, cancellable, error);
	ostick_cli_spinner_stop(spinner);
	return ok;
}

static gboolean
pack(OstreeRepo *repo, OstickManifest *m, GPtrArray *keys, guint64 created, const char *delta_dir,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GBytes) superblock = NULL;
	g_autoptr(GBytes) manifest_bytes = NULL;
	g_autoptr(GBytes) sigblock = NULL;
	gboolean ok;

	OstickPackOptions options = {
		opt_part_encoding ?: OSTICK_ENCODING_ZSTD, opt_zstd_level, branches};
	OstickCliSpinner *spinner = ostick_cli_spinner_start(OSTICK_STAGE_ENCODE);

	ok = ostick_pack_describe_delta(
		delta_dir, created, &options, m, &superblock, cancellable, error);
	ostick_cli_spinner_stop(spinner);
	if (!ok || !ostick_delta_install_size(repo, m->base[0] ? m->base : NULL, m->target,
			   &m->install_size, cancellable, error))
		return FALSE;
	manifest_bytes = ostick_manifest_serialize(m, error);
	if (manifest_bytes == NULL)
		return FALSE;
	sigblock = ostick_pack_sign(manifest_bytes, keys, error);
	if (sigblock == NULL)
		return FALSE;
	ok = ostick_pack_write(opt_output, opt_force, (gint64)created, manifest_bytes, sigblock,
		superblock, delta_dir, m, ostick_cli_progress, NULL, cancellable, error);
	ostick_cli_progress_done();
	if (!ok)
		g_prefix_error(error, "writing %s: ", opt_output);
	return ok;
}

static void
print_summary(const OstickManifest *m, GPtrArray *keys)
{
	g_autofree char *size = NULL;
	guint64 total = m->superblock.size;
	GStatBuf st;

	for (guint i = 0; i < m->n_parts; i++)
		total += m->parts[i].size;
	size = g_format_size(g_stat(opt_output, &st) == 0 ? (guint64)st.st_size : total);
	printf("%s: %s %s for '%s', %s %.12s, %u part%s, %u signature%s, %s\n", opt_output, m->ref,
		m->version, m->compatible, m->base[0] ? "delta to" : "full tree", m->target,
		m->n_parts, m->n_parts == 1 ? "" : "s", keys->len, keys->len == 1 ? "" : "s", size);
}

static gboolean
create(GPtrArray *keys, guint64 created, const char *workdir, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstickManifest) m = ostick_manifest_new();
	g_autofree char *delta_dir = g_build_filename(workdir, "delta", NULL);
	g_autoptr(OstreeRepo) repo = open_repo(workdir, cancellable, error);

	/* Check what the user typed before the long delta generation, not after. */
	if (repo == NULL || !resolve_commits(repo, m, created, cancellable, error) ||
		!fill_identity(repo, m, created, cancellable, error) ||
		!validate_identity(m, error))
		return FALSE;
	if (!generate(repo, m, delta_dir, cancellable, error) ||
		!pack(repo, m, keys, created, delta_dir, cancellable, error))
		return FALSE;
	/* The new commit becomes the ref's only now: after a failure, a retry with the same
	 * "--from REF" still makes a delta from the version the devices run. */
	if (opt_rootfs != NULL &&
		!ostree_repo_set_ref_immediate(repo, NULL, opt_ref, m->target, cancellable, error))
		return g_prefix_error(
			       error, "%s written, but moving ref %s: ", opt_output, opt_ref),
		       FALSE;
	print_summary(m, keys);
	return TRUE;
}

gboolean
cmd_create(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- create a signed bundle");
	g_autoptr(GPtrArray) keys = NULL;
	g_autofree char *out_dir = NULL;
	g_autofree char *workdir = NULL;
	guint64 created = 0;
	gboolean ok;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!ostick_parse_options(context, &argc, &argv, 0, "", error) || !check_options(error) ||
		!creation_time(&created, error))
		return FALSE;
	if (!opt_force && g_file_test(opt_output, G_FILE_TEST_EXISTS))
		return ostick_throw_errno_value(
			error, EEXIST, "%s (use --force to replace it)", opt_output);
	keys = load_keys(error);
	if (keys == NULL)
		return FALSE;
	/* Work beside the output: the delta needs as much room as the bundle, on that disk. */
	out_dir = g_path_get_dirname(opt_output);
	workdir = g_build_filename(out_dir, ".ostick-create-XXXXXX", NULL);
	if (g_mkdtemp(workdir) == NULL)
		return ostick_throw_errno(error, "creating a work directory in %s", out_dir);
	ok = create(keys, created, workdir, cancellable, error);
	(void)ostick_rm_rf(workdir, NULL);
	return ok;
}
