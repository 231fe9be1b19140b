# 020_randomized_checker.pl: many producers in random transactions, two
# consumers streaming every partition; what the consumers got must be
# exactly what committed (I1 no skip, I2 increasing offsets, I3 no dirty
# reads).
#
# Five pgbench clients run random transactions against a topic of four
# partitions: keyed, keyless (sticky) and explicit-partition produce calls,
# produce_batch calls, PL/pgSQL exception blocks that produce and then fail,
# nested savepoints rolled back or released at random, short sleeps that keep
# transactions open (so that they commit out of offset order), and whole
# transactions rolled back.  Every produce call is an INSERT ... SELECT that
# also writes (partition, offset, value) into the plain table "expected", in
# the same statement and so in the same (sub)transaction: at the end,
# expected holds exactly the records that committed.
#
# Meanwhile two consumers fetch every partition from their position (the
# last offset they got + 1), one with small random max_records and no wait,
# the other with max_records 500 and a short wait, and remember every
# response.  After the producers stop and the consumers have drained the
# topic, for each consumer and partition:
#   - the records it got, in order, are exactly the committed ones, in
#     offset order: nothing lost, nothing extra (I3), no duplicate, no
#     reordering (I2), each with its committed value;
#   - no response jumped over a committed record: every committed offset
#     between a response's from_offset and the highest offset it returned
#     is in that response (I1, judged at the time of each fetch).
# Half the fetches go through the streaming scan, half through the
# function scan.
# The checker is first run on doctored copies of the data to show that it
# finds each kind of fault.  It was also run against deliberately broken
# builds (not part of the suite), and failed each: a stable offset that
# ignores transactions in flight, an in-flight entry dropped before the
# commit is visible, and a fetch that reads with the statement's snapshot.
#
# The seed (PG_TOPICS_SEED, default below) drives pgbench's random choices
# and the consumers' max_records; the interleaving still varies from run to
# run.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);

use PgTopicsTest;

my $seed = $ENV{PG_TOPICS_SEED} || 20261126;
my $duration = 20;    # seconds of producing
my $partitions = 4;
my $clients = 5;
srand($seed);
diag("random seed $seed (set PG_TOPICS_SEED to repeat or vary it)");

my $node = PgTopicsTest::new_node('randomized');
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->restart;
$node->safe_psql(
	'postgres', qq{
	SELECT topics.create_topic('rand', $partitions);
	CREATE SEQUENCE value_ids;
	CREATE TABLE expected (
		partition int NOT NULL,
		"offset" bigint NOT NULL,
		value text NOT NULL,
		PRIMARY KEY (partition, "offset"));
});
{
	my %zero = map { $_ => 0 } 0 .. $partitions - 1;
	like($node->safe_psql('postgres', 'EXPLAIN ' . fetch_statement(\%zero, 10, '0', 1)),
		qr/Custom Scan \(TopicFetch\)/, 'half the fetches run the streaming scan');
	like($node->safe_psql('postgres', 'EXPLAIN ' . fetch_statement(\%zero, 10, '0', 0)),
		qr/Function Scan on "fetch"/, 'the other half the function scan');
}

# ---- the producers' pgbench script --------------------------------------

