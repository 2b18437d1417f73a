# A streaming hot standby replays pgml_hnsw's WAL (build, inserts, VACUUM) and answers the same queries
# with the same rows as the primary (issue 4).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgmlVector;

my $primary = vector_node('primary', allows_streaming => 1);
skip_unless_am($primary, 'pgml_hnsw');
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# everything from here reaches the standby through the WAL: the data, the index build, inserts, VACUUM
load_items($primary);
$primary->safe_psql('postgres',
	'CREATE INDEX items_embedding_idx ON items USING pgml_hnsw (embedding vector_cosine_ops)');
$primary->safe_psql('postgres', 'INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id <= 500');
$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM items');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $on_primary = index_query_results($primary);
is(index_query_results($standby), $on_primary, 'the standby answers every query with the same rows as the primary');
my $recall = recall($standby);
cmp_ok($recall, '>=', 0.95, "recall\@10 on the standby: $recall");
is(index_problems($standby, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check is clean on the standby');

# later inserts reach it too
$primary->safe_psql('postgres', 'INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id > 1500');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(index_query_results($standby), index_query_results($primary), 'and after more inserts on the primary');

$standby->stop;
$primary->stop;
done_testing();
