-- Blockyard controller schema v1. One row per object; `data` is the object as JSON without its
-- properties, `props` its properties as one JSON object (DESIGN.md §2.2: no row per property).
-- Key columns hold upper-cased names (names are case-insensitive). Foreign keys are deferred so a
-- transaction may write parents and children in any order; they are checked at commit, which keeps the
-- database consistent across a kill -9 (no resource without its definition, no pool without its node).
CREATE TABLE ctrl_props (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  props TEXT NOT NULL
);
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  props TEXT NOT NULL
);
CREATE TABLE stor_pool_dfns (
  name TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  props TEXT NOT NULL
);
CREATE TABLE stor_pools (
  node TEXT NOT NULL REFERENCES nodes(name) DEFERRABLE INITIALLY DEFERRED,
  name TEXT NOT NULL REFERENCES stor_pool_dfns(name) DEFERRABLE INITIALLY DEFERRED,
  data TEXT NOT NULL,
  props TEXT NOT NULL,
  PRIMARY KEY (node, name)
);
CREATE TABLE rsc_grps (
  name TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  props TEXT NOT NULL
);
CREATE TABLE rsc_dfns (
  name TEXT PRIMARY KEY,
  rsc_grp TEXT NOT NULL REFERENCES rsc_grps(name) DEFERRABLE INITIALLY DEFERRED,
  data TEXT NOT NULL,
  props TEXT NOT NULL
);
CREATE TABLE resources (
  rsc TEXT NOT NULL REFERENCES rsc_dfns(name) DEFERRABLE INITIALLY DEFERRED,
  node TEXT NOT NULL REFERENCES nodes(name) DEFERRABLE INITIALLY DEFERRED,
  data TEXT NOT NULL,
  props TEXT NOT NULL,
  PRIMARY KEY (rsc, node)
);
CREATE INDEX resources_by_node ON resources(node);
CREATE TABLE snapshot_dfns (
  rsc TEXT NOT NULL REFERENCES rsc_dfns(name) DEFERRABLE INITIALLY DEFERRED,
  name TEXT NOT NULL,
  data TEXT NOT NULL,
  props TEXT NOT NULL,
  PRIMARY KEY (rsc, name)
);
CREATE TABLE kv_stores (
  name TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  props TEXT NOT NULL
);
