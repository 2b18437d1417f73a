/* Tests for arena.c. */
#include "test.h"

#include <stdint.h>

#include "pgml/arena.h"

TEST(arena_alignment_and_reuse)
{
	pgml_arena *a = pgml_arena_new(256);
	void	   *first;

	REQUIRE(a != NULL);
	for (size_t align = 1; align <= 256; align *= 2)
	{
		void	   *p = pgml_arena_alloc(a, 3, align);

		REQUIRE(p != NULL);
		CHECK_INT((uintptr_t) p % align, 0);
	}
	CHECK(pgml_arena_alloc(a, 8, 3) == NULL);	/* not a power of two */
	first = pgml_arena_alloc(a, 16, 0);
	CHECK(first != NULL);
	CHECK(pgml_arena_used(a) > 0);
	pgml_arena_reset(a);
	CHECK_INT(pgml_arena_used(a), 0);
	CHECK(pgml_arena_reserved(a) > 0);
	pgml_arena_free(a);
	pgml_arena_free(NULL);
}

TEST(arena_many_and_large_allocations)
{
	pgml_arena *a = pgml_arena_new(1024);
	unsigned char *ptrs[1000];
	unsigned char *big;

	REQUIRE(a != NULL);
	for (int i = 0; i < 1000; i++)
	{
		ptrs[i] = pgml_arena_alloc(a, 24, 8);
		REQUIRE(ptrs[i] != NULL);
		memset(ptrs[i], i & 0xff, 24);
	}
	big = pgml_arena_alloc(a, 100000, 64);	/* larger than a block */
	REQUIRE(big != NULL);
	memset(big, 0xab, 100000);
	/* the small block keeps filling after an oversized one */
	CHECK(pgml_arena_alloc(a, 8, 8) != NULL);
	for (int i = 0; i < 1000; i++)
		for (int j = 0; j < 24; j++)
			CHECK_INT(ptrs[i][j], i & 0xff);
	CHECK(pgml_arena_used(a) >= 1000 * 24 + 100000);
	CHECK(pgml_arena_alloc(a, SIZE_MAX - 8, 8) == NULL);	/* overflow, not a crash */
	pgml_arena_reset(a);
	CHECK_INT(pgml_arena_reserved(a), 1024);	/* the first block is kept, the rest freed */
	CHECK(pgml_arena_alloc(a, 10, 0) != NULL);
	pgml_arena_free(a);
}

TEST(arena_strdup_and_calloc)
{
	pgml_arena *a = pgml_arena_new(0);
	char	   *s;
	int		   *z;

	REQUIRE(a != NULL);
	s = pgml_arena_strdup(a, "tokenizer");
	CHECK_STR(s, "tokenizer");
	z = pgml_arena_calloc(a, 100, sizeof(int));
	REQUIRE(z != NULL);
	for (int i = 0; i < 100; i++)
		CHECK_INT(z[i], 0);
	CHECK(pgml_arena_calloc(a, SIZE_MAX / 2, 8) == NULL);
	pgml_arena_free(a);
}
