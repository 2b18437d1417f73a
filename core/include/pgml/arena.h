/*
 * arena.h — bump allocation for objects that die together.
 *
 * An arena hands out memory from blocks obtained through pgml_malloc; nothing is freed one by one.
 * pgml_arena_reset keeps the first block and frees the rest, so a per-call scratch arena costs one
 * allocation in the steady state. Not thread-safe: one arena per thread.
 */
#ifndef PGML_ARENA_H
#define PGML_ARENA_H

#include "pgml/pgml.h"

typedef struct pgml_arena pgml_arena;

/* block_size: the size of each block (0 = 64 KiB); larger requests get a block of their own. */
pgml_arena *pgml_arena_new(size_t block_size);
void		pgml_arena_free(pgml_arena *arena);	/* NULL is fine */

/* align must be a power of two (0 = alignof(max_align_t)). NULL when out of memory. */
void	   *pgml_arena_alloc(pgml_arena *arena, size_t size, size_t align);
void	   *pgml_arena_calloc(pgml_arena *arena, size_t count, size_t size);
char	   *pgml_arena_strdup(pgml_arena *arena, const char *s);

void		pgml_arena_reset(pgml_arena *arena);
size_t		pgml_arena_used(const pgml_arena *arena);	/* bytes handed out since the last reset */
size_t		pgml_arena_reserved(const pgml_arena *arena);	/* bytes held in blocks */

#endif							/* PGML_ARENA_H */
