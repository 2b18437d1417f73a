/*
 * learn.h — classic machine learning: data, algorithms, models, metrics.
 *
 * Layers, bottom up:
 *
 *   pgml_data        a dense row-major float matrix X (n_rows × n_features) with labels y, as a view.
 *   pgml_algorithm   one algorithm (linear, ridge, xgboost, kmeans, ...): a table of functions that fit
 *                    on pgml_data, predict, and save/load their fitted state. Algorithms see classes as
 *                    indices 0..n_classes-1 and never deal with label values, preprocessing or files.
 *   pgml_model       a fitted algorithm with everything needed to predict on its own: task, feature
 *                    count, the class label values, and the versioned binary format stored in pgml.files.
 *   metrics          regression, classification, clustering and decomposition scores.
 *
 * Hyperparameters are JSON objects with the names of the scikit-learn / XGBoost / LightGBM class each
 * algorithm stands for; unknown names are an error listing the valid ones.
 */
#ifndef PGML_LEARN_H
#define PGML_LEARN_H

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/pgml.h"
#include "pgml/pool.h"

typedef enum pgml_task
{
	PGML_TASK_REGRESSION = 0,
	PGML_TASK_CLASSIFICATION,
	PGML_TASK_CLUSTERING,
	PGML_TASK_DECOMPOSITION,
} pgml_task;

#define PGML_TASK_BIT(t) (1u << (t))

const char *pgml_task_name(pgml_task task);	/* "regression", ... */

/* ---------------------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------------------- */

/*
 * A data set view. x is row-major, n_rows × n_features, finite (preprocessing has imputed missing
 * values). y depends on the task:
 *   regression      n_rows × n_targets values (row-major)
 *   classification  n_rows class indices 0..n_classes-1, stored as floats; n_targets = 1
 *   clustering, decomposition: NULL, n_targets = 0
 */
typedef struct pgml_data
{
	const float *x;
	const float *y;
	size_t		n_rows;
	size_t		n_features;
	size_t		n_targets;
} pgml_data;

/* ---------------------------------------------------------------------------------------------------
 * Algorithms
 * ------------------------------------------------------------------------------------------------- */

/* Everything a fit needs besides the data. */
typedef struct pgml_fit_args
{
	pgml_task	task;
	const json_t *hyperparams;	/* an object (never NULL); keys already checked against the algorithm's list */
	int			n_classes;		/* classification: >= 2 */
	uint64_t	seed;			/* for algorithms with randomness (random_state overrides it) */
	pgml_pool  *pool;			/* worker threads, or NULL */
} pgml_fit_args;

/*
 * The output of predict, per row:
 *   regression      n_targets values
 *   classification  n_classes scores: probabilities when has_proba, else decision scores whose argmax
 *                   is the predicted class
 *   clustering      1 value: the cluster index
 *   decomposition   n_components values (the transformed vector)
 */
typedef struct pgml_algorithm
{
	const char *name;			/* the pgml.algorithm label: "linear", "xgboost", ... */
	unsigned	tasks;			/* PGML_TASK_BIT of each supported task */
	const char *const *params_regression;	/* accepted hyperparameters, NULL-terminated */
	const char *const *params_classification;
	const char *const *params_other;	/* clustering and decomposition */
	bool		multi_target;	/* fits n_targets > 1 natively (others are fit once per target) */
	bool		has_proba;		/* classification scores are calibrated probabilities */

	pgml_status (*fit) (const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err);
	/* Number of values predict writes per row. */
	size_t		(*n_outputs) (const void *state);
	pgml_status (*predict) (const void *state, const float *x, size_t n_rows, size_t n_features,
							float *out, pgml_err *err);
	/* The hyperparameters the fit actually used, defaults included (stored in pgml.models). May be NULL. */
	json_t	   *(*params) (const void *state);
	void		(*save) (const void *state, pgml_buf *out);
	pgml_status (*load) (pgml_reader *in, void **state, pgml_err *err);
	void		(*free) (void *state);
} pgml_algorithm;

/* The algorithm called `name`, or NULL. */
const pgml_algorithm *pgml_algorithm_find(const char *name);

/* The algorithm called `name` if it supports `task`; else PGML_ERR_NOT_SUPPORTED with a message listing
 * the algorithms available for the task. */
pgml_status pgml_algorithm_lookup(const char *name, pgml_task task, const pgml_algorithm **out, pgml_err *err);

/* All registered algorithms, NULL-terminated (for messages and docs). */
const pgml_algorithm *const *pgml_algorithms(void);

/* ---------------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------------- */

#define PGML_MODEL_MAGIC "PGMLMODL"
#define PGML_MODEL_FORMAT 1

typedef struct pgml_model pgml_model;

/*
 * Fits `algorithm` for `task`. For classification, y holds label values (any floats): the model maps
 * the distinct values (sorted) to class indices and predict returns the values. Errors: an unknown
 * algorithm or one that does not support the task (PGML_ERR_NOT_SUPPORTED, listing the ones that do),
 * an unknown hyperparameter, a single class, too few rows.
 */
