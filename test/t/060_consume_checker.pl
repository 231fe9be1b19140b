# 060_consume_checker.pl: transactional consumption (topics.consume) is
# exactly-once and in order, with rollbacks and consumers killed mid-work.
#
# Two pgbench producer clients produce keyed records with unique values to a
# topic of four partitions, 50 to a transaction, holding their transactions
# open for a random moment so that they commit out of offset order; one
# attempt in ten is rolled back (and then made again), so offsets have gaps
# that no consumer may see.  Each produce is an INSERT ... SELECT that also
# writes (partition, offset, value) into the plain table "produced" in the
# same transaction: produced holds exactly the committed records.
#
# Meanwhile four consumer sessions of one group, each its own pgbench
# process, loop: BEGIN; one or two INSERT INTO results ... SELECT FROM
# topics.consume('g', ...) with random max_records (1 to 200) and a random
# short wait; sometimes a pause; then COMMIT, or ROLLBACK one time in five.
# They start before the group exists, so they race to create its offsets.
# The test kills consumer backends (pg_terminate_backend) every second or
# so, every other time one whose transaction has consumed and not ended,
# and starts a new consumer in place of each.
#
# When the producers are done and the group's lag is 0, every consumer is
# stopped and the results are checked against produced:
#   - every committed record is in results exactly once, with its value,
#     and nothing else is (no loss, no duplicate, nothing rolled back);
#   - per partition, ordering results by the commit time of the consumer
#     transaction that inserted them (track_commit_timestamp), offsets
#     strictly increase: a later consumer transaction never gets an earlier
#     record.
# The same checks are first run on doctored copies of the results, to show
# that they find each kind of fault.
#
# The seed (PG_TOPICS_SEED, default below) drives pgbench's random choices
# and the kills; the interleaving still varies from run to run.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);

use PgTopicsTest;

my $seed = $ENV{PG_TOPICS_SEED} || 20261203;
my $partitions = 4;
my $producer_clients = 2;
my $producer_transactions = 200;    # per client
my $chunk = 50;                     # records per producer transaction
my $n_records = $producer_clients * $producer_transactions * $chunk;
my $consumers = 4;
my $min_kills = 6;
srand($seed);
diag("random seed $seed (set PG_TOPICS_SEED to repeat or vary it)");

my $node = PgTopicsTest::new_node('consume_checker');
$node->append_conf('postgresql.conf',
	"track_commit_timestamp = on\nlog_statement = none\n");
$node->restart;
$node->safe_psql(
	'postgres', qq{
	ALTER DATABASE postgres SET pg_topics.auto_offset_reset = 'earliest';
	SELECT topics.create_topic('t', $partitions);
	CREATE SEQUENCE value_ids;
	CREATE TABLE produced (
		partition int NOT NULL,
		"offset" bigint NOT NULL,
		value text NOT NULL,
		PRIMARY KEY (partition, "offset"));
	CREATE TABLE results (
		partition int NOT NULL,
		"offset" bigint NOT NULL,
		value text NOT NULL,
		xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
		consumer text NOT NULL DEFAULT current_setting('application_name'));
});

my $tmp = PostgreSQL::Test::Utils::tempdir();

sub write_file
{
	my ($name, $text) = @_;
	my $path = "$tmp/$name";
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh $text;
	close($fh);
	return $path;
}

# ---- the scripts ---------------------------------------------------------

my $produce = qq{INSERT INTO produced (partition, "offset", value)
	SELECT p.partition, p."offset", s.v
	FROM (SELECT 'v' || nextval('value_ids') AS v, 'k' || floor(random() * 1000) AS k
		  FROM generate_series(1, $chunk)) s,
		LATERAL topics.produce('t', s.v, s.k) p;
};
my $producer_script = write_file(
	'producer.sql', <<"EOS");
\\set undo random(1, 10)
\\set pause random(0, 60)
\\if :undo = 1
BEGIN;
$produce
SELECT pg_sleep(:pause / 1000.0);
ROLLBACK;
\\endif
BEGIN;
$produce
SELECT pg_sleep(:pause / 1000.0);
COMMIT;
EOS

