/*
 * checkpoint: encoding, decoding, atomic saving and validated loading of the
 * binary state file (see checkpoint.h; byte layout in docs/formats.md).
 *
 * Everything on disk is written byte by byte in little-endian order, never
 * by dumping a struct, so the format does not depend on the compiler's
 * padding or the host's byte order.  The decoder trusts nothing: every
 * length is checked against the bytes actually present before it is used
 * to index or allocate, and the CRC is verified before any section is
 * parsed.
 */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "fsutil.h"

/* Fixed sizes of format version 1 (docs/formats.md). */
#define CKPT_HEADER_BYTES 72u
#define CKPT_SECTION_HEADER_BYTES 48u
#define CKPT_TRAILER_BYTES 8u

/* --- little-endian helpers ------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case CHECKPOINT_TYPE_U8:
		return "u8";
	case CHECKPOINT_TYPE_U32:
		return "u32";
	case CHECKPOINT_TYPE_U64:
		return "u64";
	case CHECKPOINT_TYPE_F32:
		return "f32";
	case CHECKPOINT_TYPE_F64:
		return "f64";
	default:
		return "unknown";
	}
}

size_t checkpoint_type_size(enum checkpoint_type type)
{
	switch (type) {
	case CHECKPOINT_TYPE_U8:
		return 1;
	case CHECKPOINT_TYPE_U32:
	case CHECKPOINT_TYPE_F32:
		return 4;
	case CHECKPOINT_TYPE_U64:
	case CHECKPOINT_TYPE_F64:
		return 8;
	default:
		return 0;
	}
}

/* Writes n elements of host data as little-endian bytes at out. */
static void array_encode(unsigned char *out, const void *data,
			 enum checkpoint_type type, size_t n)
{
	size_t es = checkpoint_type_size(type);

	for (size_t i = 0; i < n; i++) {
		const unsigned char *src = (const unsigned char *)data + i * es;
		if (es == 1) {
			out[i] = src[0];
		} else if (es == 4) {
			uint32_t v;
			memcpy(&v, src, 4);
			put_u32(out + 4 * i, v);
		} else {
			uint64_t v;
			memcpy(&v, src, 8);
			put_u64(out + 8 * i, v);
		}
	}
}

/* Reads n little-endian elements at in into host data. */
static void array_decode(void *data, const unsigned char *in,
			 enum checkpoint_type type, size_t n)
{
	size_t es = checkpoint_type_size(type);

	for (size_t i = 0; i < n; i++) {
		unsigned char *dst = (unsigned char *)data + i * es;
		if (es == 1) {
			dst[0] = in[i];
		} else if (es == 4) {
			uint32_t v = get_u32(in + 4 * i);
			memcpy(dst, &v, 4);
		} else {
			uint64_t v = get_u64(in + 8 * i);
			memcpy(dst, &v, 8);
		}
	}
}

/* A valid section name: 1..31 printable ASCII characters. */
static int name_valid(const char *name, size_t max)
{
	size_t n = 0;

	while (n < max && name[n] != '\0') {
		if (name[n] < 0x21 || name[n] > 0x7e)
			return 0;
		n++;
	}
	return n > 0 && n < max;
}

/* --- the in-memory checkpoint ---------------------------------------------- */

void checkpoint_init(struct checkpoint *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->version = CHECKPOINT_VERSION;
}

void checkpoint_free(struct checkpoint *ck)
{
	if (!ck)
		return;
	for (size_t i = 0; i < ck->n_sections && i < CHECKPOINT_MAX_SECTIONS;
	     i++) {
		if (ck->sections[i].owned)
			free(ck->sections[i].data);
	}
	checkpoint_init(ck);
}

const struct checkpoint_section *
checkpoint_section_find(const struct checkpoint *ck, const char *name)
{
	for (size_t i = 0; i < ck->n_sections; i++) {
		if (strcmp(ck->sections[i].name, name) == 0)
			return &ck->sections[i];
	}
	return NULL;
}

