-- pgml.halfvec: binary16 storage with vector's text form, operators, functions, btree and aggregates.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET search_path = pgml, public;
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- text form: values are rounded to the nearest binary16 and shown exactly
SELECT '[1,2,3]'::halfvec, ' [ 1.5 , -2e3,0.25 ] '::halfvec(3), '[0.1]'::halfvec, '[65504,-65504]'::halfvec;
SELECT '[6e-8, 6.1e-5, 1e-8, -0]'::halfvec;		-- smallest subnormal, normal boundary, underflow to 0
SELECT pg_typeof('[1]'::halfvec), format_type('pgml.halfvec'::regtype, 3), '[1,2]'::halfvec::text;
SELECT pgml.halfvec_send('[1,-2]');

-- errors: as vector's, and beyond ±65504 after rounding (22003)
SELECT q, pg_temp.err(format('SELECT %L::pgml.halfvec', q)) FROM (VALUES
	('[1,2'), ('[1,,2]'), ('garbage'), ('[1,2]x'), ('[]'), ('[NaN]'), ('[Infinity]'), ('[1e39]'),
	('[65519]'), ('[65520]'), ('[-70000]'), ('[1e5]')) t(q);
SELECT '[1,2]'::halfvec(3);
SELECT '[1]'::halfvec(16001);
SELECT ARRAY[1e5]::real[]::halfvec;
SELECT ARRAY[1, NULL]::real[]::halfvec;
SELECT '[1e5]'::vector::halfvec;
SELECT '[1,2]'::halfvec <-> '[1]';
SELECT '[60000]'::halfvec + '[10000]';
SELECT '[300]'::halfvec * '[300]';
SELECT sum(v) FROM (VALUES ('[40000]'::halfvec), ('[40000]')) t(v);

-- a table, casts from arrays (assignment) and to real[], vector <-> halfvec
CREATE TABLE ht_items (id int PRIMARY KEY, embedding halfvec(3));
INSERT INTO ht_items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,1,1]'), (4, '[-1,0,2]');
INSERT INTO ht_items SELECT 5, ARRAY[0.5, 0.25, 2]::real[];
INSERT INTO ht_items SELECT 6, ARRAY[1, 2, 3]::double precision[];
INSERT INTO ht_items SELECT 7, ARRAY[7, 8, 9];
INSERT INTO ht_items SELECT 8, ARRAY[1.5, 2.5, 3.5]::numeric[];
INSERT INTO ht_items SELECT 9, '[0.1,0.2,0.3]'::vector;
SELECT * FROM ht_items ORDER BY id;
\d ht_items
SELECT '[1,2.5,3]'::halfvec::real[], '[0.1,2]'::halfvec::vector, '[0.1,2]'::vector::halfvec,
       '[1,2]'::halfvec::vector(2), '[1,2]'::vector(2)::halfvec(2);
CREATE TABLE ht_vec (v vector(3));
INSERT INTO ht_vec SELECT embedding FROM ht_items WHERE id = 9;
SELECT * FROM ht_vec;
DROP TABLE ht_vec;

-- binary round trip
CREATE TABLE ht_bin (v halfvec(3));
INSERT INTO ht_bin VALUES ('[1,-2.5,3e-5]'), ('[0.1,16000,-0]');
DO $$
BEGIN
	EXECUTE format('COPY ht_bin TO %L (FORMAT binary)', current_setting('data_directory') || '/ht_bin.copy');
	EXECUTE format('COPY ht_bin FROM %L (FORMAT binary)', current_setting('data_directory') || '/ht_bin.copy');
END $$;
SELECT v, count(*) FROM ht_bin GROUP BY v ORDER BY v;
DROP TABLE ht_bin;

-- distances (same values as vector's where the inputs are exact in binary16)
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), inner_product('[1,2,3]'::halfvec, '[4,5,6]'),
       cosine_distance('[1,0]'::halfvec, '[0,1]'), l1_distance('[1,2,3]'::halfvec, '[0,0,0]');
SELECT '[0,0]'::halfvec <-> '[3,4]', '[1,2,3]'::halfvec <#> '[4,5,6]', '[1,0]'::halfvec <=> '[-1,0]',
       '[1,2,3]'::halfvec <+> '[3,2,1]';
SELECT vector_dims('[1,2,3]'::halfvec), vector_norm('[3,4]'::halfvec), l2_norm('[3,4]'::halfvec);
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]'), halfvec_negative_inner_product('[1,2]', '[3,4]'),
       round(halfvec_spherical_distance('[1,0]', '[0,1]')::numeric, 6);
SELECT cosine_distance('[0,0]'::halfvec, '[1,1]');
SELECT id FROM ht_items ORDER BY embedding <-> '[1,2,3]', id LIMIT 3;
SELECT id FROM ht_items ORDER BY embedding <#> '[1,2,3]', id LIMIT 3;
SELECT id FROM ht_items ORDER BY embedding <=> '[1,2,3]', id LIMIT 3;
SELECT id FROM ht_items ORDER BY embedding <+> '[1,2,3]', id LIMIT 3;
-- a vector operand is converted to halfvec
SELECT '[1,2,3]'::halfvec <-> '[1,2,4]'::vector;

-- arithmetic, comparison, btree
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2]'::halfvec = '[1,2]', '[1,2]'::halfvec < '[1,2,0]',
       '[1.0001]'::halfvec = '[1]', halfvec_cmp('[2]', '[1,5]');
SELECT DISTINCT v FROM (VALUES ('[2,1]'::halfvec), ('[1,2]'), ('[1,2]')) t(v) ORDER BY v;
CREATE INDEX ON ht_items (embedding);
SET enable_seqscan = off;
SELECT id FROM ht_items WHERE embedding = '[1,1,1]';
RESET enable_seqscan;

-- l2_normalize, subvector, binary_quantize
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec), subvector('[1,2,3,4,5]'::halfvec, 2, 3),
       binary_quantize('[1,-2,0,3.5]'::halfvec);
SELECT subvector('[1,2,3]'::halfvec, 5, 1);

-- aggregates, also in parallel
SELECT avg(embedding), sum(embedding) FROM ht_items WHERE id <= 4;
SELECT avg(v), sum(v) FROM (VALUES ('[1]'::halfvec)) t(v) WHERE false;
CREATE TABLE ht_agg (v halfvec(3));
INSERT INTO ht_agg SELECT ARRAY[i % 100, i % 7, 1]::real[] FROM generate_series(1, 100000) i;
ANALYZE ht_agg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM ht_agg;
SELECT avg(v) FROM ht_agg;
SELECT sum(v) FROM ht_agg;
RESET max_parallel_workers_per_gather;
DROP TABLE ht_agg, ht_items;
