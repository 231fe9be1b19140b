# 010_crash_restart.pl: offsets survive crashes (I2, I4) and a record a
# consumer has seen is never taken back, also with synchronous_commit = off.
#
# Part 1: four pgbench clients produce keyed and keyless records to a
# topic of four partitions; each transaction also inserts (id, partition,
# offset) of its records into the plain table produced_log, so
# produced_log's committed rows are exactly the records that committed.  In the middle of the load the
# server is stopped with pg_ctl -m immediate (no shutdown checkpoint, WAL
# buffers and the offset counters in shared memory are lost) and restarted.
# After each restart:
#   - every committed record (a row of produced_log) is fetched at exactly
#     its partition and offset with its value (no loss, I4);
#   - every fetched record is a committed one (nothing of a transaction the
#     crash cut short appears, I3), each id once;
#   - per partition, offsets in fetch order strictly increase (I2);
#   - records produced after the restart get offsets above every offset
#     stored before the crash (no reuse, I2), and the next cycle's records
#     are above all earlier cycles' ones.
# Part 2 runs the producers with synchronous_commit = off while a consumer
# fetches every partition as fast as it can; then the producers are frozen
# (so that the last commits stay in the WAL writer's unflushed partial
# page), the consumer fetches once more and the crash comes right after.
# Every record it saw before the crash must be there afterwards, unchanged,
# and no new record may take its offset: a fetch serves only commits that
# are flushed to WAL.  Part 3 checks the same with a single unflushed
# commit fetched by another session and no load at all.
# Part 4: a consumer parked at topics.latest_offset() gets every record
# produced after a crash, a clean restart or the eviction of the
# partition's state, although the offsets that only aborted work took at
# the end of the partition were never stored.
#
# Checked against deliberately broken builds (not part of the suite): a
# fetch that serves unflushed commits fails parts 2 and 3, and a stable
# offset that runs past offsets only aborted work took fails part 4.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);

use PgTopicsTest;

my $partitions = 4;
my $clients = 4;

my $node = PgTopicsTest::new_node('crash');
# Async commits stay in the last, partial WAL page until the WAL writer's
# next round: make that window long, so that a fetch that did not flush
# would have unflushed records to serve when the crash comes.
# (pg_topics.max_partitions: part 4 evicts a partition's state.)
$node->append_conf('postgresql.conf',
	"wal_writer_delay = 10s\nlog_statement = none\npg_topics.max_partitions = 16\n");
$node->restart;

$node->safe_psql(
	'postgres', qq{
	SELECT topics.create_topic('crash_sync', $partitions);
	SELECT topics.create_topic('crash_async', $partitions);
	CREATE SEQUENCE record_ids;
	CREATE TABLE produced_log (
		topic text NOT NULL,
		id bigint NOT NULL,
		partition int NOT NULL,
		"offset" bigint NOT NULL,
		cycle int NOT NULL,
		PRIMARY KEY (topic, id));
});

# One pgbench transaction: 1 to 4 records, keyed or keyless, logged in the
# same transaction; one in ten rolls back (its offsets become gaps, and its
# rows stay behind as dead tuples that offsets must not collide with).
my $script_template = <<'EOS';
\set n random(1, 4)
\set keyed random(0, 1)
\set abort random(0, 9)
BEGIN;
INSERT INTO produced_log (topic, id, partition, "offset", cycle)
SELECT 'TOPIC', s.id, p.partition, p."offset", :cycle
FROM (SELECT nextval('record_ids') AS id FROM generate_series(1, :n)) s,
	LATERAL topics.produce('TOPIC', 'v' || s.id,
						   CASE WHEN :keyed = 1 THEN 'k' || (s.id % 97) END) p;
\if :abort = 0
ROLLBACK;
\else
COMMIT;
\endif
EOS
my $script_dir = PostgreSQL::Test::Utils::tempdir();
for my $topic ('crash_sync', 'crash_async')
{
	(my $script = $script_template) =~ s/TOPIC/$topic/g;
	open(my $fh, '>', "$script_dir/$topic.sql")
	  or die "could not write $script_dir/$topic.sql: $!";
	print $fh $script;
	close($fh);
}

