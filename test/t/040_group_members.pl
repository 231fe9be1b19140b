# 040_group_members.pl: a member that stops heartbeating is expired by the
# background worker within its session timeout + 1 s, the group rebalances
# and the remaining member gets every partition; the silent member is fenced,
# first by its stale generation (PT003) while it is still a member, then as
# an unknown member (PT002) once it has been expired.
#
# Member A joins with session_timeout '2 s', member B with '30 s'.  A third
# member comes and goes, so that A's generation is stale while A is still a
# member: A's commit and poll with it fail with PT003.  A heartbeats one last
# time (and ignores the 'rebalance' it is told), then goes silent; B rejoins
# and heartbeats every 50 ms.  The time from A's last heartbeat to the
# moment B's heartbeat says 'rebalance' and B's rejoin returns all four
# partitions must be at most 2 s + 1 s, measured both on the database clock
# (A's last_heartbeat, consumer_group.rebalanced_at, clock_timestamp() at
# B's rejoin) and on the test's clock; and at least the 2 s of A's session
# (A is not expired early).  Last, a member polling with a wait longer than
# its session returns in time and is still a member afterwards.
# pg_topics.worker_naptime is set to 200 ms.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

use PgTopicsTest;

my $session_timeout = 2;    # seconds, A's session
my $slack = 1;              # seconds allowed beyond it

my $node = PgTopicsTest::new_node('group_members');
$node->append_conf('postgresql.conf',
	"pg_topics.worker_naptime = 200\npg_topics.auto_offset_reset = earliest\n");
$node->restart;
# (050_worker.pl checks that the setting takes effect; the bound below holds
# for any naptime, since the worker shortens its pause to the next expiry.)
note 'pg_topics.worker_naptime: '
  . $node->safe_psql('postgres', 'SHOW pg_topics.worker_naptime');

$node->safe_psql(
	'postgres', q{
	SELECT topics.create_topic('gm', 4);
	SELECT count(*) FROM generate_series(0, 3) p,
		LATERAL topics.produce_batch('gm', ARRAY['x', 'y']::bytea[], partition => p);
	-- the SQLSTATE a statement fails with, or 'ok'
	CREATE FUNCTION try_state(stmt text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		EXECUTE stmt;
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE;
	END $$;
});

# Joins (or rejoins with $member) and returns (member_id, generation,
# sorted partition list).
sub join_group
{
	my ($client, $timeout, $member) = @_;
	my $member_arg = defined $member ? "'$member'" : 'NULL';
	my $row = $node->safe_psql(
		'postgres', qq{
		SELECT j.member_id, j.generation,
			   (SELECT string_agg(a.partition::text, ',' ORDER BY a.partition)
				FROM unnest(j.assignment) a)
		FROM topics.join_group('gm.group', '{gm}', $member_arg,
							   session_timeout => '$timeout s', client_id => '$client') j});
	my ($id, $gen, $parts) = split /\|/, $row;
	return ($id, $gen, $parts // '');
}

sub try_state
{
	my ($sql) = @_;
	$sql =~ s/'/''/g;
	return $node->safe_psql('postgres', "SELECT try_state('$sql')");
}

my ($a_id, $gen_a) = join_group('A', $session_timeout);
my ($b_id, $gen_b) = join_group('B', 30);
my ($x, $gen, $a_parts) = join_group('A', $session_timeout, $a_id);
is($gen, $gen_b, 'A rejoins in the generation B joined with');
(undef, undef, my $b_parts) = join_group('B', 30, $b_id);
is(join(';', $a_parts, $b_parts), '0,1;2,3', 'A and B share the four partitions');
my $a_gen = $gen;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM topics.poll('gm.group', '$a_id', $a_gen)"),
	'4', 'A polls its records');
is(try_state("SELECT topics.commit('gm.group', 'gm', 0, 1, member_id => '$a_id', generation => $a_gen)"),
	'ok', 'A commits with its generation');

# A third member comes and goes: two rebalances, A's generation is stale.
my ($c_id) = join_group('C', 30);
$node->safe_psql('postgres', "SELECT topics.leave_group('gm.group', '$c_id')");
is( try_state(
		"SELECT topics.commit('gm.group', 'gm', 0, 2, member_id => '$a_id', generation => $a_gen)"),
	'PT003',
	'A, still a member, cannot commit with its generation from before the rebalance');
is(try_state("SELECT * FROM topics.poll('gm.group', '$a_id', $a_gen)"),
	'PT003', 'nor poll with it');
is($node->safe_psql('postgres',
		"SELECT committed_offset FROM topics.committed('gm.group') WHERE partition = 0"),
	'1', 'the fenced commit changed nothing');

# B rejoins in the current generation; A heartbeats a last time and is told
# to rejoin, which it never does.
($x, $gen_b, $b_parts) = join_group('B', 30, $b_id);
is($node->safe_psql('postgres', "SELECT topics.heartbeat('gm.group', '$a_id', $a_gen)"),
	'rebalance', "A's last heartbeat: told to rejoin");
my $t_last = time;
my $a_last_heartbeat = $node->safe_psql('postgres',
	"SELECT last_heartbeat FROM topics.group_members WHERE member_id = '$a_id'");
isnt($a_last_heartbeat, '', "A's last heartbeat is recorded");
is($node->safe_psql('postgres', "SELECT topics.heartbeat('gm.group', '$b_id', $gen_b)"),
	'ok', 'B is in the current generation');

# B heartbeats every 50 ms until it is told to rejoin.
my $b = $node->background_psql('postgres');
my ($answer, $t_rebalance);
my $deadline = time + 20;
while (time < $deadline)
{
	$answer = $b->query_safe("SELECT topics.heartbeat('gm.group', '$b_id', $gen_b)");
	if ($answer ne 'ok')
	{
		$t_rebalance = time;
		last;
	}
	sleep 0.05;
}
is($answer, 'rebalance', "B's heartbeat says 'rebalance' once A has expired");
my $rejoin = $b->query_safe(
	qq{SELECT j.generation,
			  (SELECT string_agg(a.partition::text, ',' ORDER BY a.partition)
			   FROM unnest(j.assignment) a),
			  extract(epoch FROM clock_timestamp() - '$a_last_heartbeat'::timestamptz)
	   FROM topics.join_group('gm.group', '{gm}', '$b_id', session_timeout => '30 s') j});
my $t_rejoined = time;
$b->quit;
my ($gen_after, $parts_after, $db_elapsed) = split /\|/, $rejoin;
is($parts_after, '0,1,2,3', "B's rejoin gets all four partitions");
cmp_ok($gen_after, '>', $gen_b, 'in a new generation');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM topics.group_members WHERE member_id = '$a_id'"),
	'0', 'A is no longer a member');

