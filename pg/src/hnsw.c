/*
 * hnsw.c — placeholder until the hnsw subsystem lands.
 */
#include "pgml_pg.h"

void
pgml_hnsw_init(void)
{
}
