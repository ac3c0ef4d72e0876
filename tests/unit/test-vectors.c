/* test-vectors.c: every test vector of format-spec/vectors/ through the real bundle reader.
 *
 * A valid vector must pass every check of FORMAT.md §7 and say what its .expect file says; an
 * invalid one must fail with the OSTICK_ERROR code, exit code and message its .expect names.
 * The vectors are made by format-spec/gen-vectors.sh (t0190 checks they still regenerate).
 */
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "testlib.h"

#include <fcntl.h>
#include <string.h>

typedef struct {
	const char *name;
	OstickErrorCode code;
} ErrorName;

static const ErrorName error_names[] = {
	{"FORMAT", OSTICK_ERROR_FORMAT},
	{"VERSION", OSTICK_ERROR_VERSION},
	{"SIGNATURE", OSTICK_ERROR_SIGNATURE},
	{"CORRUPT", OSTICK_ERROR_CORRUPT},
};

static OstickErrorCode
error_code_named(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(error_names); i++) {
		if (g_str_equal(error_names[i].name, name))
			return error_names[i].code;
	}
	g_error("unknown error name '%s' in a .expect file", name);
}

static GKeyFile *
load_expect(const char *bundle_path)
{
	g_autofree char *stem = g_strndup(bundle_path, strlen(bundle_path) - strlen(".ostick"));
	g_autofree char *path = g_strconcat(stem, ".expect", NULL);
	g_autoptr(GKeyFile) expect = g_key_file_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(g_key_file_load_from_file(expect, path, G_KEY_FILE_NONE, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&expect);
}

static char *
expect_string(GKeyFile *expect, const char *key)
{
	g_autoptr(GError) error = NULL;
	char *value = g_key_file_get_string(expect, "expect", key, &error);

	g_assert_no_error(error);
	return value;
}

/* Runs the whole reader, as ostick-apply verify does, on the bundle at @path. */
static gboolean
read_bundle(const char *path, const OstickKeyring *keyring, OstickManifest **out_manifest,
	GError **error)
{
	g_auto(OstickFd) fd = open(path, O_RDONLY | O_CLOEXEC);
	g_autoptr(OstickBundleReader) reader = NULL;
	const OstickManifest *manifest;

	g_assert_cmpint(fd, >=, 0);
	reader = ostick_bundle_reader_new(fd, NULL, error);
	if (reader == NULL || !ostick_bundle_reader_verify(reader, keyring, error) ||
		ostick_bundle_reader_read_superblock(reader, error) == NULL)
		return FALSE;
	manifest = ostick_bundle_reader_get_manifest(reader);
	for (guint i = 0; i < manifest->n_parts; i++) {
		if (!ostick_bundle_reader_check_part(reader, i, NULL, NULL, NULL, error))
			return FALSE;
	}
	if (!ostick_bundle_reader_finish(reader, error))
		return FALSE;
	/* The manifest lives in the reader: re-parse its exact bytes for the caller. */
	*out_manifest = ostick_manifest_parse(
		g_bytes_get_data(ostick_bundle_reader_get_manifest_bytes(reader), NULL),
		g_bytes_get_size(ostick_bundle_reader_get_manifest_bytes(reader)), error);
	return *out_manifest != NULL;
}

static OstickKeyring *
expect_keyring(GKeyFile *expect)
{
	g_autofree char *name = expect_string(expect, "keyring");
	g_autofree char *rel = g_build_filename("tests/data/keys", name, NULL);
	g_autofree char *path = testlib_src_path(rel);
	g_autoptr(GError) error = NULL;
	OstickKeyring *keyring = ostick_keyring_load(path, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
	return keyring;
}

static void
assert_field(GKeyFile *expect, const char *key, const char *actual)
{
	g_autofree char *wanted = expect_string(expect, key);

	g_assert_cmpstr(actual, ==, wanted);
}

static void
test_valid(gconstpointer data)
{
	const char *path = data;
	g_autoptr(GKeyFile) expect = load_expect(path);
	g_autoptr(OstickKeyring) keyring = expect_keyring(expect);
	g_autoptr(OstickManifest) manifest = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *parts = NULL;

	g_assert_true(read_bundle(path, keyring, &manifest, &error));
	g_assert_no_error(error);
	assert_field(expect, "target", manifest->target);
	assert_field(expect, "base", manifest->base);
	assert_field(expect, "version", manifest->version);
	assert_field(expect, "compatible", manifest->compatible);
	assert_field(expect, "os", manifest->os);
	assert_field(expect, "ref", manifest->ref);
	parts = g_strdup_printf("%u", manifest->n_parts);
	assert_field(expect, "parts", parts);
}

static void
test_invalid(gconstpointer data)
{
	const char *path = data;
	g_autoptr(GKeyFile) expect = load_expect(path);
	g_autoptr(OstickKeyring) keyring = expect_keyring(expect);
	g_autoptr(OstickManifest) manifest = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *error_name = expect_string(expect, "error");
	g_autofree char *message = expect_string(expect, "message");
	gint exit_code = g_key_file_get_integer(expect, "expect", "exit", NULL);

	g_assert_false(read_bundle(path, keyring, &manifest, &error));
	g_assert_null(manifest);
	g_test_message("%s: %s", path, error->message);
	g_assert_error(error, OSTICK_ERROR, (gint)error_code_named(error_name));
	g_assert_cmpint(ostick_error_to_exit_code(error), ==, exit_code);
	if (strstr(error->message, message) == NULL)
		g_error("message '%s' does not contain '%s'", error->message, message);
}

/* Registers a test per *.ostick in format-spec/vectors/@kind, in name order; returns the count. */
static guint
add_vectors(const char *kind, GTestDataFunc func)
{
	g_autofree char *rel = g_build_filename("format-spec/vectors", kind, NULL);
	g_autofree char *dir_path = testlib_src_path(rel);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	g_assert_no_error(error);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_suffix(name, ".ostick"))
			g_ptr_array_add(names, g_strndup(name, strlen(name) - strlen(".ostick")));
	}
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *test_path =
			g_strdup_printf("/vectors/%s/%s", kind, (char *)names->pdata[i]);
		g_autofree char *file = g_strconcat(names->pdata[i], ".ostick", NULL);

		g_test_add_data_func_full(
			test_path, g_build_filename(dir_path, file, NULL), func, g_free);
	}
	return names->len;
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	/* A walker that finds nothing must not pass. */
	g_assert_cmpuint(add_vectors("valid", test_valid), >=, 5);
	g_assert_cmpuint(add_vectors("invalid", test_invalid), >=, 30);
	return g_test_run();
}
