/*
 * arena.c — bump allocator over a list of blocks.
 */
#include "pgml/arena.h"

#include <stdalign.h>
#include <string.h>

typedef struct arena_block
{
	struct arena_block *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
	alignas(max_align_t) unsigned char data[];
} arena_block;

struct pgml_arena
{
	arena_block *head;			/* the block being filled; older blocks follow */
	size_t		block_size;
	size_t		used;
	size_t		reserved;
};

static arena_block *
block_new(size_t size)
{
	size_t		total;
	arena_block *b;

	if (!pgml_add_size(sizeof(arena_block), size, &total))
		return NULL;
	b = pgml_malloc(total);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

pgml_arena *
pgml_arena_new(size_t block_size)
{
	pgml_arena *a = pgml_malloc(sizeof(pgml_arena));

	if (a == NULL)
		return NULL;
	a->head = NULL;
	a->block_size = block_size ? block_size : 64 * 1024;
	a->used = 0;
	a->reserved = 0;
	return a;
}

void
pgml_arena_free(pgml_arena *arena)
{
	arena_block *b;

	if (arena == NULL)
		return;
	b = arena->head;
	while (b != NULL)
	{
		arena_block *next = b->next;

		pgml_free(b);
		b = next;
	}
	pgml_free(arena);
}

/* Bytes to skip at address p to reach a multiple of align (a power of two). */
static inline size_t
pad_for(const void *p, size_t align)
{
	return (size_t) (-(uintptr_t) p) & (align - 1);
}

void *
pgml_arena_alloc(pgml_arena *arena, size_t size, size_t align)
{
	arena_block *b;
	size_t		offset;
	size_t		end;
	size_t		need;
	size_t		bsize;

	if (align == 0)
		align = alignof(max_align_t);
	if ((align & (align - 1)) != 0 || align > 4096)
		return NULL;

	b = arena->head;
	if (b != NULL)
	{
		offset = b->used + pad_for(b->data + b->used, align);
		if (pgml_add_size(offset, size, &end) && end <= b->size)
		{
			b->used = end;
			arena->used += size;
			return b->data + offset;
		}
	}

	/* A new block, big enough for this request whatever the alignment of its memory. */
	if (!pgml_add_size(size, align, &need))
		return NULL;
	bsize = need > arena->block_size ? need : arena->block_size;
	b = block_new(bsize);
	if (b == NULL)
		return NULL;
	arena->reserved += bsize;
	if (arena->head != NULL && need > arena->block_size)
	{
		/* An oversized block goes behind the current one, which keeps filling. */
		b->next = arena->head->next;
		arena->head->next = b;
	}
	else
	{
		b->next = arena->head;
		arena->head = b;
	}
	offset = pad_for(b->data, align);
	b->used = offset + size;
	arena->used += size;
	return b->data + offset;
}

void *
pgml_arena_calloc(pgml_arena *arena, size_t count, size_t size)
{
	size_t		total;
	void	   *p;

	if (!pgml_mul_size(count, size, &total))
		return NULL;
	p = pgml_arena_alloc(arena, total, 0);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

char *
pgml_arena_strdup(pgml_arena *arena, const char *s)
{
	size_t		len = strlen(s);
	char	   *out = pgml_arena_alloc(arena, len + 1, 1);

	if (out != NULL)
		memcpy(out, s, len + 1);
	return out;
}

void
pgml_arena_reset(pgml_arena *arena)
{
	arena_block *keep;
	arena_block *b;

	if (arena == NULL || arena->head == NULL)
		return;
	/* Keep the last block of the list: the first one allocated, of the standard size unless oversized. */
	b = arena->head;
	while (b->next != NULL)
		b = b->next;
	keep = b;
	b = arena->head;
	while (b != keep)
	{
		arena_block *next = b->next;

		pgml_free(b);
		b = next;
	}
	keep->used = 0;
	keep->next = NULL;
	arena->head = keep;
	arena->used = 0;
	arena->reserved = keep->size;
}

size_t
pgml_arena_used(const pgml_arena *arena)
{
	return arena ? arena->used : 0;
}

size_t
pgml_arena_reserved(const pgml_arena *arena)
{
	return arena ? arena->reserved : 0;
}
