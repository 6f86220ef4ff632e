-- Written by hand (drizzle-kit cannot declare triggers): entry_span_counts and
-- entry_date_counts kept exact on every write to `entries`, as SQLite's triggers of
-- migrations 0003 and 0004 keep them (see src/storage/sqlite/schema.ts for what they count).
--
-- Unlike SQLite's, the triggers run once per statement, over its transition tables: a bulk
-- load (COPY, or a multi-row INSERT) updates each count row once per statement instead of
-- once per entry. An update moves only the entries whose span class, bounds or kind changed
-- (every update of an entry writes all its columns). The tables start empty with `entries`
-- (migration 0000), so there is nothing to backfill.

-- What an entry contributes to the counts. `kind` is compared with the tables' COLLATE "C"
-- columns, so it carries the same collation (two different implicit collations cannot be
-- compared).
CREATE TYPE "entry_count_key" AS (
	"span_class" integer,
	"earliest" integer,
	"latest" integer,
	"kind" text COLLATE "C"
);
--> statement-breakpoint
-- The per-day and per-512-day-block starts and ends of a set of entries (`>>` shifts like
-- SQLite's and JavaScript's: a day before 1970 falls in a negative block).
CREATE FUNCTION "entry_date_units"("keys" "entry_count_key"[])
	RETURNS TABLE ("grain" integer, "kind" text, "unit" integer, "starts" bigint, "ends" bigint)
	LANGUAGE sql STABLE AS $$
	SELECT u."grain", u."kind", u."unit", sum(u."starts"), sum(u."ends") FROM (
		SELECT 0 AS "grain", k."kind", k."earliest" AS "unit", 1 AS "starts", 0 AS "ends" FROM unnest("keys") AS k
		UNION ALL SELECT 0, k."kind", k."latest", 0, 1 FROM unnest("keys") AS k
		UNION ALL SELECT 9, k."kind", k."earliest" >> 9, 1, 0 FROM unnest("keys") AS k
		UNION ALL SELECT 9, k."kind", k."latest" >> 9, 0, 1 FROM unnest("keys") AS k
	) AS u GROUP BY u."grain", u."kind", u."unit"
$$;
--> statement-breakpoint
CREATE FUNCTION "entry_counts_add"("keys" "entry_count_key"[]) RETURNS void LANGUAGE sql AS $$
	INSERT INTO "entry_span_counts" ("span_class", "earliest", "latest", "kind", "n")
		SELECT k."span_class", k."earliest", k."latest", k."kind", count(*) FROM unnest("keys") AS k
		GROUP BY k."span_class", k."earliest", k."latest", k."kind"
		ON CONFLICT ("span_class", "earliest", "latest", "kind") DO UPDATE SET "n" = "entry_span_counts"."n" + excluded."n";
	INSERT INTO "entry_date_counts" ("grain", "kind", "unit", "starts", "ends")
		SELECT d."grain", d."kind", d."unit", d."starts", d."ends" FROM "entry_date_units"("keys") AS d
		ON CONFLICT ("grain", "kind", "unit") DO UPDATE
			SET "starts" = "entry_date_counts"."starts" + excluded."starts", "ends" = "entry_date_counts"."ends" + excluded."ends";
$$;
--> statement-breakpoint
-- A group whose last entries go loses its row rather than keep a count of 0 (the CHECK
-- wants n > 0): those rows are deleted first, then the others counted down.
CREATE FUNCTION "entry_counts_subtract"("keys" "entry_count_key"[]) RETURNS void LANGUAGE sql AS $$
	DELETE FROM "entry_span_counts" AS c USING (
		SELECT k."span_class", k."earliest", k."latest", k."kind", count(*) AS "n" FROM unnest("keys") AS k
		GROUP BY k."span_class", k."earliest", k."latest", k."kind"
	) AS d
		WHERE c."span_class" = d."span_class" AND c."earliest" = d."earliest" AND c."latest" = d."latest" AND c."kind" = d."kind"
			AND c."n" = d."n";
	UPDATE "entry_span_counts" AS c SET "n" = c."n" - d."n" FROM (
		SELECT k."span_class", k."earliest", k."latest", k."kind", count(*) AS "n" FROM unnest("keys") AS k
		GROUP BY k."span_class", k."earliest", k."latest", k."kind"
	) AS d
		WHERE c."span_class" = d."span_class" AND c."earliest" = d."earliest" AND c."latest" = d."latest" AND c."kind" = d."kind";
	UPDATE "entry_date_counts" AS c SET "starts" = c."starts" - d."starts", "ends" = c."ends" - d."ends"
		FROM "entry_date_units"("keys") AS d
		WHERE c."grain" = d."grain" AND c."kind" = d."kind" AND c."unit" = d."unit";
	DELETE FROM "entry_date_counts" AS c USING "entry_date_units"("keys") AS d
		WHERE c."grain" = d."grain" AND c."kind" = d."kind" AND c."unit" = d."unit" AND c."starts" = 0 AND c."ends" = 0;
$$;
--> statement-breakpoint
CREATE FUNCTION "entries_counts_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM "entry_counts_add"(ARRAY(
		SELECT ROW(n."span_class", n."earliest", n."latest", n."kind")::"entry_count_key" FROM "inserted" AS n));
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "entries_counts_after_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM "entry_counts_subtract"(ARRAY(
		SELECT ROW(o."span_class", o."earliest", o."latest", o."kind")::"entry_count_key" FROM "removed" AS o));
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "entries_counts_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	"before" "entry_count_key"[];
	"after" "entry_count_key"[];
BEGIN
	SELECT
		array_agg(ROW(o."span_class", o."earliest", o."latest", o."kind")::"entry_count_key"),
		array_agg(ROW(n."span_class", n."earliest", n."latest", n."kind")::"entry_count_key")
	INTO "before", "after"
	FROM "removed" AS o JOIN "inserted" AS n ON n."id" = o."id"
	WHERE (o."span_class", o."earliest", o."latest", o."kind") IS DISTINCT FROM (n."span_class", n."earliest", n."latest", n."kind");
	IF "before" IS NOT NULL THEN
		PERFORM "entry_counts_subtract"("before");
		PERFORM "entry_counts_add"("after");
	END IF;
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "entries_counts_insert" AFTER INSERT ON "entries"
	REFERENCING NEW TABLE AS "inserted" FOR EACH STATEMENT EXECUTE FUNCTION "entries_counts_after_insert"();
--> statement-breakpoint
CREATE TRIGGER "entries_counts_delete" AFTER DELETE ON "entries"
	REFERENCING OLD TABLE AS "removed" FOR EACH STATEMENT EXECUTE FUNCTION "entries_counts_after_delete"();
--> statement-breakpoint
CREATE TRIGGER "entries_counts_update" AFTER UPDATE ON "entries"
	REFERENCING OLD TABLE AS "removed" NEW TABLE AS "inserted" FOR EACH STATEMENT EXECUTE FUNCTION "entries_counts_after_update"();