int checkpoint_section_add(struct checkpoint *ck, const char *name,
			   enum checkpoint_type type, const void *data,
			   size_t count, int copy, char *err)
{
	struct checkpoint_section *s;
	size_t es = checkpoint_type_size(type);
	void *owned = NULL;
	int rc;

	if (!name_valid(name, CHECKPOINT_NAME_LEN)) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section name '%.40s' is not 1-%d "
				 "printable characters",
				 name, CHECKPOINT_NAME_LEN - 1);
		goto fail;
	}
	if (es == 0) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section '%s': unknown type %d",
				 name, (int)type);
		goto fail;
	}
	if (checkpoint_section_find(ck, name)) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section '%s' added twice", name);
		goto fail;
	}
	if (ck->n_sections >= CHECKPOINT_MAX_SECTIONS) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section '%s': more than %d "
				 "sections",
				 name, CHECKPOINT_MAX_SECTIONS);
		goto fail;
	}
	if (count > 0 && !data) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section '%s': NULL data", name);
		goto fail;
	}
	if (count > SIZE_MAX / es) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint section '%s': %zu elements "
				 "overflow",
				 name, count);
		goto fail;
	}
	if (copy) {
		owned = malloc(count * es > 0 ? count * es : 1);
		if (!owned) {
			rc = randes_errf(err, RANDES_ENOMEM,
					 "checkpoint section '%s': out of "
					 "memory",
					 name);
			goto fail;
		}
		if (count > 0)
			memcpy(owned, data, count * es);
	}
	s = &ck->sections[ck->n_sections++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->count = count;
	s->data = copy ? owned : (void *)data;
	s->owned = copy;
	return 0;
fail:
	free(owned);
	return rc;
}

const struct checkpoint_section *
checkpoint_section_expect(const struct checkpoint *ck, const char *name,
			  enum checkpoint_type type, size_t count, int *rc,
			  char *err)
{
	const struct checkpoint_section *s = checkpoint_section_find(ck, name);

	*rc = 0;
	if (!s) {
		*rc = randes_errf(err, RANDES_EDATA,
				  "checkpoint section '%s' is missing", name);
		return NULL;
	}
	if (s->type != type) {
		*rc = randes_errf(err, RANDES_EDATA,
				  "checkpoint section '%s' has type %s, "
				  "expected %s",
				  name, type_name(s->type), type_name(type));
		return NULL;
	}
	if (s->count != count) {
		*rc = randes_errf(err, RANDES_EDATA,
				  "checkpoint section '%s' has %zu elements, "
				  "expected %zu",
				  name, s->count, count);
		return NULL;
	}
	return s;
}

/* --- encoding ----------------------------------------------------------- */

