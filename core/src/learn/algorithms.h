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

/* trees.c */
extern const pgml_algorithm pgml_algo_random_forest;	/* RandomForestRegressor, RandomForestClassifier */
extern const pgml_algorithm pgml_algo_extra_trees;	/* ExtraTreesRegressor, ExtraTreesClassifier */
extern const pgml_algorithm pgml_algo_gradient_boosting_trees;	/* GradientBoosting{Regressor,Classifier} */
/* linear_online.c */
extern const pgml_algorithm pgml_algo_stochastic_gradient_descent;	/* SGDRegressor, SGDClassifier */
extern const pgml_algorithm pgml_algo_perceptron;	/* Perceptron */
extern const pgml_algorithm pgml_algo_passive_aggressive;	/* PassiveAggressiveRegressor, ...Classifier */
extern const pgml_algorithm pgml_algo_huber;	/* HuberRegressor */
extern const pgml_algorithm pgml_algo_quantile;	/* QuantileRegressor */
extern const pgml_algorithm pgml_algo_ransac;	/* RANSACRegressor */
extern const pgml_algorithm pgml_algo_theil_sen;	/* TheilSenRegressor */
/* linear_bayes.c */
extern const pgml_algorithm pgml_algo_bayesian_ridge;	/* BayesianRidge */
extern const pgml_algorithm pgml_algo_automatic_relevance_determination;	/* ARDRegression */
extern const pgml_algorithm pgml_algo_least_angle;	/* Lars */
extern const pgml_algorithm pgml_algo_lasso_least_angle;	/* LassoLars */
extern const pgml_algorithm pgml_algo_orthogonal_matching_pursuit;	/* OrthogonalMatchingPursuit */
extern const pgml_algorithm pgml_algo_kernel_ridge;	/* KernelRidge */
extern const pgml_algorithm pgml_algo_gaussian_process;	/* GaussianProcessRegressor, GaussianProcessClassifier */
/* svm.c */
extern const pgml_algorithm pgml_algo_svm;	/* SVR, SVC (libsvm) */
extern const pgml_algorithm pgml_algo_nu_svm;	/* NuSVR, NuSVC (libsvm) */
extern const pgml_algorithm pgml_algo_linear_svm;	/* LinearSVR, LinearSVC (liblinear) */

/* knn.c */
extern const pgml_algorithm pgml_algo_knn;	/* KNeighborsRegressor, KNeighborsClassifier */

/* boost.c */
extern const pgml_algorithm pgml_algo_hist_gradient_boosting;	/* HistGradientBoosting{Regressor,Classifier} */
extern const pgml_algorithm pgml_algo_lightgbm;	/* LightGBM's algorithm: LGBM{Regressor,Classifier} */

/* ensemble.c */
extern const pgml_algorithm pgml_algo_ada_boost;	/* AdaBoost{Regressor,Classifier} */
extern const pgml_algorithm pgml_algo_bagging;	/* Bagging{Regressor,Classifier} */

/* xgboost.c */
extern const pgml_algorithm pgml_algo_xgboost;
extern const pgml_algorithm pgml_algo_xgboost_random_forest;

#endif							/* PGML_LEARN_ALGORITHMS_H */
