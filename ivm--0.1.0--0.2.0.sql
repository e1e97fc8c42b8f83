-- ivm 0.1.0 -> 0.2.0
--
-- Run by ALTER EXTENSION ivm UPDATE (and by CREATE EXTENSION ivm, which
-- installs 0.1.0 and applies this script).  ivm--0.1.0.sql is frozen as
-- released (tag v0.1.0, commit 46b56e6): every change to the SQL surface
-- from then on goes here, in the order it was made, and must run on a
-- database with views alive.

\echo Use "ALTER EXTENSION ivm UPDATE" to load this file. \quit
