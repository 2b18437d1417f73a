\echo Use "CREATE EXTENSION pgml_test" to load this file. \quit

CREATE FUNCTION pgml_test.raise(status int, sqlstate text DEFAULT NULL, detail text DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'pgml_test_raise' LANGUAGE C;

CREATE FUNCTION pgml_test.status_names() RETURNS TABLE(status int, name text, sqlstate text)
AS 'MODULE_PATHNAME', 'pgml_test_status_names' LANGUAGE C;

CREATE FUNCTION pgml_test.parallel_alloc(n int, size int) RETURNS bigint
AS 'MODULE_PATHNAME', 'pgml_test_parallel_alloc' LANGUAGE C STRICT;

CREATE FUNCTION pgml_test.pool_size() RETURNS int
AS 'MODULE_PATHNAME', 'pgml_test_pool_size' LANGUAGE C STRICT;

CREATE FUNCTION pgml_test.parallel_sum(n bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'pgml_test_parallel_sum' LANGUAGE C STRICT;

CREATE FUNCTION pgml_test.spin(seconds float8) RETURNS bigint
AS 'MODULE_PATHNAME', 'pgml_test_spin' LANGUAGE C STRICT;

CREATE FUNCTION pgml_test.log(msg text, from_worker bool DEFAULT false) RETURNS void
AS 'MODULE_PATHNAME', 'pgml_test_log' LANGUAGE C STRICT;

-- n embedding-like vectors (W = N(0,1)^(latent x dim) from the seed; each z·W + 0.1·√latent·ε), for vector tests
CREATE FUNCTION pgml_test.embedding_like(n int, dim int, seed int, latent int DEFAULT 32) RETURNS SETOF real[]
AS 'MODULE_PATHNAME', 'pgml_test_embedding_like' LANGUAGE C STRICT IMMUTABLE ROWS 1000;
