-- The extension installs into schema pgml with its whole catalog, without shared_preload_libraries.
CREATE EXTENSION pgml;
\set VERBOSITY default

SELECT extname, extversion, extrelocatable, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'pgml';

-- pgml.version(): '<version> (<git sha>)'
SELECT pgml.version() ~ '^\d+\.\d+\.\d+ \([0-9a-f]{7,40}|unknown\)$' AS version_ok;
SELECT split_part(pgml.version(), ' ', 1) = (SELECT extversion FROM pg_extension WHERE extname = 'pgml') AS version_matches;

-- enum types, labels in PostgresML's order
SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typnamespace = 'pgml'::regnamespace
GROUP BY t.typname ORDER BY t.typname;

-- tables and views, with their columns
SELECT c.relname, c.relkind,
       string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  ', ' ORDER BY a.attnum) AS columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'pgml'::regnamespace AND c.relkind IN ('r', 'v')
GROUP BY c.relname, c.relkind ORDER BY c.relname;

-- indexes
SELECT indexrelid::regclass AS index, indrelid::regclass AS "table", indisunique
FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgml'::regnamespace) ORDER BY 1::text;

-- foreign keys
SELECT conrelid::regclass AS "table", conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE contype = 'f' AND connamespace = 'pgml'::regnamespace ORDER BY 1::text, 2;

-- updated_at triggers (none on deployments, which has no updated_at column)
SELECT tgrelid::regclass AS "table", tgname FROM pg_trigger
WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgml'::regnamespace) ORDER BY 1::text;

-- the triggers keep updated_at current
INSERT INTO pgml.projects (name, task, created_at, updated_at)
VALUES ('trigger test', 'regression', '2000-01-01', '2000-01-01');
UPDATE pgml.projects SET task = 'classification' WHERE name = 'trigger test';
SELECT task, updated_at > '2000-01-02' AS touched, created_at = '2000-01-01' AS created_kept
FROM pgml.projects WHERE name = 'trigger test';
-- an explicit updated_at is kept
UPDATE pgml.projects SET task = 'clustering', updated_at = '2001-01-01' WHERE name = 'trigger test';
SELECT task, updated_at FROM pgml.projects WHERE name = 'trigger test';
-- project names are unique
INSERT INTO pgml.projects (name, task) VALUES ('trigger test', 'regression');
\echo :LAST_ERROR_SQLSTATE
-- an unknown task label is refused by the enum
INSERT INTO pgml.projects (name, task) VALUES ('bad task', 'telepathy');
\echo :LAST_ERROR_SQLSTATE
-- deleting a project cascades to models and deployments
INSERT INTO pgml.snapshots (relation_name, y_column_name, test_size, test_sampling, status)
VALUES ('public.t', '{y}', 0.25, 'stratified', 'successful');
INSERT INTO pgml.models (project_id, snapshot_id, num_features, algorithm, hyperparams, status, search_params, search_args)
SELECT id, (SELECT max(id) FROM pgml.snapshots), 3, 'linear', '{}', 'successful', '{}', '{}' FROM pgml.projects WHERE name = 'trigger test';
INSERT INTO pgml.deployments (project_id, model_id, strategy)
SELECT project_id, id, 'most_recent' FROM pgml.models;
INSERT INTO pgml.files (model_id, path, part, data) SELECT id, 'estimator.rmp', 0, '\x00' FROM pgml.models;
SELECT name, task::text, algorithm, runtime, relation_name, y_column_name, test_sampling, test_size FROM pgml.overview;
SELECT name, algorithm, deployed FROM pgml.trained_models;
SELECT name, algorithm FROM pgml.deployed_models;
DELETE FROM pgml.projects WHERE name = 'trigger test';
SELECT (SELECT count(*) FROM pgml.models) AS models, (SELECT count(*) FROM pgml.deployments) AS deployments,
       (SELECT count(*) FROM pgml.files) AS files;
DELETE FROM pgml.snapshots;

-- settings: pgml.threads is ours; PostgresML's Python settings are accepted; the prefix is reserved
SHOW pgml.threads;
SET pgml.threads = 2;
SHOW pgml.threads;
SET pgml.threads = -1;
\echo :LAST_ERROR_SQLSTATE
RESET pgml.threads;
SET pgml.venv = '/opt/venv';
SET pgml.no_such_setting = 1;
\echo :LAST_ERROR_SQLSTATE

-- libpgml's memory is accounted
SELECT pgml.core_memory() >= 0 AS core_memory_ok;

-- the extension's objects can be dropped and created again
DROP EXTENSION pgml;
CREATE EXTENSION pgml;
SELECT count(*) AS projects FROM pgml.projects;
