/*
 * linear_bayes_internal.h — helpers of linear.c shared with linear_bayes.c (private to core/src/learn).
 *
 * linear.c defines them; linear_bayes.c (Bayesian ridge, ARD, LARS, OMP, kernel ridge, Gaussian processes)
 * uses them so that hyperparameters, training data and saved states are checked the same way everywhere.
 */
#ifndef PGML_LEARN_LINEAR_BAYES_INTERNAL_H
#define PGML_LEARN_LINEAR_BAYES_INTERNAL_H

#include "linear_internal.h"

/* Marks a saved state corrupt for `reason` and makes sure err carries the message. PGML_ERR_CORRUPT. */
pgml_status pgml_linear_load_fail(pgml_reader *in, pgml_err *err, const char *reason);

/*
 * Minimum-norm least squares by LAPACK dgelsd: A (m × n, column-major, lda = m) is overwritten; B (ldb × t,
 * column-major) receives the solution in its first n rows. Singular values below rcond times the largest
 * count as zero.
 */
pgml_status pgml_linear_gelsd(size_t m, size_t n, size_t t, double *A, double *B, size_t ldb, double rcond,
							  pgml_err *err);

#endif							/* PGML_LEARN_LINEAR_BAYES_INTERNAL_H */
