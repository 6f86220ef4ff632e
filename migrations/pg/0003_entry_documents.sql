CREATE TABLE "entry_documents" (
	"entry_id" integer PRIMARY KEY NOT NULL,
	"body" "bytea" NOT NULL,
	"languages" text COLLATE "C"
);
--> statement-breakpoint
ALTER TABLE "entry_documents" ADD CONSTRAINT "entry_documents_entry_id_entries_id_fk" FOREIGN KEY ("entry_id") REFERENCES "public"."entries"("id") ON DELETE cascade ON UPDATE no action;