my $consume = q{INSERT INTO results (partition, "offset", value)
	SELECT c.partition, c."offset", convert_from(c.value, 'UTF8')
	FROM topics.consume('g', 't', :max, wait => (:wait || ' ms')::interval) c;
};
my $consumer_script = write_file(
	'consumer.sql', <<"EOS");
\\set max random(1, 200)
\\set wait random(0, 20)
\\set calls random(1, 4)
\\set pause random(1, 8)
\\set end random(1, 5)
BEGIN;
$consume
\\if :calls = 1
\\set max random(1, 200)
$consume
\\endif
\\if :pause = 1
SELECT pg_sleep(0.02);
\\endif
\\if :end = 1
ROLLBACK;
\\else
COMMIT;
\\endif
EOS

# ---- the checker ---------------------------------------------------------

# Checks a results table against produced; returns the problems found, as
# sentences.
sub check_results
{
	my ($table) = @_;
	my @problems;
	my $sql = sub { $node->safe_psql('postgres', $_[0]) };

	my ($rows, $distinct_offsets, $distinct_values) = split /\|/, $sql->(
		qq{SELECT count(*), count(DISTINCT (partition, "offset")), count(DISTINCT value) FROM $table});
	push @problems, "$rows records consumed, $n_records committed"
	  if $rows != $n_records;
	push @problems, "$distinct_offsets distinct (partition, offset) of $rows records consumed"
	  if $distinct_offsets != $rows;
	push @problems, "$distinct_values distinct values of $rows records consumed"
	  if $distinct_values != $rows;

	for my $line (split /\n/, $sql->(qq{
		SELECT partition, "offset", count(*) FROM $table
		GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 10}))
	{
		my ($p, $o, $n) = split /\|/, $line;
		push @problems, "partition $p offset $o consumed $n times";
	}
	for my $line (split /\n/, $sql->(qq{
		SELECT p.partition, p."offset", p.value, r.value
		FROM produced p FULL JOIN (SELECT DISTINCT partition, "offset", value FROM $table) r
			USING (partition, "offset")
		WHERE p.value IS DISTINCT FROM r.value
		ORDER BY 1, 2 LIMIT 10}))
	{
		my ($p, $o, $committed, $got) = split /\|/, $line, -1;
		if ($got eq '')
		{
			push @problems, "partition $p offset $o ($committed) committed but never consumed";
		}
		elsif ($committed eq '')
		{
			push @problems, "partition $p offset $o ($got) consumed but never committed";
		}
		else
		{
			push @problems, "partition $p offset $o consumed as \"$got\", committed as \"$committed\"";
		}
	}

	my ($no_ts) = $sql->(qq{
		SELECT count(*) FROM $table WHERE pg_xact_commit_timestamp(xact::xid) IS NULL});
	push @problems, "$no_ts records of consumer transactions without a commit timestamp"
	  if $no_ts > 0;
	for my $line (split /\n/, $sql->(qq{
		SELECT partition, prev, "offset", prev_xact, xact
		FROM (SELECT partition, "offset", xact,
					 lag("offset") OVER w AS prev, lag(xact) OVER w AS prev_xact
			  FROM $table
			  WINDOW w AS (PARTITION BY partition
						   ORDER BY pg_xact_commit_timestamp(xact::xid), "offset")) s
		WHERE prev >= "offset"
		ORDER BY 1, 3 LIMIT 10}))
	{
		my ($p, $prev, $o, $prev_xact, $xact) = split /\|/, $line;
		push @problems,
		  "partition $p, in commit order: offset $o (transaction $xact) after offset $prev (transaction $prev_xact)";
	}
	return @problems;
}

# ---- the run -------------------------------------------------------------

