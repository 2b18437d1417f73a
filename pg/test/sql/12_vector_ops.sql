-- pgml.vector: elementwise arithmetic, comparison and btree, l2_normalize, subvector, binary_quantize,
-- aggregates (also in parallel).
\set VERBOSITY default
\set SHOW_CONTEXT never
SET search_path = pgml, public;
SET extra_float_digits = 0;

-- elementwise arithmetic; overflow to infinity is an error (22003)
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e20]'::vector * '[1e20]';
SELECT '[1,2]'::vector + '[1]';
SELECT '[1e-30]'::vector * '[1e-30]';

-- comparison: element by element, then the shorter vector first
SELECT '[1,2,3]'::vector < '[1,2,4]', '[1,2,3]'::vector <= '[1,2,3]', '[1,2,3]'::vector = '[1,2,3]',
       '[1,2,3]'::vector <> '[1,2]', '[1,2]'::vector < '[1,2,3]', '[2]'::vector > '[1,9]',
       '[1,2]'::vector >= '[1,2]', '[0]'::vector = '[-0]';
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'), vector_cmp('[1,3]', '[1,2]'),
       vector_cmp('[1]', '[1,0]');
SELECT v FROM (VALUES ('[2,1]'::vector), ('[1,2,3]'), ('[1,2]'), ('[-1]'), ('[1,2]')) t(v) ORDER BY v;
SELECT DISTINCT v FROM (VALUES ('[2,1]'::vector), ('[1,2]'), ('[1,2]')) t(v) ORDER BY v;
SELECT v, count(*) FROM (VALUES ('[2,1]'::vector), ('[1,2]'), ('[1,2]')) t(v) GROUP BY v ORDER BY v;
CREATE TABLE vt_bt (id int, v vector);
INSERT INTO vt_bt SELECT i, ARRAY[i % 10, i / 10]::real[] FROM generate_series(1, 200) i;
CREATE INDEX ON vt_bt (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vt_bt WHERE v = '[3,4]';
SELECT id FROM vt_bt WHERE v = '[3,4]';
SELECT id FROM vt_bt WHERE v < '[0,3]' ORDER BY v;
RESET enable_seqscan;
DROP TABLE vt_bt;

-- l2_normalize (a zero vector stays zero)
SELECT l2_normalize('[3,4]'), l2_normalize('[0,0]'), l2_normalize('[1e30,1e30]'), vector_norm(l2_normalize('[1,2,3]'));

-- subvector(v, start, count): 1-based, clipped to the vector, at least one element
SELECT subvector('[1,2,3,4,5]', 1, 3), subvector('[1,2,3,4,5]', 3, 2), subvector('[1,2,3,4,5]', 4, 10),
       subvector('[1,2,3,4,5]', 0, 2), subvector('[1,2,3,4,5]', -5, 7);
SELECT subvector('[1,2,3]', 4, 1);
SELECT subvector('[1,2,3]', 1, 0);
SELECT subvector('[1,2,3]', -5, 6);
SELECT subvector('[1,2,3]', 2147483647, 2147483647);
SELECT subvector('[1,2,3]', -2147483648, 2147483647);

-- binary_quantize: 1 where the element is > 0
SELECT binary_quantize('[1,-2,0,3.5,0.001,-0.001,7,8,9]');
SELECT length(binary_quantize(array_fill(1, ARRAY[384])::vector));

-- aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector)) t(v) WHERE false;
SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT g, avg(v), sum(v) FROM (VALUES (1, '[1,1]'::vector), (2, '[2,4]'), (1, '[3,3]')) t(g, v) GROUP BY g ORDER BY g;

-- in parallel: partial states combine
CREATE TABLE vt_agg (v vector(3));
INSERT INTO vt_agg SELECT ARRAY[i, i % 7, 1]::real[] FROM generate_series(1, 100000) i;
ANALYZE vt_agg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vt_agg;
SELECT avg(v), sum(v) FROM vt_agg;
RESET max_parallel_workers_per_gather;
DROP TABLE vt_agg;
