# PgTopicsTest: shared setup for the pg_topics Perl TAP tests (test/t/*.pl).
#
# test/run puts this directory on @INC and exports PG_TOPICS_CONF, the path of
# test/pg_topics.conf. Tests that need other settings build their node
# themselves, or append to the one they get here and restart it.

package PgTopicsTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(new_node);

# new_node($name, %init_params): a started node with test/pg_topics.conf
# appended and the pg_topics extension created in database postgres.
# %init_params go to PostgreSQL::Test::Cluster::init (allows_streaming => 1, ...).
sub new_node
{
	my ($name, %init_params) = @_;
	my $conf = $ENV{PG_TOPICS_CONF}
	  or die "PG_TOPICS_CONF is not set: run the Perl TAP tests through test/run\n";

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init_params);
	$node->append_conf('postgresql.conf', slurp_file($conf));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
	return $node;
}

1;