sub pgbench
{
	my ($name, $script, $seed, @options) = @_;
	my %p = (name => $name, out => '', err => '');
	$p{h} = IPC::Run::start(
		[
			'pgbench', '-n', '-M', 'prepared', "--random-seed=$seed", @options,
			'-f', $script,
			"host=@{[ $node->host ]} port=@{[ $node->port ]} dbname=postgres application_name=$name"
		],
		'>', \$p{out}, '2>', \$p{err});
	return \%p;
}

# Consumers first: they race to create the group's offsets, at the
# earliest offset (the database's pg_topics.auto_offset_reset).
my @consumer = map { pgbench("consumer$_", $consumer_script, $seed + $_, '-c', 1, '-T', 600) }
  1 .. $consumers;
my $generation = $consumers;
my $producer = pgbench('producer', $producer_script, $seed,
	'-c', $producer_clients, '-j', $producer_clients, '-t', $producer_transactions);

my %kills;    # how the killed backends were found => kills
my @bad_exits;

# Ends consumer slot $i: terminates its backend unless $terminated says
# that is done, waits for its pgbench to end and checks that it ended for
# that reason only.  Returns how the backend was found: its state, and
# whether its transaction had an xid (had consumed something).
sub stop_consumer
{
	my ($i, $terminated) = @_;
	my $c = $consumer[$i];
	my $found = $terminated // '';
	my $deadline = time + 10;
	# a consumer started a moment ago may not have connected yet
	while ($found eq '' && $c->{h}->pumpable && time < $deadline)
	{
		$found = $node->safe_psql('postgres', qq{
			SELECT state || CASE WHEN backend_xid IS NULL THEN '' ELSE ', consumed' END,
				   pg_terminate_backend(pid)
			FROM pg_stat_activity WHERE application_name = '$c->{name}'});
		last if $found ne '';
		$c->{h}->pump_nb;
		sleep(0.02);
	}
	$c->{h}->finish;
	# pgbench reports the kill as the server's message, or, when the
	# connection broke before it could read one, as a backend that died
	my @errors = grep {
		!/terminating connection due to administrator command|perhaps the backend died|Run was aborted/
	} grep { /error/i } split /\n/, $c->{err};
	push @bad_exits, "$c->{name}: " . join("\n", @errors) if @errors;
	push @bad_exits, "$c->{name} had ended before it was stopped:\n$c->{err}"
	  if $found eq '';
	return (split /\|/, $found)[0] // 'gone';
}

# Every other kill, starting with the first, goes to a consumer whose
# transaction has consumed (it has an xid) and has not ended yet; the
# others to any consumer, whatever it is doing.
my $started = time;
my $next_kill = $started + 0.5 + rand(1);
my $n_kills = 0;
while ($producer->{h}->pumpable || $n_kills < $min_kills)
{
	$producer->{h}->pump_nb if $producer->{h}->pumpable;
	if (time >= $next_kill)
	{
		my ($i, $terminated);
		if ($n_kills % 2 == 0)
		{
			my ($name, $state) = split /\|/, $node->safe_psql('postgres', q{
				SELECT application_name, state || ', consumed', pg_terminate_backend(pid)
				FROM pg_stat_activity
				WHERE application_name LIKE 'consumer%' AND backend_xid IS NOT NULL
				ORDER BY random() LIMIT 1});
			($i) = grep { $consumer[$_]{name} eq ($name // '') } 0 .. $consumers - 1;
			$terminated = $state;
		}
		else
		{
			$i = int(rand($consumers));
		}
		if (defined $i)
		{
			$kills{ stop_consumer($i, $terminated) }++;
			$n_kills++;
			$generation++;
			$consumer[$i] = pgbench("consumer$generation", $consumer_script,
				$seed + $generation, '-c', 1, '-T', 600);
			$next_kill = time + 0.3 + rand(1.2);
		}
	}
	sleep(0.05);
	die "the producers did not finish in time" if time - $started > 120;
}
my $producer_ok = $producer->{h}->finish;
my $produced_in = time - $started;
ok($producer_ok, 'the producers ran without errors')
  or diag("producer pgbench:\n$producer->{err}");

# Drain: the group has read every partition to its end.
my $drained = $node->poll_query_until(
	'postgres', qq{
	SELECT count(*) = $partitions AND sum(lag) = 0
	FROM topics.consumer_lag WHERE group_id = 'g' AND topic = 't'});
ok($drained, 'the consumers drained the topic');
diag(sprintf('produced for %.1f s, drained after %.1f s', $produced_in, time - $started));
stop_consumer($_) for 0 .. $consumers - 1;
is(join("\n", @bad_exits), '', 'every consumer ended only because it was killed');
diag("$n_kills consumers killed while producing; their backends were: "
	  . join('; ', map { "$_: $kills{$_}" } sort keys %kills));
cmp_ok(scalar(grep { /consumed/ } keys %kills), '>', 0,
	'some were killed in a transaction that had consumed');

my ($committed, $offsets_taken) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM produced),
		   (SELECT sum(high_watermark) FROM topics.partition_list WHERE topic = 't')});
