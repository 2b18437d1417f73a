/* Tests for sha256.c against FIPS 180-4 / NIST test vectors. */
#include "test.h"

#include <stdlib.h>

#include "pgml/sha256.h"

static void
check_digest(const char *msg, size_t len, const char *expect)
{
	uint8_t		d[32];
	char		hex[65];

	pgml_sha256(msg, len, d);
	pgml_sha256_hex(d, hex);
	CHECK_STR(hex, expect);
}

TEST(sha256_vectors)
{
	check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
				 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
				 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(sha256_million_a_incremental)
{
	pgml_sha256_ctx ctx;
	char	   *a = malloc(1000000);
	uint8_t		d[32];
	char		hex[65];
	size_t		off = 0;
	size_t		step = 1;

	REQUIRE(a != NULL);
	memset(a, 'a', 1000000);
	/* uneven update sizes exercise the partial-block path */
	pgml_sha256_init(&ctx);
	while (off < 1000000)
	{
		size_t		n = step < 1000000 - off ? step : 1000000 - off;

		pgml_sha256_update(&ctx, a + off, n);
		off += n;
		step = step * 3 % 1021 + 1;
	}
	pgml_sha256_final(&ctx, d);
	pgml_sha256_hex(d, hex);
	CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}
