CREATE TABLE "changes" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "changes_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"kind" text COLLATE "C" NOT NULL,
	"record_id" integer NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"operation" text COLLATE "C" NOT NULL,
	"at" text COLLATE "C" NOT NULL,
	"author" text COLLATE "C",
	"fields" json,
	"previous" json
);
--> statement-breakpoint
CREATE INDEX "changes_record_idx" ON "changes" USING btree ("record_id","seq");