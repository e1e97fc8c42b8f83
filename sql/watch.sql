-- Watches: channel names, the change log, privileges.  (NOTIFY delivery at
-- commit is checked by the isolation spec watch_notify, whose output does
-- not depend on backend PIDs.)
CREATE TABLE events (id int PRIMARY KEY, kind text);
SELECT ivm.create_view('kinds', $$SELECT kind, count(*) AS n FROM events GROUP BY kind$$);
SELECT ivm.create_view('"Odd Name"', $$SELECT id FROM events$$);

SELECT ivm.watch('kinds');
SELECT ivm.watch('kinds');   -- watching twice keeps one watch
SELECT ivm.watch('"Odd Name"');
SELECT name, channel FROM ivm.views WHERE channel IS NOT NULL ORDER BY channel;

INSERT INTO events VALUES (1, 'click'), (2, 'click'), (3, 'view');
SELECT epoch AS e1 FROM ivm.tick() \gset
UPDATE events SET kind = 'view' WHERE id = 2;
SELECT epoch AS e2 FROM ivm.tick() \gset

-- every change, with weights; since_epoch filters
SELECT epoch - :e1 AS epoch_offset, _weight, row FROM ivm.changes('kinds', :e1 - 1);
SELECT epoch - :e1 AS epoch_offset, _weight, row FROM ivm.changes('kinds', since_epoch => :e1);
-- replaying the change log gives the view
SELECT row ->> 'kind' AS kind, (row ->> 'n')::bigint AS n
FROM ivm.changes('kinds') GROUP BY row HAVING sum(_weight) = 1 ORDER BY 1;
SELECT * FROM kinds ORDER BY kind;

-- only roles that may read the view see its changes
CREATE ROLE ivm_watch_reader;
CREATE ROLE ivm_watch_stranger;
GRANT SELECT ON kinds TO ivm_watch_reader;
SET ROLE ivm_watch_reader;
SELECT count(*) AS reader_sees FROM ivm.changes('kinds');
SELECT ivm.watch('kinds');
RESET ROLE;
SET ROLE ivm_watch_stranger;
SELECT count(*) FROM ivm.changes('kinds');
SELECT ivm.watch('kinds');
SELECT ivm.unwatch('kinds');
RESET ROLE;

-- unwatch: no more change log
SELECT ivm.unwatch('kinds');
SELECT ivm.unwatch('kinds');
SELECT * FROM ivm.changes('kinds');
SELECT count(*) AS change_rows_left FROM ivm._changes c JOIN ivm._views v ON v.id = c.view_id
WHERE v.viewrel = 'kinds'::regclass;

-- retention: changes older than ivm.change_retention epochs are pruned
SET ivm.change_retention = 1;
INSERT INTO events VALUES (4, 'x');
SELECT rows_out FROM ivm.tick();
INSERT INTO events VALUES (5, 'y');
SELECT rows_out FROM ivm.tick();
SELECT count(DISTINCT epoch) AS epochs_kept FROM ivm.changes('"Odd Name"');
RESET ivm.change_retention;

-- not an incremental view
CREATE VIEW plain AS SELECT 1 AS one;
SELECT ivm.watch('plain');
SELECT ivm.changes('plain');

DROP TABLE events CASCADE;
DROP VIEW plain;
DROP ROLE ivm_watch_reader;
DROP ROLE ivm_watch_stranger;