# One produce step: a randomly chosen kind of produce call that logs its
# records into expected.  $n makes the pgbench variable names unique.
sub produce_step
{
	my ($n) = @_;
	my $log = 'INSERT INTO expected (partition, "offset", value)';
	my $one = q{SELECT p.partition, p."offset", s.v
	FROM (SELECT 'r' || nextval('value_ids') AS v) s,
		LATERAL topics.produce('rand', s.v%s) p};
	return <<"EOS";
\\set kind$n random(1, 6)
\\set key$n random(1, 1000)
\\set part$n random(0, @{[ $partitions - 1 ]})
\\set count$n random(1, 30)
\\if :kind$n = 1
$log @{[ sprintf($one, ", 'k' || :key$n") ]};
\\elif :kind$n = 2
$log @{[ sprintf($one, '') ]};
\\elif :kind$n = 3
$log @{[ sprintf($one, ", partition => :part$n") ]};
\\elif :kind$n = 4
$log SELECT p.partition, p."offset", convert_from(b.vals[p.i], 'UTF8')
	FROM (SELECT array_agg(convert_to('r' || nextval('value_ids'), 'UTF8')) AS vals
		  FROM generate_series(1, :count$n)) b,
		LATERAL topics.produce_batch('rand', b.vals, partition => :part$n)
			WITH ORDINALITY p(partition, "offset", i);
\\elif :kind$n = 5
DO \$\$
BEGIN
	$log @{[ sprintf($one, ", 'k' || :key$n") ]};
	RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
	NULL;
END \$\$;
\\else
SELECT pg_sleep(:key$n / 100000.0);
$log @{[ sprintf($one, ", 'k' || :key$n") ]};
\\endif
EOS
}

my $script = join('',
	"BEGIN;\n",
	produce_step(1),
	"\\set sp1 random(0, 2)\n",
	"\\if :sp1 > 0\n",
	"SAVEPOINT s1;\n",
	produce_step(2),
	"\\set sp2 random(0, 2)\n",
	"\\if :sp2 > 0\n",
	"SAVEPOINT s2;\n",
	produce_step(3),
	"\\if :sp2 = 1\n",
	"ROLLBACK TO SAVEPOINT s2;\n",
	"\\else\n",
	"RELEASE SAVEPOINT s2;\n",
	"\\endif\n",
	"\\endif\n",
	produce_step(4),
	"\\if :sp1 = 1\n",
	"ROLLBACK TO SAVEPOINT s1;\n",
	"\\else\n",
	"RELEASE SAVEPOINT s1;\n",
	"\\endif\n",
	"\\endif\n",
	produce_step(5),
	"\\set end random(1, 8)\n",
	"\\if :end = 1\n",
	"ROLLBACK;\n",
	"\\else\n",
	"COMMIT;\n",
	"\\endif\n");
my $script_file = PostgreSQL::Test::Utils::tempdir() . '/random_producer.sql';
open(my $fh, '>', $script_file) or die "could not write $script_file: $!";
print $fh $script;
close($fh);

# ---- the checker ---------------------------------------------------------

# $expected: { partition => { offset => value } }, the committed records.
# $responses: { partition => [ { from => N, records => [ [offset, value], ... ] } ] },
# a consumer's non-empty responses in the order it got them.
# Returns the problems found, as sentences.
sub check_consumer
{
	my ($name, $expected, $responses) = @_;
	my @problems;
	for my $p (0 .. $partitions - 1)
	{
		my @committed = sort { $a <=> $b } keys %{ $expected->{$p} };
		my @stream;
		my $prev = -1;
		for my $r (@{ $responses->{$p} })
		{
			my $high = -1;
			my %returned;
			for my $rec (@{ $r->{records} })
			{
				my ($o, $v) = @$rec;
				push @problems, "$name, partition $p: offset $o came after offset $prev"
				  if $o <= $prev;
				$prev = $o if $o > $prev;
				$high = $o if $o > $high;
				$returned{$o} = 1;
				push @stream, $o;
				my $want = $expected->{$p}{$o};
				if (!defined $want)
				{
					push @problems,
					  "$name, partition $p: got offset $o ($v), which never committed";
				}
				elsif ($want ne $v)
				{
					push @problems,
					  "$name, partition $p: offset $o holds \"$v\", committed as \"$want\"";
				}
			}
			# the committed offsets in [from, high], found by binary search
			my ($lo, $hi) = (0, scalar(@committed));
			while ($lo < $hi)
			{
				my $mid = int(($lo + $hi) / 2);
				if ($committed[$mid] < $r->{from}) { $lo = $mid + 1; }
				else { $hi = $mid; }
			}
			for (my $i = $lo; $i < @committed && $committed[$i] <= $high; $i++)
			{
				push @problems,
				  "$name, partition $p: a fetch from $r->{from} returned up to $high but skipped committed offset $committed[$i]"
				  unless $returned{ $committed[$i] };
			}
		}
		my %count;
		$count{$_}++ for @stream;
		for my $o (sort { $a <=> $b } grep { $count{$_} > 1 } keys %count)
		{
			push @problems, "$name, partition $p: got offset $o $count{$o} times";
		}
		for my $o (grep { !$count{$_} } @committed)
		{
			push @problems, "$name, partition $p: never got committed offset $o";
		}
	}
	return @problems;
}

