/*
 * derived.h — weights derived at load time (f16/bf16 converted to f32, int8-quantized and packed, biases
 * concatenated), written once to a file next to the model and memory-mapped by every later load.
 *
 * Without it each backend that loads a half-precision or int8 model would hold its own heap copy of
 * the converted weights; with it they share one copy through the page cache, like the safetensors
 * originals, and a load after the first skips the conversion.
 *
 * A set is opened on a file path and a 32-byte key (a digest of the source files' identity, the
 * options and the format). When the file exists, is well formed and carries the same key, its
 * entries can be fetched by name; anything else (missing, truncated, another key, a corrupt table)
 * starts an empty set, never an error. The loader fetches each derived array by name; when it is
 * missing, it computes it on the heap and adds it with the address of the pointer that refers to it.
 * pgml_derived_commit then writes every added array and the fetched ones to a temporary file in the
 * same directory, renames it over the path (so concurrent loaders never see a partial file, and a
 * backend that mapped the old file keeps its pages), maps it, points each recorded pointer into the
 * mapping and frees the heap copies. When the file cannot be written (no directory given, read-only,
 * disk full) the heap copies simply stay, owned by the set.
 *
 * File layout (native byte order and alignment: the file is a cache for this machine, not an exchange
 * format): a 64-byte header (magic, version, entry count, file size, key), a table of 128-byte entries
 * (name, offset, size), then the arrays, each at a multiple of 64 bytes.
 */
#ifndef PGML_DERIVED_H
#define PGML_DERIVED_H

#include "pgml/pgml.h"
#include "pgml/tensor.h"

typedef struct pgml_derived pgml_derived;

/* The directory, inside a model's directory, where pgml.embed and pgml-embed keep its derived weights. */
#define PGML_DERIVED_DIRNAME ".pgml"

#define PGML_DERIVED_NAME_MAX 111	/* longest entry name */

/* path may be NULL: an in-memory set that never writes (the heap copies are owned by the set). */
pgml_status pgml_derived_open(const char *path, const uint8_t key[32], pgml_derived **out, pgml_err *err);
void		pgml_derived_free(pgml_derived *d);	/* unmaps, frees the heap copies; NULL is fine */

/* An f32 array of n floats from the file, or NULL. */
const float *pgml_derived_get_f32(pgml_derived *d, const char *name, size_t n);

/*
 * Adds an f32 heap array (allocated with pgml_malloc; the set owns it from now on, even on error) that
 * *slot points to; commit moves *slot into the mapping.
 */
pgml_status pgml_derived_add_f32(pgml_derived *d, const char *name, float *heap, size_t n, const float **slot,
								 pgml_err *err);

/*
 * Like pgml_derived_add_f32, for an array worth keeping only when it is shared through the file (an
 * alternative layout of weights the caller also has): when commit does not map it (no path, or the file
 * cannot be written) it is freed and *slot set to NULL.
 */
pgml_status pgml_derived_add_f32_shared(pgml_derived *d, const char *name, float *heap, size_t n,
										const float **slot, pgml_err *err);

/* Whether commit will try to write a file (the set has a path). */
bool		pgml_derived_has_file(const pgml_derived *d);

/* Fills q (marked borrowed) from the file when it holds q8 weight `name` of shape [N, K]. */
bool		pgml_derived_get_q8(pgml_derived *d, const char *name, size_t N, size_t K, pgml_q8_weight *q);

/* Adds q (from pgml_q8_quantize): the set takes its buffers and marks it borrowed. */
pgml_status pgml_derived_add_q8(pgml_derived *d, const char *name, pgml_q8_weight *q, pgml_err *err);

/*
 * Writes the file when arrays were added (see above) and maps it. Failing to write is not an error
 * (the heap copies stay); only running out of memory is.
 */
pgml_status pgml_derived_commit(pgml_derived *d, pgml_err *err);

/* Bytes of derived arrays mapped from the file, and held on the heap. */
size_t		pgml_derived_mapped_bytes(const pgml_derived *d);
size_t		pgml_derived_heap_bytes(const pgml_derived *d);

/* Whether the last open found a valid file (the load reused it). */
bool		pgml_derived_reused(const pgml_derived *d);

#endif							/* PGML_DERIVED_H */
