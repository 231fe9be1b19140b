-- bench/groups/rebalance.sql: goal (c), how soon the partitions of a member
-- that stopped heartbeating go to the others.
--
-- rebalance_trial(trial, session_timeout) runs one trial in a group of its
-- own (rb_<trial>) on topic rb (4 partitions): member "alive" joins with a
-- long session timeout, member "silent" with session_timeout, and "alive"
-- rejoins so that both are in the current generation.  "silent" heartbeats every 100 ms for
-- a random 0.5 to 1.5 s (so that its last heartbeat falls at a random point
-- of the background worker's cycle) and then stops; "alive" heartbeats every
-- 20 ms until it is told to rebalance.  Each heartbeat is a transaction of
-- its own (heartbeat sets last_heartbeat = now(), the transaction's start).
-- Nothing but the background worker (topics.expire_members, every
-- pg_topics.worker_naptime or sooner) removes "silent".
--
-- rebalance(trial, session_timeout, last_heartbeat, rebalanced_at, noticed_at,
--           moved):
--   last_heartbeat  the silent member's last heartbeat, from group_member
--   rebalanced_at   consumer_group.rebalanced_at of the new generation
--                   (set by the worker's transaction, its start time)
--   noticed_at      when the live member's heartbeat first returned
--                   'rebalance'
--   moved           the silent member's partitions now belong to "alive"

SELECT topics.create_topic('rb', 4);

CREATE TABLE rebalance (
    trial integer PRIMARY KEY,
    session_timeout interval NOT NULL,
    last_heartbeat timestamptz,
    rebalanced_at timestamptz,
    noticed_at timestamptz,
    moved boolean);

CREATE PROCEDURE rebalance_trial(trial integer, timeout interval)
LANGUAGE plpgsql AS $$
DECLARE
    g text := 'rb_' || trial;
    alive text;
    silent text;
    silent_parts topics.topic_partition[];
    gen integer;
    beat text;
    silent_until timestamptz;
    deadline timestamptz;
BEGIN
    SELECT member_id INTO alive FROM topics.join_group(g, '{rb}', client_id => 'alive',
                                                        session_timeout => '10 minutes');
    COMMIT;
    SELECT member_id INTO silent FROM topics.join_group(g, '{rb}', client_id => 'silent',
                                                         session_timeout => timeout);
    COMMIT;
    SELECT generation INTO gen FROM topics.join_group(g, '{rb}', member_id => alive,
                                                       session_timeout => '10 minutes');
    COMMIT;
    SELECT assignment INTO silent_parts FROM topics.group_member m
    WHERE m.group_id = g AND m.member_id = silent;
    COMMIT;

    silent_until := clock_timestamp() + (0.5 + random()) * interval '1 s';
    WHILE clock_timestamp() < silent_until LOOP
        IF topics.heartbeat(g, silent, gen) <> 'ok' THEN
            RAISE EXCEPTION 'trial %: the silent member was told to rebalance while it heartbeated', trial;
        END IF;
        COMMIT;
        PERFORM pg_sleep(0.1);
    END LOOP;
    INSERT INTO rebalance (trial, session_timeout, last_heartbeat)
    SELECT trial, timeout, m.last_heartbeat FROM topics.group_member m
    WHERE m.group_id = g AND m.member_id = silent;
    COMMIT;

    deadline := clock_timestamp() + timeout + interval '30 s';
    LOOP
        beat := topics.heartbeat(g, alive, gen);
        COMMIT;
        EXIT WHEN beat = 'rebalance';
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION 'trial %: no rebalance within session timeout + 30 s', trial;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
    UPDATE rebalance r
    SET noticed_at = clock_timestamp(),
        rebalanced_at = (SELECT c.rebalanced_at FROM topics.consumer_group c WHERE c.group_id = g),
        moved = NOT EXISTS (SELECT FROM topics.group_member m WHERE m.group_id = g AND m.member_id = silent)
    WHERE r.trial = rebalance_trial.trial;
    COMMIT;
    -- the new assignment: rejoin, then leave so that the group can go
    IF NOT (SELECT silent_parts <@ j.assignment
            FROM topics.join_group(g, '{rb}', member_id => alive,
                                   session_timeout => '10 minutes') AS j) THEN
        UPDATE rebalance r SET moved = false WHERE r.trial = rebalance_trial.trial;
    END IF;
    PERFORM topics.leave_group(g, alive);
    PERFORM topics.delete_group(g);
    COMMIT;
END
$$;
