/* ostick-progress.c: progress renderings. */
#include "ostick-progress.h"

#include <json-glib/json-glib.h>

const char *
ostick_stage_name(OstickStage stage)
{
	static const char *const names[] = {
		[OSTICK_STAGE_VERIFY] = "verify",
		[OSTICK_STAGE_CHECK] = "check",
		[OSTICK_STAGE_APPLY] = "apply",
		[OSTICK_STAGE_COMMIT] = "commit",
		[OSTICK_STAGE_DEPLOY] = "deploy",
		[OSTICK_STAGE_CLEANUP] = "cleanup",
		[OSTICK_STAGE_GENERATE] = "generate",
		[OSTICK_STAGE_ENCODE] = "encode",
		[OSTICK_STAGE_PACK] = "pack",
		[OSTICK_STAGE_DONE] = "done",
	};

	return (guint)stage < G_N_ELEMENTS(names) ? names[stage] : "unknown";
}

static char *
format_eta(const OstickProgress *p)
{
	guint64 rest, seconds;

	if (p->bytes_done == 0 || p->bytes_total <= p->bytes_done || p->elapsed_us <= 0)
		return g_strdup("");
	rest = p->bytes_total - p->bytes_done;
	seconds = (guint64)((double)rest * (double)p->elapsed_us / (double)p->bytes_done / 1e6);
	return g_strdup_printf(
		"  ETA %" G_GUINT64_FORMAT ":%02u", seconds / 60, (guint)(seconds % 60));
}

char *
ostick_progress_format_bar(const OstickProgress *p, guint columns)
{
	GString *line = g_string_new(NULL);
	g_autofree char *done = g_format_size(p->bytes_done);
	g_autofree char *total = g_format_size(p->bytes_total);
	g_autofree char *eta = format_eta(p);
	double fraction = p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 0.0;
	double seconds = (double)p->elapsed_us / 1e6;
	const guint bar_width = 20;
	guint filled = (guint)(fraction * bar_width);

	g_string_append_printf(line, "%-8s", ostick_stage_name(p->stage));
	if (p->bytes_total > 0) {
		g_autofree char *rate = g_format_size(
			seconds > 0.05 ? (guint64)((double)p->bytes_done / seconds) : 0);

		g_string_append_printf(line, "%3u%% [", (guint)(fraction * 100));
		for (guint i = 0; i < bar_width; i++)
			g_string_append_c(line, i < filled ? '#' : '.');
		g_string_append_printf(line, "] %s / %s", done, total);
		if (p->parts_total > 0)
			g_string_append_printf(line, "  part %u/%u",
				MIN(p->parts_done + 1, p->parts_total), p->parts_total);
		g_string_append_printf(line, "  %s/s%s", rate, eta);
	} else {
		g_string_append_printf(line, "%.0fs", seconds);
	}
	if (columns > 1 && line->len >= columns)
		g_string_truncate(line, columns - 1);
	return g_string_free(line, FALSE);
}

char *
ostick_progress_format_json(const OstickProgress *p)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "event");
	json_builder_add_string_value(builder, "progress");
	json_builder_set_member_name(builder, "stage");
	json_builder_add_string_value(builder, ostick_stage_name(p->stage));
	json_builder_set_member_name(builder, "bytes_done");
	json_builder_add_int_value(builder, (gint64)p->bytes_done);
	json_builder_set_member_name(builder, "bytes_total");
	json_builder_add_int_value(builder, (gint64)p->bytes_total);
	json_builder_set_member_name(builder, "parts_done");
	json_builder_add_int_value(builder, p->parts_done);
	json_builder_set_member_name(builder, "parts_total");
	json_builder_add_int_value(builder, p->parts_total);
	json_builder_set_member_name(builder, "elapsed_ms");
	json_builder_add_int_value(builder, p->elapsed_us / 1000);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	return json_generator_to_data(generator, NULL);
}
