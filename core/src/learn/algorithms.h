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
