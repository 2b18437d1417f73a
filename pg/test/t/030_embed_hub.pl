# pgml.embed with models fetched from a hub: tools/fake_hub.py serves model repositories on 127.0.0.1 the
# way huggingface.co does (resolve URLs, X-Repo-Commit, ETags, redirects for large files), and the server
# downloads into its own cache directory, then embeds. Checks: results equal sentence-transformers'
# (the tiny fixture model always; the real all-MiniLM-L6-v2 on 200+ sentences when its files are here),
# the cache layout, reuse of the cache with the hub gone, offline mode, a missing model, and concurrent
# first loads that download each file once.
use strict;
use warnings;
use File::Copy;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = $ENV{PGML_EMBED_FIXTURES};
my $fake_hub = $ENV{PGML_FAKE_HUB};
plan skip_all => 'PGML_EMBED_FIXTURES and PGML_FAKE_HUB are set by tools/run-tests'
  unless $fixtures && $fake_hub && -d $fixtures && -f $fake_hub;

my $base = PostgreSQL::Test::Utils::tempdir();
my $repos = "$base/repos";

# A repository: the files of a model directory (expected.json is ours, not the model's).
sub add_repo
{
	my ($id, $src) = @_;
	my $dst = "$repos/$id";
	make_path($dst);
	opendir(my $dh, $src) or die "$src: $!";
	for my $f (readdir $dh)
	{
		next if $f =~ /^\./ || $f eq 'expected.json';
		if (-d "$src/$f")
		{
			make_path("$dst/$f");
			opendir(my $sub, "$src/$f") or die;
			copy("$src/$f/$_", "$dst/$f/$_") or die "$src/$f/$_: $!" for grep { !/^\./ } readdir $sub;
			closedir $sub;
		}
		else
		{
			copy("$src/$f", "$dst/$f") or die "$src/$f: $!";
		}
	}
	closedir $dh;
}
add_repo('pgml-test/tiny-bert-mean', "$fixtures/tiny-bert-mean");
add_repo('pgml-test/tiny-roberta-cls', "$fixtures/tiny-roberta-cls");
my $minilm = $ENV{PGML_MINILM_DIR};
my $have_minilm = $minilm && -f "$minilm/model.safetensors";
add_repo('sentence-transformers/all-MiniLM-L6-v2', $minilm) if $have_minilm;

# Start the hub; its request log tells how often each file was fetched.
my $hub_log = "$base/hub.log";
my ($hub_pid, $port);
sub start_hub
{
	my $port_file = "$base/hub.port";
	unlink $port_file;
	$hub_pid = fork();
	die "fork: $!" unless defined $hub_pid;
	if ($hub_pid == 0)
	{
		exec('python3', $fake_hub, '--root', $repos, '--port', '0', '--port-file', $port_file,
			'--log', $hub_log) or die "exec: $!";
	}
	for (1 .. 100)
	{
		last if -s $port_file;
		select(undef, undef, undef, 0.1);
	}
	$port = slurp_file($port_file);
	chomp $port;
	die "fake hub did not start" unless $port =~ /^\d+$/;
}
sub stop_hub
{
	return unless $hub_pid;
	kill 'TERM', $hub_pid;
	waitpid($hub_pid, 0);
	$hub_pid = undef;
}
# a script that dies half-way must not leave the hub running
END { stop_hub() if $hub_pid; }
start_hub();

