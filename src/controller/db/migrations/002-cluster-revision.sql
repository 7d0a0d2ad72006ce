-- Blockyard controller schema v2: the cluster revision and the satellites' tombstones
-- (docs/controller.md, "Satellites").
--
-- The cluster revision numbers every committed API call (one Tx) in commit order. It is written in the
-- same transaction as the call's changes, so it never goes backwards, not even across a kill -9:
-- satellites compare the generations it stamps on desired state and ignore older ones.
CREATE TABLE cluster_revision (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO cluster_revision (id, revision) VALUES (1, 0);

-- A resource removed from the model while its node's satellite could not confirm (it was away) leaves
-- a tombstone: the desired state last meant for that node, to be sent again with deleted = true until
-- the satellite reports the resource GONE. `node` and `rsc` are upper-cased names as everywhere;
-- `desired` is the ResourceDesired as JSON (generation as a string). A node's tombstones go with it.
CREATE TABLE satellite_tombstones (
  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  rsc TEXT NOT NULL,
  generation INTEGER NOT NULL,
  desired TEXT NOT NULL,
  PRIMARY KEY (node, rsc)
);
