/*
 * fuzz-config: the YAML config loader (config_load_string) on arbitrary
 * bytes.
 *
 * Contract checked for every input:
 *   - a refusal is RANDES_ECONFIG (or RANDES_ENOMEM) with a message that
 *     starts with the name given to the loader ("fuzz.yaml:" then line and
 *     column, or the key path), as docs/config.md promises;
 *   - an accepted config passes config_validate, and its resolved YAML
 *     (config_to_yaml, what check-config prints and what a run directory
 *     stores) loads back to the same YAML text and the same locked-key hash.
 *     That is the promise --resume relies on.
 */
#include "fuzz.h"

#define FUZZ_CONFIG_MAX_INPUT (64u << 10)

int fuzz_config_one(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[RANDES_ERR_LEN];
	int rc;

	/* config_load_file refuses more than 1 MiB; larger inputs only make
	 * the fuzzer slower without reaching new code. */
	if (size > FUZZ_CONFIG_MAX_INPUT)
		return 0;
	memset(err, FUZZ_ERR_FILL, sizeof(err));
	rc = config_load_string(&cfg, (const char *)data, size, "fuzz.yaml",
				NULL, 0, err);
	if (rc == 0) {
		fuzz_config_roundtrip("config", &cfg);
		return 0;
	}
	if (rc != RANDES_ECONFIG && rc != RANDES_ENOMEM)
		fuzz_fail("config", "refused with class %d (%s), expected config",
			  rc, randes_err_name(rc));
	fuzz_check_message("config", "config_load_string", err);
	if (rc == RANDES_ECONFIG && strncmp(err, "fuzz.yaml:", 10) != 0)
		fuzz_fail("config", "the message does not start with the file "
				    "name: %s",
			  err);
	return 0;
}

FUZZ_ENTRY(fuzz_config_one)