my $rebalance_after = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM rebalanced_at - '$a_last_heartbeat'::timestamptz)
	 FROM topics.consumer_group WHERE group_id = 'gm.group'");
note sprintf(
	"A's last heartbeat to: rebalance %.3f s (database), B told %.3f s, B rejoined %.3f s (test clock), %.3f s (database)",
	$rebalance_after, $t_rebalance - $t_last, $t_rejoined - $t_last, $db_elapsed);
cmp_ok($rebalance_after, '>=', $session_timeout - 0.05,
	'A was not expired before its session timed out');
cmp_ok($rebalance_after, '<=', $session_timeout + $slack,
	'the group rebalanced within session timeout + 1 s of A\'s last heartbeat (database clock)');
cmp_ok($db_elapsed, '<=', $session_timeout + $slack,
	'B had all partitions within session timeout + 1 s of A\'s last heartbeat (database clock)');
cmp_ok($t_rejoined - $t_last, '<=', $session_timeout + $slack,
	'B had all partitions within session timeout + 1 s of A\'s last heartbeat (test clock)');

# A comes back from its pause: unknown everywhere.
is( try_state(
		"SELECT topics.commit('gm.group', 'gm', 0, 2, member_id => '$a_id', generation => $a_gen)"),
	'PT002',
	'the expired member cannot commit');
is( try_state(
		"SELECT topics.commit('gm.group', 'gm', 0, 2, member_id => '$a_id', generation => $gen_after)"),
	'PT002',
	'not even with the current generation');
is(try_state("SELECT * FROM topics.poll('gm.group', '$a_id', $a_gen)"),
	'PT002', 'the expired member cannot poll');
is(try_state("SELECT topics.heartbeat('gm.group', '$a_id', $a_gen)"),
	'PT002', 'its heartbeat is refused');
is(try_state("SELECT * FROM topics.join_group('gm.group', '{gm}', '$a_id')"),
	'PT002', 'it cannot rejoin with its old member id');
is($node->safe_psql('postgres',
		"SELECT committed_offset FROM topics.committed('gm.group') WHERE partition = 0"),
	'1', 'the committed offset is still the last one A committed while current');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM topics.poll('gm.group', '$b_id', $gen_after)"),
	'7', 'B polls A\'s old partitions from the committed offsets');

# A joins again as a new member: a rebalance, B is told so.
my ($a2_id, $gen_a2, $a2_parts) = join_group('A', $session_timeout);
is($node->safe_psql('postgres', "SELECT topics.heartbeat('gm.group', '$b_id', $gen_after)"),
	'rebalance', 'a new member makes B rejoin');
$node->safe_psql('postgres', "SELECT topics.leave_group('gm.group', '$a2_id')");

# A poll that waits longer than the member's session cannot let it expire:
# it returns, empty, before the session is over, and stores its heartbeat.
# Member C (session 2 s) polls an empty topic with a 10-second wait.
$node->safe_psql('postgres', "SELECT topics.create_topic('gm.empty')");
my $c_row = $node->safe_psql('postgres',
	"SELECT member_id, generation FROM topics.join_group('gm.poll', '{gm.empty}',
		session_timeout => '$session_timeout s')");
my ($c_id, $c_gen) = split /\|/, $c_row;
my $poll_started = time;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM topics.poll('gm.poll', '$c_id', $c_gen, wait => '10 s')"),
	'0', 'a long poll on an empty topic returns no records');
my $poll_took = time - $poll_started;
cmp_ok($poll_took, '<', $session_timeout,
	"and returns within the member's session timeout (took ${poll_took} s)");
sleep($session_timeout / 2);
is(try_state("SELECT topics.heartbeat('gm.poll', '$c_id', $c_gen)"),
	'ok', 'the member that polled with a wait longer than its session is still a member');

$node->stop;
done_testing();
