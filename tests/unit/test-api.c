/* test-api.c: libostick's public API (ostick.h) on the format's valid vectors: what a bundle's
 * getters say before and after inspect, verified and not, verify's progress, re-reading a file,
 * a stream read only once, cancellation, and the error-to-exit-code mapping. The install and
 * provision paths are exercised by t0500 (the sample integrator) and t0510. Includes only
 * <ostick.h> from ostick, as an integrator would (plus testlib for paths). */
#include <ostick.h>

#include "testlib.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define VECTOR_KEY_ID "105c72ddc42308ee72e097a436c4246ce7cc1776185d4a54dee55671a780e351"

static OstickBundle *
open_vector(const char *name)
{
	g_autofree char *rel = g_strdup_printf("format-spec/vectors/valid/%s.ostick", name);
	g_autofree char *path = testlib_src_path(rel);
	g_autoptr(GError) error = NULL;
	OstickBundle *bundle = ostick_bundle_open(path, &error);

	g_assert_no_error(error);
	return bundle;
}

static OstickKeyring *
load_keyring(const char *key)
{
	g_autofree char *rel = g_build_filename("tests/data/keys", key, NULL);
	g_autofree char *path = testlib_src_path(rel);
	g_autoptr(GError) error = NULL;
	OstickKeyring *keyring = ostick_keyring_load(path, &error);

	g_assert_no_error(error);
	return keyring;
}

static void
assert_nothing_known(OstickBundle *b)
{
	g_assert_null(ostick_bundle_get_compatible(b));
	g_assert_null(ostick_bundle_get_version(b));
	g_assert_null(ostick_bundle_get_target(b));
	g_assert_null(ostick_bundle_get_manifest_bytes(b));
	g_assert_null(ostick_bundle_get_signer_ids(b));
	g_assert_cmpuint(ostick_bundle_get_n_parts(b), ==, 0);
	g_assert_cmpuint(ostick_bundle_get_payload_size(b), ==, 0);
	g_assert_false(ostick_bundle_is_verified(b));
}

static void
test_version(void)
{
	g_autoptr(GRegex) re = g_regex_new("^[0-9]+\\.[0-9]+\\.[0-9]+$", 0, 0, NULL);

	g_assert_true(g_regex_match(re, ostick_get_version(), 0, NULL));
}

