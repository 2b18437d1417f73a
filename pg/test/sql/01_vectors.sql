-- Vector functions on REAL[] and DOUBLE PRECISION[] against hand-computed values.
\set VERBOSITY default

-- elementwise arithmetic, array operand
SELECT pgml.add(ARRAY[1, 2, 3]::real[], ARRAY[0.5, -2, 10]::real[]),
       pgml.subtract(ARRAY[1, 2, 3]::real[], ARRAY[0.5, -2, 10]::real[]),
       pgml.multiply(ARRAY[1, 2, 3]::real[], ARRAY[0.5, -2, 10]::real[]),
       pgml.divide(ARRAY[1, 2, 3]::real[], ARRAY[0.5, -2, 10]::real[]);
SELECT pgml.add(ARRAY[1, 2, 3]::float8[], ARRAY[0.5, -2, 10]::float8[]),
       pgml.subtract(ARRAY[1, 2, 3]::float8[], ARRAY[0.5, -2, 10]::float8[]),
       pgml.multiply(ARRAY[1, 2, 3]::float8[], ARRAY[0.5, -2, 10]::float8[]),
       pgml.divide(ARRAY[1, 2, 3]::float8[], ARRAY[0.5, -2, 10]::float8[]);

-- elementwise arithmetic, scalar operand; PostgresML's argument names work
SELECT pgml.add(vector => ARRAY[1, 2, 3]::real[], addend => 1),
       pgml.subtract(vector => ARRAY[1, 2, 3]::real[], subtahend => 1),
       pgml.multiply(vector => ARRAY[1, 2, 3]::real[], multiplicand => 2),
       pgml.divide(vector => ARRAY[1, 2, 3]::real[], dividend => 4);
SELECT pgml.add(ARRAY[1, 2, 3]::float8[], 0.25::float8),
       pgml.subtract(vector => ARRAY[1, 2, 3]::float8[], subtrahend => ARRAY[1, 1, 1]::float8[]),
       pgml.multiply(ARRAY[1, 2, 3]::float8[], -1::float8),
       pgml.divide(ARRAY[1, 2, 3]::float8[], 8::float8);

-- the result type follows the input type
SELECT pg_typeof(pgml.add(ARRAY[1]::real[], 1::real)) AS real_in,
       pg_typeof(pgml.add(ARRAY[1]::float8[], 1::float8)) AS double_in,
       pg_typeof(pgml.norm_l2(ARRAY[1]::real[])) AS real_norm,
       pg_typeof(pgml.norm_l2(ARRAY[1]::float8[])) AS double_norm;

-- norms: [3, -4, 0, 0]
SELECT pgml.norm_l0(v), pgml.norm_l1(v), pgml.norm_l2(v), pgml.norm_max(v)
FROM (VALUES (ARRAY[3, -4, 0, 0]::real[])) t(v);
SELECT pgml.norm_l0(v), pgml.norm_l1(v), pgml.norm_l2(v), pgml.norm_max(v)
FROM (VALUES (ARRAY[3, -4, 0, 0]::float8[])) t(v);
-- L2 norm of large doubles does not overflow: sqrt(2) * 1e300
SELECT pgml.norm_l2(ARRAY[1e300, 1e300]::float8[]);

-- normalization: [3, -4] → L1 [3/7, -4/7], L2 [0.6, -0.8], max [0.75, -1]
SELECT pgml.normalize_l1(ARRAY[3, -4]::real[]), pgml.normalize_l2(ARRAY[3, -4]::real[]),
       pgml.normalize_max(ARRAY[3, -4]::real[]);
SELECT pgml.normalize_l1(ARRAY[3, -4]::float8[]), pgml.normalize_l2(ARRAY[3, -4]::float8[]),
       pgml.normalize_max(ARRAY[3, -4]::float8[]);
-- a zero vector normalizes to zeros
SELECT pgml.normalize_l1(ARRAY[0, 0]::real[]), pgml.normalize_l2(ARRAY[0, 0, 0]::float8[]),
       pgml.normalize_max(ARRAY[-0.0, 0]::real[]);
-- normalized vectors have unit norm
SELECT abs(pgml.norm_l2(pgml.normalize_l2(ARRAY[1, 2, 3, 4, 5]::float8[])) - 1) < 1e-15 AS unit_l2,
       abs(pgml.norm_l1(pgml.normalize_l1(ARRAY[1, 2, 3, 4, 5]::float8[])) - 1) < 1e-15 AS unit_l1;

