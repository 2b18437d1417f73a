/*
 * sha256.h — SHA-256 (FIPS 180-4), for file integrity: model files, downloaded weights.
 */
#ifndef PGML_SHA256_H
#define PGML_SHA256_H

#include "pgml/pgml.h"

typedef struct pgml_sha256_ctx
{
	uint32_t	h[8];
	uint64_t	bytes;			/* total message length */
	uint8_t		block[64];
	size_t		fill;			/* bytes in block */
} pgml_sha256_ctx;

void		pgml_sha256_init(pgml_sha256_ctx *ctx);
void		pgml_sha256_update(pgml_sha256_ctx *ctx, const void *data, size_t len);
void		pgml_sha256_final(pgml_sha256_ctx *ctx, uint8_t digest[32]);

/* One-shot digest. */
void		pgml_sha256(const void *data, size_t len, uint8_t digest[32]);

/* Lower-case hex of a digest into out (65 bytes with the NUL). */
void		pgml_sha256_hex(const uint8_t digest[32], char out[65]);

#endif							/* PGML_SHA256_H */
