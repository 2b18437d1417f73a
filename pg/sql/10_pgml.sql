-- pgml: the catalog, environment, array-vector and classic ML functions. The build concatenates sql/NN_*.sql, in name order, into pgml--<version>.sql.
\echo Use "CREATE EXTENSION pgml" to load this file. \quit

---------------------------------------------------------------------------------------------------------
-- Enum types (labels and order as PostgresML's)
---------------------------------------------------------------------------------------------------------

CREATE TYPE pgml.task AS ENUM (
	'regression', 'classification', 'decomposition', 'clustering', 'question_answering', 'summarization',
	'translation', 'text_classification', 'text_generation', 'text2text', 'embedding',
	'text_pair_classification', 'conversation'
);

CREATE TYPE pgml.algorithm AS ENUM (
	'linear', 'xgboost', 'xgboost_random_forest', 'svm', 'lasso', 'elastic_net', 'ridge', 'kmeans', 'dbscan',
	'knn', 'random_forest', 'least_angle', 'lasso_least_angle', 'orthogonal_matching_pursuit',
	'bayesian_ridge', 'automatic_relevance_determination', 'stochastic_gradient_descent', 'perceptron',
	'passive_aggressive', 'ransac', 'theil_sen', 'huber', 'quantile', 'kernel_ridge', 'gaussian_process',
	'nu_svm', 'ada_boost', 'bagging', 'extra_trees', 'gradient_boosting_trees', 'hist_gradient_boosting',
	'linear_svm', 'lightgbm', 'transformers', 'affinity_propagation', 'birch', 'feature_agglomeration',
	'mini_batch_kmeans', 'mean_shift', 'optics', 'spectral', 'spectral_bi', 'spectral_co', 'catboost', 'pca'
);

CREATE TYPE pgml.strategy AS ENUM ('new_score', 'best_score', 'most_recent', 'rollback', 'specific');
CREATE TYPE pgml.runtime AS ENUM ('python', 'rust', 'openai');
CREATE TYPE pgml.search AS ENUM ('grid', 'random');
CREATE TYPE pgml.sampling AS ENUM ('random', 'last', 'stratified');
CREATE TYPE pgml.status AS ENUM ('in_progress', 'successful', 'failed');

---------------------------------------------------------------------------------------------------------
-- updated_at bookkeeping
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.set_updated_at() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) THEN
		NEW.updated_at := clock_timestamp();
	END IF;
	RETURN NEW;
END;
$$;

CREATE FUNCTION pgml.auto_updated_at(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	name_parts TEXT[];
	name TEXT;
BEGIN
	name_parts := string_to_array(tbl::TEXT, '.');
	name := name_parts[array_upper(name_parts, 1)];
	EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name || '_auto_updated_at', tbl);
	EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION pgml.set_updated_at()',
				   name || '_auto_updated_at', tbl);
END;
$$;

---------------------------------------------------------------------------------------------------------
-- Catalog
---------------------------------------------------------------------------------------------------------

CREATE TABLE pgml.projects (
	id BIGSERIAL PRIMARY KEY,
	name TEXT NOT NULL,
	task pgml.task NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp()
);
SELECT pgml.auto_updated_at('pgml.projects');
CREATE UNIQUE INDEX projects_name_idx ON pgml.projects (name);

CREATE TABLE pgml.snapshots (
	id BIGSERIAL PRIMARY KEY,
	relation_name TEXT NOT NULL,
	y_column_name TEXT[],
	test_size FLOAT4 NOT NULL,
	test_sampling pgml.sampling NOT NULL,
	status TEXT NOT NULL,
	columns JSONB,
	analysis JSONB,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	materialized BOOLEAN DEFAULT false
);
SELECT pgml.auto_updated_at('pgml.snapshots');