-- distances: a = [1, 2, 3], b = [4, -5, 6]: L1 = 13, L2 = sqrt(67), dot = 12, cosine = 12 / sqrt(14 * 77)
SELECT pgml.distance_l1(a, b), pgml.distance_l2(a, b), pgml.dot_product(a, b), pgml.cosine_similarity(a, b)
FROM (VALUES (ARRAY[1, 2, 3]::real[], ARRAY[4, -5, 6]::real[])) t(a, b);
SELECT pgml.distance_l1(a, b), pgml.distance_l2(a, b), pgml.dot_product(a, b), pgml.cosine_similarity(a, b)
FROM (VALUES (ARRAY[1, 2, 3]::float8[], ARRAY[4, -5, 6]::float8[])) t(a, b);
SELECT sqrt(67::float8) AS expected_l2, 12 / sqrt(14 * 77::float8) AS expected_cosine;
-- cosine of a vector with itself is 1, with its negation -1; of a zero vector NaN
SELECT pgml.cosine_similarity(ARRAY[1, 2, 3]::float8[], ARRAY[1, 2, 3]::float8[]),
       pgml.cosine_similarity(ARRAY[1, 2, 3]::float8[], ARRAY[-1, -2, -3]::float8[]),
       pgml.cosine_similarity(ARRAY[1, 2]::real[], ARRAY[0, 0]::real[]);

-- empty arrays
SELECT pgml.add('{}'::real[], '{}'::real[]), pgml.norm_l2('{}'::real[]), pgml.normalize_l2('{}'::float8[]),
       pgml.dot_product('{}'::float8[], '{}'::float8[]), pgml.multiply('{}'::real[], 3::real);

-- NULL inputs give NULL (strict)
SELECT pgml.add(NULL::real[], 1::real) IS NULL AS a, pgml.norm_l2(NULL::real[]) IS NULL AS b,
       pgml.dot_product(ARRAY[1]::real[], NULL) IS NULL AS c;

-- NaN and infinity propagate without error
SELECT pgml.add(ARRAY['NaN', 'Infinity', 1]::real[], 1::real), pgml.norm_max(ARRAY[1, 'NaN']::float8[]);

-- errors: arrays of different lengths, naming both lengths
SELECT pgml.add(ARRAY[1, 2, 3]::real[], ARRAY[1, 2]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.dot_product(ARRAY[1, 2]::float8[], ARRAY[1, 2, 3, 4]::float8[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.distance_l2(ARRAY[1]::real[], '{}'::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.cosine_similarity(ARRAY[1, 2]::real[], ARRAY[1, 2, 3]::real[]);
\echo :LAST_ERROR_SQLSTATE
-- errors: NULL elements
SELECT pgml.norm_l2(ARRAY[1, NULL, 3]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.add(ARRAY[1, 2]::float8[], ARRAY[NULL, 1]::float8[]);
\echo :LAST_ERROR_SQLSTATE
-- errors: multi-dimensional arrays
SELECT pgml.normalize_l2(ARRAY[[1, 2], [3, 4]]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.dot_product(ARRAY[1, 2, 3, 4]::float8[], ARRAY[[1, 2], [3, 4]]::float8[]);
\echo :LAST_ERROR_SQLSTATE
-- errors: division by zero
SELECT pgml.divide(ARRAY[1, 2]::real[], 0::real);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.divide(ARRAY[1, 2]::float8[], ARRAY[1, 0]::float8[]);
\echo :LAST_ERROR_SQLSTATE
-- errors: overflow of the element type
SELECT pgml.multiply(ARRAY[3e38, 1]::real[], 10::real);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.add(ARRAY[1e308]::float8[], ARRAY[1e308]::float8[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.norm_l1(ARRAY[3e38, 3e38]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.dot_product(ARRAY[1e200]::float8[], ARRAY[1e200]::float8[]);
\echo :LAST_ERROR_SQLSTATE

-- the backend is intact after the errors
SELECT pgml.norm_l2(ARRAY[6, 8]::real[]);

-- a larger vector: 1..1000
SELECT pgml.norm_l1(v) = 500500 AS l1, pgml.dot_product(v, v) = 333833500 AS dot,
       abs(pgml.norm_l2(v) - sqrt(333833500::float8)) < 1e-9 AS l2
FROM (SELECT array_agg(x::float8) AS v FROM generate_series(1, 1000) x) t;
