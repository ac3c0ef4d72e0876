/* test-policy.c: libostick/policy.c's "already installed" and "reboot pending" decisions, on
 * devices made of deployment objects (booted, default): what a booted sysroot looks like, which
 * the tests on directory sysroots cannot have. */
#include "policy.h"

#include "ostick-error.h"
#include "testlib.h"

#include <string.h>

#define V1 "1111111111111111111111111111111111111111111111111111111111111111"
#define V2 "2222222222222222222222222222222222222222222222222222222222222222"

static OstreeDeployment *
deployment(const char *csum, int serial)
{
	return ostree_deployment_new(serial, "debian", csum, serial, V1, 0);
}

/* A device running @booted (NULL: not a booted sysroot) whose default is @current. */
static OstickDevice *
make_device(const char *booted, const char *current)
{
	OstickDevice *device = g_new0(OstickDevice, 1);

	device->os = g_strdup("debian");
	if (booted != NULL)
		device->booted = deployment(booted, 0);
	if (current != NULL)
		device->current = booted && strcmp(booted, current) == 0
					  ? g_object_ref(device->booted)
					  : deployment(current, 1);
	return device;
}

static void
set_manifest(OstickManifest *m, const char *target)
{
	memset(m, 0, sizeof *m);
	m->compatible = (char *)"board";
	m->os = (char *)"debian";
	m->version = (char *)"2";
	g_strlcpy(m->target, target, sizeof m->target);
}

static gboolean
installed(OstickDevice *device, const char *target)
{
	OstickManifest m;
	OstickPolicy policy = {"board", FALSE};
	gboolean out = FALSE;
	g_autoptr(GError) error = NULL;

	set_manifest(&m, target);
	g_assert_true(ostick_policy_check_fit(device, &m, &policy, &out, &error));
	g_assert_no_error(error);
	return out;
}

/* v2 installed but the device still runs v1 (a power cut before the policy reboot, an install
 * by hand): installed, and a reboot is pending. */
static void
test_pending_default(void)
{
	g_autoptr(OstickDevice) device = make_device(V1, V2);

	g_assert_true(installed(device, V2));
	g_assert_true(ostick_policy_reboot_pending(device, V2));
}

/* v2 booted and the default (s1's stick left in at the next boot): installed, nothing pending. */
static void
test_booted_default(void)
{
	g_autoptr(OstickDevice) device = make_device(V2, V2);

	g_assert_true(installed(device, V2));
	g_assert_false(ostick_policy_reboot_pending(device, V2));
}

/* Booted v2, but the default is v1 again (an admin's rollback): installed, and no reboot (that
 * would start v1). */
static void
test_booted_not_default(void)
{
	g_autoptr(OstickDevice) device = make_device(V2, V1);

	g_assert_true(installed(device, V2));
	g_assert_false(ostick_policy_reboot_pending(device, V2));
}

/* A directory sysroot or a disk being provisioned: nothing is booted from it, so the default is
 * installed and no reboot of this machine would start it. */
static void
test_not_booted_sysroot(void)
{
	g_autoptr(OstickDevice) device = make_device(NULL, V2);

	g_assert_true(installed(device, V2));
	g_assert_false(ostick_policy_reboot_pending(device, V2));
}

/* Another target: not pending whatever the device runs. */
static void
test_other_target(void)
{
	g_autoptr(OstickDevice) device = make_device(V1, V2);

	g_assert_false(ostick_policy_reboot_pending(device, V1));
	g_assert_true(installed(device, V1)); /* the booted one counts as installed */
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/policy/reboot-pending/default-not-booted", test_pending_default);
	g_test_add_func("/policy/reboot-pending/booted-default", test_booted_default);
	g_test_add_func("/policy/reboot-pending/booted-not-default", test_booted_not_default);
	g_test_add_func("/policy/reboot-pending/not-booted-sysroot", test_not_booted_sysroot);
	g_test_add_func("/policy/reboot-pending/other-target", test_other_target);
	return g_test_run();
}
