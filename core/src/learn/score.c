/*
 * score.c — scoring a fitted model with its task's metrics (what pgml.models.metrics records).
 */
#include "pgml/learn.h"

#include <math.h>
#include <string.h>

const char *
pgml_task_metric(pgml_task task, bool *higher_is_better)
{
	*higher_is_better = true;
	switch (task)
	{
		case PGML_TASK_REGRESSION:
			return "r2";
		case PGML_TASK_CLASSIFICATION:
			return "f1";
		case PGML_TASK_CLUSTERING:
			return "silhouette";
		case PGML_TASK_DECOMPOSITION:
			return "cumulative_explained_variance";
	}
	return "r2";
}


/*
 * The silhouette score is quadratic in the rows: above SILHOUETTE_MAX_ROWS it is computed on a fixed
 * random sample of that many rows (as sklearn's silhouette_score(sample_size=...)), the same sample for
 * the same data, so a million-row clustering is scored in a second rather than hours.
 */
#define SILHOUETTE_MAX_ROWS 10000

static pgml_status
silhouette_sampled(const float *x, size_t n, size_t d, const int *labels, double *out, pgml_err *err)
{
	size_t	   *idx;
	float	   *xs;
	int		   *ls;
	uint64_t	state = 0x5EED5EEDULL;
	pgml_status rc;

	if (n <= SILHOUETTE_MAX_ROWS)
		return pgml_metrics_silhouette(x, n, d, labels, out, err);
	idx = pgml_malloc(n * sizeof(size_t));
	xs = pgml_malloc((size_t) SILHOUETTE_MAX_ROWS * d * sizeof(float));
	ls = pgml_malloc((size_t) SILHOUETTE_MAX_ROWS * sizeof(int));
	if (idx == NULL || xs == NULL || ls == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory computing the silhouette score");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* partial Fisher-Yates: the first SILHOUETTE_MAX_ROWS entries become a uniform sample (splitmix64) */
	for (size_t i = 0; i < SILHOUETTE_MAX_ROWS; i++)
	{
		uint64_t	z = (state += 0x9E3779B97F4A7C15ULL);
		size_t		j;
		size_t		t;

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		j = i + (size_t) (z % (uint64_t) (n - i));
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
	for (size_t i = 0; i < SILHOUETTE_MAX_ROWS; i++)
	{
		memcpy(xs + i * d, x + idx[i] * d, d * sizeof(float));
		ls[i] = labels[idx[i]];
	}
	rc = pgml_metrics_silhouette(xs, SILHOUETTE_MAX_ROWS, d, ls, out, err);
done:
	pgml_free(idx);
	pgml_free(xs);
	pgml_free(ls);
	return rc;
}

static void
put(json_t *m, const char *key, double v)
{
	if (isfinite(v))
		json_object_set_new(m, key, json_real(v));
}

/* Sum over columns of the variance (times n) of an n × d row-major matrix. */
static double
total_variance(const float *a, size_t n, size_t d)
{
	double		total = 0;

	for (size_t j = 0; j < d; j++)
	{
		double		mean = 0,
					ss = 0;

		for (size_t i = 0; i < n; i++)
			mean += a[i * d + j];
		mean /= (double) n;
		for (size_t i = 0; i < n; i++)
		{
			double		v = a[i * d + j] - mean;

			ss += v * v;
		}
		total += ss;
	}
	return total;
}

/* Class indices of label values: the model's classes first, unseen labels after them. */
static int
to_indices(const pgml_model *model, const float *y, size_t n, int *idx, float *extra, int *n_extra)
{
	const float *classes = pgml_model_classes(model);
	int			k = (int) pgml_model_n_classes(model);

	for (size_t i = 0; i < n; i++)
	{
		int			c = -1;
		int			lo = 0,
					hi = k;

		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (classes[mid] < y[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < k && classes[lo] == y[i])
			c = lo;
		for (int j = 0; j < *n_extra && c < 0; j++)
			if (extra[j] == y[i])
				c = k + j;
		if (c < 0)
		{
			extra[*n_extra] = y[i];
			c = k + (*n_extra)++;
		}
		idx[i] = c;
	}
	return k + *n_extra;
}

pgml_status
pgml_model_score(const pgml_model *model, const pgml_data *data, json_t **out, pgml_err *err)
{
	pgml_task	task = pgml_model_task(model);
	size_t		n = data->n_rows;
	size_t		width = pgml_model_n_targets(model);
	json_t	   *m = json_object();
	float	   *pred = NULL;
	float	   *proba = NULL;
	int		   *truth = NULL;
	int		   *guess = NULL;
	float	   *extra = NULL;
	pgml_status rc = PGML_OK;

	*out = NULL;
	if (m == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if (n == 0)
	{
		*out = m;
		return PGML_OK;
	}
	pred = pgml_malloc(n * width * sizeof(float));
	if (pred == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if ((rc = pgml_model_predict(model, data->x, n, pred, err)) != PGML_OK)
		goto done;

	switch (task)
	{
		case PGML_TASK_REGRESSION:
			{
				pgml_regression_metrics r;

				if ((rc = pgml_metrics_regression(data->y, pred, n, width, &r, err)) != PGML_OK)
					goto done;
				put(m, "r2", r.r2);
				put(m, "mean_absolute_error", r.mean_absolute_error);
				put(m, "mean_squared_error", r.mean_squared_error);
				put(m, "explained_variance", r.explained_variance);
				break;
			}
		case PGML_TASK_CLASSIFICATION:
			{
				pgml_classification_metrics c;
				int			n_extra = 0;
				int			n_extra_pred = 0;
				int			n_classes;

				truth = pgml_malloc(n * sizeof(int));
				guess = pgml_malloc(n * sizeof(int));
				extra = pgml_malloc(n * sizeof(float));
				if (truth == NULL || guess == NULL || extra == NULL)
				{
					rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
					goto done;
				}
				n_classes = to_indices(model, data->y, n, truth, extra, &n_extra);
				/* predictions are always among the model's classes */
				to_indices(model, pred, n, guess, extra + n_extra, &n_extra_pred);
				if (pgml_model_n_classes(model) == 2 && n_classes == 2)
				{
					proba = pgml_malloc(n * 2 * sizeof(float));
					if (proba != NULL && pgml_model_predict_proba(model, data->x, n, proba, NULL) != PGML_OK)
					{
						pgml_free(proba);
						proba = NULL;
					}
				}
				if ((rc = pgml_metrics_classification(truth, guess, proba, n, n_classes, &c, err)) != PGML_OK)
					goto done;
				put(m, "f1", c.f1);
				put(m, "precision", c.precision);
				put(m, "recall", c.recall);
				put(m, "accuracy", c.accuracy);
				put(m, "mcc", c.mcc);
				put(m, "roc_auc", c.roc_auc);
				put(m, "log_loss", c.log_loss);
				break;
			}
		case PGML_TASK_CLUSTERING:
			{
				double		s;

				guess = pgml_malloc(n * sizeof(int));
				if (guess == NULL)
				{
					rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
					goto done;
				}
				for (size_t i = 0; i < n; i++)
					guess[i] = (int) pred[i];
				rc = silhouette_sampled(data->x, n, data->n_features, guess, &s, err);
				if (rc == PGML_OK)
					put(m, "silhouette", s);
				else if (rc == PGML_ERR_INVALID_ARGUMENT)
					rc = PGML_OK;	/* one cluster, or one per row: undefined, left out */
				break;
			}
		case PGML_TASK_DECOMPOSITION:
			{
				double		vx = total_variance(data->x, n, data->n_features);
				double		vz = total_variance(pred, n, width);

				put(m, "cumulative_explained_variance", vx > 0 ? vz / vx : NAN);
				break;
			}
	}

done:
	pgml_free(pred);
	pgml_free(proba);
	pgml_free(truth);
	pgml_free(guess);
	pgml_free(extra);
	if (rc != PGML_OK)
	{
		json_decref(m);
		return rc;
	}
	*out = m;
	return PGML_OK;
}
