-- Clustering, decomposition, hyperparameter search, preprocessing, and deployments seen by other sessions.
\set VERBOSITY default
SET client_min_messages = warning;

-- clustering: kmeans (the default for clustering) on iris
SELECT * FROM pgml.train('Iris Clusters', 'clustering', 'pgml.iris', hyperparams => '{"n_clusters": 3, "random_state": 0}');
SELECT algorithm, (metrics->>'silhouette')::float8 BETWEEN 0.3 AND 1 AS silhouette_ok FROM pgml.models
WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Iris Clusters');
SELECT count(DISTINCT pgml.predict('Iris Clusters', ARRAY[sepal_length, sepal_width, petal_length, petal_width, target])) AS clusters
FROM pgml.iris;

-- decomposition: pca (the default) to 2 components
SELECT * FROM pgml.train('Iris PCA', 'decomposition', 'pgml.iris', hyperparams => '{"n_components": 2}');
SELECT algorithm, (metrics->>'cumulative_explained_variance')::float8 BETWEEN 0.9 AND 1 AS explains_most FROM pgml.models
WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Iris PCA');
SELECT array_length(pgml.decompose('Iris PCA', ARRAY[5.1, 3.5, 1.4, 0.2, 0]::real[]), 1) AS components;

-- grid search with cross-validation: the best alpha is retrained and recorded
SELECT * FROM pgml.train('Diabetes Search', 'regression', 'pgml.diabetes', 'target', algorithm => 'ridge',
                         search => 'grid', search_params => '{"alpha": [0.01, 1.0, 100.0]}', search_args => '{"cv": 3}',
                         test_sampling => 'last');
SELECT search, search_params, search_args, hyperparams,
       jsonb_array_length(metrics->'search_results'->'params') AS candidates,
       (metrics->'search_results'->>'n_splits')::int AS n_splits,
       (metrics->'search_results'->>'best_index')::int AS best_index,
       metrics->'search_results' ? 'split2_test_score' AS has_splits
FROM pgml.models WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Diabetes Search');
SELECT * FROM pgml.train('Diabetes Search', algorithm => 'ridge', search => 'random',
                         search_params => '{"alpha": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [true, false]}',
                         search_args => '{"n_iter": 3, "cv": 2}');
SELECT jsonb_array_length(metrics->'search_results'->'params') AS candidates FROM pgml.models
WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Diabetes Search') ORDER BY id DESC LIMIT 1;
SELECT * FROM pgml.train('Diabetes Search', algorithm => 'ridge', hyperparams => '{"alpha": 1}', search => 'grid',
                         search_params => '{"alpha": [1, 2]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Diabetes Search', algorithm => 'ridge', search => 'grid',
                         search_params => '{"alpha": [1, 2]}', search_args => '{"folds": 3}');
\echo :LAST_ERROR_SQLSTATE

-- preprocessing: text categories, missing values, scaling
CREATE TABLE pets (kind TEXT, color VARCHAR(10), weight FLOAT4, age INT4, cute BOOLEAN);
INSERT INTO pets
SELECT (ARRAY['cat', 'dog', 'bird'])[1 + i % 3], (ARRAY['black', 'white'])[1 + i % 2],
       CASE WHEN i % 11 = 0 THEN NULL ELSE (1 + i % 3) * 5 + (i % 7) END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE i % 15 END,
       (i % 3 <> 1)
FROM generate_series(1, 300) i;
-- missing values are an error unless imputed
SELECT * FROM pgml.train('Pets', 'classification', 'pets', 'cute', test_sampling => 'last');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Pets', 'classification', 'pets', 'cute', algorithm => 'xgboost', test_sampling => 'last',
                         hyperparams => '{"n_estimators": 10}',
                         preprocess => '{"weight": {"impute": "mean", "scale": "standard"},
                                         "age": {"impute": "median", "scale": "min_max"},
                                         "kind": {"encode": "one_hot"}}');
