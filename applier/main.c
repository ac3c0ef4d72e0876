/* ostick-apply: install signed OSTree update bundles on a device. */
#include "cli.h"
#include "ostick-error.h"
#include "ostick-signals.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	const char *name;
	OstickCommandFunc func;
	const char *summary;
} Command;

static const Command commands[] = {
	{"install", cmd_install, "Verify, apply and deploy a bundle (a path, - or --fd N)"},
	{"verify", cmd_verify, "Check a bundle fits this device and is intact; change nothing"},
	{"status", cmd_status, "Show deployments, versions and the last result"},
	{"usb", cmd_usb, "Install from a stick: what the udev rule's unit runs"},
	{"provision", cmd_provision, "Lay out blank storage from a full bundle (factory)"},
	{"monitor", cmd_monitor, "Watch for sticks with libudev (systems without systemd)"},
};

static void
print_usage(FILE *out)
{
	fprintf(out, "Usage: ostick-apply COMMAND [OPTION...]\n\nCommands:\n");
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n'ostick-apply COMMAND --help' shows a command's options.\n"
		"Exit codes: 0 installed or already installed, 1 failure, 2 usage or "
		"configuration,\n3 not for this device, 4 not authentic or corrupt, 5 no space, "
		"6 busy,\n7 not found, 9 storage not blank (provision), 10 interrupted.\n");
}

static const Command *
find_command(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* A repeated signal: the user insists. Leave at once with the documented code (from the signal
 * thread, so any call is safe); what a killed run leaves, the next run reuses or removes. */
static void
exit_now(int signum)
{
	static const char message[] = "ostick-apply: interrupted again: exiting now\n";

	(void)!write(STDERR_FILENO, message, sizeof message - 1);
	_exit(OSTICK_EXIT_CANCELLED);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autofree char *prgname = NULL;
	const Command *command;

	setlocale(LC_ALL, "");
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
	if (argc < 2) {
		print_usage(stderr);
		return OSTICK_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return OSTICK_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ostick-apply %s\n", OSTICK_VERSION);
		return OSTICK_EXIT_OK;
	}
	command = find_command(argv[1]);
	if (command == NULL) {
		ostick_cli_log(OSTICK_LOG_ERROR, "unknown command '%s' (see ostick-apply --help)",
			argv[1]);
		return OSTICK_EXIT_USAGE;
	}
	/* "Usage: ostick-apply install [OPTION...]" in the command's --help. */
	prgname = g_strdup_printf("ostick-apply %s", command->name);
	g_set_prgname(prgname);
	ostick_cancel_on_signals(cancellable, exit_now);
	if (!command->func(argc - 1, argv + 1, cancellable, &error)) {
		ostick_cli_log(OSTICK_LOG_ERROR, "%s: %s", command->name,
			error ? error->message : "failed (no details)");
		return error ? ostick_error_to_exit_code(error) : OSTICK_EXIT_FAILURE;
	}
	return OSTICK_EXIT_OK;
}
