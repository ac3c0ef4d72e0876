/* ostick.h: libostick, the public C API of ostick (signed, self-contained OSTree update bundles).
 *
 * One header, for integrators whose own transport (CAN, serial, BLE, a vendor downloader)
 * receives a bundle, and for factory stations. Build with `pkg-config --cflags --libs ostick`.
 *
 * What it does: open a bundle from a path or a file descriptor; inspect what its manifest says;
 * verify it (signature first, then every member's size and SHA-256); install it on a device
 * (verify, check it fits, apply the OSTree delta, deploy with the /etc merge, write the
 * bootloader configuration, prune keeping a rollback); provision blank storage from a full
 * bundle. ostick-bundle and ostick-apply are clients of this library.
 *
 * Errors: every fallible function takes a GError ** (may be NULL) and returns FALSE or NULL on
 * failure. Errors in the OSTICK_ERROR domain carry the codes below; others come from GIO
 * (G_IO_ERROR: missing files, I/O, cancellation), GLib or libostree, with context prefixed.
 * ostick_error_to_exit_code() maps any of them to the exit codes the tools document.
 *
 * Ownership: "(transfer full)" results belong to the caller, who frees them with the named
 * function (or g_autoptr); "(transfer none)" results stay owned by the object they came from and
 * live as long as it does. Strings passed in are copied unless said otherwise.
 *
 * Threads: the library keeps no global state. One object (bundle, keyring, options) must not be
 * used from two threads at once; distinct objects may be used from different threads. A keyring
 * may be shared read-only by concurrent operations. Long operations (verify, install, provision)
 * run in the calling thread; their progress callback is called from that thread, synchronously,
 * and must not call back into the same bundle. Cancel from any thread with
 * g_cancellable_cancel(): a wait on a slow sender ends at once, libostree's work at the next part,
 * and an install cancelled before its switch changes nothing on the device.
 *
 * Only one install or provision runs on a device at a time: the sysroot lock is taken and
 * OSTICK_ERROR_BUSY returned if another ostick or ostree operation holds it.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#if defined(OSTICK_COMPILATION) && defined(__GNUC__)
#define OSTICK_PUBLIC __attribute__((visibility("default")))
#else
#define OSTICK_PUBLIC
#endif

/* The library's version, e.g. "0.1.0". (transfer none) */
OSTICK_PUBLIC const char *ostick_get_version(void);

/* ---- Errors ---- */

#define OSTICK_ERROR (ostick_error_quark())
OSTICK_PUBLIC GQuark ostick_error_quark(void);

typedef enum {
	/* Malformed container, manifest, signature block or superblock. */
	OSTICK_ERROR_FORMAT,
	/* A format version, required feature or part encoding this reader does not support. */
	OSTICK_ERROR_VERSION,
	/* Unsigned, signed by no trusted key, or a signature that does not verify. */
	OSTICK_ERROR_SIGNATURE,
	/* A payload member differs from what the signed manifest says (size or SHA-256). */
	OSTICK_ERROR_CORRUPT,
	/* The bundle's compatible string (or OS) is not this device's. */
	OSTICK_ERROR_INCOMPATIBLE,
	/* A delta's base commit, or one of its objects, is not in the device's repo; or a delta
	 * given where only a full bundle will do (provisioning). */
	OSTICK_ERROR_BASE_MISSING,
	/* The target is older than what the device runs, and downgrades are not allowed. */
	OSTICK_ERROR_DOWNGRADE,
	/* Not enough free space for the new objects plus staging (checked before writing). */
	OSTICK_ERROR_NO_SPACE,
	/* Another ostick install holds the device-wide lock. */
	OSTICK_ERROR_BUSY,
	/* A key file that is not a usable key of a supported type. */
	OSTICK_ERROR_KEY,
} OstickErrorCode;

