-- pgml_ivfflat on pgml.halfvec: every opclass, exact with probes = lists, inserts, vacuum, limits.
SET search_path = pgml, public;
SET extra_float_digits = 0;

CREATE TABLE ivf_half (id int PRIMARY KEY, v halfvec(6));
INSERT INTO ivf_half
SELECT i, ARRAY[sin(i * 0.9) * (1 + i % 4), cos(i * 0.23) * 2, (i % 11) / 3.0 - 1.5, sin(i * 0.013) * 2,
                cos(i * 1.7) + (i % 2), (i % 17) / 8.0]::real[]
FROM generate_series(1, 1200) i;
CREATE TABLE ivf_half_q (qid int, q halfvec(6));
INSERT INTO ivf_half_q
SELECT j, ARRAY[cos(j * 0.8), sin(j * 2.1) * 2, (j % 5) - 2, cos(j * 0.4), sin(j), j % 3]::real[]
FROM generate_series(1, 12) j;

CREATE INDEX ivf_half_l2 ON ivf_half USING pgml_ivfflat (v) WITH (lists = 10);
CREATE INDEX ivf_half_ip ON ivf_half USING pgml_ivfflat (v halfvec_ip_ops) WITH (lists = 10);
CREATE INDEX ivf_half_cos ON ivf_half USING pgml_ivfflat (v halfvec_cosine_ops) WITH (lists = 10);
CREATE INDEX ivf_half_l1 ON ivf_half USING pgml_ivfflat (v halfvec_l1_ops) WITH (lists = 10);
SELECT c.relname, p.problem
FROM pg_class c LEFT JOIN LATERAL pgml.ivfflat_check(c.oid) p(problem) ON true
WHERE c.relname LIKE 'ivf_half\_%' AND c.relkind = 'i' AND c.relname <> 'ivf_half_pkey' ORDER BY 1;

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_half ORDER BY v <-> '[1,0,0,0,1,0]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_half ORDER BY v <#> '[1,0,0,0,1,0]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_half ORDER BY v <=> '[1,0,0,0,1,0]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_half ORDER BY v <+> '[1,0,0,0,1,0]' LIMIT 3;
RESET enable_seqscan;

SET pgml.ivfflat_probes = 10;
SELECT count(*) FILTER (WHERE
         ARRAY(SELECT id FROM ivf_half ORDER BY v <-> q LIMIT 10)
       = ARRAY(SELECT id FROM ivf_half ORDER BY l2_distance(v, q) LIMIT 10)) AS l2,
       count(*) FILTER (WHERE
         ARRAY(SELECT id FROM ivf_half ORDER BY v <#> q LIMIT 10)
       = ARRAY(SELECT id FROM ivf_half ORDER BY -inner_product(v, q) LIMIT 10)) AS ip,
       count(*) FILTER (WHERE
         ARRAY(SELECT id FROM ivf_half ORDER BY v <=> q LIMIT 10)
       = ARRAY(SELECT id FROM ivf_half ORDER BY cosine_distance(v, q) LIMIT 10)) AS cosine,
       count(*) FILTER (WHERE
         ARRAY(SELECT id FROM ivf_half ORDER BY v <+> q LIMIT 10)
       = ARRAY(SELECT id FROM ivf_half ORDER BY l1_distance(v, q) LIMIT 10)) AS l1
FROM ivf_half_q;

-- inserts, delete + VACUUM
INSERT INTO ivf_half SELECT id + 2000, v FROM ivf_half WHERE id <= 600;
DELETE FROM ivf_half WHERE id % 4 = 0;
VACUUM ivf_half;
SELECT c.relname, p.problem
FROM pg_class c LEFT JOIN LATERAL pgml.ivfflat_check(c.oid) p(problem) ON true
WHERE c.relname LIKE 'ivf_half\_%' AND c.relkind = 'i' AND c.relname <> 'ivf_half_pkey' ORDER BY 1;
SELECT count(*) FILTER (WHERE
         ARRAY(SELECT id FROM ivf_half ORDER BY v <-> q, id LIMIT 10)
       = ARRAY(SELECT id FROM ivf_half ORDER BY l2_distance(v, q), id LIMIT 10)) AS l2_after_vacuum
FROM ivf_half_q;
RESET pgml.ivfflat_probes;

-- halfvec allows 4,000 dimensions (not 4,001)
CREATE TABLE ivf_half_wide (v halfvec(4001));
CREATE INDEX ON ivf_half_wide USING pgml_ivfflat (v);
CREATE TABLE ivf_half_4000 (v halfvec(4000));
INSERT INTO ivf_half_4000 SELECT array_fill(i::real, ARRAY[4000]) FROM generate_series(1, 3) i;
CREATE INDEX ivf_half_4000_v ON ivf_half_4000 USING pgml_ivfflat (v) WITH (lists = 2);
SELECT * FROM pgml.ivfflat_check('ivf_half_4000_v');

SELECT opcname, amvalidate(c.oid)
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'pgml_ivfflat' AND opcname LIKE 'halfvec%' ORDER BY opcname;

DROP TABLE ivf_half, ivf_half_q, ivf_half_wide, ivf_half_4000;