int checkpoint_encode(const struct checkpoint *ck, unsigned char **buf,
		      size_t *len, char *err)
{
	unsigned char *b = NULL, *p;
	size_t total = CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES;
	uint64_t elapsed_bits;
	int rc;

	*buf = NULL;
	*len = 0;
	if (ck->flags & ~CHECKPOINT_FLAGS_KNOWN) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint: unknown flags 0x%x", ck->flags);
		goto fail;
	}
	if (!isfinite(ck->elapsed_seconds) || ck->elapsed_seconds < 0) {
		rc = randes_errf(err, RANDES_ESTATE,
				 "checkpoint: elapsed seconds %g is not a "
				 "finite non-negative number",
				 ck->elapsed_seconds);
		goto fail;
	}
	RANDES_ASSERT(ck->n_sections <= CHECKPOINT_MAX_SECTIONS);
	for (size_t i = 0; i < ck->n_sections; i++) {
		const struct checkpoint_section *s = &ck->sections[i];
		size_t es = checkpoint_type_size(s->type);
		RANDES_ASSERT(es > 0 && s->count <= SIZE_MAX / es);
		total += CKPT_SECTION_HEADER_BYTES + s->count * es;
	}
	b = malloc(total);
	if (!b) {
		rc = randes_errf(err, RANDES_ENOMEM,
				 "checkpoint: out of memory for %zu bytes",
				 total);
		goto fail;
	}
	memcpy(b, CHECKPOINT_MAGIC, 8);
	put_u32(b + 8, CHECKPOINT_VERSION);
	put_u32(b + 12, CKPT_HEADER_BYTES);
	put_u64(b + 16, (uint64_t)total);
	put_u32(b + 24, ck->flags);
	put_u32(b + 28, (uint32_t)ck->n_sections);
	put_u64(b + 32, ck->run_seed);
	put_u64(b + 40, ck->config_hash);
	put_u64(b + 48, ck->generation);
	memcpy(&elapsed_bits, &ck->elapsed_seconds, 8);
	put_u64(b + 56, elapsed_bits);
	put_u64(b + 64, ck->dim);
	p = b + CKPT_HEADER_BYTES;
	for (size_t i = 0; i < ck->n_sections; i++) {
		const struct checkpoint_section *s = &ck->sections[i];
		memset(p, 0, CHECKPOINT_NAME_LEN);
		memcpy(p, s->name, strlen(s->name));
		put_u32(p + 32, (uint32_t)s->type);
		put_u32(p + 36, 0); /* reserved */
		put_u64(p + 40, (uint64_t)s->count);
		p += CKPT_SECTION_HEADER_BYTES;
		array_encode(p, s->data, s->type, s->count);
		p += s->count * checkpoint_type_size(s->type);
	}
	RANDES_ASSERT((size_t)(p - b) == total - CKPT_TRAILER_BYTES);
	put_u64(p, crc64_update(0, b, total - CKPT_TRAILER_BYTES));
	*buf = b;
	*len = total;
	return 0;
fail:
	free(b);
	return rc;
}

/* --- decoding ----------------------------------------------------------- */

int checkpoint_decode(const unsigned char *buf, size_t len, const char *what,
		      const struct checkpoint_expect *expect,
		      struct checkpoint *out, char *err)
{
	struct checkpoint ck;
	uint32_t version, header_bytes, n_sections;
	uint64_t file_bytes, crc_stored, crc_actual, elapsed_bits;
	size_t pos, end;
	int rc;