is($committed, $n_records, "the producers committed $n_records records");
cmp_ok($offsets_taken, '>', $committed, 'and rolled some back (gaps in the offsets)');
# Rows inserted into results in transactions that rolled back or died:
# records consumed and then given back, to come again.
my ($xacts, $sessions, $given_back) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(DISTINCT xact), count(DISTINCT consumer),
		   (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'results') - count(*)
	FROM results});
diag("$xacts consumer transactions of $sessions consumer sessions committed records; "
	  . "$given_back records were consumed in transactions that rolled back or died");
cmp_ok($given_back, '>', 0, 'some records were consumed and given back');

# The checker finds each kind of fault in doctored copies of the results.
my %faults = (
	'a duplicate' => q{INSERT INTO doctored SELECT * FROM doctored LIMIT 1},
	'a lost record' => q{DELETE FROM doctored
		WHERE ctid = (SELECT ctid FROM doctored LIMIT 1)},
	'a changed value' => q{UPDATE doctored SET value = value || 'x'
		WHERE ctid = (SELECT ctid FROM doctored LIMIT 1)},
	'a rolled-back record' => q{INSERT INTO doctored (partition, "offset", value, xact)
		SELECT o.partition, o."offset", 'rolled back', (SELECT max(xact) FROM doctored)
		FROM (SELECT p AS partition, generate_series(0, high_watermark - 1) AS "offset"
			  FROM generate_series(0, 3) p, topics.partition_offsets('t', p)) o
		WHERE NOT EXISTS (SELECT FROM produced r
						  WHERE r.partition = o.partition AND r."offset" = o."offset")
		LIMIT 1},
	# the first and the last record of partition 0 swap transactions
	'records out of commit order' => q{
		WITH e AS (SELECT min("offset") AS lo, max("offset") AS hi FROM doctored WHERE partition = 0),
			 x AS (SELECT (SELECT xact FROM doctored, e WHERE partition = 0 AND "offset" = lo) AS lo_x,
						  (SELECT xact FROM doctored, e WHERE partition = 0 AND "offset" = hi) AS hi_x)
		UPDATE doctored d SET xact = CASE WHEN d."offset" = e.lo THEN x.hi_x ELSE x.lo_x END
		FROM e, x WHERE d.partition = 0 AND d."offset" IN (e.lo, e.hi)});
for my $fault (sort keys %faults)
{
	$node->safe_psql('postgres',
		"DROP TABLE IF EXISTS doctored; CREATE TABLE doctored AS SELECT * FROM results; $faults{$fault}");
	ok(scalar(check_results('doctored')), "checker: finds $fault");
}
$node->safe_psql('postgres', 'DROP TABLE doctored');

my @problems = check_results('results');
is(scalar(@problems), 0,
	'every committed record was consumed exactly once, in commit order per partition')
  or diag(join("\n", @problems[ 0 .. ($#problems < 30 ? $#problems : 29) ]));

$node->stop;
done_testing();
