-- pgml_ivfflat: every bad definition and setting gets a clear error.
\set VERBOSITY default
SET search_path = pgml, public;

CREATE TABLE ivf_err (id int, v vector(3), u vector, n int, a real[]);
INSERT INTO ivf_err VALUES (1, '[1,2,3]', '[1,2]', 1, '{1,2}');

-- the lists option
CREATE INDEX ON ivf_err USING pgml_ivfflat (v) WITH (lists = 0);
CREATE INDEX ON ivf_err USING pgml_ivfflat (v) WITH (lists = 32769);
CREATE INDEX ON ivf_err USING pgml_ivfflat (v) WITH (lists = 'many');
CREATE INDEX ON ivf_err USING pgml_ivfflat (v) WITH (probes = 3);
-- a column without dimensions, too many dimensions, a type that is not a vector
CREATE INDEX ON ivf_err USING pgml_ivfflat (u);
CREATE TABLE ivf_err_wide (v vector(2001));
CREATE INDEX ON ivf_err_wide USING pgml_ivfflat (v);
CREATE INDEX ON ivf_err USING pgml_ivfflat (n);
CREATE INDEX ON ivf_err USING pgml_ivfflat (a);
CREATE INDEX ON ivf_err USING pgml_ivfflat (v vector_l2_ops, v vector_l2_ops);
CREATE UNIQUE INDEX ON ivf_err USING pgml_ivfflat (v);
-- 2,000 dimensions are fine
CREATE TABLE ivf_err_2000 (v vector(2000));
INSERT INTO ivf_err_2000 SELECT array_fill(i::real, ARRAY[2000]) FROM generate_series(1, 3) i;
CREATE INDEX ivf_err_2000_v ON ivf_err_2000 USING pgml_ivfflat (v) WITH (lists = 2);
SELECT * FROM pgml.ivfflat_check('ivf_err_2000_v');
DROP TABLE ivf_err_wide, ivf_err_2000;

-- settings
SET pgml.ivfflat_probes = 0;
SET pgml.ivfflat_probes = 40000;
SET pgml.ivfflat_iterative_scan = strict_order;
SET pgml.ivfflat_max_probes = 0;
SET pgml.ivfflat_no_such_setting = 1;

-- a query of the wrong size
CREATE INDEX ivf_err_v ON ivf_err USING pgml_ivfflat (v) WITH (lists = 1);
SET enable_seqscan = off;
SELECT id FROM ivf_err ORDER BY v <-> '[1,2]' LIMIT 1;
-- a NULL query orders nothing, but does not fail
SELECT id FROM ivf_err ORDER BY v <-> NULL LIMIT 1;
RESET enable_seqscan;

-- the check function needs an index that exists, and its owner
SELECT * FROM pgml.ivfflat_check('no_such_index');
CREATE ROLE regress_ivf_user;
GRANT USAGE ON SCHEMA pgml TO regress_ivf_user;
SET ROLE regress_ivf_user;
SELECT * FROM pgml.ivfflat_check('ivf_err_v');
RESET ROLE;
REVOKE USAGE ON SCHEMA pgml FROM regress_ivf_user;
DROP ROLE regress_ivf_user;

DROP TABLE ivf_err;
