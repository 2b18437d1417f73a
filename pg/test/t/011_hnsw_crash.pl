# pgml_hnsw is crash safe (issue 4): kill -9 the whole cluster while 4 clients insert, restart (crash
# recovery replays the index's WAL), then pgml.hnsw_check is clean, every committed row is found through
# the index, and recall is unchanged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgmlVector;

my $node = vector_node('hnsw_crash');
skip_unless_am($node, 'pgml_hnsw');
load_items($node);
$node->safe_psql('postgres',
	'CREATE INDEX items_embedding_idx ON items USING pgml_hnsw (embedding vector_cosine_ops)');
my $before = recall($node);
cmp_ok($before, '>=', 0.95, "recall\@10 before the crash: $before");
# everything after this checkpoint is recovered from the WAL
$node->safe_psql('postgres', 'CHECKPOINT');

my $clients = start_clients($node, 4, 120,
	'insert' => "\\set k random(1, $PgmlVector::POOL)\n"
	  . "INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id = :k;\n");
$node->poll_query_until('postgres', "SELECT count(*) >= $PgmlVector::N + 300 FROM items")
  or die 'the clients did not insert';
crash_and_restart($node);
my ($rc) = stop_clients($clients, kill => 1);
isnt($rc, 0, 'the clients lost their connections in the crash');

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($rows, '>=', $PgmlVector::N + 300, "the committed rows survived ($rows)");
is(index_problems($node, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check finds no problem after crash recovery');
is($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT embedding FROM items WHERE id > $PgmlVector::N ORDER BY id DESC LIMIT 200) r
WHERE (SELECT (i.embedding <=> r.embedding)::float8 FROM items i ORDER BY i.embedding <=> r.embedding LIMIT 1) > 1e-6}),
	'0', 'the last 200 rows committed before the crash are found through the index');
my $after = recall($node, quiet => 1);
cmp_ok($after, '>=', $before - 0.02, "recall\@10 after crash recovery: $after (before: $before)");

# the recovered index takes inserts and answers
$node->safe_psql('postgres', 'INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id <= 100');
is(index_problems($node, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check is clean after more inserts');
cmp_ok(recall($node, quiet => 1), '>=', $before - 0.02, 'recall@10 after more inserts');

$node->stop;
done_testing();