/* Exit codes of both tools (README "Exit codes"). */
typedef enum {
	OSTICK_EXIT_OK = 0,
	OSTICK_EXIT_FAILURE = 1,
	OSTICK_EXIT_USAGE = 2, /* also: provisioning storage that is not a mount point */
	OSTICK_EXIT_NOT_FOR_DEVICE = 3, /* incompatible, base missing, downgrade, newer format */
	OSTICK_EXIT_AUTH = 4, /* signature, hash or format: not authentic or corrupt */
	OSTICK_EXIT_NO_SPACE = 5,
	OSTICK_EXIT_BUSY = 6,
	OSTICK_EXIT_NOT_FOUND = 7, /* repo, ref, commit, rootfs, bundle, keyring */
	OSTICK_EXIT_KEY = 8, /* a key file that is unreadable or of the wrong type */
	OSTICK_EXIT_EXISTS = 9, /* the output exists (provisioning: the storage is not blank) */
	OSTICK_EXIT_CANCELLED = 10,
} OstickExitCode;

/* The documented exit code for @error (from GLib, GIO, libostree or ostick). */
OSTICK_PUBLIC OstickExitCode ostick_error_to_exit_code(const GError *error);

/* ---- Progress ---- */

typedef enum {
	OSTICK_STAGE_VERIFY, /* signature and manifest (verify: also every member) */
	OSTICK_STAGE_CHECK, /* policy: compatible, base, downgrade, space */
	OSTICK_STAGE_APPLY, /* payload into the repo */
	OSTICK_STAGE_COMMIT, /* completeness check, transaction commit (with --no-deploy: the ref) */
	OSTICK_STAGE_DEPLOY, /* deployment, /etc merge, bootloader */
	OSTICK_STAGE_CLEANUP, /* old deployments out, the rollback kept; prune if one went */
	OSTICK_STAGE_GENERATE, /* bundler: static delta generation */
	OSTICK_STAGE_ENCODE, /* bundler: part encoding (zstd) */
	OSTICK_STAGE_PACK, /* bundler: hashing, signing, writing */
	OSTICK_STAGE_DONE,
} OstickStage;

/* One report. Stages come in order; within a stage, bytes_done and parts_done only grow.
 * Totals are 0 where unknown (stages that move no payload). */
typedef struct {
	OstickStage stage;
	guint64 bytes_done;
	guint64 bytes_total;
	guint parts_done;
	guint parts_total;
	gint64 elapsed_us; /* since the operation started */
} OstickProgress;

/* Called synchronously in the operation's thread. @progress is valid during the call only. */
typedef void (*OstickProgressFunc)(const OstickProgress *progress, gpointer user_data);

/* "verify", "check", "apply", ... (transfer none) */
OSTICK_PUBLIC const char *ostick_stage_name(OstickStage stage);

/* ---- Keyrings: the public keys a device trusts ---- */

typedef struct _OstickKeyring OstickKeyring;

/* Loads every *.pem / *.pub file of a directory, or one PEM file (Ed25519 or ECDSA P-256 public
 * keys; files that hold none are skipped and named in the error when no key signed a bundle).
 * Errors: G_IO_ERROR (missing, unreadable). (transfer full) */
OSTICK_PUBLIC OstickKeyring *ostick_keyring_load(const char *path, GError **error);
OSTICK_PUBLIC void ostick_keyring_free(OstickKeyring *keyring);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickKeyring, ostick_keyring_free)

/* ---- Bundles ---- */

typedef struct _OstickBundle OstickBundle;

/* Opens the bundle file at @path. Nothing is read yet. Errors: G_IO_ERROR. (transfer full) */
OSTICK_PUBLIC OstickBundle *ostick_bundle_open(const char *path, GError **error);

/* Reads the bundle from @fd: a file, pipe or socket, from its current offset. The bundle keeps
 * its own duplicate: the caller may close @fd at once. A bundle read once front to back,
 * as every operation below does, can be read again only if @fd is seekable; on a stream a
 * second operation fails with G_IO_ERROR_NOT_SUPPORTED. Errors: G_IO_ERROR. (transfer full) */
OSTICK_PUBLIC OstickBundle *ostick_bundle_open_fd(int fd, GError **error);
OSTICK_PUBLIC void ostick_bundle_free(OstickBundle *bundle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickBundle, ostick_bundle_free)

