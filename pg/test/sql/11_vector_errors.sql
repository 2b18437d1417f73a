-- pgml.vector: every bad input is an ERROR with its SQLSTATE and a message naming the problem.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET search_path = pgml, public;

-- err(q): the SQLSTATE and message q raises, or 'ok'
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- malformed text: 22P02 invalid_text_representation (with a detail saying where)
SELECT '[1,2'::vector;
SELECT '[1,,2]'::vector;
SELECT 'garbage'::vector;
SELECT '[1,2]x'::vector;
SELECT q, pg_temp.err(format('SELECT %L::pgml.vector', q)) FROM (VALUES
	('[1 2]'), ('[1,2,]'), ('[,1]'), ('['), (''), ('[a]'), ('1,2'), ('[1;2]'), ('[[1]]'), ('[1]]'), ('[0x]'),
	-- no dimensions: 22000
	('[]'), ('[ ]'),
	-- NaN and infinity: 22000; beyond float range: 22003
	('[NaN,1]'), ('[1,Infinity]'), ('[-inf]'), ('[1e39]'), ('[-1e39]'), ('[1e-50]'),
	-- fine
	('[1e-40]'), (' [ 1 ] '), ('[+1,-1,.5,1.,1e0]')) t(q);

-- too many dimensions: 54000
SELECT pg_temp.err(format('SELECT %L::pgml.vector', '[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']'));
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT array_fill(1::real, ARRAY[16001])::vector;

-- wrong typmod: 22000 on the value, 22023 on the declaration
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3]'::vector(3)::vector(2);
SELECT ARRAY[1,2]::vector(3);
CREATE TABLE vt_err (v vector(3));
INSERT INTO vt_err VALUES ('[1,2]');
INSERT INTO vt_err SELECT ARRAY[1,2,3,4]::real[];
DROP TABLE vt_err;
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(1, 2);

-- dimension mismatch: 22000, naming both sizes
SELECT '[1,2,3]'::vector <-> '[1,2]';
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1,2,3]'::pgml.vector OPERATOR(pgml.<#>) '[1,2]'$$),
	($$SELECT '[1,2,3]'::pgml.vector OPERATOR(pgml.<=>) '[1,2]'$$),
	($$SELECT '[1,2,3]'::pgml.vector OPERATOR(pgml.<+>) '[1,2]'$$),
	($$SELECT pgml.inner_product('[1]', '[1,2]')$$),
	($$SELECT pgml.vector_l2_squared_distance('[1]', '[1,2]')$$),
	($$SELECT pgml.vector_negative_inner_product('[1]', '[1,2]')$$),
	($$SELECT pgml.vector_spherical_distance('[1]', '[1,2]')$$)) t(q);

-- arrays: NULL elements (22004), several dimensions, empty, NaN and infinity, out of range (22003)
SELECT ARRAY[1, NULL, 3]::real[]::vector;
SELECT ARRAY[[1, 2], [3, 4]]::real[]::vector;
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '{}'::real[]::pgml.vector$$),
	($$SELECT ARRAY[NULL]::integer[]::pgml.vector$$),
	($$SELECT ARRAY[[1]]::numeric[]::pgml.vector$$),
	($$SELECT ARRAY['NaN']::real[]::pgml.vector$$),
	($$SELECT ARRAY['Infinity']::float8[]::pgml.vector$$),
	($$SELECT ARRAY['-Infinity']::numeric[]::pgml.vector$$),
	($$SELECT ARRAY['NaN']::numeric[]::pgml.vector$$),
	($$SELECT ARRAY[1e300]::float8[]::pgml.vector$$),
	($$SELECT ARRAY[-1e39]::numeric[]::pgml.vector$$),
	($$SELECT ARRAY[1e400]::numeric[]::pgml.vector$$),
	($$SELECT ARRAY[1e-300]::float8[]::pgml.vector$$)) t(q);

-- binary input is checked too: a bytea column copied out in binary reads back as the raw vector payload
CREATE TABLE vt_raw (b bytea);
CREATE TABLE vt_vec (v vector);
CREATE FUNCTION pg_temp.recv(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/vt_raw.copy';
	r text;
BEGIN
	TRUNCATE vt_raw, vt_vec;
	INSERT INTO vt_raw VALUES (payload);
	EXECUTE format('COPY vt_raw TO %L (FORMAT binary)', f);
	r := pg_temp.err(format('COPY vt_vec FROM %L (FORMAT binary)', f));
	RETURN r || coalesce(' ' || (SELECT v::text FROM vt_vec), '');
END $$;
SELECT payload, pg_temp.recv(payload) FROM (VALUES
	('\x000100003f800000'::bytea),		-- [1]
	('\x00000000'), ('\xffff0000'),		-- 0 and -1 dimensions
	('\x3e810000'),					-- 16001 dimensions
	('\x000100013f800000'),			-- unused is not 0
	('\x000100007fc00000'),			-- NaN
	('\x00010000ff800000'),			-- -Infinity
	('\x000200003f800000')) t(payload);	-- too short
DROP TABLE vt_raw, vt_vec;

-- a zero vector has no direction: cosine distance is NaN
SELECT cosine_distance('[0,0]', '[1,1]');