static void
test_inspect_unverified(void)
{
	g_autoptr(OstickBundle) b = open_vector("001-scratch");
	g_autoptr(GError) error = NULL;
	GBytes *manifest;

	assert_nothing_known(b);
	g_assert_true(ostick_bundle_inspect(b, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(ostick_bundle_is_verified(b));
	g_assert_null(ostick_bundle_get_signer_ids(b));
	g_assert_cmpstr(ostick_bundle_get_compatible(b), ==, "vectors-board");
	g_assert_cmpstr(ostick_bundle_get_version(b), ==, "1.0");
	g_assert_cmpstr(ostick_bundle_get_os(b), ==, "vectors");
	g_assert_cmpstr(ostick_bundle_get_ref(b), ==, "vectors/stable");
	g_assert_cmpstr(ostick_bundle_get_target(b), ==,
		"46822add996a8a643855aaf32f47c9802d57ec2077dc9fd593fb7778b1c39e7c");
	g_assert_null(ostick_bundle_get_base(b));
	g_assert_cmpstr(ostick_bundle_get_created(b), ==, "2026-01-01T00:00:00Z");
	g_assert_cmpuint(ostick_bundle_get_n_parts(b), ==, 1);
	g_assert_cmpuint(ostick_bundle_get_install_size(b), ==, 45056);
	g_assert_cmpuint(ostick_bundle_get_target_timestamp(b), ==, 1767225600);
	g_assert_cmpuint(ostick_bundle_get_payload_size(b), >, 0);
	manifest = ostick_bundle_get_manifest_bytes(b);
	g_assert_nonnull(manifest);
	g_assert_nonnull(g_strstr_len(g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest),
		"compatible=vectors-board"));
}

static void
test_inspect_verified(void)
{
	g_autoptr(OstickBundle) b = open_vector("002-delta");
	g_autoptr(OstickKeyring) keyring = load_keyring("test-ed25519.pub.pem");
	g_autoptr(GError) error = NULL;
	const char *const *signers;

	g_assert_true(ostick_bundle_inspect(b, keyring, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(ostick_bundle_is_verified(b));
	signers = ostick_bundle_get_signer_ids(b);
	g_assert_nonnull(signers);
	g_assert_cmpstr(signers[0], ==, VECTOR_KEY_ID);
	g_assert_null(signers[1]);
	g_assert_nonnull(ostick_bundle_get_base(b));
	g_assert_cmpuint(strlen(ostick_bundle_get_base(b)), ==, 64);
}

static void
test_untrusted(void)
{
	g_autoptr(OstickBundle) b = open_vector("001-scratch");
	g_autoptr(OstickKeyring) other = load_keyring("test-ed25519-2.pub.pem");
	g_autoptr(OstickKeyring) keyring = load_keyring("test-ed25519.pub.pem");
	g_autoptr(GError) error = NULL;

	g_assert_true(ostick_bundle_inspect(b, keyring, NULL, &error));
	g_assert_false(ostick_bundle_inspect(b, other, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	g_assert_cmpint(ostick_error_to_exit_code(error), ==, OSTICK_EXIT_AUTH);
	/* What a failed read left is not what an earlier one said. */
	assert_nothing_known(b);
	g_clear_error(&error);
	g_assert_false(ostick_bundle_verify(b, other, NULL, NULL, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
}

typedef struct {
	guint calls;
	OstickStage last_stage;
	OstickProgress last;
	gboolean monotonic;
} Progress;

static void
on_progress(const OstickProgress *p, gpointer user_data)
{
	Progress *seen = user_data;

	if (seen->calls > 0 &&
		(p->stage < seen->last_stage ||
			(p->stage == seen->last_stage && p->bytes_done < seen->last.bytes_done)))
		seen->monotonic = FALSE;
	seen->calls++;
	seen->last_stage = p->stage;
	seen->last = *p;
}

/* Verify counts every payload byte and part, ends with done; a file is re-read each time. */
static void
test_verify_progress(void)
{
	g_autoptr(OstickBundle) b = open_vector("006-two-parts");
	g_autoptr(OstickKeyring) keyring = load_keyring("test-ed25519.pub.pem");
	g_autoptr(GError) error = NULL;
	Progress seen = {0, 0, {0}, TRUE};

	g_assert_true(ostick_bundle_inspect(b, NULL, NULL, &error));
	g_assert_true(ostick_bundle_verify(b, keyring, on_progress, &seen, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(ostick_bundle_is_verified(b));
	g_assert_cmpuint(seen.calls, >, 2);
	g_assert_true(seen.monotonic);
	g_assert_cmpint(seen.last.stage, ==, OSTICK_STAGE_DONE);
	g_assert_cmpuint(seen.last.bytes_done, ==, seen.last.bytes_total);
	g_assert_cmpuint(seen.last.bytes_total, ==, ostick_bundle_get_payload_size(b));
	g_assert_cmpuint(seen.last.parts_done, ==, 2);
	g_assert_cmpuint(seen.last.parts_total, ==, 2);
	g_assert_cmpstr(ostick_stage_name(OSTICK_STAGE_VERIFY), ==, "verify");
	/* And again, from the start of the file. */
	g_assert_true(ostick_bundle_verify(b, keyring, NULL, NULL, NULL, &error));
	g_assert_no_error(error);
}

/* A pipe is read once: the second operation says so and reads nothing. */
static void
test_stream_once(void)
{
	g_autofree char *path = testlib_src_path("format-spec/vectors/valid/001-scratch.ostick");
	g_autoptr(GBytes) data = testlib_read_file(path);
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickBundle) b = NULL;
	int fds[2];

	g_assert_cmpint(pipe(fds), ==, 0);
	g_assert_cmpint(write(fds[1], g_bytes_get_data(data, NULL), g_bytes_get_size(data)), ==,
		(gssize)g_bytes_get_size(data));
	close(fds[1]);
	b = ostick_bundle_open_fd(fds[0], &error);
	g_assert_no_error(error);
	close(fds[0]); /* the bundle holds its own descriptor */
	g_assert_true(ostick_bundle_inspect(b, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ostick_bundle_get_version(b), ==, "1.0");
	g_assert_false(ostick_bundle_inspect(b, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_cancelled(void)
{
	g_autoptr(OstickBundle) b = open_vector("006-two-parts");
	g_autoptr(OstickKeyring) keyring = load_keyring("test-ed25519.pub.pem");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) error = NULL;

	g_cancellable_cancel(cancellable);
	g_assert_false(ostick_bundle_verify(b, keyring, NULL, NULL, cancellable, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpint(ostick_error_to_exit_code(error), ==, OSTICK_EXIT_CANCELLED);
}

static void
test_open_errors(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = testlib_src_path("format-spec");

	g_assert_null(ostick_bundle_open("/nonexistent/x.ostick", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_cmpint(ostick_error_to_exit_code(error), ==, OSTICK_EXIT_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(ostick_bundle_open(dir, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
	g_clear_error(&error);
	g_assert_null(ostick_bundle_open_fd(-1, &error));
	g_assert_nonnull(error);
}

/* Installing needs a keyring: without one nothing is read, and the result says failed. */
static void
test_install_needs_keyring(void)
{
	g_autoptr(OstickBundle) b = open_vector("001-scratch");
	g_autoptr(OstickInstallOptions) options = ostick_install_options_new();
	g_auto(OstickInstallResult) result = {0};
	g_autoptr(GError) error = NULL;

	result.outcome = OSTICK_OUTCOME_INSTALLED;
	ostick_install_options_set_compatible(options, "vectors-board");
	g_assert_false(ostick_bundle_install(b, options, &result, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	g_assert_cmpint(result.outcome, ==, OSTICK_OUTCOME_FAILED);
	g_assert_cmpstr(ostick_outcome_name(result.outcome), ==, "failed");
	/* Nothing was read: the file can still be inspected from its start. */
	g_clear_error(&error);
	g_assert_true(ostick_bundle_inspect(b, NULL, NULL, &error));
}

static void
test_provision_options(void)
{
	g_autoptr(OstickProvisionOptions) options = ostick_provision_options_new();
	const char *const ok[] = {"uboot", "grub2", "syslinux", "none"};

	for (guint i = 0; i < G_N_ELEMENTS(ok); i++)
		g_assert_true(ostick_provision_options_set_bootloader(options, ok[i]));
	g_assert_false(ostick_provision_options_set_bootloader(options, "lilo"));
	g_assert_false(ostick_provision_options_set_bootloader(options, NULL));
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/api/version", test_version);
	g_test_add_func("/api/inspect/unverified", test_inspect_unverified);
	g_test_add_func("/api/inspect/verified", test_inspect_verified);
	g_test_add_func("/api/inspect/untrusted", test_untrusted);
	g_test_add_func("/api/verify/progress", test_verify_progress);
	g_test_add_func("/api/stream-once", test_stream_once);
	g_test_add_func("/api/cancelled", test_cancelled);
	g_test_add_func("/api/open-errors", test_open_errors);
	g_test_add_func("/api/install/needs-keyring", test_install_needs_keyring);
	g_test_add_func("/api/provision/options", test_provision_options);
	return g_test_run();
}