	checkpoint_init(&ck);
	checkpoint_init(out);
	if (len > 0 && memcmp(buf, CHECKPOINT_MAGIC, len < 8 ? len : 8) != 0) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: not a randes checkpoint (bad magic; "
				 "expected \"%s\")",
				 what, CHECKPOINT_MAGIC);
		goto fail;
	}
	if (len < 12) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: truncated: %zu bytes, too short for a "
				 "checkpoint header",
				 what, len);
		goto fail;
	}
	version = get_u32(buf + 8);
	if (version < CHECKPOINT_VERSION_MIN || version > CHECKPOINT_VERSION) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: unsupported checkpoint format version "
				 "%u (this build reads versions %u to %u)",
				 what, version, CHECKPOINT_VERSION_MIN,
				 CHECKPOINT_VERSION);
		goto fail;
	}
	if (len < CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: truncated: %zu bytes, too short for a "
				 "checkpoint header",
				 what, len);
		goto fail;
	}
	header_bytes = get_u32(buf + 12);
	if (header_bytes != CKPT_HEADER_BYTES) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: corrupt header: header size %u, "
				 "expected %u",
				 what, header_bytes, CKPT_HEADER_BYTES);
		goto fail;
	}
	file_bytes = get_u64(buf + 16);
	if (file_bytes != (uint64_t)len) {
		if (file_bytes > (uint64_t)len)
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: truncated: %zu bytes present, "
					 "the header says %llu",
					 what, len,
					 (unsigned long long)file_bytes);
		else
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: %zu bytes present, the "
					 "header says %llu (trailing data or "
					 "a damaged header)",
					 what, len,
					 (unsigned long long)file_bytes);
		goto fail;
	}
	end = len - CKPT_TRAILER_BYTES;
	crc_stored = get_u64(buf + end);
	crc_actual = crc64_update(0, buf, end);
	if (crc_stored != crc_actual) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: corrupt: CRC-64 mismatch (stored "
				 "%016llx, computed %016llx)",
				 what, (unsigned long long)crc_stored,
				 (unsigned long long)crc_actual);
		goto fail;
	}
	ck.version = version;
	ck.flags = get_u32(buf + 24);
	n_sections = get_u32(buf + 28);
	ck.run_seed = get_u64(buf + 32);
	ck.config_hash = get_u64(buf + 40);
	ck.generation = get_u64(buf + 48);
	elapsed_bits = get_u64(buf + 56);
	memcpy(&ck.elapsed_seconds, &elapsed_bits, 8);
	ck.dim = get_u64(buf + 64);
	if (ck.flags & ~CHECKPOINT_FLAGS_KNOWN) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: unknown flags 0x%x (written by a newer "
				 "randes?)",
				 what, ck.flags);
		goto fail;
	}
	if (!isfinite(ck.elapsed_seconds) || ck.elapsed_seconds < 0) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: corrupt header: elapsed seconds %g",
				 what, ck.elapsed_seconds);
		goto fail;
	}
	if (n_sections > CHECKPOINT_MAX_SECTIONS) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: corrupt header: %u sections (at most "
				 "%d)",
				 what, n_sections, CHECKPOINT_MAX_SECTIONS);
		goto fail;
	}
	pos = CKPT_HEADER_BYTES;
	for (uint32_t i = 0; i < n_sections; i++) {
		struct checkpoint_section *s = &ck.sections[i];
		const unsigned char *h = buf + pos;
		uint32_t type, reserved;
		uint64_t count;
		size_t es, bytes;

		if (end - pos < CKPT_SECTION_HEADER_BYTES) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: section %u header runs "
					 "past the end",
					 what, i);
			goto fail;
		}
		memcpy(s->name, h, CHECKPOINT_NAME_LEN);
		if (!name_valid(s->name, CHECKPOINT_NAME_LEN)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: section %u has an "
					 "invalid name",
					 what, i);
			goto fail;
		}
		for (size_t j = strlen(s->name); j < CHECKPOINT_NAME_LEN; j++) {
			if (h[j] != 0) {
				rc = randes_errf(err, RANDES_EDATA,
						 "%s: corrupt: section '%s' "
						 "name is not zero-padded",
						 what, s->name);
				goto fail;
			}
		}
		type = get_u32(h + 32);
		reserved = get_u32(h + 36);
		count = get_u64(h + 40);
		es = checkpoint_type_size((enum checkpoint_type)type);
		if (es == 0 || reserved != 0) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: section '%s' has "
					 "unknown type %u or reserved field "
					 "%u",
					 what, s->name, type, reserved);
			goto fail;
		}
		pos += CKPT_SECTION_HEADER_BYTES;
		/* Against the bytes present, before any allocation. */
		if (count > (uint64_t)((end - pos) / es)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: section '%s' claims "
					 "%llu %s elements but only %zu bytes "
					 "remain",
					 what, s->name,
					 (unsigned long long)count,
					 type_name(type), end - pos);
			goto fail;
		}
		/* ck.n_sections == i here: only earlier ones are searched. */
		if (checkpoint_section_find(&ck, s->name) != NULL) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: corrupt: section '%s' appears "
					 "twice",
					 what, s->name);
			goto fail;
		}
		bytes = (size_t)count * es;
		s->type = (enum checkpoint_type)type;
		s->count = (size_t)count;
		s->data = malloc(bytes > 0 ? bytes : 1);
		if (!s->data) {
			rc = randes_errf(err, RANDES_ENOMEM,
					 "%s: out of memory for section '%s' "
					 "(%zu bytes)",
					 what, s->name, bytes);
			goto fail;
		}
		s->owned = 1;
		ck.n_sections = i + 1;
		array_decode(s->data, buf + pos, s->type, s->count);
		pos += bytes;
	}
	if (pos != end) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: corrupt: %zu unexplained bytes after "
				 "the last section",
				 what, end - pos);
		goto fail;
	}
	if (expect && expect->dim != 0 && ck.dim != expect->dim) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: holds a model with D = %llu parameters, "
				 "but the config gives D = %llu",
				 what, (unsigned long long)ck.dim,
				 (unsigned long long)expect->dim);
		goto fail;
	}
	if (expect && expect->check_config_hash &&
	    ck.config_hash != expect->config_hash &&
	    (expect->config_hash_v1 == 0 ||
	     ck.config_hash != expect->config_hash_v1)) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: written under a different config "
				 "(locked-key hash %016llx, the config gives "
				 "%016llx)",
				 what, (unsigned long long)ck.config_hash,
				 (unsigned long long)expect->config_hash);
		goto fail;
	}
	if (expect && expect->check_run_seed &&
	    ck.run_seed != expect->run_seed) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: written with run seed %llu, the config "
				 "gives %llu",
				 what, (unsigned long long)ck.run_seed,
				 (unsigned long long)expect->run_seed);
		goto fail;
	}
	*out = ck;
	return 0;