CREATE TABLE pgml.models (
	id BIGSERIAL PRIMARY KEY,
	project_id BIGINT NOT NULL,
	snapshot_id BIGINT,
	num_features INT NOT NULL,
	algorithm TEXT NOT NULL,
	runtime pgml.runtime DEFAULT 'python'::pgml.runtime,
	hyperparams JSONB NOT NULL,
	status TEXT NOT NULL,
	metrics JSONB,
	search TEXT,
	search_params JSONB NOT NULL,
	search_args JSONB NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT project_id_fk FOREIGN KEY (project_id) REFERENCES pgml.projects (id) ON DELETE CASCADE,
	CONSTRAINT snapshot_id_fk FOREIGN KEY (snapshot_id) REFERENCES pgml.snapshots (id) ON DELETE SET NULL
);
CREATE INDEX models_project_id_idx ON pgml.models (project_id);
CREATE INDEX models_snapshot_id_idx ON pgml.models (snapshot_id);
SELECT pgml.auto_updated_at('pgml.models');

-- No updated_at here, so (unlike PostgresML) no updated_at trigger either.
CREATE TABLE pgml.deployments (
	id BIGSERIAL PRIMARY KEY,
	project_id BIGINT NOT NULL,
	model_id BIGINT NOT NULL,
	strategy pgml.strategy NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT project_id_fk FOREIGN KEY (project_id) REFERENCES pgml.projects (id) ON DELETE CASCADE,
	CONSTRAINT model_id_fk FOREIGN KEY (model_id) REFERENCES pgml.models (id) ON DELETE CASCADE
);
CREATE INDEX deployments_project_id_created_at_idx ON pgml.deployments (project_id);
CREATE INDEX deployments_model_id_created_at_idx ON pgml.deployments (model_id);