pgml_status pgml_model_fit(const char *algorithm, pgml_task task, const json_t *hyperparams,
						   const pgml_data *train, uint64_t seed, pgml_pool *pool,
						   pgml_model **out, pgml_err *err);
void		pgml_model_free(pgml_model *model);

pgml_task	pgml_model_task(const pgml_model *model);
const char *pgml_model_algorithm(const pgml_model *model);
size_t		pgml_model_n_features(const pgml_model *model);
size_t		pgml_model_n_targets(const pgml_model *model);	/* values per row of pgml_model_predict */
size_t		pgml_model_n_classes(const pgml_model *model);	/* 0 unless classification */
const float *pgml_model_classes(const pgml_model *model);	/* the label value of each class */
json_t	   *pgml_model_params(const pgml_model *model);	/* new reference, or NULL */

/*
 * Predicts n_rows rows of x (n_rows × n_features). out receives n_rows × pgml_model_n_targets values:
 * regression targets, the class label value, the cluster index, or the decomposed vector.
 */
pgml_status pgml_model_predict(const pgml_model *model, const float *x, size_t n_rows, float *out,
							   pgml_err *err);

/* Classification only: n_rows × n_classes probabilities (rows sum to 1). */
pgml_status pgml_model_predict_proba(const pgml_model *model, const float *x, size_t n_rows, float *out,
									 pgml_err *err);

/* The versioned binary form, for pgml.files. */
pgml_status pgml_model_save(const pgml_model *model, pgml_buf *out, pgml_err *err);
pgml_status pgml_model_load(const void *data, size_t len, pgml_model **out, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------------------------------------- */

typedef struct pgml_regression_metrics
{
	double		r2;
	double		mean_squared_error;
	double		mean_absolute_error;
	double		explained_variance;
} pgml_regression_metrics;

/* y_true and y_pred are n × n_targets; multi-target scores are averaged over targets (sklearn's
 * "uniform_average"). */
pgml_status pgml_metrics_regression(const float *y_true, const float *y_pred, size_t n, size_t n_targets,
									pgml_regression_metrics *out, pgml_err *err);

typedef struct pgml_classification_metrics
{
	double		f1;				/* binary: of class 1; multiclass: macro average */
	double		precision;		/* likewise */
	double		recall;			/* likewise */
	double		accuracy;
	double		mcc;			/* Matthews correlation (multiclass generalisation) */
	double		roc_auc;		/* binary only, else NAN */
	double		log_loss;		/* binary only, else NAN */
} pgml_classification_metrics;

/*
 * y_true and y_pred are class indices (0..n_classes-1). proba (n × n_classes, may be NULL) gives
 * roc_auc and log_loss for binary problems.
 */
pgml_status pgml_metrics_classification(const int *y_true, const int *y_pred, const float *proba, size_t n,
										int n_classes, pgml_classification_metrics *out, pgml_err *err);

/* The default metric of a task (what deployment and search compare) and whether higher is better. */
const char *pgml_task_metric(pgml_task task, bool *higher_is_better);

/*
 * Scores a fitted model on data with the metrics PostgresML records for its task: regression r2,
 * mean_absolute_error, mean_squared_error, explained_variance; classification f1, precision, recall,
 * accuracy, mcc, and for binary problems roc_auc and log_loss; clustering silhouette; decomposition
 * cumulative_explained_variance (the share of the data's variance the components keep). Labels unseen
 * by the model count as classes it never predicts. Undefined metrics are left out. *out is a new object.
 */
pgml_status pgml_model_score(const pgml_model *model, const pgml_data *data, json_t **out, pgml_err *err);

/*
 * Hyperparameter search (PostgresML's search/search_params/search_args). Every combination of
 * search_params values (grid) or n_iter of them drawn without replacement (random) is fit on k folds of
 * train (fold k tests on the contiguous k-th slice; cv 1 fits on train and tests on test) and scored
 * with the task's default metric, always maximised. hyperparams are fixed values shared by every fit;
 * a key in both is an error. search_args accepts n_iter (default 10) and cv (default 5).
 *
 * *best receives the winning hyperparameters (hyperparams merged with the best combination) and
 * *results the scikit-learn cv_results_-style summary {params, n_splits, best_index, mean_fit_time,
 * std_fit_time, mean_score_time, std_score_time, mean_test_score, std_test_score, split<k>_test_score,
 * param_<name>}. Progress is logged (NOTICE) per fit.
 */
pgml_status pgml_search(const char *algorithm, pgml_task task, const json_t *hyperparams,
						const json_t *search_params, const char *kind, const json_t *search_args,
						const pgml_data *train, const pgml_data *test, uint64_t seed, pgml_pool *pool,
						json_t **best, json_t **results, pgml_err *err);

/* Mean silhouette coefficient of a clustering (Euclidean), as sklearn.metrics.silhouette_score. */
pgml_status pgml_metrics_silhouette(const float *x, size_t n, size_t n_features, const int *labels,
									double *out, pgml_err *err);

#endif							/* PGML_LEARN_H */
