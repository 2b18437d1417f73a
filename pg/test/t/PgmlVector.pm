# Helpers shared by the vector TAP tests (pg/test/t/0[1-2]*_*.pl): clusters tuned for vectors, the
# embedding-like test data from pgml_test.embedding_like, recall@10 against an exact search, index
# checks, concurrent clients and crashes.
package PgmlVector;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(vector_node skip_unless_am load_items recall index_query_results index_problems
  start_clients stop_clients crash_and_restart);

# Test data: N rows in items, POOL rows that clients insert, Q query vectors; all embedding-like (latent
# 32) from one generator stream, so they share one distribution.
our $DIM   = $ENV{PGML_TAP_DIM} // 384;
our $N     = 10000;
our $POOL  = 2000;
our $Q     = 50;

# A cluster for vector work: more memory and connections than PostgreSQL::Test::Cluster's defaults
# (which are tiny for a streaming primary), and no per-statement logging.
sub vector_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%params);
	$node->append_conf('postgresql.conf', qq{
shared_buffers = 128MB
max_connections = 30
maintenance_work_mem = 256MB
log_statement = none
max_wal_size = 1GB
});
	$node->start;
	# the operators live in schema pgml; users put it on their search_path
	$node->safe_psql('postgres', q{
CREATE EXTENSION pgml;
CREATE EXTENSION pgml_test;
ALTER DATABASE postgres SET search_path = public, pgml;
});
	return $node;
}

# Skips the whole file unless the access method exists (the index branches land on main separately).
sub skip_unless_am
{
	my ($node, $am) = @_;
	return if $node->safe_psql('postgres', "SELECT count(*) FROM pg_am WHERE amname = '$am'") eq '1';
	$node->stop;
	plan skip_all => "$am not available";
}

# items(id, embedding) with N rows, pool(id, embedding) with POOL rows, queries(id, embedding) with Q rows.
sub load_items
{
	my ($node, %params) = @_;
	my $type = $params{type} // 'pgml.vector';
	my $total = $N + $POOL + $Q;
	$node->safe_psql('postgres', qq{
CREATE TABLE items (id bigserial, embedding $type($DIM));
CREATE TABLE pool (id bigint PRIMARY KEY, embedding $type($DIM));
CREATE TABLE queries (id int PRIMARY KEY, embedding $type($DIM));
CREATE TEMP TABLE g AS SELECT i, v FROM pgml_test.embedding_like($total, $DIM, 42) WITH ORDINALITY AS t(v, i);
INSERT INTO items (embedding) SELECT v::$type($DIM) FROM g WHERE i <= $N ORDER BY i;
INSERT INTO pool SELECT i - $N, v::$type($DIM) FROM g WHERE i > $N AND i <= $N + $POOL;
INSERT INTO queries SELECT i - $N - $POOL, v::$type($DIM) FROM g WHERE i > $N + $POOL;
VACUUM ANALYZE items, pool, queries;
});
	return;
}

# recall@10 of the index over the Q queries: the share of the index's 10 results that are as close as
# the 10th nearest row of an exact search (distances, not ids, so that duplicate vectors count once).
# The exact search orders by an expression the index cannot serve, so it is a sequential scan. Also
# checks that the index answers the query (EXPLAIN). Read-only: runs on a standby too.
sub recall
{
	my ($node, %params) = @_;
	my $op = $params{op} // '<=>';
	my $settings = $params{settings} // '';
	my $plan = $node->safe_psql('postgres', qq{
SET enable_seqscan = off; $settings
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding $op (SELECT embedding FROM queries WHERE id = 1) LIMIT 10;
});
	like($plan, qr/Index Scan using/, "the index answers ORDER BY embedding $op q LIMIT 10")
	  unless $params{quiet};
	return $node->safe_psql('postgres', qq{
SET enable_seqscan = off; $settings
SELECT round(avg(hits) / 10.0, 4) FROM (
  SELECT (SELECT count(*) FROM unnest(approx) d WHERE d <= kth + 1e-6) AS hits FROM (
    SELECT ARRAY(SELECT (i.embedding $op q.embedding)::float8 FROM items i
                 ORDER BY i.embedding $op q.embedding LIMIT 10) AS approx,
           (SELECT max(d) FROM (SELECT (i.embedding $op q.embedding)::float8 AS d FROM items i
                                ORDER BY (i.embedding $op q.embedding) + 0 LIMIT 10) e) AS kth
    FROM queries q) per_query) r;
});
}

