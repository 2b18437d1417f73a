/*
 * vector.c — placeholder until the vector subsystem lands.
 */
#include "pgml_pg.h"

void
pgml_vector_init(void)
{
}
