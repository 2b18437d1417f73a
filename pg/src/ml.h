/*
 * ml.h — the classic machine-learning lifecycle in the extension: snapshots, training, deployment,
 * prediction. Shared between snapshot.c, train.c, models.c and predict.c.
 */
#ifndef PGML_ML_H
#define PGML_ML_H

#include "pgml_pg.h"

#include "utils/jsonb.h"

#include "pgml/learn.h"
#include "pgml/preprocess.h"

/* ---------------------------------------------------------------------------------------------------
 * Tasks (models.c)
 * ------------------------------------------------------------------------------------------------- */

/* A pgml.task label ("text_classification") from a user's spelling ("text-classification"); NULL if
 * unknown. */
extern const char *ml_task_label(const char *spelling);

/* The spelling pgml.train returns: labels with dashes ("text-classification"). palloc'd. */
extern char *ml_task_display(const char *label);

/* The libpgml task of a label; false for tasks pgml.train cannot train (the transformer tasks). */
extern bool ml_task_core(const char *label, pgml_task *out);


/* ---------------------------------------------------------------------------------------------------
 * Snapshots (snapshot.c)
 * ------------------------------------------------------------------------------------------------- */

typedef struct ml_column
{
	char	   *name;
	char	   *pg_type;		/* "float4", "text", "int2[]" */
	Oid			type;			/* the column's type */
	Oid			elemtype;		/* element type of an array column, else type */
	bool		is_array;
	bool		categorical;	/* text, varchar, bpchar (or arrays of them) */
	bool		label;
	bool		nullable;
	int			width;			/* values per row (array length), 1 for scalars */
	int			position;		/* 1-based ordinal position among the snapshot's columns */
	/* a text label: its distinct values, sorted; a row's label is the index of its value (0-based) */
	char	  **label_values;
	int			n_label_values;
	struct HTAB *label_codes;	/* while reading: value → provisional code */
} ml_column;

/* A snapshot read into memory: raw feature rows (see preprocess.h) and labels, train rows first. */
typedef struct ml_snapshot
{
	int64		id;
	char	   *relation;		/* schema-qualified and quoted, for SQL */
	char	   *relation_name;	/* as stored in pgml.snapshots (schema.table) */
	ml_column  *columns;		/* every column the snapshot uses, in ordinal order */
	int			n_columns;
	int			n_labels;
	char	  **label_names;
	pgml_preprocessor *pp;		/* feature columns only */
	float	   *raw;			/* n_rows × n_raw */
	float	   *y;				/* n_rows × n_labels (NULL when no label) */
	size_t		n_rows;
	size_t		n_train;
	size_t		n_test;
	json_t	   *columns_json;	/* the statistics recorded in pgml.snapshots.columns */
} ml_snapshot;

/*
 * Creates a snapshot of relation_name (label columns y_columns, may be empty) and reads it: validates
 * the relation and columns, inserts the pgml.snapshots row, samples and splits the rows, builds the
 * preprocessor (fit on the training rows) and the column statistics. With materialize, copies the
 * sampled rows into pgml.snapshot_<id>.
 */
extern ml_snapshot *ml_snapshot_create(const char *relation_name, char **y_columns, int n_y,
									   float test_size, const char *test_sampling, Jsonb *preprocess,
									   bool materialize);

/* Reads an existing snapshot again (a train call without relation_name reuses the project's last). */
extern ml_snapshot *ml_snapshot_load(int64 snapshot_id, Jsonb *preprocess);

/* ---------------------------------------------------------------------------------------------------
 * Models and deployments (models.c)
 * ------------------------------------------------------------------------------------------------- */

/* A model ready to predict, cached per backend by id (models are immutable). */
typedef struct ml_model
{
	int64		id;
	int64		project_id;
	pgml_task	task;
	pgml_model *model;
	pgml_preprocessor *pp;
	int			n_columns;		/* feature columns a row must have */
	bool	   *categorical;	/* per feature column */
	int		   *width;			/* per feature column */
	size_t		n_raw;
} ml_model;

/* Writes a trained model's files into pgml.files (the caller's SPI connection is open). */
extern void ml_model_store(int64 model_id, const pgml_preprocessor *pp, const pgml_model *model);

/* The model with this id, loaded from pgml.files on first use. Errors if it does not exist or did not
 * train successfully. */
extern ml_model *ml_model_get(int64 model_id);

/* The deployed model of a project (cached; a deploy anywhere invalidates the cache). Errors as
 * PostgresML when the project has none. */
extern int64 ml_deployed_model_id(const char *project_name);

/* Records a deployment and makes every backend see it (relcache invalidation of pgml.deployments). */
extern void ml_deploy_insert(int64 project_id, int64 model_id, const char *strategy);

/* Registers the cache invalidation callback (from _PG_init). */
extern void ml_register_callbacks(void);

/* ---------------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------------- */

/* Raise a libpgml error (see pgml_pg_raise) with a prefix context. */
#define ML_CHECK(expr, errp) pgml_pg_check((expr), (errp))

/* Free functions for pgml_pg_own. */
extern void ml_json_release(void *json);
extern void ml_model_release(void *model);
extern void ml_preprocessor_release(void *pp);

/* Scalar types a snapshot column can have, and their values as float (snapshot.c). */
extern bool ml_supported_type(Oid type, bool *categorical);
extern float ml_datum_to_float(Datum d, Oid type);
extern char *ml_value_text(Datum d, Oid type);

/* A jsonb value as a new jansson reference (NULL for SQL NULL). */
extern json_t *ml_jsonb_to_json(Jsonb *jb);

/* A jansson value as jsonb. */
extern Jsonb *ml_json_to_jsonb(const json_t *value);

#endif							/* PGML_ML_H */
