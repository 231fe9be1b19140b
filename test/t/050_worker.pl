# 050_worker.pl: the background workers.
#
#   - pg_topics.worker_naptime from postgresql.conf takes effect at start;
#   - a launcher runs, and a worker for the database that has the extension;
#     it expires a silent member (session 1 s) within 1 s + 1 s;
#   - SIGTERM (pg_terminate_backend) stops the worker; a new one is running
#     within 10 s and expiry works again;
#   - SIGKILL of the worker makes the postmaster restart everything (crash
#     recovery, restart_after_crash = on here); a worker is back, committed
#     offsets are intact, expiry works;
#   - two databases with the extension get a worker each, and expiry works in
#     both; while the second one's worker runs, it can be used as a template,
#     renamed and dropped (the worker stops for these statements and comes
#     back after the first two); a role that does not own it, or a statement
#     in a transaction block, does not stop the worker; once dropped, its
#     worker is not started again and again;
#   - a database without the extension gets no lasting worker and can be
#     dropped;
#   - last, a reload: the launcher and the worker survive it, and a new
#     worker_naptime is followed (10 s: a silent member outlives its session
#     by seconds; back to 200 ms: it is expired at once).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

use PgTopicsTest;

my $node = PgTopicsTest::new_node('worker');
$node->append_conf('postgresql.conf',
	"pg_topics.worker_naptime = 200\nrestart_after_crash = on\n");
$node->restart;

is($node->safe_psql('postgres', 'SHOW pg_topics.worker_naptime'),
	'200ms', 'worker_naptime set in postgresql.conf takes effect at server start');

# Runs a query and returns its output; while the server cannot be reached
# (it restarts after a crash), tries again for up to 20 s.
sub query
{
	my ($db, $sql) = @_;
	my $start = time;
	while (1)
	{
		my ($out, $err) = ('', '');
		my $rc = $node->psql($db, $sql, stdout => \$out, stderr => \$err);
		return $out if $rc == 0;
		die "query failed: $err" if $err !~ /connect|terminat|shut|recovery|starting up/i
		  || time - $start > 20;
		sleep 0.1;
	}
}

# Runs a query until it returns $expected or $seconds pass; returns the
# seconds it took, or undef.  Connection failures (a restarting server)
# count as "not yet".
sub wait_for
{
	my ($db, $query, $expected, $seconds) = @_;
	my $start = time;
	while (time - $start < $seconds)
	{
		my ($out, $err) = ('', '');
		my $rc = $node->psql($db, $query, stdout => \$out, stderr => \$err);
		return time - $start if $rc == 0 && $out eq $expected;
		sleep 0.05;
	}
	return undef;
}

sub worker_pid
{
	my ($db) = @_;
	return query('postgres',
		"SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = '$db'");
}

sub launcher_pid
{
	return query('postgres',
		"SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics launcher'");
}

# Waits for exactly one worker for $db whose pid is not $old; returns it.
sub wait_for_new_worker
{
	my ($db, $old, $seconds) = @_;
	my $start = time;
	while (time - $start < $seconds)
	{
		my ($out, $err) = ('', '');
		$node->psql('postgres',
			"SELECT string_agg(pid::text, ',') FROM pg_stat_activity
			 WHERE backend_type = 'pg_topics worker' AND datname = '$db'",
			stdout => \$out, stderr => \$err);
		return ($out, time - $start) if $out =~ /^\d+$/ && $out ne $old;
		sleep 0.05;
	}
	return ('', undef);
}

# A member with a 1 s session joins group $group in $db and stays silent;
# returns the seconds until the worker removed it (undef after 15 s).
sub expiry_seconds
{
	my ($db, $group) = @_;
	query($db,
		"SELECT count(*) FROM topics.join_group('$group', '{w}', session_timeout => '1 s')");
	my $start = time;
	my $took = wait_for($db,
		"SELECT count(*) FROM topics.group_members WHERE group_id = '$group'",
		'0', 15);
	return defined $took ? time - $start : undef;
}