/* Reads the signature block and the manifest. With a @keyring, verifies the signature over
 * the exact manifest bytes before parsing them (then ostick_bundle_is_verified() is TRUE);
 * with NULL, parses without verifying: for display only, nothing it says is authenticated.
 * The payload is not read. Errors: OSTICK_ERROR_FORMAT, _VERSION, _SIGNATURE, G_IO_ERROR. */
OSTICK_PUBLIC gboolean ostick_bundle_inspect(OstickBundle *bundle, const OstickKeyring *keyring,
	GCancellable *cancellable, GError **error);

/* The whole check, with no device: the signature against @keyring, then every payload
 * member's size and SHA-256, the superblock against the manifest, and the end of the archive.
 * Progress (stage verify) counts payload bytes. Errors: as inspect, and OSTICK_ERROR_CORRUPT. */
OSTICK_PUBLIC gboolean ostick_bundle_verify(OstickBundle *bundle, const OstickKeyring *keyring,
	OstickProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
	GError **error);

/* What the manifest of the last successful inspect or verify says. Before one, or after a
 * failed one, the getters return NULL, 0 or FALSE. Strings are (transfer none). */
OSTICK_PUBLIC gboolean ostick_bundle_is_verified(OstickBundle *bundle);
OSTICK_PUBLIC const char *ostick_bundle_get_compatible(OstickBundle *bundle);
OSTICK_PUBLIC const char *ostick_bundle_get_version(OstickBundle *bundle);
OSTICK_PUBLIC const char *ostick_bundle_get_os(OstickBundle *bundle);
OSTICK_PUBLIC const char *ostick_bundle_get_ref(OstickBundle *bundle);
/* The target commit (64 hex digits). */
OSTICK_PUBLIC const char *ostick_bundle_get_target(OstickBundle *bundle);
/* The base commit of a delta; NULL for a full (from-scratch) bundle. */
OSTICK_PUBLIC const char *ostick_bundle_get_base(OstickBundle *bundle);
/* Optional free text; NULL if the manifest has none. */
OSTICK_PUBLIC const char *ostick_bundle_get_description(OstickBundle *bundle);
/* ISO 8601 UTC creation time. */
OSTICK_PUBLIC const char *ostick_bundle_get_created(OstickBundle *bundle);
/* The target commit's timestamp (seconds since the epoch). */
OSTICK_PUBLIC guint64 ostick_bundle_get_target_timestamp(OstickBundle *bundle);
/* Bytes of new repo objects an install writes (from a full bundle: the whole tree). */
OSTICK_PUBLIC guint64 ostick_bundle_get_install_size(OstickBundle *bundle);
/* Bytes of the payload members (superblock and parts), as the manifest gives them. */
OSTICK_PUBLIC guint64 ostick_bundle_get_payload_size(OstickBundle *bundle);
OSTICK_PUBLIC guint ostick_bundle_get_n_parts(OstickBundle *bundle);
/* Hex IDs (SHA-256 of the public key's DER) of the trusted keys whose signatures verified;
 * NULL unless verified. (transfer none) */
OSTICK_PUBLIC const char *const *ostick_bundle_get_signer_ids(OstickBundle *bundle);
/* The exact signed manifest text (FORMAT.md §3). (transfer none) */
OSTICK_PUBLIC GBytes *ostick_bundle_get_manifest_bytes(OstickBundle *bundle);

/* ---- Installing on a device ---- */

typedef enum {
	OSTICK_OUTCOME_FAILED,
	OSTICK_OUTCOME_INSTALLED, /* deployed: it boots at the next restart */
	OSTICK_OUTCOME_ALREADY_INSTALLED, /* the target is already the default or booted
					   * (see reboot_pending below) */
	OSTICK_OUTCOME_VERIFIED, /* dry run: everything checked, it would install */
	OSTICK_OUTCOME_APPLICABLE, /* internal (USB probe): signature and fit checked only */
	OSTICK_OUTCOME_PROVISIONED, /* blank storage laid out with the bundle deployed */
} OstickOutcome;