# The ids the index returns for every query, one line per query (to compare two nodes).
sub index_query_results
{
	my ($node, %params) = @_;
	my $op = $params{op} // '<=>';
	my $settings = $params{settings} // '';
	return $node->safe_psql('postgres', qq{
SET enable_seqscan = off; $settings
SELECT q.id, ARRAY(SELECT i.id FROM items i ORDER BY i.embedding $op q.embedding LIMIT 10)
FROM queries q ORDER BY q.id;
});
}

# What the check function (pgml.hnsw_check / pgml.ivfflat_check) reports about an index: '' when the
# index is sound. A set-returning check reports one row per problem; a scalar one NULL, true, 'ok' or an
# empty JSON array/object.
sub index_problems
{
	my ($node, $fn, $index) = @_;
	my $retset = $node->safe_psql('postgres',
		"SELECT proretset FROM pg_proc WHERE oid = '$fn(regclass)'::regprocedure");
	if ($retset eq 't')
	{
		return $node->safe_psql('postgres',
			"SELECT coalesce(string_agg(p::text, E'\\n'), '') FROM $fn('$index') p");
	}
	my $r = $node->safe_psql('postgres', "SELECT $fn('$index')::text");
	return '' if $r =~ /^(|t|true|ok|\[\]|\{\})$/i;
	return $r;
}

# Starts pgbench in the background: clients running the given scripts (name => SQL) against the node.
# Returns a handle for stop_clients.
sub start_clients
{
	my ($node, $clients, $seconds, %scripts) = @_;
	my @files;
	for my $name (sort keys %scripts)
	{
		my $file = $node->basedir . "/$name.sql";
		PostgreSQL::Test::Utils::append_to_file($file, $scripts{$name});
		push @files, '-f', $file;
	}
	my %h = (out => '', err => '');
	$h{run} = IPC::Run::start(
		[
			'pgbench', '-n', '-c', $clients, '-j', $clients, '-T', $seconds,
			'-h', $node->host, '-p', $node->port, @files, 'postgres'
		],
		'>', \$h{out}, '2>', \$h{err});
	return \%h;
}

# Waits for the clients to finish (or kills them); returns (wait status, stdout, stderr): 0 when pgbench
# succeeded.
sub stop_clients
{
	my ($h, %params) = @_;
	if ($params{kill})
	{
		$h->{run}->kill_kill;
	}
	else
	{
		$h->{run}->finish;
	}
	my $rc = $h->{run}->full_result(0);
	return (defined $rc ? $rc : -1, $h->{out}, $h->{err});
}

# kill -9 the postmaster and every process of the cluster at once (as a power cut would stop them),
# then start it again: crash recovery replays the WAL since the last checkpoint.
sub crash_and_restart
{
	my ($node) = @_;
	my @pids = split /\n/, $node->safe_psql('postgres',
		'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()');
	my $postmaster = $node->{_pid};
	$node->kill9;
	kill 9, @pids;
	# wait until the old processes are gone (they hold the shared memory the new postmaster needs)
	for (1 .. 300)
	{
		last unless grep { kill 0, $_ } $postmaster, @pids;
		select(undef, undef, undef, 0.1);
	}
	for my $try (1 .. 30)
	{
		return if $node->start(fail_ok => 1);
		sleep 1;
	}
	BAIL_OUT('the cluster did not restart after the crash');
}

1;