sub expiry_ok
{
	my ($db, $group, $what) = @_;
	my $took = expiry_seconds($db, $group);
	ok(defined $took && $took >= 0.9 && $took <= 2.0,
		"$what: a silent member with a 1 s session is expired after 1 s to 2 s")
	  or diag('took ' . ($took // 'over 15') . ' s');
	note sprintf('%s: expired after %.3f s', $what, $took // -1);
}

$node->safe_psql('postgres', "SELECT topics.create_topic('w', 2)");

###########################################################################
# The launcher and the worker
###########################################################################

ok(defined wait_for('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_topics launcher'",
		'1', 10),
	'one pg_topics launcher runs');
ok(defined wait_for('postgres',
		"SELECT count(*) FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = 'postgres'",
		'1', 10),
	'one pg_topics worker runs for database postgres');
my $worker = worker_pid('postgres');
like($worker, qr/^\d+$/, 'the worker has a pid');
expiry_ok('postgres', 'w.first', 'first worker');

###########################################################################
# SIGTERM: a new worker within 10 s
###########################################################################

is($node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)"),
	't', 'pg_terminate_backend signals the worker');
my ($new_worker, $took) = wait_for_new_worker('postgres', $worker, 10);
ok(defined $took, 'after SIGTERM a new worker runs within 10 s');
note sprintf('new worker after SIGTERM in %.1f s', $took // -1);
is(kill(0, $worker), 0, 'the old worker is gone');
expiry_ok('postgres', 'w.after_term', 'after SIGTERM');

###########################################################################
# SIGKILL: crash recovery, a worker is back, offsets intact
###########################################################################

$node->safe_psql(
	'postgres', q{
	SELECT count(*) FROM generate_series(0, 1) p,
		LATERAL topics.produce_batch('w', ARRAY['a', 'b', 'c']::bytea[], partition => p);
	SELECT topics.commit('w.offsets', 'w', 0, 2, 'before the crash');
	SELECT topics.commit('w.offsets', 'w', 1, 3);
	SET pg_topics.auto_offset_reset = 'earliest';
	SELECT count(*) FROM topics.consume('w.consume', 'w', 4);
});
my $offsets_query =
  "SELECT string_agg(group_id || ':' || partition || '=' || committed_offset
						|| coalesce('/' || metadata, ''), ' ' ORDER BY group_id, partition)
   FROM topics.group_offset WHERE group_id IN ('w.offsets', 'w.consume')";
my $offsets_before = $node->safe_psql('postgres', $offsets_query);
like($offsets_before, qr/w\.consume:0=\d w\.consume:1=\d w\.offsets:0=2\/before the crash w\.offsets:1=3/,
	'offsets committed before the crash');

$worker = $new_worker;
my $launcher = launcher_pid();
my $log_offset = -s $node->logfile;
is(kill('KILL', $worker), 1, 'SIGKILL sent to the worker');
($new_worker, $took) = wait_for_new_worker('postgres', $worker, 30);
ok(defined $took, 'after SIGKILL a worker runs again');
note sprintf('worker back after SIGKILL in %.1f s', $took // -1);
ok($node->log_contains(qr/all server processes terminated; reinitializing/, $log_offset),
	'the postmaster restarted everything (crash recovery)');
isnt(launcher_pid(), $launcher, 'the launcher was restarted too');
is($node->safe_psql('postgres', $offsets_query), $offsets_before,
	'committed offsets are intact after the crash');
expiry_ok('postgres', 'w.after_kill', 'after SIGKILL');

###########################################################################
# Two databases with the extension; one without
###########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', "CREATE EXTENSION pg_topics; SELECT topics.create_topic('w', 1);");
ok(defined wait_for('postgres',
		"SELECT count(*) FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = 'db2'",
		'1', 10),
	'CREATE EXTENSION in a second database starts its own worker');
is(worker_pid('postgres'), $new_worker, 'the first database keeps its worker');

# expiry in both at once
$node->safe_psql('postgres',
	"SELECT count(*) FROM topics.join_group('w.both', '{w}', session_timeout => '1 s')");
$node->safe_psql('db2',
	"SELECT count(*) FROM topics.join_group('w.both', '{w}', session_timeout => '1 s')");
my $start = time;
ok(defined wait_for('postgres',
		"SELECT count(*) FROM topics.group_members WHERE group_id = 'w.both'", '0', 10),
	'expiry works in database postgres');
ok(defined wait_for('db2',
		"SELECT count(*) FROM topics.group_members WHERE group_id = 'w.both'", '0', 10),
	'expiry works in database db2');
cmp_ok(time - $start, '<=', 2.2, 'both members expired within 1 s + 1 s (and the join time)');

# Statements that need a database without other sessions stop its worker
# first, so they work while it runs: CREATE DATABASE ... TEMPLATE, ALTER
# DATABASE ... RENAME TO, DROP DATABASE (without FORCE).  The worker comes
# back after each (the launcher waits 10 s before starting it again).
sub worker_running_in
{
	my ($db) = @_;
	return defined wait_for('postgres',
		"SELECT count(*) FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = '$db'",
		'1', 30);
}

sub runs_ok
{
	my ($sql, $name) = @_;
	my ($out, $err) = ('', '');
	is($node->psql('postgres', $sql, stdout => \$out, stderr => \$err), 0, $name)
	  or diag($err);
}

ok(worker_running_in('db2'), 'db2 has a running worker');

# Only the database's owner gets the worker out of the way, and only where
# the statement can run: a statement that is bound to fail leaves it alone.
$node->safe_psql('postgres', 'CREATE ROLE stranger LOGIN');
my $db2_worker = worker_pid('db2');
{
	my ($out, $err) = ('', '');
	$node->psql('postgres', 'DROP DATABASE db2',
		stdout => \$out, stderr => \$err, extra_params => [ '-U', 'stranger' ]);
	like($err, qr/must be owner/, 'a role that does not own db2 cannot drop it');
	($out, $err) = ('', '');
	$node->psql('postgres', 'BEGIN; DROP DATABASE db2; COMMIT;',
		stdout => \$out, stderr => \$err);
	like($err, qr/cannot run inside a transaction block/,
		'DROP DATABASE in a transaction block fails');
}
sleep 0.5;
is(worker_pid('db2'), $db2_worker, "and neither statement stopped db2's worker");
runs_ok('CREATE DATABASE db2_copy TEMPLATE db2',
	'CREATE DATABASE ... TEMPLATE of a database whose worker runs');
ok(worker_running_in('db2'), "db2's worker is back afterwards");
runs_ok('ALTER DATABASE db2 RENAME TO db2_renamed',
	'ALTER DATABASE ... RENAME TO of a database whose worker runs');
ok(worker_running_in('db2_renamed'), 'the renamed database has its worker back');
runs_ok('ALTER DATABASE db2_renamed RENAME TO db2', 'and it can be renamed back');
ok(worker_running_in('db2'), 'with its worker again');
is($node->safe_psql('db2', "SELECT count(*) FROM topics.topic_list WHERE name = 'w'"),
	'1', 'the topic is still there');
my $db2_oid = $node->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'db2'");
$log_offset = -s $node->logfile;
runs_ok('DROP DATABASE db2', 'DROP DATABASE of a database whose worker runs');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'db2'"),
	'0', 'and it is gone');
runs_ok('DROP DATABASE db2_copy', 'the copy can be dropped too');

# A database without the extension: watch it for 11 s (two launcher passes
# and two of the postmaster's 5 s restart intervals).
$node->safe_psql('postgres', 'CREATE DATABASE noext');
my ($samples, $present, $run, $longest) = (0, 0, 0, 0);
$start = time;
while (time - $start < 11)
{
	my $n = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = 'noext'");
	$samples++;
	if ($n > 0) { $present++; $run++; $longest = $run if $run > $longest; }
	else { $run = 0; }
	sleep 0.05;
}
note "noext: a worker seen in $present of $samples samples";
cmp_ok($longest, '<', 10,
	'a database without the extension has no worker for more than a moment');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity
		 WHERE backend_type = 'pg_topics worker' AND datname = 'noext'"),
	'0', 'and none at the end');
my ($out, $err) = ('', '');
is($node->psql('postgres', 'DROP DATABASE noext', stdout => \$out, stderr => \$err),
	0, 'a database without the extension can be dropped')
  or diag($err);
my $dropped_tries = () = PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset)
  =~ /FATAL:  database $db2_oid does not exist/g;
