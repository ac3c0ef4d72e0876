/* ostick-sigblock.c: signature block read/write. */
#include "ostick-sigblock.h"

#include "ostick-error.h"
#include "ostick-format.h"

#include <string.h>

GBytes *
ostick_sigblock_serialize(const OstickSignature *sigs, guint n_sigs)
{
	gsize size = OSTICK_SIG_HEADER_SIZE + (gsize)n_sigs * OSTICK_SIG_RECORD_SIZE;
	guint8 *buf;

	g_return_val_if_fail(n_sigs >= 1 && n_sigs <= OSTICK_SIG_MAX_COUNT, NULL);
	buf = g_malloc0(size);
	memcpy(buf + OSTICK_SIG_OFF_MAGIC, OSTICK_SIG_MAGIC, OSTICK_SIG_MAGIC_LEN);
	ostick_store_le32(buf + OSTICK_SIG_OFF_VERSION, OSTICK_SIG_VERSION);
	ostick_store_le32(buf + OSTICK_SIG_OFF_COUNT, n_sigs);
	for (guint i = 0; i < n_sigs; i++) {
		guint8 *rec = buf + OSTICK_SIG_HEADER_SIZE + (gsize)i * OSTICK_SIG_RECORD_SIZE;

		ostick_store_le16(rec + OSTICK_SIG_REC_OFF_ALGORITHM, (guint16)sigs[i].algorithm);
		memcpy(rec + OSTICK_SIG_REC_OFF_KEY_ID, sigs[i].key_id, OSTICK_KEY_ID_LEN);
		memcpy(rec + OSTICK_SIG_REC_OFF_VALUE, sigs[i].value, OSTICK_SIG_VALUE_LEN);
	}
	return g_bytes_new_take(buf, size);
}

static gboolean
parse_record(const guint8 *rec, guint index, OstickSignature *out_sig, GError **error)
{
	OstickSignature sig = {0};

	/* FORMAT.md §4.2: reserved, must be zero. */
	if (ostick_load_le16(rec + OSTICK_SIG_REC_OFF_RESERVED) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"signature %u: reserved field is not zero", index);
	sig.algorithm = ostick_load_le16(rec + OSTICK_SIG_REC_OFF_ALGORITHM);
	if (sig.algorithm == 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "signature %u: algorithm 0", index);
	memcpy(sig.key_id, rec + OSTICK_SIG_REC_OFF_KEY_ID, OSTICK_KEY_ID_LEN);
	memcpy(sig.value, rec + OSTICK_SIG_REC_OFF_VALUE, OSTICK_SIG_VALUE_LEN);
	*out_sig = sig;
	return TRUE;
}

static gboolean
check_unique_key_ids(GArray *sigs, GError **error)
{
	for (guint i = 0; i < sigs->len; i++) {
		for (guint j = i + 1; j < sigs->len; j++) {
			if (memcmp(g_array_index(sigs, OstickSignature, i).key_id,
				    g_array_index(sigs, OstickSignature, j).key_id,
				    OSTICK_KEY_ID_LEN) == 0)
				return ostick_throw(error, OSTICK_ERROR_FORMAT,
					"signatures %u and %u name the same key", i, j);
		}
	}
	return TRUE;
}

gboolean
ostick_sigblock_parse(const guint8 *buf, gsize len, GArray **out_sigs, GError **error)
{
	g_autoptr(GArray) sigs = NULL;
	guint32 version, count;

	if (len < OSTICK_SIG_HEADER_SIZE)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"signature block truncated (%zu of %d header bytes)", len,
			OSTICK_SIG_HEADER_SIZE);
	if (memcmp(buf + OSTICK_SIG_OFF_MAGIC, OSTICK_SIG_MAGIC, OSTICK_SIG_MAGIC_LEN) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "signature block: bad magic");
	version = ostick_load_le32(buf + OSTICK_SIG_OFF_VERSION);
	if (version != OSTICK_SIG_VERSION)
		return ostick_throw(error, OSTICK_ERROR_VERSION,
			"signature block version %u not supported (this reader knows %d)", version,
			OSTICK_SIG_VERSION);
	count = ostick_load_le32(buf + OSTICK_SIG_OFF_COUNT);
	if (count == 0 || count > OSTICK_SIG_MAX_COUNT)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"signature block: %u signatures (allowed 1 to %d)", count,
			OSTICK_SIG_MAX_COUNT);
	if (len != OSTICK_SIG_HEADER_SIZE + (gsize)count * OSTICK_SIG_RECORD_SIZE)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"signature block: %zu bytes, %u signatures need %zu", len, count,
			OSTICK_SIG_HEADER_SIZE + (gsize)count * OSTICK_SIG_RECORD_SIZE);
	sigs = g_array_sized_new(FALSE, TRUE, sizeof(OstickSignature), count);
	for (guint i = 0; i < count; i++) {
		OstickSignature sig;

		if (!parse_record(buf + OSTICK_SIG_HEADER_SIZE + (gsize)i * OSTICK_SIG_RECORD_SIZE,
			    i, &sig, error))
			return FALSE;
		g_array_append_val(sigs, sig);
	}
	if (!check_unique_key_ids(sigs, error))
		return FALSE;
	*out_sigs = g_steal_pointer(&sigs);
	return TRUE;
}
