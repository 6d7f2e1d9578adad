-- first; comment
SELECT 1; /* block ; /* nested ; */ still ; */ SELECT 2 /* inside; */ + 1;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Idx" ON ONLY public."T" (a);