/*
 * checkpoint: the crash-safe binary state file of a training run.
 *
 * A checkpoint is a header (run seed, config hash, generation, elapsed
 * seconds, D) and a list of named, typed sections (arrays of u8, u32, u64,
 * f32 or f64), written little-endian field by field and closed by a
 * CRC-64/XZ of everything before it.  docs/formats.md gives the byte
 * layout.  The module knows nothing of ES: es.h turns its state into
 * sections (es_state_export / es_state_import), and the master adds its own
 * ("r0", "extra", ...).
 *
 * Saving is atomic and keeps one previous checkpoint:
 *     RUN_DIR/checkpoint.bin       the newest
 *     RUN_DIR/checkpoint.prev.bin  the one before
 * Loading checks magic, version, flags, sizes (against the file size before
 * anything is allocated, and against what the caller expects), structure and
 * the CRC, and fills nothing the caller can see unless all checks pass.
 * Only rank 0 calls checkpoint_save, holding the run-directory lock.
 *
 * Not in here: safetensors export (a separate module), metrics.jsonl
 * (fsutil_append_*), any MPI.
 */
#ifndef RANDES_CHECKPOINT_H
#define RANDES_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_MAGIC "RNDSCKPT"        /* 8 bytes, no NUL on disk */
#define CHECKPOINT_VERSION 1u              /* written by this build   */
#define CHECKPOINT_VERSION_MIN 1u          /* oldest this build reads */
#define CHECKPOINT_FILE_NAME "checkpoint.bin"
#define CHECKPOINT_PREV_NAME "checkpoint.prev.bin"

/* Section names are 1..CHECKPOINT_NAME_LEN-1 printable ASCII characters. */
#define CHECKPOINT_NAME_LEN 32
#define CHECKPOINT_MAX_SECTIONS 64

/* A file larger than this is refused before it is read (8 GiB: a D of
 * 140k parameters needs about 5 MB). */
#define CHECKPOINT_MAX_FILE_BYTES ((uint64_t)8 << 30)

/* Header flags.  Unknown bits are refused on load. */
#define CHECKPOINT_FLAG_FINAL 0x1u   /* written after the last generation */
#define CHECKPOINT_FLAG_STOPPED 0x2u /* written on a stop signal          */
#define CHECKPOINT_FLAGS_KNOWN (CHECKPOINT_FLAG_FINAL | CHECKPOINT_FLAG_STOPPED)

/* Element types; the values are on disk. */
enum checkpoint_type {
	CHECKPOINT_TYPE_U8 = 1,
	CHECKPOINT_TYPE_U32 = 2,
	CHECKPOINT_TYPE_U64 = 3,
	CHECKPOINT_TYPE_F32 = 4,
	CHECKPOINT_TYPE_F64 = 5,
};

struct checkpoint_section {
	char name[CHECKPOINT_NAME_LEN];
	enum checkpoint_type type;
	size_t count;          /* elements                                   */
	void *data;            /* count elements, host byte order            */
	int owned;             /* data is freed by checkpoint_free           */
};

struct checkpoint {
	uint32_t version;       /* on load: the file's; on save: ignored      */
	uint32_t flags;         /* CHECKPOINT_FLAG_*                          */
	uint64_t run_seed;
	uint64_t config_hash;   /* config_hash_locked() of the run's config   */
	uint64_t generation;    /* generations completed = the next g to run  */
	double elapsed_seconds; /* training wall time so far (finite, >= 0)   */
	uint64_t dim;           /* D, the length of theta                     */
	size_t n_sections;
	struct checkpoint_section sections[CHECKPOINT_MAX_SECTIONS];
};

/* What a loader expects; zero fields are not checked. */
struct checkpoint_expect {
	uint64_t dim;           /* D, if non-zero                             */
	int check_config_hash;  /* compare config_hash when non-zero          */
	uint64_t config_hash;
	uint64_t config_hash_v1; /* also accepted when non-zero (the hash of
				  * config_hash_locked_v1, older randes)      */
	int check_run_seed;     /* compare run_seed when non-zero             */
	uint64_t run_seed;
};

/* Where checkpoint_load_latest found its checkpoint. */
enum checkpoint_source {
	CHECKPOINT_SOURCE_NONE = 0,   /* neither file exists               */
	CHECKPOINT_SOURCE_LATEST = 1, /* checkpoint.bin                    */
	CHECKPOINT_SOURCE_PREV = 2,   /* fell back to checkpoint.prev.bin  */
	CHECKPOINT_SOURCE_INVALID = 3, /* files exist, none is valid       */
};

/* Zeroes *ck (no sections, version CHECKPOINT_VERSION). */
void checkpoint_init(struct checkpoint *ck);

/* Frees owned section data and re-initialises *ck.  Accepts a zeroed,
 * half-built or loaded checkpoint. */