# Starts the producers in the background; they run until the crash.
sub start_producers
{
	my ($topic, $cycle, $sync_commit) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGOPTIONS} = "-c synchronous_commit=$sync_commit";
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $clients, '-j', $clients, '-T', 60,
			'-D', "cycle=$cycle", '-f', "$script_dir/$topic.sql", 'postgres'
		],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# Waits until the producers have committed at least $min records of the
# cycle, so that the crash hits a running load.
sub wait_for_load
{
	my ($topic, $cycle, $min) = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my $n = $node->safe_psql('postgres',
			"SELECT count(*) FROM produced_log WHERE topic = '$topic' AND cycle = $cycle"
		);
		return $n if $n >= $min;
		sleep 0.1;
	}
	die "producers of $topic did not get going";
}

sub crash_and_restart
{
	my ($producers) = @_;
	$node->stop('immediate');
	# pgbench's clients lose their connections and it exits with an error
	$producers->{h}->finish;
	like(${ $producers->{err} }, qr/aborted|terminat|closed|lost/i,
		'producers were cut off by the crash');
	$node->start;
}

# All records of a topic, as a consumer reading every partition from its
# start sees them: { partition => [ [offset, value], ... ] } in fetch order.
sub fetch_all
{
	my ($topic) = @_;
	my %records = map { $_ => [] } 0 .. $partitions - 1;
	for my $p (0 .. $partitions - 1)
	{
		my $pos = $node->safe_psql('postgres',
			"SELECT topics.earliest_offset('$topic', $p)");
		while (1)
		{
			my $rows = $node->safe_psql('postgres',
				"SELECT \"offset\", convert_from(value, 'UTF8')
				 FROM topics.fetch('$topic', $p, $pos, 100000, 2147483647)");
			last if $rows eq '';
			for my $line (split /\n/, $rows)
			{
				my ($o, $v) = split /\|/, $line, 2;
				push @{ $records{$p} }, [ $o, $v ];
				$pos = $o + 1;
			}
		}
	}
	return \%records;
}

# The committed records of a topic according to produced_log:
# { "partition/offset" => [id, cycle] }.
sub logged
{
	my ($topic) = @_;
	my %log;
	my $rows = $node->safe_psql('postgres',
		"SELECT partition, \"offset\", id, cycle FROM produced_log WHERE topic = '$topic'"
	);
	for my $line (split /\n/, $rows)
	{
		my ($p, $o, $id, $cycle) = split /\|/, $line;
		die "offset $p/$o logged twice" if exists $log{"$p/$o"};
		$log{"$p/$o"} = [ $id, $cycle ];
	}
	return \%log;
}

# Compares what a consumer fetches with produced_log; returns the problems
# found, as sentences (empty when the invariants hold).
sub check_topic
{
	my ($records, $log) = @_;
	my @problems;
	my %fetched;
	my %ids;
	for my $p (sort keys %$records)
	{
		my $prev = -1;
		for my $r (@{ $records->{$p} })
		{
			my ($o, $v) = @$r;
			push @problems, "partition $p: offset $o after offset $prev"
			  if $o <= $prev;
			$prev = $o if $o > $prev;
			push @problems, "partition $p: offset $o fetched twice"
			  if $fetched{"$p/$o"}++;
			my $l = $log->{"$p/$o"};
			if (!defined $l)
			{
				push @problems,
				  "partition $p offset $o ($v) was fetched but never committed";
				next;
			}
			push @problems,
			  "partition $p offset $o holds \"$v\", committed as \"v$l->[0]\""
			  if $v ne "v$l->[0]";
			push @problems, "record $v fetched twice" if $ids{$v}++;
		}
	}
	for my $key (sort keys %$log)
	{
		push @problems, "committed record v$log->{$key}[0] at $key is lost"
		  unless $fetched{$key};
	}
	return @problems;
}

# Records of later cycles must lie above every offset of earlier cycles.
sub check_cycles
{
	my ($log) = @_;
	my (%max, %min);
	my @problems;
	for my $key (keys %$log)
	{
		my ($p, $o) = split m{/}, $key;
		my $c = $log->{$key}[1];
		$max{$p}{$c} = $o if !defined $max{$p}{$c} || $o > $max{$p}{$c};
		$min{$p}{$c} = $o if !defined $min{$p}{$c} || $o < $min{$p}{$c};
	}
	for my $p (keys %min)
	{
		for my $c (keys %{ $min{$p} })
		{
			for my $earlier (grep { $_ < $c } keys %{ $max{$p} })
			{
				push @problems,
				  "partition $p: cycle $c took offset $min{$p}{$c}, not above cycle $earlier\'s $max{$p}{$earlier}"
				  if $min{$p}{$c} <= $max{$p}{$earlier};
			}
		}
	}
	return @problems;
}

sub max_offsets
{
	my ($records) = @_;
	my %max;
	for my $p (keys %$records)
	{
		$max{$p} = -1;
		for my $r (@{ $records->{$p} })
		{
			$max{$p} = $r->[0] if $r->[0] > $max{$p};
		}
	}
	return \%max;
}

# After a restart: one record per partition must land above what was
# stored before the crash; logged like the others (cycle $cycle).
sub produce_after_restart
{
	my ($topic, $cycle, $before) = @_;
	my $rows = $node->safe_psql(
		'postgres', qq{
		INSERT INTO produced_log (topic, id, partition, "offset", cycle)
		SELECT '$topic', s.id, p.partition, p."offset", $cycle
		FROM (SELECT g AS part, nextval('record_ids') AS id
			  FROM generate_series(0, $partitions - 1) g) s,
			LATERAL topics.produce('$topic', 'v' || s.id, partition => s.part) p
		RETURNING partition, "offset"});
	my @problems;
	for my $line (split /\n/, $rows)
	{
		my ($p, $o) = split /\|/, $line;
		push @problems,
		  "partition $p: offset $o produced after the restart, but offset $before->{$p} was stored before"
		  if $o <= $before->{$p};
	}
	return @problems;
}

sub check_partition_bounds
{
	my ($topic, $max) = @_;
	my @problems;
	for my $p (0 .. $partitions - 1)
	{
		my ($hw, $lso) = split /\|/,
		  $node->safe_psql('postgres',
			"SELECT high_watermark, last_stable_offset FROM topics.partition_offsets('$topic', $p)"
		  );
		push @problems,
		  "partition $p: high watermark $hw after the restart, but offset $max->{$p} is stored"
		  if $hw <= $max->{$p};
		push @problems,
		  "partition $p: last stable offset $lso differs from high watermark $hw with nothing in flight"
		  if $lso != $hw;
	}
	return @problems;
}

# The checker must see what it is there to see.
{
	my $log = { '0/0' => [ 1, 1 ], '0/2' => [ 2, 1 ], '1/0' => [ 3, 1 ] };
	my $good = { 0 => [ [ 0, 'v1' ], [ 2, 'v2' ] ], 1 => [ [ 0, 'v3' ] ] };
	is_deeply([ check_topic($good, $log) ], [], 'checker: accepts a correct topic');
	my %bad = (
		'a lost record' => { 0 => [ [ 0, 'v1' ] ], 1 => [ [ 0, 'v3' ] ] },
		'an uncommitted record' =>
		  { 0 => [ [ 0, 'v1' ], [ 1, 'v9' ], [ 2, 'v2' ] ], 1 => [ [ 0, 'v3' ] ] },
		'a reused offset' =>
		  { 0 => [ [ 0, 'v1' ], [ 2, 'v4' ] ], 1 => [ [ 0, 'v3' ] ] },
		'a reordered partition' =>
		  { 0 => [ [ 2, 'v2' ], [ 0, 'v1' ] ], 1 => [ [ 0, 'v3' ] ] },
		'a duplicate' =>
		  { 0 => [ [ 0, 'v1' ], [ 2, 'v2' ], [ 2, 'v2' ] ], 1 => [ [ 0, 'v3' ] ] });
	for my $what (sort keys %bad)
	{
		ok(scalar(check_topic($bad{$what}, $log)), "checker: finds $what");
	}
	ok( scalar(check_cycles({ '0/5' => [ 1, 1 ], '0/3' => [ 2, 2 ] })),
		'checker: finds a later cycle below an earlier one');
}

# Part 1: synchronous commit, three crashes.
for my $cycle (1 .. 3)
{
	my $producers = start_producers('crash_sync', $cycle, 'on');
	wait_for_load('crash_sync', $cycle, 200);
	sleep(0.2 + rand(0.5));
	crash_and_restart($producers);

	my $records = fetch_all('crash_sync');
	my $log = logged('crash_sync');
	my $nrecords = 0;
	$nrecords += scalar(@{ $records->{$_} }) for keys %$records;
	note "sync cycle $cycle: "
	  . scalar(keys %$log)
	  . " committed records, $nrecords fetched";
	is_deeply([ check_topic($records, $log) ],
		[], "sync cycle $cycle: committed records are all there, once, in order");
	is_deeply([ check_cycles($log) ],
		[], "sync cycle $cycle: no cycle reused an earlier cycle's offsets");
	my $max = max_offsets($records);
	is_deeply([ check_partition_bounds('crash_sync', $max) ],
		[], "sync cycle $cycle: high watermarks above every stored offset");
	is_deeply([ produce_after_restart('crash_sync', $cycle, $max) ],
		[], "sync cycle $cycle: offsets after the restart are new");
}

# Part 2: synchronous_commit = off, with a consumer fetching until the crash.
for my $cycle (1 .. 2)
{
	my %seen;    # "partition/offset" => value
	my %pos = map { $_ => 0 } 0 .. $partitions - 1;
	$pos{$_} = $node->safe_psql('postgres',
		"SELECT topics.latest_offset('crash_async', $_)")
	  for 0 .. $partitions - 1;
	my $consumer = $node->background_psql('postgres');

	my $producers = start_producers('crash_async', $cycle, 'off');
	wait_for_load('crash_async', $cycle, 200);
	my $until = time + 0.5 + rand(0.5);
	my $fetches = 0;
	my $fetch = sub {
		my $from = join(', ', map { "($_, $pos{$_})" } 0 .. $partitions - 1);
		my $rows = $consumer->query_safe(
			"SELECT f.partition, f.\"offset\", convert_from(f.value, 'UTF8')
			 FROM (VALUES $from) v(p, o),
				  LATERAL topics.fetch('crash_async', v.p, v.o, 100000) f");
		$fetches++;
		for my $line (split /\n/, $rows)
		{
			my ($p, $o, $v) = split /\|/, $line;
			$seen{"$p/$o"} = $v;
			$pos{$p} = $o + 1;
		}
	};
	$fetch->() while time < $until;
	# Freeze the producers (their next INSERT waits for this lock; no WAL
	# is written meanwhile), so that the last commits stay unflushed in the
	# WAL writer's partial page; fetch them; crash at once.
	my $freezer = $node->background_psql('postgres');
	$freezer->query_safe('BEGIN; LOCK TABLE produced_log IN EXCLUSIVE MODE');
	$fetch->();
	crash_and_restart($producers);
	eval { $freezer->quit; };
	eval { $consumer->quit; };
	note "async cycle $cycle: consumer saw "
	  . scalar(keys %seen)
	  . " records in $fetches fetches before the crash";
	cmp_ok(scalar(keys %seen), '>', 0,
		"async cycle $cycle: the consumer saw records before the crash");

	my $records = fetch_all('crash_async');
	my $log = logged('crash_async');
	my %after;
	for my $p (keys %$records)
	{
		$after{"$p/$_->[0]"} = $_->[1] for @{ $records->{$p} };
	}
	my @lost;
	for my $key (sort keys %seen)
	{
		push @lost,
		  "$key: saw \"$seen{$key}\" before the crash, "
		  . (defined $after{$key} ? "\"$after{$key}\"" : 'nothing')
		  . ' after'
		  if !defined $after{$key} || $after{$key} ne $seen{$key};
	}
	is_deeply(\@lost, [],
		"async cycle $cycle: every record the consumer saw survived the crash");
	is_deeply([ check_topic($records, $log) ],
		[], "async cycle $cycle: committed records are all there, once, in order");
	is_deeply([ check_cycles($log) ],
		[], "async cycle $cycle: no cycle reused an earlier cycle's offsets");
	my $max = max_offsets($records);
	is_deeply([ check_partition_bounds('crash_async', $max) ],
		[], "async cycle $cycle: high watermarks above every stored offset");
	is_deeply([ produce_after_restart('crash_async', $cycle, $max) ],
		[], "async cycle $cycle: offsets after the restart are new");
}

# Part 3, the same guarantee without the noise of a load: a record whose
# commit is not flushed (synchronous_commit = off, and the WAL writer
# sleeps for 10 s) is fetched at once by another session, and the server
# crashes right after.  The fetch must have flushed the commit: the record
# is there after the restart, and its offset is not given to a new record.
$node->safe_psql('postgres', "SELECT topics.create_topic('crash_flush', 1)");
for my $round (1 .. 3)
{
	$node->safe_psql(
		'postgres', qq{
		SET synchronous_commit = off;
		SELECT * FROM topics.produce('crash_flush', 'unflushed $round');
	});
	my $seen = $node->safe_psql('postgres',
		"SELECT \"offset\" FROM topics.fetch('crash_flush', 0, 0) WHERE value = 'unflushed $round'"
	);
	$node->stop('immediate');
	$node->start;
	isnt($seen, '', "flush round $round: the consumer saw the record at once");
	is( $node->safe_psql(
			'postgres',
			"SELECT convert_from(value, 'UTF8') FROM topics.fetch('crash_flush', 0, $seen, 1)"
		),
		"unflushed $round",
		"flush round $round: the record it saw survived the crash");
	cmp_ok(
		$node->safe_psql(
			'postgres',
			"SELECT \"offset\" FROM topics.produce('crash_flush', 'after round $round')"),
		'>', $seen,
		"flush round $round: its offset was not given to a new record");
}

# Part 4: offsets that only aborted work took (a rolled-back transaction,
# a rolled-back savepoint at the end of a committed one) are not stored, so
# a counter rebuilt from storage may hand them out again.  That is allowed
# only if no reader was ever told an offset above them: a consumer parked
# at topics.latest_offset() before a crash, a clean restart or the
# eviction of the partition's state must get every record produced after.
$node->safe_psql(
	'postgres', q{
	SELECT topics.create_topic('parked', 1);
	SELECT topics.create_topic('filler', 100);
});
my %unpark = (
	'a crash' => sub { $node->stop('immediate'); $node->start; },
	'a clean restart' => sub { $node->restart; },
	# pg_topics.max_partitions is 16 here: a transaction that produces to
	# 100 partitions evicts every idle partition state, the parked one
	# too, before it runs out of slots
	'an eviction' => sub {
		my ($ret, $out, $err) = $node->psql('postgres',
			"SELECT count(*) FROM generate_series(0, 99) p,
				topics.produce('filler', 'x', partition => p)");
		like($err, qr/too many partitions in use at once/,
			'every partition slot was taken');
	});
for my $what (sort keys %unpark)
{
	$node->safe_psql(
		'postgres', q{
		SELECT * FROM topics.produce('parked', 'committed');
		BEGIN;
		SELECT * FROM topics.produce('parked', 'rolled back');
		ROLLBACK;
		BEGIN;
		SELECT * FROM topics.produce('parked', 'committed');
		SAVEPOINT s;
		SELECT * FROM topics.produce('parked', 'rolled back to a savepoint');
		ROLLBACK TO SAVEPOINT s;
		COMMIT;
	});
	my $parked =
	  $node->safe_psql('postgres', "SELECT topics.latest_offset('parked', 0)");
	$unpark{$what}->();
	cmp_ok($node->safe_psql('postgres', "SELECT topics.latest_offset('parked', 0)"),
		'>=', $parked, "after $what: the stable offset did not go back");
	$node->safe_psql('postgres',
		"SELECT * FROM topics.produce('parked', 'after $what')");
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT convert_from(value, 'UTF8') FROM topics.fetch('parked', 0, $parked)");
	is($out, "after $what",
		"after $what: a consumer parked at the old stable offset gets the next record"
	) or diag($err);
}

$node->stop;
done_testing();
