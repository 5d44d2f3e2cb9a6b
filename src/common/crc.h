/*
 * crc: CRC-64/XZ, the checksum that closes every randes checkpoint.
 *
 * Parameters (the "CRC-64/XZ" entry of the CRC RevEng catalogue, also called
 * CRC-64/GO-ECMA): polynomial 0x42F0E1EBA9EA3693 (ECMA-182), processed
 * reflected (so the table uses 0xC96C5795D7870F42), initial value all ones,
 * final XOR all ones.  Check value: crc64("123456789") = 0x995DC9BBDF1939FA.
 * This is the CRC that xz and Go's hash/crc64 (ECMA table) compute, so a
 * checkpoint can be verified with standard tools.
 *
 * This module only checksums bytes; it knows nothing of files.
 */
#ifndef RANDES_CRC_H
#define RANDES_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continues a CRC-64/XZ over len more bytes at data and returns the new
 * value.  Start with crc = 0; the pre- and post-inversion are done inside,
 * so crc64_update(crc64_update(0, a, n), b, m) equals the CRC of a then b.
 * data may be NULL when len is 0.  Pure function, no failure.
 */
uint64_t crc64_update(uint64_t crc, const void *data, size_t len);

/*
 * The same, one bit at a time, straight from the definition: slow, kept as
 * the independent reference the table-driven version is tested against.
 */
uint64_t crc64_update_bitwise(uint64_t crc, const void *data, size_t len);

#endif
