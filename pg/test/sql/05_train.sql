-- Training, deployment and prediction: the classic machine-learning lifecycle.
\set VERBOSITY default
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.load_dataset('breast_cancer');
SELECT * FROM pgml.load_dataset('digits');
SELECT * FROM pgml.load_dataset('iris');
RESET client_min_messages;

-- Ordinary least squares on diabetes, the last quarter as the test set (deterministic). Expected values
-- from scikit-learn 1.2 LinearRegression on the same split: r2 0.557556, mae 40.9632, mse 2732.39, and
-- 203.384 for the first row.
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target', test_sampling => 'last');
SELECT id, algorithm, runtime, status, num_features, search, hyperparams FROM pgml.models ORDER BY id;
SELECT abs((metrics->>'r2')::float8 - 0.5575558) < 1e-4 AS r2_matches_sklearn,
       abs((metrics->>'mean_absolute_error')::float8 - 40.963184) < 1e-2 AS mae_matches,
       abs((metrics->>'mean_squared_error')::float8 - 2732.3882) < 1 AS mse_matches,
       metrics ? 'fit_time' AND metrics ? 'score_time' AS timed
FROM pgml.models WHERE id = 1;
SELECT abs(pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) - 203.38434) < 1e-2 AS first_row
FROM pgml.diabetes LIMIT 1;
-- every array overload, and by model id
SELECT pgml.predict('Diabetes', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::float8[]) =
       pgml.predict('Diabetes', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[]) AS double_same,
       pgml.predict('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::int2[]) =
       pgml.predict('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::int8[]) AS ints_same,
       pgml.predict('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::int4[]) =
       pgml.predict('Diabetes', ARRAY[false, false, false, false, false, false, false, false, false, false]) AS bools_same,
       pgml.predict(1, ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]) =
       pgml.predict('Diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]) AS by_id_same;
-- a row instead of an array
SELECT pgml.predict('Diabetes', (age, sex, bmi, bp, s1, s2, s3, s4, s5, s6)) =
       pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) AS row_same
FROM pgml.diabetes LIMIT 3;
-- predict_batch: many rows at once, same answers
WITH b AS (SELECT pgml.predict_batch('Diabetes', array_agg(ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])) AS p
           FROM (SELECT * FROM pgml.diabetes LIMIT 5) d)
SELECT count(*) AS rows FROM b;
SELECT pgml.predict_batch(1, (SELECT array_agg(ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) FROM (SELECT * FROM pgml.diabetes LIMIT 3) d)) =
       ARRAY(SELECT pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) FROM (SELECT * FROM pgml.diabetes LIMIT 3) d)
       AS batch_same;

-- a second algorithm: ridge (sklearn: r2 0.499512, first row 184.75253); the better model stays deployed
SELECT * FROM pgml.train('Diabetes', algorithm => 'ridge', hyperparams => '{"alpha": 0.5}');
SELECT abs((metrics->>'r2')::float8 - 0.4995116) < 1e-4 AS ridge_r2_matches_sklearn FROM pgml.models WHERE id = 2;
SELECT model_id, strategy FROM pgml.deployments ORDER BY id;
-- deployment strategies
SELECT * FROM pgml.deploy('Diabetes', 'most_recent');
SELECT abs(pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) - 184.75253) < 1e-2 AS ridge_deployed
FROM pgml.diabetes LIMIT 1;
SELECT * FROM pgml.deploy('Diabetes', 'rollback');
SELECT * FROM pgml.deploy('Diabetes', 'best_score');
SELECT * FROM pgml.deploy('Diabetes', 'best_score', 'ridge');
SELECT * FROM pgml.deploy(1);
SELECT model_id, strategy FROM pgml.deployments ORDER BY id;
SELECT name, algorithm FROM pgml.deployed_models;
SELECT id, name, algorithm, deployed FROM pgml.trained_models ORDER BY id;

-- xgboost on the same project, reusing its snapshot
SELECT * FROM pgml.train('Diabetes', algorithm => 'xgboost', hyperparams => '{"n_estimators": 20, "max_depth": 3}');
SELECT snapshot_id, algorithm, (metrics->>'r2')::float8 > 0.3 AS fits FROM pgml.models WHERE id = 3;
SELECT count(*) AS snapshots FROM pgml.snapshots;

-- binary classification on breast_cancer (boolean label)
SELECT * FROM pgml.train('Breast Cancer', 'classification', 'pgml.breast_cancer', 'malignant',
                         algorithm => 'xgboost', hyperparams => '{"n_estimators": 25}', test_sampling => 'last');
