-- The pgml.vector type: text and binary I/O, typmod, casts, distances and their operators.
\set VERBOSITY default
SET search_path = pgml, public;
SET extra_float_digits = 0;

-- text form, whitespace tolerant; output in the shortest exact form
SELECT '[1,2,3]'::vector;
SELECT ' [ 1.5 , -2e3,3.25 ] '::vector;
SELECT '[0.1, 1e-7, 123456789, -0]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT pg_typeof('[1]'::vector), format_type('pgml.vector'::regtype, 3);

-- a table with a typed column
CREATE TABLE vt_items (id int PRIMARY KEY, embedding vector(3));
INSERT INTO vt_items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,1,1]'), (4, '[-1,0,2]');
SELECT * FROM vt_items ORDER BY id;
\d vt_items

-- casts from arrays (assignment: INSERT ... SELECT an array works) and to real[]
INSERT INTO vt_items SELECT 5, ARRAY[0.5, 0.25, 2]::real[];
INSERT INTO vt_items SELECT 6, ARRAY[1, 2, 3]::double precision[];
INSERT INTO vt_items SELECT 7, ARRAY[7, 8, 9];
INSERT INTO vt_items SELECT 8, ARRAY[1.5, 2.5, 3.5]::numeric[];
SELECT * FROM vt_items WHERE id >= 5 ORDER BY id;
SELECT ARRAY[1, 2]::real[]::vector, ARRAY[1, 2]::float8[]::vector(2), ARRAY[3, 4]::vector,
       ARRAY[0.1, 2]::numeric[]::vector;
SELECT '[1,2.5,3]'::vector::real[];
SELECT pg_typeof('[1,2.5,3]'::vector::real[]);

-- binary round trip (send/recv)
SELECT pgml.vector_send('[1,2]');
CREATE TABLE vt_bin (v vector(3));
INSERT INTO vt_bin VALUES ('[1,-2.5,3e-5]'), ('[0.1,16000,-0]');
DO $$
BEGIN
	EXECUTE format('COPY vt_bin TO %L (FORMAT binary)', current_setting('data_directory') || '/vt_bin.copy');
	EXECUTE format('COPY vt_bin FROM %L (FORMAT binary)', current_setting('data_directory') || '/vt_bin.copy');
END $$;
SELECT v::text, count(*) FROM vt_bin GROUP BY 1 ORDER BY 1;
DROP TABLE vt_bin;

-- distances
SELECT l2_distance('[0,0]', '[3,4]'), inner_product('[1,2,3]', '[4,5,6]'),
       cosine_distance('[1,0]', '[0,1]'), cosine_distance('[1,2]', '[2,4]'), l1_distance('[1,2,3]', '[0,0,0]');
SELECT '[0,0]'::vector <-> '[3,4]', '[1,2,3]'::vector <#> '[4,5,6]', '[1,0]'::vector <=> '[-1,0]',
       '[1,2,3]'::vector <+> '[3,2,1]';
SELECT vector_dims('[1,2,3]'), vector_norm('[3,4]'), vector_norm('[1e30,1e30]');
SELECT vector_l2_squared_distance('[0,0]', '[3,4]'), vector_negative_inner_product('[1,2]', '[3,4]'),
       round(vector_spherical_distance('[1,0]', '[0,1]')::numeric, 6);

-- nearest neighbours by each operator
SELECT id FROM vt_items ORDER BY embedding <-> '[1,2,3]', id LIMIT 3;
SELECT id FROM vt_items ORDER BY embedding <#> '[1,2,3]', id LIMIT 3;
SELECT id FROM vt_items ORDER BY embedding <=> '[1,2,3]', id LIMIT 3;
SELECT id FROM vt_items ORDER BY embedding <+> '[1,2,3]', id LIMIT 3;

DROP TABLE vt_items;
