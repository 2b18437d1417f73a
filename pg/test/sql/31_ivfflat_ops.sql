-- pgml_ivfflat opclasses: inner product, cosine (zero vectors), L1; opclass checks.
SET search_path = pgml, public;
SET extra_float_digits = 0;

CREATE TABLE ivf_ops (id int PRIMARY KEY, v vector(5));
INSERT INTO ivf_ops
SELECT i, ARRAY[sin(i * 0.9) * (1 + i % 4), cos(i * 0.23) * 2, (i % 11) / 3.0 - 1.5, sin(i * 0.013) * 2,
                cos(i * 1.7) + (i % 2)]::real[]
FROM generate_series(1, 1500) i;
CREATE TABLE ivf_ops_q (qid int, q vector(5));
INSERT INTO ivf_ops_q
SELECT j, ARRAY[cos(j * 0.8), sin(j * 2.1) * 2, (j % 5) - 2, cos(j * 0.4), sin(j)]::real[]
FROM generate_series(1, 15) j;

-- inner product
CREATE INDEX ivf_ops_ip ON ivf_ops USING pgml_ivfflat (v vector_ip_ops) WITH (lists = 12);
SELECT * FROM pgml.ivfflat_check('ivf_ops_ip');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <#> '[1,0,0,0,1]' LIMIT 3;
RESET enable_seqscan;
SET pgml.ivfflat_probes = 12;
SELECT count(*) AS same_as_exact FROM ivf_ops_q
WHERE ARRAY(SELECT id FROM ivf_ops ORDER BY v <#> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_ops ORDER BY -inner_product(v, q) LIMIT 10);
DROP INDEX ivf_ops_ip;

-- cosine: vectors are normalized; zero vectors have no direction (cosine distance NaN) and are not indexed
INSERT INTO ivf_ops VALUES (0, '[0,0,0,0,0]');
CREATE INDEX ivf_ops_cos ON ivf_ops USING pgml_ivfflat (v vector_cosine_ops) WITH (lists = 12);
INSERT INTO ivf_ops VALUES (-1, '[0,0,0,0,0]');
SELECT * FROM pgml.ivfflat_check('ivf_ops_cos');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <=> '[1,0,0,0,1]' LIMIT 3;
RESET enable_seqscan;
SELECT count(*) AS same_as_exact FROM ivf_ops_q
WHERE ARRAY(SELECT id FROM ivf_ops ORDER BY v <=> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_ops ORDER BY cosine_distance(v, q) LIMIT 10);
SET enable_seqscan = off;
SELECT count(*) AS indexed, count(*) FILTER (WHERE id <= 0) AS zero_vectors
FROM (SELECT id FROM ivf_ops ORDER BY v <=> '[1,2,3,4,5]') s;
RESET enable_seqscan;
-- scaling a vector does not change its cosine neighbours
SELECT ARRAY(SELECT id FROM ivf_ops ORDER BY v <=> '[1,2,3,4,5]' LIMIT 5)
     = ARRAY(SELECT id FROM ivf_ops ORDER BY v <=> '[10,20,30,40,50]' LIMIT 5) AS scale_invariant;
-- a zero query: every distance is NaN, any order is right; the scan returns rows and does not fail
SET enable_seqscan = off;
SELECT count(*) AS rows_for_zero_query FROM (SELECT id FROM ivf_ops ORDER BY v <=> '[0,0,0,0,0]' LIMIT 7) s;
RESET enable_seqscan;
DELETE FROM ivf_ops WHERE id <= 0;
DROP INDEX ivf_ops_cos;

-- L1 (k-medians lists)
CREATE INDEX ivf_ops_l1 ON ivf_ops USING pgml_ivfflat (v vector_l1_ops) WITH (lists = 12);
SELECT * FROM pgml.ivfflat_check('ivf_ops_l1');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <+> '[1,0,0,0,1]' LIMIT 3;
-- an L1 index is not used for L2 ordering
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <-> '[1,0,0,0,1]' LIMIT 3;
RESET enable_seqscan;
SELECT count(*) AS same_as_exact FROM ivf_ops_q
WHERE ARRAY(SELECT id FROM ivf_ops ORDER BY v <+> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_ops ORDER BY l1_distance(v, q) LIMIT 10);
RESET pgml.ivfflat_probes;
-- one probe still finds each stored point itself
SELECT count(*) AS found_itself FROM ivf_ops i
WHERE i.id % 100 = 0 AND (SELECT id FROM ivf_ops ORDER BY v <+> i.v LIMIT 1) = i.id;
DROP INDEX ivf_ops_l1;

-- two indexes with different opclasses on one column: each serves its own operator
CREATE INDEX ivf_ops_a ON ivf_ops USING pgml_ivfflat (v vector_l2_ops) WITH (lists = 3);
CREATE INDEX ivf_ops_b ON ivf_ops USING pgml_ivfflat (v vector_cosine_ops) WITH (lists = 3);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <-> '[1,0,0,0,1]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ops ORDER BY v <=> '[1,0,0,0,1]' LIMIT 3;
RESET enable_seqscan;

-- the opclasses pass the access method's validator
SELECT opcname, amvalidate(c.oid)
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'pgml_ivfflat' AND opcname LIKE 'vector%' ORDER BY opcname;

DROP TABLE ivf_ops, ivf_ops_q;