SELECT (metrics->>'accuracy')::float8 > 0.9 AS accurate, (metrics->>'f1')::float8 > 0.9 AS f1_ok,
       metrics ?& ARRAY['f1', 'precision', 'recall', 'accuracy', 'mcc', 'roc_auc', 'log_loss'] AS all_metrics
FROM pgml.models WHERE algorithm = 'xgboost' AND project_id = (SELECT id FROM pgml.projects WHERE name = 'Breast Cancer');
SELECT malignant, pgml.predict('Breast Cancer', t) AS predicted
FROM (SELECT * FROM pgml.breast_cancer LIMIT 4) t0,
     LATERAL (SELECT ARRAY["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
                           "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
                           "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error",
                           "smoothness error", "compactness error", "concavity error", "concave points error",
                           "symmetry error", "fractal dimension error", "worst radius", "worst texture",
                           "worst perimeter", "worst area", "worst smoothness", "worst compactness",
                           "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"] AS t) f;
SELECT array_length(p, 1) AS classes, abs(p[1] + p[2] - 1) < 1e-5 AS sums_to_one
FROM (SELECT pgml.predict_proba('Breast Cancer', ARRAY["mean radius", "mean texture", "mean perimeter", "mean area",
      "mean smoothness", "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
      "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error", "smoothness error",
      "compactness error", "concavity error", "concave points error", "symmetry error", "fractal dimension error",
      "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness", "worst compactness",
      "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"]) AS p
      FROM pgml.breast_cancer LIMIT 1) t;

-- multi-class on digits: the 8×8 image array becomes 64 features
SELECT * FROM pgml.train('Digits', 'classification', 'pgml.digits', 'target', algorithm => 'xgboost',
                         hyperparams => '{"n_estimators": 10, "max_depth": 4}', test_size => 0.2);
SELECT num_features, (metrics->>'accuracy')::float8 > 0.85 AS accurate FROM pgml.models
WHERE project_id = (SELECT id FROM pgml.projects WHERE name = 'Digits');
SELECT avg((pgml.predict('Digits', image) = target)::int) > 0.85 AS accurate FROM pgml.digits;
SELECT array_length(pgml.predict_proba('Digits', image), 1) FROM pgml.digits LIMIT 1;

-- logistic regression, labels that are not 0..k-1
CREATE TABLE flowers AS SELECT sepal_length, sepal_width, petal_length, petal_width, (target * 10 + 5)::int AS species FROM pgml.iris;
SELECT * FROM pgml.train('Flowers', 'classification', 'flowers', 'species', hyperparams => '{"max_iter": 1000}');
SELECT DISTINCT pgml.predict('Flowers', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS label FROM flowers ORDER BY 1;
SELECT avg((pgml.predict('Flowers', (sepal_length, sepal_width, petal_length, petal_width)) = species)::int) > 0.9 AS accurate
FROM flowers;

-- multi-target regression: train_joint and predict_joint
CREATE TABLE two_targets AS SELECT age, sex, bmi, bp, s1, s2, s3, s4, s5, s6, target, target * 2 + 1 AS target2 FROM pgml.diabetes;
SELECT * FROM pgml.train_joint('Joint', 'regression', 'two_targets', ARRAY['target', 'target2'], test_sampling => 'last');
SELECT array_length(p, 1) AS outputs, abs(p[2] - (2 * p[1] + 1)) < 1e-2 AS consistent
FROM (SELECT pgml.predict_joint('Joint', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) AS p FROM two_targets LIMIT 1) t;

-- a materialized snapshot
SELECT * FROM pgml.snapshot('pgml.iris', 'target');
SELECT relation_name, y_column_name, materialized, status,
       jsonb_array_length(columns) AS columns, columns->0->>'name' AS first, columns->4->>'label' AS target_is_label
FROM pgml.snapshots ORDER BY id DESC LIMIT 1;
SELECT count(*) FROM pgml.snapshot_6;
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', materialize_snapshot => true);
SELECT materialized FROM pgml.snapshots ORDER BY id DESC LIMIT 1;

-- the statistics recorded for a column
SELECT c->>'name' AS name, c->>'pg_type' AS pg_type, (c->'statistics'->>'min')::float4 AS min,
       (c->'statistics'->>'max')::float4 AS max, c->'preprocessor' AS preprocessor
FROM pgml.snapshots, jsonb_array_elements(columns) c WHERE id = 1 AND c->>'name' IN ('age', 'target');

-- logs
SELECT count(*) > 0 AS logged FROM pgml.logs;