CREATE TABLE pgml.files (
	id BIGSERIAL PRIMARY KEY,
	model_id BIGINT NOT NULL,
	path TEXT NOT NULL,
	part INTEGER NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
	data BYTEA NOT NULL,
	CONSTRAINT model_id_fk FOREIGN KEY (model_id) REFERENCES pgml.models (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX files_model_id_path_part_idx ON pgml.files (model_id, path, part);
SELECT pgml.auto_updated_at('pgml.files');

-- Present on a fresh install (PostgresML creates it only in an upgrade script).
CREATE TABLE pgml.logs (
	id SERIAL PRIMARY KEY,
	model_id BIGINT,
	project_id BIGINT,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP,
	logs JSONB
);

CREATE VIEW pgml.overview AS
SELECT
	p.name,
	d.created_at AS deployed_at,
	p.task,
	m.algorithm,
	m.runtime,
	s.relation_name,
	s.y_column_name,
	s.test_sampling,
	s.test_size
FROM pgml.projects p
INNER JOIN pgml.models m ON p.id = m.project_id
INNER JOIN pgml.deployments d ON d.project_id = p.id AND d.model_id = m.id
INNER JOIN pgml.snapshots s ON s.id = m.snapshot_id
ORDER BY d.created_at DESC;

CREATE VIEW pgml.trained_models AS
SELECT
	m.id,
	p.name,
	p.task,
	m.algorithm,
	m.runtime,
	m.created_at,
	s.test_sampling,
	s.test_size,
	d.model_id IS NOT NULL AS deployed
FROM pgml.projects p
INNER JOIN pgml.models m ON p.id = m.project_id
INNER JOIN pgml.snapshots s ON s.id = m.snapshot_id
LEFT JOIN (
	SELECT DISTINCT ON (project_id) project_id, model_id, created_at
	FROM pgml.deployments
	ORDER BY project_id, created_at DESC
) d ON d.model_id = m.id
ORDER BY m.created_at DESC;

CREATE VIEW pgml.deployed_models AS
SELECT
	m.id,
	p.name,
	p.task,
	m.algorithm,
	m.runtime,
	d.created_at AS deployed_at
FROM pgml.projects p
INNER JOIN (
	SELECT DISTINCT ON (project_id) project_id, model_id, created_at
	FROM pgml.deployments
	ORDER BY project_id, created_at DESC
) d ON d.project_id = p.id
INNER JOIN pgml.models m ON m.id = d.model_id
ORDER BY p.name ASC;

-- Catalog rows are user data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('pgml.projects', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.files', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.logs', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.projects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.files_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.logs_id_seq', '');

---------------------------------------------------------------------------------------------------------
-- Environment
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.version() RETURNS TEXT
AS 'MODULE_PATHNAME', 'pgml_version_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.core_memory() RETURNS BIGINT
AS 'MODULE_PATHNAME', 'pgml_core_memory' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

---------------------------------------------------------------------------------------------------------
-- Vector functions on REAL[] and DOUBLE PRECISION[] (the return type follows the input)
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.add(vector REAL[], addend REAL) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_add_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.add(vector DOUBLE PRECISION[], addend DOUBLE PRECISION) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_add_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.add(vector REAL[], addend REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_add_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.add(vector DOUBLE PRECISION[], addend DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_add_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- "subtahend" (sic) for the scalar form, as PostgresML names it.
CREATE FUNCTION pgml.subtract(vector REAL[], subtahend REAL) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_subtract_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.subtract(vector DOUBLE PRECISION[], subtahend DOUBLE PRECISION) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_subtract_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.subtract(vector REAL[], subtrahend REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_subtract_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.subtract(vector DOUBLE PRECISION[], subtrahend DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_subtract_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.multiply(vector REAL[], multiplicand REAL) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_multiply_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.multiply(vector DOUBLE PRECISION[], multiplicand DOUBLE PRECISION) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_multiply_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.multiply(vector REAL[], multiplicand REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_multiply_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.multiply(vector DOUBLE PRECISION[], multiplicand DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_multiply_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- "dividend" is the divisor, as PostgresML names it.
CREATE FUNCTION pgml.divide(vector REAL[], dividend REAL) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_divide_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.divide(vector DOUBLE PRECISION[], dividend DOUBLE PRECISION) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_divide_scalar' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.divide(vector REAL[], dividend REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_divide_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.divide(vector DOUBLE PRECISION[], dividend DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_divide_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.norm_l0(vector REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l0' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_l0(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l0' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_l1(vector REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_l1(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_l2(vector REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_l2(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_norm_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_max(vector REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_norm_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.norm_max(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_norm_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.normalize_l1(vector REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.normalize_l1(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.normalize_l2(vector REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.normalize_l2(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.normalize_max(vector REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.normalize_max(vector DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_normalize_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.distance_l1(vector REAL[], other REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_distance_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.distance_l1(vector DOUBLE PRECISION[], other DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_distance_l1' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.distance_l2(vector REAL[], other REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_distance_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.distance_l2(vector DOUBLE PRECISION[], other DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_distance_l2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.dot_product(vector REAL[], other REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_dot_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.dot_product(vector DOUBLE PRECISION[], other DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_dot_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.cosine_similarity(vector REAL[], other REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_vec_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.cosine_similarity(vector DOUBLE PRECISION[], other DOUBLE PRECISION[]) RETURNS DOUBLE PRECISION
AS 'MODULE_PATHNAME', 'pgml_vec_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Elementwise aggregates. The state is an array of doubles (internal), serialized for parallel plans.
CREATE FUNCTION pgml._vec_agg_sum(internal, REAL[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_sum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_sum(internal, DOUBLE PRECISION[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_sum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_min(internal, REAL[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_min' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_min(internal, DOUBLE PRECISION[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_min' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_max(internal, REAL[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_max' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_max(internal, DOUBLE PRECISION[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_max' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_min_abs(internal, REAL[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_min_abs' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_min_abs(internal, DOUBLE PRECISION[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_min_abs' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_max_abs(internal, REAL[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_max_abs' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_max_abs(internal, DOUBLE PRECISION[]) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_max_abs' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_combine(internal, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_serialize(internal) RETURNS bytea
AS 'MODULE_PATHNAME', 'pgml_vec_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_deserialize(bytea, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'pgml_vec_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_final_real(internal) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_vec_agg_final_real' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pgml._vec_agg_final_double(internal) RETURNS DOUBLE PRECISION[]
AS 'MODULE_PATHNAME', 'pgml_vec_agg_final_double' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE pgml.sum(REAL[]) (
	SFUNC = pgml._vec_agg_sum, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_real,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.sum(DOUBLE PRECISION[]) (
	SFUNC = pgml._vec_agg_sum, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_double,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.min(REAL[]) (
	SFUNC = pgml._vec_agg_min, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_real,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.min(DOUBLE PRECISION[]) (
	SFUNC = pgml._vec_agg_min, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_double,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.max(REAL[]) (
	SFUNC = pgml._vec_agg_max, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_real,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.max(DOUBLE PRECISION[]) (
	SFUNC = pgml._vec_agg_max, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_double,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.min_abs(REAL[]) (
	SFUNC = pgml._vec_agg_min_abs, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_real,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.min_abs(DOUBLE PRECISION[]) (
	SFUNC = pgml._vec_agg_min_abs, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_double,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.max_abs(REAL[]) (
	SFUNC = pgml._vec_agg_max_abs, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_real,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.max_abs(DOUBLE PRECISION[]) (
	SFUNC = pgml._vec_agg_max_abs, STYPE = internal,
	COMBINEFUNC = pgml._vec_agg_combine,
	SERIALFUNC = pgml._vec_agg_serialize, DESERIALFUNC = pgml._vec_agg_deserialize,
	FINALFUNC = pgml._vec_agg_final_double,
	PARALLEL = SAFE
);

---------------------------------------------------------------------------------------------------------
-- Datasets
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.load_dataset(
	source TEXT,
	subset TEXT DEFAULT NULL,
	"limit" BIGINT DEFAULT NULL,
	kwargs JSONB DEFAULT '{}'
) RETURNS TABLE(table_name TEXT, rows BIGINT)
AS 'MODULE_PATHNAME', 'pgml_load_dataset' LANGUAGE C VOLATILE PARALLEL UNSAFE;

---------------------------------------------------------------------------------------------------------
-- Training, snapshots, deployment
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.train(
	project_name TEXT,
	task TEXT DEFAULT NULL,
	relation_name TEXT DEFAULT NULL,
	y_column_name TEXT DEFAULT NULL,
	algorithm pgml.algorithm DEFAULT 'linear',
	hyperparams JSONB DEFAULT '{}',
	search pgml.search DEFAULT NULL,
	search_params JSONB DEFAULT '{}',
	search_args JSONB DEFAULT '{}',
	test_size REAL DEFAULT 0.25,
	test_sampling pgml.sampling DEFAULT 'stratified',
	runtime pgml.runtime DEFAULT NULL,
	automatic_deploy BOOLEAN DEFAULT true,
	materialize_snapshot BOOLEAN DEFAULT false,
	preprocess JSONB DEFAULT '{}'
) RETURNS TABLE(project TEXT, task TEXT, algorithm TEXT, deployed BOOLEAN)
AS 'MODULE_PATHNAME', 'pgml_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION pgml.train_joint(
	project_name TEXT,
	task TEXT DEFAULT NULL,
	relation_name TEXT DEFAULT NULL,
	y_column_name TEXT[] DEFAULT NULL,
	algorithm pgml.algorithm DEFAULT 'linear',
	hyperparams JSONB DEFAULT '{}',
	search pgml.search DEFAULT NULL,
	search_params JSONB DEFAULT '{}',
	search_args JSONB DEFAULT '{}',
	test_size REAL DEFAULT 0.25,
	test_sampling pgml.sampling DEFAULT 'stratified',
	runtime pgml.runtime DEFAULT NULL,
	automatic_deploy BOOLEAN DEFAULT true,
	materialize_snapshot BOOLEAN DEFAULT false,
	preprocess JSONB DEFAULT '{}'
) RETURNS TABLE(project TEXT, task TEXT, algorithm TEXT, deployed BOOLEAN)
AS 'MODULE_PATHNAME', 'pgml_train_joint' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION pgml.snapshot(
	relation_name TEXT,
	y_column_name TEXT,
	test_size REAL DEFAULT 0.25,
	test_sampling pgml.sampling DEFAULT 'stratified',
	preprocess JSONB DEFAULT '{}'
) RETURNS TABLE(relation TEXT, y_column_name TEXT)
AS 'MODULE_PATHNAME', 'pgml_snapshot' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION pgml.deploy(model_id BIGINT)
RETURNS TABLE(project TEXT, strategy TEXT, algorithm TEXT)
AS 'MODULE_PATHNAME', 'pgml_deploy_model' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION pgml.deploy(project_name TEXT, strategy pgml.strategy, algorithm pgml.algorithm DEFAULT NULL)
RETURNS TABLE(project TEXT, strategy TEXT, algorithm TEXT)
AS 'MODULE_PATHNAME', 'pgml_deploy_strategy' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Any change to pgml.deployments makes every backend (and hot standby) reload deployments.
CREATE FUNCTION pgml._deployments_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'pgml_deployments_changed' LANGUAGE C;
CREATE TRIGGER deployments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgml.deployments
FOR EACH STATEMENT EXECUTE FUNCTION pgml._deployments_changed();

CREATE FUNCTION pgml.clear_model_cache() RETURNS BOOLEAN
AS 'MODULE_PATHNAME', 'pgml_clear_model_cache' LANGUAGE C VOLATILE PARALLEL UNSAFE;

---------------------------------------------------------------------------------------------------------
-- Inference (STABLE, not IMMUTABLE as in PostgresML: results follow the current deployment)
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.predict(project_name TEXT, features REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, features DOUBLE PRECISION[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, features SMALLINT[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, features INTEGER[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, features BIGINT[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, features BOOLEAN[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(project_name TEXT, "row" ANYELEMENT) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_row_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(model_id BIGINT, features REAL[]) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_model' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict(model_id BIGINT, "row" ANYELEMENT) RETURNS REAL
AS 'MODULE_PATHNAME', 'pgml_predict_row_model' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.predict_proba(project_name TEXT, features REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_predict_proba_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict_proba(model_id BIGINT, features REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_predict_proba_model' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict_joint(project_name TEXT, features REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_predict_joint_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict_joint(model_id BIGINT, features REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_predict_joint_model' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict_batch(project_name TEXT, features REAL[]) RETURNS SETOF REAL
AS 'MODULE_PATHNAME', 'pgml_predict_batch_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.predict_batch(model_id BIGINT, features REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_predict_batch_model' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.decompose(project_name TEXT, vector REAL[]) RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_decompose_project' LANGUAGE C STABLE STRICT PARALLEL SAFE;

---------------------------------------------------------------------------------------------------------
-- Backup: the catalog as CSV files on the server (superuser, or pg_write_server_files /
-- pg_read_server_files). Unlike PostgresML, load_all moves the id sequences past the loaded rows.
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.dump_all(path TEXT) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t TEXT;
BEGIN
	IF path IS NULL THEN
		RAISE EXCEPTION 'path must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	FOREACH t IN ARRAY ARRAY['projects', 'snapshots', 'models', 'files', 'deployments'] LOOP
		EXECUTE format('COPY pgml.%I TO %L WITH (FORMAT csv, HEADER)', t, path || '/' || t || '.csv');
	END LOOP;
END;
$$;

CREATE FUNCTION pgml.load_all(path TEXT) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t TEXT;
BEGIN
	IF path IS NULL THEN
		RAISE EXCEPTION 'path must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	FOREACH t IN ARRAY ARRAY['projects', 'snapshots', 'models', 'files', 'deployments'] LOOP
		EXECUTE format('COPY pgml.%I FROM %L WITH (FORMAT csv, HEADER)', t, path || '/' || t || '.csv');
		EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), greatest(coalesce(max(id), 0), 1), max(id) IS NOT NULL) FROM pgml.%I',
					   'pgml.' || t, t);
	END LOOP;
END;
$$;