my $node = PostgreSQL::Test::Cluster->new('embed');
$node->init;
my $cache = "$base/hf-cache";
$node->append_conf('postgresql.conf', qq{
pgml.hub_endpoint = 'http://127.0.0.1:$port'
pgml.cache_dir = '$cache'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgml');

# SQL that compares pgml.embed of every input of a fixture case with sentence-transformers' vectors:
# returns "rows|max abs diff < 1e-4|min cosine >= 0.9999".
sub compare_sql
{
	my ($model, $expected_file, $case) = @_;
	return qq{
WITH c AS (SELECT pg_read_file('$expected_file')::jsonb->'cases'->$case AS c),
e AS (SELECT i.value AS input, ARRAY(SELECT jsonb_array_elements_text(c.c->'embeddings'->(i.ord::int - 1))::real) AS want
      FROM c, jsonb_array_elements_text(c.c->'inputs') WITH ORDINALITY AS i(value, ord)),
g AS (SELECT input, want, pgml.embed('$model', input, (SELECT c->'kwargs' FROM c)) AS got FROM e)
SELECT count(*),
       max((SELECT max(abs(x::float8 - y)) FROM unnest(got, want) u(x, y))) < 1e-4,
       min((SELECT sum(x::float8 * y) / sqrt(sum(x::float8 * x) * sum(y::float8 * y)) FROM unnest(got, want) u(x, y))) >= 0.9999
FROM g};
}

my $tiny = 'pgml-test/tiny-bert-mean';
my ($n, $close, $cos) = split /\|/, $node->safe_psql('postgres',
	compare_sql($tiny, "$fixtures/tiny-bert-mean/expected.json", 0));
ok($n > 30 && $close eq 't' && $cos eq 't', "downloaded tiny model matches sentence-transformers ($n inputs)");
is($node->safe_psql('postgres', "SELECT array_length(pgml.embed('pgml-test/tiny-roberta-cls', 'hello', '{\"prompt_name\": \"passage\"}'), 1)"),
	'32', 'a second model with prompts');

# The Hugging Face cache layout: refs/main names the snapshot; snapshot files are links into blobs/.
my $repo_dir = "$cache/models--pgml-test--tiny-bert-mean";
ok(-f "$repo_dir/refs/main", 'refs/main written');
my $commit = -f "$repo_dir/refs/main" ? slurp_file("$repo_dir/refs/main") : '';
chomp $commit;
like($commit, qr/^[0-9a-f]{40}$/, 'refs/main holds a commit');
ok(-l "$repo_dir/snapshots/$commit/config.json" && -f "$repo_dir/snapshots/$commit/config.json",
	'snapshot config.json is a link to a blob');
ok(-l "$repo_dir/snapshots/$commit/1_Pooling/config.json", 'nested module file in the snapshot');
ok(-f "$repo_dir/snapshots/$commit/model.safetensors", 'weights in the snapshot');

# int8 weights are quantized once, written next to the model and mapped by the next backend.
my $derived = "$repo_dir/snapshots/$commit/.pgml/encoder-int8.pgmlw";
my $i8 = $node->safe_psql('postgres', "SELECT pgml.embed('$tiny', 'hello derived weights', '{\"dtype\": \"int8\"}')::text");
ok(-f $derived, 'int8 weights written to the model\'s .pgml directory');
my $ino = -f $derived ? (stat $derived)[1] : 0;
is($node->safe_psql('postgres', "SELECT pgml.embed('$tiny', 'hello derived weights', '{\"dtype\": \"int8\"}')::text"),
	$i8, 'a new backend maps the written int8 weights: the same embedding');
is(-f $derived ? (stat $derived)[1] : -1, $ino, 'the file is not rewritten by the second backend');
is($node->safe_psql('postgres', qq{SELECT (SELECT sum(x::float8 * y) / sqrt(sum(x::float8 * x) * sum(y::float8 * y)) > 0.99
	FROM unnest(pgml.embed('$tiny', 'hello derived weights'), '$i8'::real[]) u(x, y))}),
	't', 'int8 embedding close to float32');

# f32 models get their linears as panels (one short sentence reads them), written next to the model too.
ok(-f "$repo_dir/snapshots/$commit/.pgml/encoder-float32.pgmlw", 'f32 panels written to the model\'s .pgml directory');

# A read-only model directory under pgml.model_dirs: its derived weights go to the cache directory
# (pgml-derived/<hash of the path>), and the embedding is the one the hub copy of the same model gives.
my $local = "$base/local";
make_path("$local/tiny/1_Pooling");
for my $f (qw(config.json config_sentence_transformers.json model.safetensors modules.json
	sentence_bert_config.json tokenizer.json tokenizer_config.json))
{
	copy("$fixtures/tiny-bert-mean/$f", "$local/tiny/$f") or die "$f: $!";
}
copy("$fixtures/tiny-bert-mean/1_Pooling/config.json", "$local/tiny/1_Pooling/config.json") or die;
chmod(0555, "$local/tiny") or die;
my $from_hub = $node->safe_psql('postgres', "SELECT pgml.embed('$tiny', 'read-only model directory')::text");
is($node->safe_psql('postgres',
		"SET pgml.model_dirs = '$local'; SELECT pgml.embed('$local/tiny', 'read-only model directory')::text"),
	$from_hub, 'a read-only local model directory embeds like the hub copy');
ok(!-e "$local/tiny/.pgml", 'nothing written into the read-only model directory');
my @moved = glob("$cache/pgml-derived/*/encoder-float32.pgmlw");
is(scalar(@moved), 1, 'its derived weights are written under pgml.cache_dir/pgml-derived');
my $moved_ino = @moved ? (stat $moved[0])[1] : 0;
is($node->safe_psql('postgres',
		"SET pgml.model_dirs = '$local'; SELECT pgml.embed('$local/tiny', 'read-only model directory')::text"),
	$from_hub, 'a new backend maps them: the same embedding');
is(@moved ? (stat $moved[0])[1] : -1, $moved_ino, 'and does not rewrite them');
chmod(0755, "$local/tiny");

# With the hub gone, a new backend (empty model cache) still loads from the cache directory.
stop_hub();
($n, $close, $cos) = split /\|/, $node->safe_psql('postgres',
	compare_sql($tiny, "$fixtures/tiny-bert-mean/expected.json", 3));
ok($n > 30 && $close eq 't', 'cached model used with the hub unreachable (prompt case)');

# Offline mode: a model that is not in the cache is an error that says so; a cached one works.
my ($rc, $out, $err) = $node->psql('postgres',
	"SET pgml.hub_offline = on; SELECT pgml.embed('pgml-test/not-downloaded', 'x')");
isnt($rc, 0, 'offline: uncached model fails');
like($err, qr/offline|not found|not in the cache/i, 'offline: the error says why');
is($node->safe_psql('postgres', "SET pgml.hub_offline = on; SELECT array_length(pgml.embed('$tiny', 'x'), 1)"),
	'32', 'offline: cached model works');

# Unreachable hub: a clear network error, the backend survives.
($rc, $out, $err) = $node->psql('postgres', "SELECT pgml.embed('pgml-test/nowhere', 'x')");
isnt($rc, 0, 'unreachable hub: error');
like($err, qr/download|connect|hub/i, 'unreachable hub: the error names the download');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server alive');

start_hub();
$node->safe_psql('postgres', "ALTER SYSTEM SET pgml.hub_endpoint = 'http://127.0.0.1:$port'");
$node->reload;

# A model the hub does not have.
($rc, $out, $err) = $node->psql('postgres', "SELECT pgml.embed('pgml-test/missing-model', 'x')");
isnt($rc, 0, 'missing model: error');
like($err, qr/not found|404|does not exist/i, 'missing model: not found');

# Three backends loading the same new model at once, into a fresh cache: each file is fetched once.
my $cache2 = "$base/hf-cache-2";
$node->safe_psql('postgres', "ALTER SYSTEM SET pgml.cache_dir = '$cache2'");
$node->reload;
truncate_log();
my @sessions = map { $node->background_psql('postgres') } 1 .. 3;
$_->query_until(qr/started/, "\\echo started\nSELECT array_length(pgml.embed('pgml-test/tiny-roberta-cls', 'x'), 1);\n")
  for @sessions;
# each session printed the embedding's length (32) before answering this
my @outs = map { my $r = $_->query_safe('SELECT 1'); $_->quit; $r } @sessions;
is(scalar(grep { /^32\n1$/ } @outs), 3, 'three concurrent first loads finish');
my %gets;
for my $line (split /\n/, slurp_file($hub_log))
{
	$gets{$1}++ if $line =~ m{GET /pgml-test/tiny-roberta-cls/resolve/main/(\S+) (?:200|302)};
}
ok(exists $gets{'model.safetensors'}, 'weights were downloaded');
is(scalar(grep { $gets{$_} > 1 } keys %gets), 0,
	'each file downloaded once by three concurrent backends: ' . join(', ', map { "$_ x$gets{$_}" } sort keys %gets));
$node->safe_psql('postgres', "ALTER SYSTEM SET pgml.cache_dir = '$cache'");
$node->reload;

sub truncate_log { open(my $fh, '>', $hub_log) or die; close $fh; }

# The real all-MiniLM-L6-v2, through the hub, against sentence-transformers on the whole corpus.
SKIP:
{
	skip 'all-MiniLM-L6-v2 not installed (tools/deps.sh --python)', 2 unless $have_minilm;
	($n, $close, $cos) = split /\|/, $node->safe_psql('postgres',
		compare_sql('sentence-transformers/all-MiniLM-L6-v2', "$fixtures/minilm/expected.json", 0));
	cmp_ok($n, '>=', 200, "all-MiniLM-L6-v2: $n sentences");
	ok($close eq 't' && $cos eq 't', 'all-MiniLM-L6-v2 equals sentence-transformers (|diff| <= 1e-4, cosine >= 0.9999)');
}

stop_hub();
$node->stop;
done_testing();
