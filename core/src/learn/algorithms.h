/*
 * algorithms.h — the algorithm tables compiled into libpgml (private to core/src/learn).
 */
#ifndef PGML_LEARN_ALGORITHMS_H
#define PGML_LEARN_ALGORITHMS_H

#include "pgml/learn.h"

/* xgboost.c */
extern const pgml_algorithm pgml_algo_xgboost;
extern const pgml_algorithm pgml_algo_xgboost_random_forest;

#endif							/* PGML_LEARN_ALGORITHMS_H */