# Deep copy of a consumer's responses, for doctoring.
sub copy_responses
{
	my ($responses) = @_;
	my %copy;
	for my $p (keys %$responses)
	{
		$copy{$p} = [
			map {
				{ from => $_->{from}, records => [ map { [@$_] } @{ $_->{records} } ] }
			} @{ $responses->{$p} } ];
	}
	return \%copy;
}

# ---- the run -------------------------------------------------------------

my ($pgbench_out, $pgbench_err) = ('', '');
my $pgbench = IPC::Run::start(
	[
		'pgbench', '-n', '-h', $node->host, '-p', $node->port,
		'-c', $clients, '-j', $clients, '-T', $duration,
		"--random-seed=$seed", '-f', $script_file, 'postgres'
	],
	'>', \$pgbench_out, '2>', \$pgbench_err);
my $producing_until = time + $duration;

# A psql session that runs one query at a time for a consumer.  (Not
# BackgroundPsql: that notes every query and its result in the test log.)
sub psql_session
{
	my %s = (in => '', out => '', err => '', n => 0);
	$s{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%s;
}

sub psql_query
{
	my ($s, $sql) = @_;
	my $marker = '__query_' . ++$s->{n} . '_done__';
	$s->{out} = '';
	$s->{in} .= "$sql;\n\\echo $marker\n";
	$s->{h}->pump until $s->{out} =~ /^\Q$marker\E$/m || $s->{err} ne '';
	die "consumer query failed: $s->{err}" if $s->{err} ne '';
	$s->{out} =~ s/^\Q$marker\E\n//m;
	return $s->{out};
}

sub psql_quit
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

my @consumers = (
	{ name => 'consumer 1', wait => '0',    max => sub { 1 + int(rand(40)) } },
	{ name => 'consumer 2', wait => '5 ms', max => sub { 500 } });
for my $c (@consumers)
{
	$c->{psql} = psql_session();
	$c->{pos} = { map { $_ => 0 } 0 .. $partitions - 1 };
	$c->{responses} = { map { $_ => [] } 0 .. $partitions - 1 };
	$c->{fetches} = 0;
	$c->{records} = 0;
}

# One fetch of every partition from the consumer's positions, in one
# statement; returns the number of records it got.  Fetches alternate
# between the two ways a query runs topics.fetch: the streaming TopicFetch
# scan, and (WITH ORDINALITY keeps it) PostgreSQL's function scan, which
# materialises the rows.
sub fetch_statement
{
	my ($pos, $max, $wait, $streamed) = @_;
	my @parts = 0 .. $partitions - 1;
	my $from = join(', ', map { "($_, $pos->{$_})" } @parts);
	my $ordinality = $streamed ? '' : 'WITH ORDINALITY';
	return "SELECT f.partition, f.\"offset\", convert_from(f.value, 'UTF8')
			FROM (VALUES $from) v(p, o),
				 LATERAL topics.fetch('rand', v.p, v.o, $max, wait => '$wait') $ordinality f";
}

sub consume
{
	my ($c) = @_;
	my $pos = $c->{pos};
	my $max = $c->{max}->();
	my $rows = psql_query($c->{psql},
		fetch_statement($pos, $max, $c->{wait}, $c->{fetches} % 2));
	$c->{fetches}++;
	my %got;
	for my $line (split /\n/, $rows)
	{
		my ($p, $o, $v) = split /\|/, $line;
		push @{ $got{$p} }, [ $o, $v ];
	}
	my $n = 0;
	for my $p (keys %got)
	{
		push @{ $c->{responses}{$p} }, { from => $pos->{$p}, records => $got{$p} };
		$pos->{$p} = $got{$p}[-1][0] + 1;
		$n += @{ $got{$p} };
	}
	$c->{records} += $n;
	return $n;
}

while (time < $producing_until)
{
	consume($_) for @consumers;
}
$_->{while_producing} = $_->{records} for @consumers;
my $pgbench_ok = $pgbench->finish;
# drain: nothing is in flight any more, so one empty round means done
for my $c (@consumers)
{
	while (consume($c) > 0) { }
	psql_quit($c->{psql});
}

ok($pgbench_ok, 'producers ran without errors')
  or diag("pgbench failed:\n$pgbench_err");
my ($tps) = $pgbench_out =~ /^(number of transactions actually processed: .*)$/m;
diag("producers: " . ($tps // 'no summary'));

my %expected;
my $ncommitted = 0;
for my $line (split /\n/,
	$node->safe_psql('postgres', 'SELECT partition, "offset", value FROM expected'))
{
	my ($p, $o, $v) = split /\|/, $line;
	$expected{$p}{$o} = $v;
	$ncommitted++;
}
my ($nproduced) = $node->safe_psql('postgres',
	"SELECT sum(high_watermark) FROM topics.partition_list WHERE topic = 'rand'");
diag("$ncommitted records committed of $nproduced offsets taken");
cmp_ok($ncommitted, '>', 1000, 'the producers committed a fair amount');
cmp_ok($nproduced - $ncommitted, '>', 100,
	'and rolled a fair amount back (savepoints, exception blocks, aborts)');

# The checker finds each kind of fault in doctored copies of real data.
{
	my $real = $consumers[0]{responses};
	my ($p) = grep {
		grep { @{ $_->{records} } >= 3 } @{ $real->{$_} }
	} 0 .. $partitions - 1;
	ok(defined $p, 'checker: a response with three records to doctor');
	my $index = (grep { @{ $real->{$p}[$_]{records} } >= 3 } 0 .. $#{ $real->{$p} })[0];
	my %faults = (
		'a skipped record' => sub { splice(@{ $_[0] }, 1, 1) },
		'a record that never committed' =>
		  sub { push @{ $_[0] }, [ $nproduced + 1, 'r-1' ] },
		'reordered records' => sub { @{ $_[0] }[ 0, 1 ] = @{ $_[0] }[ 1, 0 ] },
		'a duplicate' => sub { splice(@{ $_[0] }, 1, 0, [ @{ $_[0][1] } ]) },
		'a changed value' => sub { $_[0][0][1] .= 'x' });
	for my $fault (sort keys %faults)
	{
		my $doctored = copy_responses($real);
		$faults{$fault}->($doctored->{$p}[$index]{records});
		ok(scalar(check_consumer('doctored', \%expected, $doctored)),
			"checker: finds $fault");
	}
	# a record delivered late, after a higher offset: the consumer moved
	# past it, so this is a skip even though every record arrives once
	my $doctored = copy_responses($real);
	my $recs = $doctored->{$p}[$index]{records};
	my $late = splice(@$recs, 0, 1);
	push @{ $doctored->{$p} }, { from => $late->[0], records => [$late] };
	ok(scalar(check_consumer('doctored', \%expected, $doctored)),
		'checker: finds a record that became visible after a higher one');
}

for my $c (@consumers)
{
	diag("$c->{name}: $c->{records} records in $c->{fetches} fetches, "
		  . "$c->{while_producing} of them while the producers ran");
	my @problems = check_consumer($c->{name}, \%expected, $c->{responses});
	is(scalar(@problems), 0,
		"$c->{name} got exactly the committed records, in order, none skipped")
	  or diag(join("\n", @problems[ 0 .. ($#problems < 30 ? $#problems : 29) ]));
}

$node->stop;
done_testing();