void checkpoint_free(struct checkpoint *ck);

/* Bytes per element of a type, 0 for an unknown type. */
size_t checkpoint_type_size(enum checkpoint_type type);

/*
 * Appends a section.  With copy != 0 the data is copied (and owned);
 * otherwise *ck borrows the pointer, which must stay valid and unchanged
 * until the checkpoint is saved or freed.  Returns 0; RANDES_ESTATE for a
 * bad or duplicate name, an unknown type or a full table; RANDES_ENOMEM.
 * On failure *ck is unchanged.
 */
int checkpoint_section_add(struct checkpoint *ck, const char *name,
			   enum checkpoint_type type, const void *data,
			   size_t count, int copy, char *err);

/* The section with this name, or NULL. */
const struct checkpoint_section *
checkpoint_section_find(const struct checkpoint *ck, const char *name);

/*
 * The section with this name if it has exactly this type and count;
 * otherwise NULL and RANDES_EDATA in *rc with a message ("section 'x' is
 * missing" / "has type f64, expected f32" / "has 7 elements, expected 9").
 * For importers that validate everything before touching their state.
 */
const struct checkpoint_section *
checkpoint_section_expect(const struct checkpoint *ck, const char *name,
			  enum checkpoint_type type, size_t count, int *rc,
			  char *err);

/*
 * Serialises *ck into a malloc'd buffer (caller frees *buf): the exact bytes
 * of the file, CRC included.  Returns 0; RANDES_ESTATE if *ck is invalid
 * (flags unknown, elapsed not finite); RANDES_ENOMEM.
 */
int checkpoint_encode(const struct checkpoint *ck, unsigned char **buf,
		      size_t *len, char *err);

/*
 * Parses and checks len bytes.  `what` names the source in messages (a
 * path).  Checks, in this order: magic, version range, header size, the
 * file length recorded in the header against len (truncation or trailing
 * bytes), the CRC, flags, elapsed, every section header (name, type,
 * count against the bytes that remain, duplicates) and the expectations
 * in expect (may be NULL).  Returns 0 with *out filled (owned sections; the
 * caller calls checkpoint_free), or RANDES_EDATA naming the source and the
 * problem; RANDES_ENOMEM.  On failure *out is left initialised and empty.
 * This is the entry point for the checkpoint fuzzer.
 */
int checkpoint_decode(const unsigned char *buf, size_t len, const char *what,
		      const struct checkpoint_expect *expect,
		      struct checkpoint *out, char *err);

/*
 * Writes *ck as dir/checkpoint.bin, keeping the one it replaces as
 * dir/checkpoint.prev.bin.  Steps: encode; write and fsync a temp file in
 * dir; rename checkpoint.bin -> checkpoint.prev.bin and fsync dir (if it
 * exists); rename the temp file -> checkpoint.bin and fsync dir.  Also
 * removes temp files of this name left by killed runs (safe because only
 * the lock holder saves).  Returns 0, or RANDES_EIO/RANDES_ENOMEM/
 * RANDES_ESTATE with a message; on failure the temp file is gone and the
 * previous checkpoint is still loadable by checkpoint_load_latest (either
 * still at checkpoint.bin, or — if the failure came between the two
 * renames and the rename back failed too — at checkpoint.prev.bin).
 */
int checkpoint_save(const char *dir, const struct checkpoint *ck, char *err);

/*
 * Reads and checks one checkpoint file (checkpoint_decode on its bytes,
 * after refusing files larger than CHECKPOINT_MAX_FILE_BYTES).  Returns 0
 * with *out filled; RANDES_EIO if it cannot be read (errno kept: ENOENT
 * when missing); RANDES_EDATA if it is corrupt or not what was expected.
 * On failure *out is initialised and empty.
 */
int checkpoint_load(const char *path, const struct checkpoint_expect *expect,
		    struct checkpoint *out, char *err);

/*
 * Loads the newest valid checkpoint of run directory dir: checkpoint.bin,
 * or, if that is missing or invalid, checkpoint.prev.bin — then *source is
 * CHECKPOINT_SOURCE_PREV and warn (RANDES_ERR_LEN bytes, may be NULL) says
 * why the newest was passed over.  (warn is "" otherwise.)  If neither
 * file exists: RANDES_EIO, *source = CHECKPOINT_SOURCE_NONE and the message
 * "no checkpoint in DIR ...": the distinct, testable "nothing to resume"
 * case.  If a file exists but none is valid: *source =
 * CHECKPOINT_SOURCE_INVALID, the error class of checkpoint.bin's failure if
 * that file exists (else of checkpoint.prev.bin's), and both problems in
 * the message.  *out is filled only on success.
 */
int checkpoint_load_latest(const char *dir,
			   const struct checkpoint_expect *expect,
			   struct checkpoint *out,
			   enum checkpoint_source *source, char *warn,
			   char *err);

#endif
