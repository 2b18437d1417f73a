-- Elementwise aggregates pgml.sum/min/max/min_abs/max_abs over REAL[] and DOUBLE PRECISION[].
\set VERBOSITY default

CREATE TABLE vecs (id int, r real[], d float8[]);
INSERT INTO vecs VALUES
	(1, '{1, -5, 2}', '{1, -5, 2}'),
	(2, '{-3, 4, 0.5}', '{-3, 4, 0.5}'),
	(3, NULL, NULL),
	(4, '{2, 2, -7}', '{2, 2, -7}');

SELECT pgml.sum(r), pgml.min(r), pgml.max(r), pgml.min_abs(r), pgml.max_abs(r) FROM vecs;
SELECT pgml.sum(d), pgml.min(d), pgml.max(d), pgml.min_abs(d), pgml.max_abs(d) FROM vecs;
SELECT pg_typeof(pgml.sum(r)) AS real_sum, pg_typeof(pgml.sum(d)) AS double_sum FROM vecs;

-- grouped
SELECT id % 2 AS g, pgml.sum(r), pgml.max_abs(d) FROM vecs GROUP BY 1 ORDER BY 1;

-- no rows, or only NULL rows: an empty array
SELECT pgml.sum(r), pgml.max(d) FROM vecs WHERE false;
SELECT pgml.min(r) FROM vecs WHERE id = 3;

-- NaN sorts above numbers, as in PostgreSQL
SELECT pgml.max(v), pgml.min(v) FROM (VALUES ('{1, NaN}'::real[]), ('{NaN, 2}'::real[])) t(v);

-- errors: rows of different lengths, NULL elements, multi-dimensional rows, overflow
SELECT pgml.sum(v) FROM (VALUES ('{1, 2}'::real[]), ('{1, 2, 3}'::real[])) t(v);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.max(v) FROM (VALUES ('{1, 2}'::float8[]), ('{1, NULL}'::float8[])) t(v);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.min(v) FROM (VALUES ('{{1, 2}, {3, 4}}'::real[])) t(v);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.sum(v) FROM (VALUES ('{3e38}'::real[]), ('{3e38}'::real[])) t(v);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.sum(v) FROM (VALUES ('{1e308}'::float8[]), ('{1e308}'::float8[])) t(v);
\echo :LAST_ERROR_SQLSTATE

-- single-precision sums accumulate in double: 10,000 × 0.1 is 1000 to float4 precision
SELECT pgml.sum(ARRAY[0.1::real]) FROM generate_series(1, 10000);

-- a parallel plan (partial aggregates, serialized states, combine) gives the same answer as a serial one
CREATE TABLE many AS
SELECT i, ARRAY[i, -i, i % 7, (i * 37) % 101]::float8[] AS d, ARRAY[i % 13, 1]::real[] AS r
FROM generate_series(1, 100000) i;
ANALYZE many;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial_result AS
SELECT pgml.sum(d) AS s, pgml.min(d) AS mn, pgml.max(d) AS mx, pgml.max_abs(d) AS ma, pgml.sum(r) AS sr FROM many;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT pgml.sum(d), pgml.min(d), pgml.max(d), pgml.max_abs(d), pgml.sum(r) FROM many;
SELECT (SELECT s FROM serial_result) = pgml.sum(d) AS sum_same,
       (SELECT mn FROM serial_result) = pgml.min(d) AS min_same,
       (SELECT mx FROM serial_result) = pgml.max(d) AS max_same,
       (SELECT ma FROM serial_result) = pgml.max_abs(d) AS max_abs_same,
       (SELECT sr FROM serial_result) = pgml.sum(r) AS real_sum_same
FROM many;
SELECT s, mn, mx, ma, sr FROM serial_result;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

DROP TABLE vecs, many, serial_result;
