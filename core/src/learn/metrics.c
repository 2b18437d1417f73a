/*
 * metrics.c — regression, classification and clustering scores, as scikit-learn 1.2 computes them.
 *
 * Each score follows the sklearn function of the same name with its default arguments: r2_score,
 * mean_squared_error, mean_absolute_error and explained_variance_score with multioutput="uniform_average"
 * and force_finite=True; precision/recall/f1 with average="binary" (pos_label=1) for two classes and
 * "macro" otherwise, zero_division="warn" (an undefined ratio is 0); matthews_corrcoef; roc_auc_score and
 * log_loss for binary problems; silhouette_score with the Euclidean metric.
 *
 * Inputs are float; every sum is accumulated in double.
 */
#include "pgml/learn.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fails with a "not finite" error when any of a[0..n) is NaN or infinite. */
static pgml_status
check_finite(const float *a, size_t n, const char *what, pgml_err *err)
{
	for (size_t i = 0; i < n; i++)
	{
		if (!isfinite(a[i]))
		{
			pgml_error(err, PGML_ERR_DATA, "%s contains %s", what,
					   isnan(a[i]) ? "NaN" : "infinity");
			pgml_err_detail(err, "Value %zu of %s is not a finite number.", i + 1, what);
			return PGML_ERR_DATA;
		}
	}
	return PGML_OK;
}

