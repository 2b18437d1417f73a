/*
 * algorithms.h — the algorithm tables compiled into libpgml, for the registry (private to core/src/learn).
 */
#ifndef PGML_LEARN_ALGORITHMS_H
#define PGML_LEARN_ALGORITHMS_H

#include "pgml/learn.h"

/* linear.c */
extern const pgml_algorithm pgml_algo_linear;	/* LinearRegression, LogisticRegression */
extern const pgml_algorithm pgml_algo_ridge;	/* Ridge, RidgeClassifier */
extern const pgml_algorithm pgml_algo_lasso;	/* Lasso */
extern const pgml_algorithm pgml_algo_elastic_net;	/* ElasticNet */

/* svm.c */
extern const pgml_algorithm pgml_algo_svm;	/* SVR, SVC (libsvm) */
extern const pgml_algorithm pgml_algo_nu_svm;	/* NuSVR, NuSVC (libsvm) */
extern const pgml_algorithm pgml_algo_linear_svm;	/* LinearSVR, LinearSVC (liblinear) */

/* knn.c */
extern const pgml_algorithm pgml_algo_knn;	/* KNeighborsRegressor, KNeighborsClassifier */

/* xgboost.c */
extern const pgml_algorithm pgml_algo_xgboost;
extern const pgml_algorithm pgml_algo_xgboost_random_forest;

#endif							/* PGML_LEARN_ALGORITHMS_H */