/* "installed", "already-installed", "verified", ... (transfer none) */
OSTICK_PUBLIC const char *ostick_outcome_name(OstickOutcome outcome);

/* What an install did, or, after a failure, what was known when it failed (the versions).
 * Plain data, owned by the caller: zero-initialise, pass to an install, then
 * ostick_install_result_clear() (or g_auto(OstickInstallResult)). Strings may be NULL. */
typedef struct {
	OstickOutcome outcome;
	char *os; /* the stateroot */
	char *from_version; /* the default deployment before, if any */
	char *from_commit;
	char *to_version; /* the bundle's (once its signature verified) */
	char *to_commit;
	char *ref;
	char *compatible;
	guint64 target_timestamp;
	guint64 bytes_read; /* of the bundle */
	guint64 peak_staging; /* the largest staging file written */
	gint64 duration_us;
	char *warning; /* installed, but something after the switch failed (ref, cleanup) */
	/* The target is the default deployment (what boots next) but the running system booted
	 * another one: after OSTICK_OUTCOME_INSTALLED, and after _ALREADY_INSTALLED when an
	 * earlier install was not followed by a reboot into it (a power cut before the reboot,
	 * an install by hand, or a bootloader that started the old deployment once). A reboot
	 * starts the target. Only a booted sysroot (the running system's "/") has a booted
	 * deployment: on any other sysroot (a directory or a disk being provisioned, tests) it is
	 * FALSE, since restarting this machine would not boot that sysroot. (It took the
	 * space of one reserved[] pointer: the struct's size is unchanged.) */
	gboolean reboot_pending;
	/*< private >*/
	gpointer reserved[7];
} OstickInstallResult;

OSTICK_PUBLIC void ostick_install_result_clear(OstickInstallResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OstickInstallResult, ostick_install_result_clear)

typedef struct _OstickInstallOptions OstickInstallOptions;

/* Defaults: sysroot "/", the booted deployment's OS, no compatible string (required: set it),
 * no keyring (required), downgrades refused, deploy, no dry run, outcome recorded for
 * `ostick-apply status`, no progress. (transfer full) */
OSTICK_PUBLIC OstickInstallOptions *ostick_install_options_new(void);
OSTICK_PUBLIC void ostick_install_options_free(OstickInstallOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickInstallOptions, ostick_install_options_free)

OSTICK_PUBLIC void ostick_install_options_set_sysroot(
	OstickInstallOptions *options, const char *path);
/* The stateroot to update; NULL: the booted one. */
OSTICK_PUBLIC void ostick_install_options_set_os(OstickInstallOptions *options, const char *os);
/* This device's compatible string: a bundle made for another one is refused. */
OSTICK_PUBLIC void ostick_install_options_set_compatible(
	OstickInstallOptions *options, const char *compatible);
/* The trusted keys. Borrowed: @keyring must outlive every install using @options. */
OSTICK_PUBLIC void ostick_install_options_set_keyring(
	OstickInstallOptions *options, const OstickKeyring *keyring);
OSTICK_PUBLIC void ostick_install_options_set_allow_downgrade(
	OstickInstallOptions *options, gboolean allow);
/* FALSE: apply into the repo and set the ref, but do not deploy. */
OSTICK_PUBLIC void ostick_install_options_set_deploy(
	OstickInstallOptions *options, gboolean deploy);
/* TRUE: read and check everything (signature, fit, every member), write nothing, take no lock;
 * the outcome is then OSTICK_OUTCOME_VERIFIED (or _ALREADY_INSTALLED). */
OSTICK_PUBLIC void ostick_install_options_set_dry_run(
	OstickInstallOptions *options, gboolean dry_run);
/* Keep the outcome in the OS's /var/lib/ostick/last-result for `ostick-apply status`. */
OSTICK_PUBLIC void ostick_install_options_set_record(
	OstickInstallOptions *options, gboolean record);
OSTICK_PUBLIC void ostick_install_options_set_progress(
	OstickInstallOptions *options, OstickProgressFunc progress, gpointer user_data);