/* The "no samples" error shared by the three entry points. */
static pgml_status
no_samples_error(pgml_err *err, const char *what)
{
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot compute %s metrics of zero samples", what);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* ---------------------------------------------------------------------------------------------------
 * Regression
 * ------------------------------------------------------------------------------------------------- */

/*
 * 1 - num/den with sklearn's force_finite rule: when den is 0 (constant y_true) the score is 1 if num is
 * 0 too (perfect) and 0 otherwise; num == 0 alone also gives 1.
 */
static double
assemble_score(double num, double den)
{
	if (num == 0.0)
		return 1.0;
	if (den == 0.0)
		return 0.0;
	return 1.0 - num / den;
}

/*
 * Scores of one target column t of n × n_targets arrays: adds its r2, mse, mae and explained variance
 * to *sum.
 *
 * The variance of a column whose values are all equal is taken as exactly 0. For y_true that is what the
 * arithmetic gives anyway (the double mean of equal floats is exact), but residuals y_true - y_pred are
 * doubles that may use all 53 bits, and then the computed mean of equal residuals can be off by an ulp:
 * sklearn then sees a tiny nonzero residual variance and scores a constant offset on a constant y_true
 * as 0 instead of 1 (y_true 1e9, y_pred 0.3, three rows). We answer 1, as sklearn does whenever its
 * arithmetic is exact.
 */
static void
regression_target(const float *y_true, const float *y_pred, size_t n, size_t n_targets, size_t t,
				  pgml_regression_metrics *sum)
{
	double		sum_true = 0,
				sum_diff = 0,
				sse = 0,
				sae = 0,
				sst = 0,
				ssd = 0;
	double		first_true = y_true[t],
				first_diff = (double) y_true[t] - (double) y_pred[t];
	bool		const_true = true,
				const_diff = true;
	double		mean_true,
				mean_diff;

	for (size_t i = 0; i < n; i++)
	{
		double		yt = y_true[i * n_targets + t];
		double		d = yt - (double) y_pred[i * n_targets + t];

		sum_true += yt;
		sum_diff += d;
		sse += d * d;
		sae += fabs(d);
		const_true &= (yt == first_true);
		const_diff &= (d == first_diff);
	}
	mean_true = sum_true / (double) n;
	mean_diff = sum_diff / (double) n;
	for (size_t i = 0; i < n; i++)
	{
		double		yt = y_true[i * n_targets + t];
		double		d = yt - (double) y_pred[i * n_targets + t];

		sst += (yt - mean_true) * (yt - mean_true);
		ssd += (d - mean_diff) * (d - mean_diff);
	}
	if (const_true)
		sst = 0;
	if (const_diff)
		ssd = 0;

	sum->r2 += assemble_score(sse, sst);
	sum->mean_squared_error += sse / (double) n;
	sum->mean_absolute_error += sae / (double) n;
	/* explained variance compares the variance of the residual with that of y_true */
	sum->explained_variance += assemble_score(ssd / (double) n, sst / (double) n);
}

/*
 * Regression scores of n × n_targets predictions, averaged over targets. r2 is NaN for fewer than two
 * samples (sklearn warns and returns NaN); the others are defined from one sample on.
 */
pgml_status
pgml_metrics_regression(const float *y_true, const float *y_pred, size_t n, size_t n_targets,
						pgml_regression_metrics *out, pgml_err *err)
{
	pgml_regression_metrics sum = {0, 0, 0, 0};
	size_t		count;
	pgml_status st;

	if (out == NULL || y_true == NULL || y_pred == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "regression metrics need y_true, y_pred and an output");
	if (n == 0)
		return no_samples_error(err, "regression");
	if (n_targets == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot compute regression metrics of zero targets");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (!pgml_mul_size(n, n_targets, &count))
		return pgml_error(err, PGML_ERR_LIMIT, "too many values for regression metrics");
	if ((st = check_finite(y_true, count, "y_true", err)) != PGML_OK ||
		(st = check_finite(y_pred, count, "y_pred", err)) != PGML_OK)
		return st;

	for (size_t t = 0; t < n_targets; t++)
		regression_target(y_true, y_pred, n, n_targets, t, &sum);

	out->r2 = n < 2 ? NAN : sum.r2 / (double) n_targets;
	out->mean_squared_error = sum.mean_squared_error / (double) n_targets;
	out->mean_absolute_error = sum.mean_absolute_error / (double) n_targets;
	out->explained_variance = sum.explained_variance / (double) n_targets;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Classification
 * ------------------------------------------------------------------------------------------------- */

/* a / b, or 0 when b is 0 (sklearn's zero_division="warn"). */
static double
ratio_or_zero(double a, double b)
{
	return b == 0.0 ? 0.0 : a / b;
}

/* F1 from precision and recall, as sklearn 1.2 computes it (0 when both are 0). */
static double
f1_of(double precision, double recall)
{
	double		denom = precision + recall;

	return denom == 0.0 ? 0.0 : 2.0 * precision * recall / denom;
}

/* A score and its true class, for sorting by score. */
typedef struct scored
{
	float		score;
	int			positive;
} scored;

/* qsort order: descending score. */
static int
scored_desc(const void *a, const void *b)
{
	float		x = ((const scored *) a)->score;
	float		y = ((const scored *) b)->score;

	return (x < y) - (x > y);
}

/*
 * Area under the ROC curve of scores proba[i * 2 + 1] against y_true == 1. Tied scores form one step
 * of the curve, crossed diagonally (they count half), as sklearn's roc_curve + auc does. NaN when
 * y_true holds one class only (sklearn raises an error there).
 */
static pgml_status
binary_roc_auc(const int *y_true, const float *proba, size_t n, size_t n_pos, double *out, pgml_err *err)
{
	scored	   *s;
	size_t		n_neg = n - n_pos;
	double		tp = 0,
				fp = 0,
				area2 = 0;

	if (n_pos == 0 || n_neg == 0)
	{
		*out = NAN;
		return PGML_OK;
	}
	s = pgml_malloc(n * sizeof(scored));
	if (s == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory computing the ROC AUC");
	for (size_t i = 0; i < n; i++)
	{
		s[i].score = proba[i * 2 + 1];
		s[i].positive = y_true[i] == 1;
	}
	qsort(s, n, sizeof(scored), scored_desc);

	/* walk groups of equal scores; each adds a trapezoid (dfp × (tp_before + tp_after) / 2) */
	for (size_t i = 0; i < n;)
	{
		double		tp_before = tp,
					fp_before = fp;
		size_t		j = i;

		while (j < n && s[j].score == s[i].score)
		{
			if (s[j].positive)
				tp += 1;
			else
				fp += 1;
			j++;
		}
		area2 += (fp - fp_before) * (tp + tp_before);
		i = j;
	}
	pgml_free(s);
	*out = area2 / (2.0 * (double) n_pos * (double) n_neg);
	return PGML_OK;
}

/*
 * Mean cross-entropy of binary probabilities, as sklearn.metrics.log_loss(labels=[0, 1]) on a float32
 * array: both probabilities are clipped to [eps, 1 - eps] with eps the float32 epsilon (sklearn 1.2's
 * eps="auto" takes it from the input dtype), then each row is renormalised to sum 1.
 */
static double
binary_log_loss(const int *y_true, const float *proba, size_t n)
{
	const double eps = FLT_EPSILON;
	double		sum = 0;

	for (size_t i = 0; i < n; i++)
	{
		double		p0 = fmin(fmax((double) proba[i * 2], eps), 1.0 - eps);
		double		p1 = fmin(fmax((double) proba[i * 2 + 1], eps), 1.0 - eps);

		sum -= log((y_true[i] == 1 ? p1 : p0) / (p0 + p1));
	}
	return sum / (double) n;
}

/* Checks that labels[0..n) are class indices 0..n_classes-1; `what` names the array in messages. */
static pgml_status
check_classes(const int *labels, size_t n, int n_classes, const char *what, pgml_err *err)
{
	for (size_t i = 0; i < n; i++)
	{
		if (labels[i] < 0 || labels[i] >= n_classes)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "class index %d out of range", labels[i]);
			pgml_err_detail(err, "Value %zu of %s is %d, but class indices go from 0 to %d.",
							i + 1, what, labels[i], n_classes - 1);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	return PGML_OK;
}

/*
 * Classification scores. Precision, recall and F1 are of class 1 for two classes and macro averages
 * otherwise; the macro average runs over the classes present in y_true or y_pred (sklearn's labels=None),
 * not over all n_classes. roc_auc and log_loss need two classes and proba, else they are NaN.
 */
pgml_status
pgml_metrics_classification(const int *y_true, const int *y_pred, const float *proba, size_t n,
							int n_classes, pgml_classification_metrics *out, pgml_err *err)
{
	size_t	   *counts;
	size_t	   *tp_c,
			   *true_c,
			   *pred_c;
	size_t		n_correct = 0;
	double		nd = (double) n;
	double		sum_tp = 0,
				sum_tt = 0,
				sum_pp = 0,
				cov_ytyp,
				cov_ypyp,
				cov_ytyt;
	pgml_status st;

	if (out == NULL || y_true == NULL || y_pred == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "classification metrics need y_true, y_pred and an output");
	if (n == 0)
		return no_samples_error(err, "classification");
	if (n_classes < 2)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "classification metrics need at least 2 classes");
		pgml_err_detail(err, "n_classes is %d.", n_classes);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if ((st = check_classes(y_true, n, n_classes, "y_true", err)) != PGML_OK ||
		(st = check_classes(y_pred, n, n_classes, "y_pred", err)) != PGML_OK)
		return st;
	if (n_classes == 2 && proba != NULL)
	{
		if (n > SIZE_MAX / 2)
			return pgml_error(err, PGML_ERR_LIMIT, "too many values for classification metrics");
		if ((st = check_finite(proba, n * 2, "proba", err)) != PGML_OK)
			return st;
	}

	counts = pgml_calloc((size_t) n_classes, 3 * sizeof(size_t));
	if (counts == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory computing classification metrics");
	tp_c = counts;
	true_c = counts + n_classes;
	pred_c = counts + 2 * (size_t) n_classes;
	for (size_t i = 0; i < n; i++)
	{
		true_c[y_true[i]]++;
		pred_c[y_pred[i]]++;
		if (y_true[i] == y_pred[i])
		{
			tp_c[y_true[i]]++;
			n_correct++;
		}
	}

	out->accuracy = (double) n_correct / nd;

	if (n_classes == 2)
	{
		out->precision = ratio_or_zero((double) tp_c[1], (double) pred_c[1]);
		out->recall = ratio_or_zero((double) tp_c[1], (double) true_c[1]);
		out->f1 = f1_of(out->precision, out->recall);
	}
	else
	{
		double		sp = 0,
					sr = 0,
					sf = 0;
		size_t		present = 0;

		for (int c = 0; c < n_classes; c++)
		{
			double		p,
						r;

			if (true_c[c] == 0 && pred_c[c] == 0)
				continue;
			p = ratio_or_zero((double) tp_c[c], (double) pred_c[c]);
			r = ratio_or_zero((double) tp_c[c], (double) true_c[c]);
			sp += p;
			sr += r;
			sf += f1_of(p, r);
			present++;
		}
		/* present >= 1: every sample's class is present */
		out->precision = sp / (double) present;
		out->recall = sr / (double) present;
		out->f1 = sf / (double) present;
	}

	/* Matthews correlation from the confusion matrix's marginals (sklearn's multiclass formula) */
	for (int c = 0; c < n_classes; c++)
	{
		double		t = (double) true_c[c],
					p = (double) pred_c[c];

		sum_tp += t * p;
		sum_tt += t * t;
		sum_pp += p * p;
	}
	cov_ytyp = (double) n_correct * nd - sum_tp;
	cov_ypyp = nd * nd - sum_pp;
	cov_ytyt = nd * nd - sum_tt;
	out->mcc = cov_ypyp * cov_ytyt == 0.0 ? 0.0 : cov_ytyp / sqrt(cov_ytyt * cov_ypyp);

	out->roc_auc = NAN;
	out->log_loss = NAN;
	if (n_classes == 2 && proba != NULL)
	{
		st = binary_roc_auc(y_true, proba, n, true_c[1], &out->roc_auc, err);
		if (st != PGML_OK)
		{
			pgml_free(counts);
			return st;
		}
		out->log_loss = binary_log_loss(y_true, proba, n);
	}
	pgml_free(counts);
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Clustering
 * ------------------------------------------------------------------------------------------------- */

/* qsort order: ascending int. */
static int
int_asc(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

/* Index of v in the sorted, distinct values[0..k); v is known to be there. */
static size_t
find_label(const int *values, size_t k, int v)
{
	size_t		lo = 0,
				hi = k;

	while (hi - lo > 1)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (values[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Euclidean distance of two rows of d floats, in double. */
static double
distance(const float *a, const float *b, size_t d)
{
	double		s = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		diff = (double) a[f] - (double) b[f];

		s += diff * diff;
	}
	return sqrt(s);
}

/*
 * The mean silhouette coefficient. Labels are any ints (like sklearn, which encodes them first); there
 * must be 2 to n - 1 distinct ones. For each point, a is its mean distance to the rest of its cluster and
 * b the smallest mean distance to another cluster; s = (b - a) / max(a, b), and s = 0 for a point alone
 * in its cluster or when a = b = 0 (sklearn's nan_to_num of 0/0). Distances are computed row by row,
 * O(n²·d) time and O(n + k) memory; the stop hook is polled once per row.
 */
pgml_status
pgml_metrics_silhouette(const float *x, size_t n, size_t n_features, const int *labels,
						double *out, pgml_err *err)
{
	int		   *values = NULL;
	size_t	   *cluster = NULL;
	size_t	   *freq = NULL;
	double	   *sums = NULL;
	size_t		k = 0,
				count;
	double		total = 0;
	pgml_status st;

	if (out == NULL || x == NULL || labels == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "the silhouette score needs points, labels and an output");
	if (n == 0)
		return no_samples_error(err, "clustering");
	if (n_features == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot compute the silhouette score of zero features");
	if (!pgml_mul_size(n, n_features, &count))
		return pgml_error(err, PGML_ERR_LIMIT, "too many values for the silhouette score");
	if ((st = check_finite(x, count, "x", err)) != PGML_OK)
		return st;

	/* the distinct labels, sorted */
	values = pgml_malloc(n * sizeof(int));
	if (values == NULL)
		goto oom;
	memcpy(values, labels, n * sizeof(int));
	qsort(values, n, sizeof(int), int_asc);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || values[i] != values[k - 1])
			values[k++] = values[i];
	if (k < 2 || k > n - 1)
	{
		pgml_free(values);
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "number of labels is %zu", k);
		if (n < 3)
			pgml_err_detail(err, "The silhouette score needs at least 3 samples and 2 to n - 1 distinct labels; there are %zu samples.", n);
		else
			pgml_err_detail(err, "The silhouette score needs 2 to n - 1 = %zu distinct labels.", n - 1);
		return PGML_ERR_INVALID_ARGUMENT;
	}

	cluster = pgml_malloc(n * sizeof(size_t));
	freq = pgml_calloc(k, sizeof(size_t));
	sums = pgml_malloc(k * sizeof(double));
	if (cluster == NULL || freq == NULL || sums == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
	{
		cluster[i] = find_label(values, k, labels[i]);
		freq[cluster[i]]++;
	}

	for (size_t i = 0; i < n; i++)
	{
		const float *xi = x + i * n_features;
		size_t		ci = cluster[i];
		double		a,
					b = INFINITY,
					m;

		if ((st = pgml_check_stop(err)) != PGML_OK)
			goto done;
		if (freq[ci] == 1)
			continue;			/* alone in its cluster: s = 0 */

		for (size_t c = 0; c < k; c++)
			sums[c] = 0;
		for (size_t j = 0; j < n; j++)
			if (j != i)
				sums[cluster[j]] += distance(xi, x + j * n_features, n_features);

		a = sums[ci] / (double) (freq[ci] - 1);
		for (size_t c = 0; c < k; c++)
			if (c != ci && sums[c] / (double) freq[c] < b)
				b = sums[c] / (double) freq[c];
		m = fmax(a, b);
		if (m > 0)
			total += (b - a) / m;
	}
	*out = total / (double) n;
	st = PGML_OK;
	goto done;

oom:
	st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory computing the silhouette score");
done:
	pgml_free(values);
	pgml_free(cluster);
	pgml_free(freq);
	pgml_free(sums);
	return st;
}