cmp_ok($dropped_tries, '<=', 1,
	'no worker keeps being started for the dropped database db2');
note "workers that failed to connect to the dropped database: $dropped_tries";

###########################################################################
# Reload: the launcher and the worker survive it, and follow a new naptime
###########################################################################

$worker = worker_pid('postgres');
$launcher = launcher_pid();
$log_offset = -s $node->logfile;
query('postgres',
	"ALTER SYSTEM SET pg_topics.worker_naptime = '10s'; SELECT pg_reload_conf();");
sleep 1;
is(query('postgres', 'SHOW pg_topics.worker_naptime'), '10s',
	'the reload changed worker_naptime');
is(launcher_pid(), $launcher, 'the launcher survives a reload');
is(worker_pid('postgres'), $worker, 'the worker survives a reload');
ok(!$node->log_contains(qr/terminated by signal/, $log_offset),
	'no process died in the reload');

# The worker now sleeps 10 s between passes: a member that joins during the
# sleep outlives its 1 s session.
query('postgres',
	"SELECT count(*) FROM topics.join_group('w.naptime', '{w}', session_timeout => '1 s')");
sleep 3;
is(query('postgres',
		"SELECT count(*) FROM topics.group_members WHERE group_id = 'w.naptime'"),
	'1', 'with a 10 s naptime the silent member is still there 3 s later');
query('postgres',
	"ALTER SYSTEM SET pg_topics.worker_naptime = '200ms'; SELECT pg_reload_conf();");
$took = wait_for('postgres',
	"SELECT count(*) FROM topics.group_members WHERE group_id = 'w.naptime'", '0', 10);
ok(defined $took && $took <= 1.5,
	'reloaded back to 200 ms, the worker wakes and expires it at once')
  or diag('took ' . ($took // 'over 10') . ' s');
is(worker_pid('postgres'), $worker, 'the same worker, not one started by a crash restart');
expiry_ok('postgres', 'w.last', 'after the reloads');

$node->stop;
done_testing();
