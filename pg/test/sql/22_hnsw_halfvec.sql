-- pgml_hnsw on pgml.halfvec: float16 elements, same answers as an exact scan of the halfvec column.
\set VERBOSITY default
SET search_path = pgml, public;

CREATE TABLE hnsw_half (id int PRIMARY KEY, v halfvec(4));
INSERT INTO hnsw_half
	SELECT i, ARRAY[sin(i * 1.1) * 3, cos(i * 0.7) * 2, sin(i * 0.3 + 1), cos(i * 0.13)]::real[]
	FROM generate_series(1, 300) i;

CREATE FUNCTION hnsw_half_same(q halfvec, op text, k int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	exact numeric[];
	approx numeric[];
BEGIN
	SET LOCAL enable_indexscan = off;
	-- float16 distances tie often: compare the distances (rounded), not the ids
	EXECUTE format('SELECT array_agg(round(d::numeric, 3)) FROM (SELECT v %s $1 AS d FROM hnsw_half ORDER BY v %s $1 LIMIT %s) s',
				   op, op, k)
		INTO exact USING q;
	SET LOCAL enable_indexscan = on;
	SET LOCAL enable_seqscan = off;
	-- a candidate list as large as the table: on these few hundred rows HNSW must then be exact
	SET LOCAL pgml.hnsw_ef_search = 600;
	EXECUTE format('SELECT array_agg(round(d::numeric, 3)) FROM (SELECT v %s $1 AS d FROM hnsw_half ORDER BY v %s $1 LIMIT %s) s',
				   op, op, k)
		INTO approx USING q;
	RETURN exact = approx;
END $$;

CREATE INDEX hnsw_half_l2 ON hnsw_half USING pgml_hnsw (v);
SELECT hnsw_half_same('[1,1,1,1]', '<->', 10), hnsw_half_same('[-2,0.5,0,1]', '<->', 20);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_half ORDER BY v <-> '[1,1,1,1]' LIMIT 5;
RESET enable_seqscan;
INSERT INTO hnsw_half VALUES (1000, '[7,7,7,7]');
SELECT * FROM hnsw_check('hnsw_half_l2');
SELECT hnsw_half_same('[6,6,6,6]', '<->', 3);
DROP INDEX hnsw_half_l2;

CREATE INDEX hnsw_half_cos ON hnsw_half USING pgml_hnsw (v halfvec_cosine_ops);
SELECT hnsw_half_same('[1,1,1,1]', '<=>', 10), hnsw_half_same('[-2,0.5,0,1]', '<=>', 10);
DROP INDEX hnsw_half_cos;

CREATE INDEX hnsw_half_l1 ON hnsw_half USING pgml_hnsw (v halfvec_l1_ops);
SELECT hnsw_half_same('[1,1,1,1]', '<+>', 10);
DROP INDEX hnsw_half_l1;

CREATE INDEX hnsw_half_ip ON hnsw_half USING pgml_hnsw (v halfvec_ip_ops);
SET pgml.hnsw_ef_search = 100;
SELECT hnsw_half_same('[1,1,1,1]', '<#>', 10);
RESET pgml.hnsw_ef_search;
DELETE FROM hnsw_half WHERE id % 3 = 0;
VACUUM hnsw_half;
SELECT * FROM hnsw_check('hnsw_half_ip');

-- the page limit is twice vector's
CREATE TABLE hnsw_half_wide (v halfvec(4000));
CREATE INDEX ON hnsw_half_wide USING pgml_hnsw (v);

DROP TABLE hnsw_half, hnsw_half_wide;
DROP FUNCTION hnsw_half_same;
