# pgml_hnsw on embedding-like vectors (issue 4): recall@10 >= 0.95 with default parameters, 4 clients
# inserting and searching at once without errors, and recall kept after deleting half the rows and VACUUM.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgmlVector;

my $node = vector_node('hnsw');
skip_unless_am($node, 'pgml_hnsw');
load_items($node);

my $t = time;
$node->safe_psql('postgres',
	'CREATE INDEX items_embedding_idx ON items USING pgml_hnsw (embedding pgml.vector_cosine_ops)');
note sprintf('index built in %d s', time - $t);
is(index_problems($node, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check finds no problem after the build');
my $recall = recall($node);
cmp_ok($recall, '>=', 0.95, "recall\@10 with default parameters (m 16, ef_construction 64, ef_search 40): $recall");
cmp_ok(recall($node, settings => 'SET pgml.hnsw_ef_search = 200;', quiet => 1), '>=', $recall,
	'a larger pgml.hnsw_ef_search does not lower recall');

# 4 clients inserting (vectors from the same distribution) and searching at the same time
my ($rc, $out, $err) = stop_clients(start_clients($node, 4, 10,
	'insert' => "\\set k random(1, $PgmlVector::POOL)\n"
	  . "INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id = :k;\n",
	'search' => "\\set q random(1, $PgmlVector::Q)\n"
	  . "SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM queries WHERE id = :q) LIMIT 10;\n"));
is($rc, 0, '4 clients inserting and searching concurrently: no error');
is($err, '', 'no error output from the clients') or diag($err);
my $inserted = $node->safe_psql('postgres', "SELECT count(*) FROM items WHERE id > $PgmlVector::N");
cmp_ok($inserted, '>', 0, "the clients inserted rows ($inserted)");
is(index_problems($node, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check finds no problem after concurrent inserts');
# every concurrently inserted row can be found through the index (its own vector is at distance 0)
is($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT embedding FROM items WHERE id > $PgmlVector::N ORDER BY id LIMIT 50) r
WHERE (SELECT (i.embedding <=> r.embedding)::float8 FROM items i
       ORDER BY i.embedding <=> r.embedding LIMIT 1) > 1e-6}), '0',
	'each inserted row is found through the index');
cmp_ok(recall($node, quiet => 1), '>=', 0.95, 'recall@10 after the concurrent inserts');

# delete half the rows, VACUUM: the graph is repaired around them
$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 2 = 0');
$node->safe_psql('postgres', 'VACUUM items');
is(index_problems($node, 'pgml.hnsw_check', 'items_embedding_idx'), '', 'pgml.hnsw_check finds no problem after VACUUM');
my $after = recall($node, quiet => 1);
cmp_ok($after, '>=', 0.95, "recall\@10 after deleting half the rows and VACUUM: $after");
is($node->safe_psql('postgres', q{
SET enable_seqscan = off;
SELECT count(*) FROM queries q, LATERAL (SELECT id FROM items i ORDER BY i.embedding <=> q.embedding LIMIT 10) r
WHERE r.id % 2 = 0}), '0', 'deleted rows are never returned');
# inserts keep working after VACUUM
$node->safe_psql('postgres', 'INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id <= 100');
cmp_ok(recall($node, quiet => 1), '>=', 0.95, 'recall@10 after inserting into the vacuumed index');

# halfvec: no more than 5% behind vector on recall (issue 4)
SKIP:
{
	skip 'pgml.halfvec_cosine_ops not available', 2
	  unless $node->safe_psql('postgres', "SELECT count(*) FROM pg_opclass WHERE opcname = 'halfvec_cosine_ops'") ne '0';
	$node->safe_psql('postgres', qq{
DROP TABLE items;
CREATE TABLE items (id bigserial, embedding pgml.halfvec($PgmlVector::DIM));
INSERT INTO items (embedding) SELECT v::pgml.halfvec($PgmlVector::DIM)
FROM pgml_test.embedding_like($PgmlVector::N, $PgmlVector::DIM, 42) v;
CREATE INDEX ON items USING pgml_hnsw (embedding pgml.halfvec_cosine_ops);
ALTER TABLE queries ALTER COLUMN embedding TYPE pgml.halfvec($PgmlVector::DIM)
  USING embedding::pgml.halfvec($PgmlVector::DIM);
});
	my $half = recall($node);
	cmp_ok($half, '>=', $recall - 0.05, "halfvec recall\@10 $half is within 5% of vector's $recall");
}

$node->stop;
done_testing();
