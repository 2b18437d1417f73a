-- Bad input to training and prediction: clear errors, nothing left behind, the backend intact.
\set VERBOSITY default
SELECT count(*) AS models_before FROM pgml.models \gset

SELECT * FROM pgml.train('No Task', relation_name => 'pgml.iris', y_column_name => 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Bad Task', 'telepathy', 'pgml.iris', 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Diabetes', 'classification', 'pgml.diabetes', 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'no_such_table', 'y');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.no_such_table', 'y');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'iris', 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'no_such_column');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris');
\echo :LAST_ERROR_SQLSTATE
-- (terse: the detail lists the available algorithms, which grows)
\set VERBOSITY terse
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', algorithm => 'dbscan');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimatorz": 5}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', algorithm => 'ridge', hyperparams => '{"alpha": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', test_size => 1.5e6);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', test_size => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'regression', 'pgml.iris', 'target', search => 'grid');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Nowhere', 'question-answering', 'pgml.iris', 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train(NULL, 'regression', 'pgml.iris', 'target');
\echo :LAST_ERROR_SQLSTATE

-- bad data
CREATE TABLE empty_t (x float4, y float4);
SELECT * FROM pgml.train('Empty', 'regression', 'empty_t', 'y');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE null_labels AS SELECT x::float4 AS x, CASE WHEN x = 3 THEN NULL ELSE x * 2 END::float4 AS y FROM generate_series(1, 20) x;
SELECT * FROM pgml.train('Nulls', 'regression', 'null_labels', 'y');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE one_class AS SELECT x::float4 AS x, 1 AS y FROM generate_series(1, 20) x;
SELECT * FROM pgml.train('One Class', 'classification', 'one_class', 'y');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE null_features AS SELECT CASE WHEN x = 5 THEN NULL ELSE x END::float4 AS x, x::float4 * 2 AS y FROM generate_series(1, 20) x;
SELECT * FROM pgml.train('Null Features', 'regression', 'null_features', 'y', test_sampling => 'last');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE text_labels AS SELECT x::float4 AS x, CASE WHEN x > 10 THEN 'big' ELSE 'small' END AS y FROM generate_series(1, 20) x;
SELECT * FROM pgml.train('Text Labels', 'regression', 'text_labels', 'y');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE odd_types AS SELECT x::float4 AS x, now() AS t, x::float4 AS y FROM generate_series(1, 20) x;
SELECT * FROM pgml.train('Odd Types', 'regression', 'odd_types', 'y');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE ragged AS SELECT ARRAY[x, x] AS a, x::float4 AS y FROM generate_series(1, 10) x
UNION ALL SELECT ARRAY[1, 2, 3], 1;
SELECT * FROM pgml.train('Ragged', 'regression', 'ragged', 'y', test_sampling => 'last');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) = :models_before AS nothing_left_behind FROM pgml.models;

-- prediction errors
SELECT pgml.predict('No Such Project', ARRAY[1, 2]::real[]);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pgml.projects (name, task) VALUES ('Undeployed', 'regression');
SELECT pgml.predict('Undeployed', ARRAY[1, 2]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', ARRAY[1, 2, 3]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', ARRAY['NaN', 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', ROW(1, 2));
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', ROW('a'::text, 0, 0, 0, 0, 0, 0, 0, 0, 0));
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', ROW('a', 0, 0, 0, 0, 0, 0, 0, 0, 0));
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Diabetes', 5);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict(999999, ARRAY[1]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict_proba('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict_joint('Breast Cancer', ARRAY[1]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict_batch('Diabetes', ARRAY[1, 2, 3]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.predict('Joint', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT pgml.decompose('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE
-- NULL features give NULL
SELECT pgml.predict('Diabetes', NULL::real[]) IS NULL AS null_in_null_out;

-- deployment errors
SELECT * FROM pgml.deploy('No Such Project', 'best_score');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.deploy('Diabetes', 'new_score');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.deploy('Diabetes', 'best_score', 'kmeans');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.deploy(999999);
\echo :LAST_ERROR_SQLSTATE
UPDATE pgml.models SET status = 'failed' WHERE id = 2;
SELECT * FROM pgml.deploy(2);
\echo :LAST_ERROR_SQLSTATE
UPDATE pgml.models SET status = 'successful' WHERE id = 2;

-- a damaged model file is reported, not loaded
UPDATE pgml.files SET data = overlay(data PLACING '\xffff'::bytea FROM 100) WHERE model_id = 3;
SELECT pgml.clear_model_cache();
SELECT pgml.predict(3, ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE
DELETE FROM pgml.files WHERE model_id = 3;
SELECT pgml.predict(3, ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]);
\echo :LAST_ERROR_SQLSTATE

-- privileges: a user who cannot read the relation cannot train on it
CREATE ROLE pgml_reader;
CREATE TABLE secret AS SELECT x::float4 AS x, x::float4 * 2 AS y FROM generate_series(1, 20) x;
GRANT USAGE, CREATE ON SCHEMA pgml TO pgml_reader;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgml TO pgml_reader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgml TO pgml_reader;
SET ROLE pgml_reader;
SELECT * FROM pgml.train('Secret', 'regression', 'secret', 'y');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the backend is intact
SELECT pgml.predict(1, ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]) IS NOT NULL AS still_works;
