-- The keys stay: the first migration's down drops the tables.
SELECT 1;
