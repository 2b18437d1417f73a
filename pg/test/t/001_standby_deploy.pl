# A deployment made on the primary reaches a long-lived session on a streaming hot standby: the
# standby's per-backend deployment cache is invalidated by replaying the relcache invalidation of
# pgml.deployments (issue 3). Two sessions on the primary are tested in pg_regress (08_cancel_backup).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "log_statement = none\n");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pgml;
	SELECT * FROM pgml.load_dataset('diabetes');
	SELECT * FROM pgml.train('p', 'regression', 'pgml.diabetes', 'target', 'linear');
});
my $linear = $primary->safe_psql('postgres',
	"SELECT id FROM pgml.models WHERE algorithm = 'linear'");

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# The features of the first diabetes row, and what each model predicts for them.
my $row = 'ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]';
my $first = "(SELECT $row FROM pgml.diabetes LIMIT 1)";
my $by_project = "SELECT pgml.predict('p', $first)";

# A long-lived standby session that has predicted once: its deployment cache is warm.
my $session = $standby->background_psql('postgres');
my $pid = $session->query_safe('SELECT pg_backend_pid()');
is($session->query_safe($by_project),
	$primary->safe_psql('postgres', "SELECT pgml.predict($linear, $first)"),
	'standby session predicts with the linear model');

# Train a second algorithm on the primary (strongly regularised, so its predictions differ) and deploy it
# by id, whichever model scored better.
$primary->safe_psql('postgres',
	q{SELECT * FROM pgml.train('p', algorithm => 'ridge', hyperparams => '{"alpha": 10}')});
my $ridge = $primary->safe_psql('postgres',
	"SELECT id FROM pgml.models WHERE algorithm = 'ridge'");
$primary->safe_psql('postgres', "SELECT * FROM pgml.deploy($ridge)");
my $ridge_prediction =
  $primary->safe_psql('postgres', "SELECT pgml.predict($ridge, $first)");
isnt($ridge_prediction,
	$primary->safe_psql('postgres', "SELECT pgml.predict($linear, $first)"),
	'the two models predict differently');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($session->query_safe($by_project), $ridge_prediction,
	'after replay, the same standby session predicts with the newly deployed model');

# And back: a rollback on the primary is seen by the same session too.
$primary->safe_psql('postgres', "SELECT * FROM pgml.deploy('p', 'rollback')");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($session->query_safe($by_project),
	$primary->safe_psql('postgres', "SELECT pgml.predict($linear, $first)"),
	'after a rollback on the primary, the standby session predicts with the linear model again');
is($session->query_safe('SELECT pg_backend_pid()'), $pid, 'it was one standby backend throughout');
is($session->query_safe($by_project), $primary->safe_psql('postgres', $by_project),
	'standby and primary agree');

$session->quit;
done_testing();