fail:
	checkpoint_free(&ck);
	return rc;
}

/* --- files ---------------------------------------------------------------- */

/* dir/name into out; -1 if it does not fit. */
static int path_join(char *out, size_t out_len, const char *dir,
		     const char *name)
{
	int n = snprintf(out, out_len, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= out_len) ? -1 : 0;
}

/* Removes temp files "checkpoint.bin.tmp.*" left in dir by killed saves.
 * Best effort: a failure here never fails the save. */
static void remove_stale_temps(const char *dir)
{
	static const char prefix[] = CHECKPOINT_FILE_NAME ".tmp.";
	char path[FSUTIL_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (path_join(path, sizeof(path), dir, e->d_name) == 0)
			unlink(path);
	}
	closedir(d);
}

int checkpoint_save(const char *dir, const struct checkpoint *ck, char *err)
{
	char latest[FSUTIL_PATH_MAX], prev[FSUTIL_PATH_MAX];
	char tmp[FSUTIL_PATH_MAX] = "";
	unsigned char *buf = NULL;
	size_t len = 0;
	int moved = 0, saved = 0, rc, had;

	if (path_join(latest, sizeof(latest), dir, CHECKPOINT_FILE_NAME) ||
	    path_join(prev, sizeof(prev), dir, CHECKPOINT_PREV_NAME)) {
		saved = ENAMETOOLONG;
		rc = randes_errf(err, RANDES_EIO, "%s: path too long", dir);
		goto fail;
	}
	rc = checkpoint_encode(ck, &buf, &len, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	remove_stale_temps(dir);
	/* 1. The new checkpoint, complete and synced, under a temp name. */
	rc = fsutil_write_temp(latest, buf, len, tmp, sizeof(tmp), err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	/* 2. The current newest becomes the previous one. */
	had = fsutil_path_exists(latest, err);
	if (had < 0) {
		saved = errno;
		rc = had;
		goto fail;
	}
	if (had) {
		/* Keep it without ever taking the name checkpoint.bin away: a
		 * hard link under a temp name, renamed over
		 * checkpoint.prev.bin.  So at every instant checkpoint.bin is a
		 * complete checkpoint -- the old one until step 3 replaces it
		 * atomically -- and a crash or SIGKILL anywhere in a save leaves
		 * it loadable. */
		char ltmp[FSUTIL_PATH_MAX];
		if (path_join(ltmp, sizeof(ltmp), dir,
			      CHECKPOINT_FILE_NAME ".tmp.prev") == 0) {
			unlink(ltmp);
			if (link(latest, ltmp) == 0) {
				rc = fsutil_rename_durable(ltmp, prev, err);
				/* rename(2) does nothing when both names are
				 * links to one file (a save killed between its
				 * two renames leaves prev and latest so), so
				 * drop the temp name either way. */
				unlink(ltmp);
				if (rc < 0) {
					saved = errno;
					goto fail;
				}
				goto install;
			}
		}
		/* No hard links here (some network file systems): move it;
		 * between the two renames only checkpoint.prev.bin exists,
		 * which checkpoint_load_latest falls back to. */
		rc = fsutil_rename_durable(latest, prev, err);
		/* A failed directory fsync comes after the rename. */
		moved = fsutil_path_exists(latest, NULL) == 0;
		if (rc < 0) {
			saved = errno;
			goto fail;
		}
	}
install:
	/* 3. The new one becomes the newest. */
	rc = fsutil_rename_durable(tmp, latest, err);
	if (rc < 0) {
		saved = errno;
		if (fsutil_path_exists(tmp, NULL) == 0) {
			/* Renamed, only the directory sync failed: the new
			 * checkpoint is in place; nothing to undo. */
			tmp[0] = '\0';
			moved = 0;
		}
		goto fail;
	}
	free(buf);
	return 0;
fail:
	if (tmp[0])
		unlink(tmp);
	if (moved) {
		/* Put the newest back where a plain load finds it.  If this
		 * fails too, checkpoint_load_latest still finds it as
		 * checkpoint.prev.bin. */
		if (fsutil_rename_durable(prev, latest, NULL) != 0) {
			/* nothing more to try */
		}
	}
	free(buf);
	randes_err_prefix(err, "checkpoint not saved");
	errno = saved;
	return rc;
}

int checkpoint_load(const char *path, const struct checkpoint_expect *expect,
		    struct checkpoint *out, char *err)
{
	char *data = NULL;
	size_t len = 0;
	int saved = 0, rc;

	checkpoint_init(out);
	rc = fsutil_read_file(path, (size_t)CHECKPOINT_MAX_FILE_BYTES, &data,
			      &len, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	rc = checkpoint_decode((const unsigned char *)data, len, path, expect,
			       out, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	free(data);
	return 0;
fail:
	free(data);
	errno = saved;
	return rc;
}

int checkpoint_load_latest(const char *dir,
			   const struct checkpoint_expect *expect,
			   struct checkpoint *out,
			   enum checkpoint_source *source, char *warn,
			   char *err)
{
	char latest[FSUTIL_PATH_MAX], prev[FSUTIL_PATH_MAX];
	char err1[RANDES_ERR_LEN] = "", err2[RANDES_ERR_LEN] = "";
	int have1, have2, rc1 = 0, rc2 = 0, rc;

	*source = CHECKPOINT_SOURCE_NONE;
	if (warn)
		warn[0] = '\0';
	checkpoint_init(out);
	if (path_join(latest, sizeof(latest), dir, CHECKPOINT_FILE_NAME) ||
	    path_join(prev, sizeof(prev), dir, CHECKPOINT_PREV_NAME)) {
		rc = randes_errf(err, RANDES_EIO, "%s: path too long", dir);
		goto fail;
	}
	have1 = fsutil_path_exists(latest, err1);
	have2 = fsutil_path_exists(prev, err2);
	if (have1 == 0 && have2 == 0) {
		errno = ENOENT;
		rc = randes_errf(err, RANDES_EIO,
				 "no checkpoint in %s (neither %s nor %s "
				 "exists)",
				 dir, CHECKPOINT_FILE_NAME,
				 CHECKPOINT_PREV_NAME);
		goto fail;
	}
	if (have1 != 0) { /* exists, or cannot tell: try it */
		rc1 = checkpoint_load(latest, expect, out, err1);
		if (rc1 == 0) {
			*source = CHECKPOINT_SOURCE_LATEST;
			return 0;
		}
	} else {
		randes_errf(err1, 0,
			    "%s is missing (a save interrupted between its "
			    "two renames leaves this state)",
			    latest);
	}
	if (have2 != 0) {
		rc2 = checkpoint_load(prev, expect, out, err2);
		if (rc2 == 0) {
			*source = CHECKPOINT_SOURCE_PREV;
			randes_errf(warn, 0,
				    "%s; resuming from the previous "
				    "checkpoint %s (generation %llu)",
				    err1, prev,
				    (unsigned long long)out->generation);
			return 0;
		}
	} else {
		randes_errf(err2, 0, "%s does not exist", prev);
	}
	*source = CHECKPOINT_SOURCE_INVALID;
	rc = randes_errf(err, have1 != 0 ? rc1 : rc2,
			 "no valid checkpoint in %s: %s; and %s", dir, err1,
			 err2);
fail:
	return rc;
}