/* Installs @bundle on the device @options describe, reading it once, front to back: the
 * signature before anything else is parsed, then the fit (compatible, OS, base present, no
 * downgrade, free space), all before anything is written; then the delta, hash-checked part by
 * part, into the repo in one transaction; the deployment; the ref. On failure nothing changed
 * on the device (the ref, the deployments, /boot, the repo's objects), whatever the bundle or
 * the stream did.
 * @result (required) is filled in either way. Errors: every OSTICK_ERROR code, G_IO_ERROR
 * (G_IO_ERROR_CANCELLED when cancelled), libostree's. */
OSTICK_PUBLIC gboolean ostick_bundle_install(OstickBundle *bundle,
	const OstickInstallOptions *options, OstickInstallResult *result, GCancellable *cancellable,
	GError **error);

/* ---- Factory provisioning ---- */

typedef struct _OstickProvisionOptions OstickProvisionOptions;

/* Defaults: no sysroot (required), no OS name (required), bootloader "none", no kernel
 * arguments, no compatible check, no keyring (required), a generated device config. */
OSTICK_PUBLIC OstickProvisionOptions *ostick_provision_options_new(void);
OSTICK_PUBLIC void ostick_provision_options_free(OstickProvisionOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickProvisionOptions, ostick_provision_options_free)

/* The mount point of the blank storage (its own filesystem, empty but for lost+found). */
OSTICK_PUBLIC void ostick_provision_options_set_sysroot(
	OstickProvisionOptions *options, const char *path);
/* The stateroot to create: it must be the OS the bundle is for. */
OSTICK_PUBLIC void ostick_provision_options_set_os(OstickProvisionOptions *options, const char *os);
/* libostree's sysroot.bootloader: "uboot", "grub2", "syslinux" or "none". Returns FALSE (and
 * changes nothing) for another name. */
OSTICK_PUBLIC gboolean ostick_provision_options_set_bootloader(
	OstickProvisionOptions *options, const char *bootloader);
/* Kernel arguments of the deployment (root=..., console=...); libostree adds ostree=. */
OSTICK_PUBLIC void ostick_provision_options_add_karg(
	OstickProvisionOptions *options, const char *karg);
/* When set, the bundle must be for this compatible string. */
OSTICK_PUBLIC void ostick_provision_options_set_compatible(
	OstickProvisionOptions *options, const char *compatible);
/* The trusted keys: they verify the bundle, and are written into the deployment's
 * /etc/ostick/keyring.d as the device's keyring. Borrowed, as for installs. */
OSTICK_PUBLIC void ostick_provision_options_set_keyring(
	OstickProvisionOptions *options, const OstickKeyring *keyring);
/* The device's /etc/ostick/ostick.conf, verbatim. NULL (default): one naming the bundle's
 * compatible string and the OS. */
OSTICK_PUBLIC void ostick_provision_options_set_device_config(
	OstickProvisionOptions *options, const char *config_text);
OSTICK_PUBLIC void ostick_provision_options_set_progress(
	OstickProvisionOptions *options, OstickProgressFunc progress, gpointer user_data);

/* Lays out a fresh sysroot on the blank storage from a full @bundle: after the same checks as an
 * install, and before writing anything, it initialises the sysroot and the stateroot, sets the
 * repo's bootloader, applies the bundle, and deploys it with the kernel arguments, the keyring
 * and the device config in its /etc, and the bootloader configuration written. On failure the
 * storage is left as blank as it was found. Errors: as install; G_IO_ERROR_EXISTS if the
 * storage is not blank; OSTICK_ERROR_BASE_MISSING for a delta bundle;
 * G_IO_ERROR_NOT_MOUNTED if the sysroot is not the mount point of its own filesystem (libostree
 * freezes the filesystem holding /boot: never the station's root); G_IO_ERROR_INVALID_ARGUMENT if
 * a required option is missing. */
OSTICK_PUBLIC gboolean ostick_bundle_provision(OstickBundle *bundle,
	const OstickProvisionOptions *options, OstickInstallResult *result,
	GCancellable *cancellable, GError **error);

G_END_DECLS