SELECT num_features, (metrics->>'accuracy')::float8 > 0.95 AS accurate FROM pgml.models
WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Pets');
-- rows with text values predict through the stored categories; NULLs are imputed
SELECT kind, pgml.predict('Pets', (kind, color, weight, age)) AS cute
FROM (VALUES ('cat'::text, 'black'::varchar(10), 10::float4, 3), ('dog', 'white', NULL, NULL), ('bird', 'black', 12, 7)) v(kind, color, weight, age);
-- an unknown category is imputed like a missing value only when the column imputes
SELECT pgml.predict('Pets', ('fish'::text, 'black'::varchar(10), 10::float4, 3));
\echo :LAST_ERROR_SQLSTATE
-- the snapshot records the preprocessing and the categories
SELECT c->>'name' AS name, c->'preprocessor'->>'encode' AS encode, c->'preprocessor'->>'impute' AS impute,
       c->'preprocessor'->>'scale' AS scale, jsonb_typeof(c->'statistics'->'categories') AS categories
FROM pgml.snapshots s, jsonb_array_elements(s.columns) c
WHERE s.id = (SELECT max(snapshot_id) FROM pgml.models WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Pets'))
ORDER BY (c->>'position')::int;
-- preprocess errors
SELECT * FROM pgml.train('Pets 2', 'classification', 'pets', 'cute', preprocess => '{"nope": {"impute": "mean"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Pets 2', 'classification', 'pets', 'cute', preprocess => '{"weight": {"impute": "average"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Pets 2', 'classification', 'pets', 'cute', preprocess => '{"weight": {"colour": "red"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.train('Pets 2', 'classification', 'pets', 'cute', preprocess => '{"cute": {"impute": "mean"}}');
\echo :LAST_ERROR_SQLSTATE

-- text labels: each distinct value is a class, coded by its rank in byte order; predict returns the code
CREATE TABLE flowers_text AS
SELECT sepal_length, sepal_width, petal_length, petal_width,
       (ARRAY['setosa', 'versicolor', 'virginica'])[target + 1]::varchar AS species
FROM pgml.iris;
SELECT project, task, algorithm FROM pgml.train('Text Species', 'classification', 'flowers_text', 'species',
                                                algorithm => 'linear', hyperparams => '{"max_iter": 1000}');
SELECT jsonb_object_keys(c->'categories') AS species, c->'categories'->jsonb_object_keys(c->'categories')->'value' AS code
FROM pgml.snapshots s, jsonb_array_elements(s.columns) c
WHERE s.relation_name = 'public.flowers_text' AND (c->>'label')::bool ORDER BY 1;
SELECT (ARRAY['setosa', 'versicolor', 'virginica'])[pgml.predict('Text Species', ARRAY[5.1, 3.5, 1.4, 0.2]::real[])::int + 1] AS setosa,
       (ARRAY['setosa', 'versicolor', 'virginica'])[pgml.predict('Text Species', ARRAY[6.7, 3.0, 5.2, 2.3]::real[])::int + 1] AS virginica;
SELECT (metrics->>'f1')::float > 0.8 AS text_labels_learn FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
WHERE p.name = 'Text Species';
CREATE TABLE char_labels AS SELECT x::float4 AS x, CASE WHEN x > 10 THEN 'big' ELSE 'small' END::char(8) AS y
FROM generate_series(1, 40) x;
SELECT project, task FROM pgml.train('Char Labels', 'classification', 'char_labels', 'y', algorithm => 'xgboost');
SELECT pgml.predict('Char Labels', ARRAY[3]) AS small_is_1, pgml.predict('Char Labels', ARRAY[33]) AS big_is_0;

-- a deploy in one session is seen by another session's next prediction
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s user=%s', current_setting('unix_socket_directories'),
                                      current_setting('port'), current_database(), current_user));
SELECT * FROM pgml.deploy('Diabetes', 'best_score', 'linear');
SELECT round(p::numeric, 2) AS other_session_linear FROM dblink('other',
    'SELECT pgml.predict(''Diabetes'', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[])') AS t(p real);
SELECT * FROM pgml.deploy('Diabetes', 'best_score', 'ridge');
SELECT round(p::numeric, 2) AS other_session_ridge FROM dblink('other',
    'SELECT pgml.predict(''Diabetes'', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[])') AS t(p real);
SELECT round(pgml.predict(2, ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[])::numeric, 2) AS ridge_here;
SELECT dblink_disconnect('other');
RESET client_min_messages;
